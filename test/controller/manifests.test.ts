// Every manifest in deploy/ is valid for a real API server (server-side apply, dry run), and the
// RBAC it grants is enough: the controller, run as its ServiceAccount, does its whole job.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { encodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  ROOT,
  TEST_MANAGER,
  adminClient,
  applyDubboService,
  condition,
  createPod,
  endpointsOf,
  eventually,
  eventsFor,
  getDubboService,
  installCrd,
  objectPath,
  killAllCli,
  startCli,
  writeTokenKubeconfig,
  type ServiceObj,
} from './helpers.ts';

const DEPLOY = join(ROOT, 'deploy');

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? yamlFiles(join(dir, f)) : /\.ya?ml$/.test(f) ? [join(dir, f)] : []))
    .sort();
}

/** Every Kubernetes object in deploy/ (kustomization.yaml is a kustomize file, not an object). */
function manifests(): { file: string; object: Obj }[] {
  const out: { file: string; object: Obj }[] = [];
  for (const file of yamlFiles(DEPLOY)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const object = doc.toJS() as Obj | null;
      if (object === null || object.kind === 'Kustomization') continue;
      out.push({ file: relative(ROOT, file), object });
    }
  }
  return out;
}

/** The kinds that make up a component's identity and permissions. */
const CONTROLLER_RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

/** The app.kubernetes.io/component label of an object (the chart labels each object with its component). */
function componentOf(o: Obj): string | undefined {
  return (o.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/component'];
}

let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
});
after(async () => {
  await killAllCli();
  await cp?.stop();
});

describe('deploy/ manifests', { timeout: 60_000 }, () => {
  it('kustomization.yaml lists every non-sample manifest, and each exists', () => {
    const kust = parseAllDocuments(readFileSync(join(DEPLOY, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    const listed = [...kust.resources].sort();
    const onDisk = readdirSync(DEPLOY)
      .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
      .sort();
    assert.deepEqual(listed, onDisk);
  });

  it('every manifest is accepted by the API server (server-side apply, dryRun=All)', async () => {
    const all = manifests();
    assert.ok(all.length >= 8, `found ${all.length} objects`);
    // The CRD for real first, so the sample DubboService validates against it; the namespace for
    // real, so namespaced objects have somewhere to go.
    await installCrd(k);
    for (const { object } of all.filter((m) => m.object.kind === 'Namespace')) await k.apply(await objectPath(k, object), object, TEST_MANAGER);
    const failures: string[] = [];
    for (const { file, object } of all) {
      try {
        const got = await k.request<Obj>('PATCH', await objectPath(k, object), {
          query: { fieldManager: TEST_MANAGER, force: true, dryRun: 'All' },
          body: object,
          contentType: 'application/apply-patch+yaml',
        });
        if (got.kind !== object.kind || got.metadata.name !== object.metadata.name) failures.push(`${file} ${object.kind}/${object.metadata.name}: unexpected answer ${got.kind}/${got.metadata.name}`);
      } catch (err) {
        failures.push(`${file} ${object.kind}/${object.metadata.name}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
    // Dry run stored nothing (the sample DubboService, the Deployment).
    for (const { file, object } of all.filter((m) => m.object.kind === 'Deployment' || m.object.kind === 'DubboService')) {
      await assert.rejects(k.request('GET', await objectPath(k, object)), /: 404 /, `${file}: dry run stored nothing`);
    }
  });

  it('the RBAC in deploy/ is enough: the controller running as its ServiceAccount does its whole job', async () => {
    const all = manifests();
    await installCrd(k);
    // Only the namespace and the controller's ServiceAccount and RBAC, for real.
    const controllerRbac = all.filter((m) => CONTROLLER_RBAC_KINDS.has(m.object.kind) && componentOf(m.object) === 'controller');
    for (const { object } of [...all.filter((m) => m.object.kind === 'Namespace'), ...controllerRbac]) {
      await k.apply(await objectPath(k, object), object, TEST_MANAGER);
    }
    const sa = controllerRbac.find((m) => m.object.kind === 'ServiceAccount')!.object;
    const token = await k.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${sa.metadata.namespace}/serviceaccounts/${sa.metadata.name}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    });
    const kubeconfig = writeTokenKubeconfig(cp, 'controller-sa', token.status.token);

    // The Deployment's own arguments (leader election, all namespaces), with the lease namespace
    // the Deployment would get from POD_NAMESPACE.
    const c = await startCli(kubeconfig, ['--leader-elect', '--lease-namespace', sa.metadata.namespace!, '--identity', 'sa-replica']);
    try {
      const ns = await cp.newNamespace('rbac');
      // A conflict makes the controller GET a Service it does not watch; a bad annotation makes it
      // record an Event on a Pod; the CR makes it write Services, slices, status and Events.
      await k.request('POST', `/api/v1/namespaces/${ns}/services`, {
        body: { apiVersion: 'v1', kind: 'Service', metadata: { name: serviceLabel(serviceKey('org.example.Taken')) }, spec: { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] } },
      });
      await Promise.all([
        createPod(k, ns, 'p1', { labels: { app: 'rbac' }, ip: '10.70.0.1', ready: true }),
        createPod(k, ns, 'bad', { labels: { 'dubbo.io/label': 'dubbo.io-value' }, annotations: { 'dubbo.io/annotation': 'not base64 at all' }, ip: '10.70.0.2', ready: true }),
        createPod(k, ns, 'go', {
          labels: { 'dubbo.io/label': 'dubbo.io-value' },
          annotations: { 'dubbo.io/annotation': encodeDubboGoAnnotation(['dubbo://10.70.0.3:20000/org.example.Go?interface=org.example.Go']) },
          ip: '10.70.0.3',
          ready: true,
        }),
      ]);
      await applyDubboService(k, ns, 'rbac', {
        selector: { matchLabels: { app: 'rbac' } },
        ports: [{ name: 'dubbo', port: 20880 }],
        interfaces: [{ interface: 'org.example.Rbac' }, { interface: 'org.example.Taken' }],
      });
      const ds = await eventually(async () => {
        const d = await getDubboService(k, ns, 'rbac');
        return condition(d, 'Ready')?.reason === 'NameConflict' && condition(d, 'Reconciled')?.status === 'True' ? d : undefined;
      }, 20_000, 'status written by the ServiceAccount');
      assert.equal(ds.status?.serviceCount, 2);
      await eventually(async () => ((await endpointsOf(k, ns, serviceLabel(serviceKey('org.example.Rbac')))).size === 1 ? true : undefined), 10_000, 'slice of the CR');
      await eventually(async () => ((await endpointsOf(k, ns, serviceLabel(serviceKey('org.example.Go')))).size === 1 ? true : undefined), 10_000, 'slice of the dubbo-go pod');
      await eventually(async () => ((await eventsFor(k, ns, 'bad')).some((e) => e.reason === 'InvalidDubboAnnotation') ? true : undefined), 10_000, 'Event on the pod');
      await eventually(async () => ((await eventsFor(k, ns, 'rbac')).some((e) => e.reason === 'NameConflict') ? true : undefined), 10_000, 'Event on the DubboService');
      const svc = await k.request<ServiceObj>('GET', `/api/v1/namespaces/${ns}/services/${serviceLabel(serviceKey('org.example.Rbac'))}`);
      assert.equal(svc.metadata.labels?.['app.kubernetes.io/managed-by'], 'dubbo-dns');

      // Deleting the CR: the controller deletes what it made.
      await k.request('DELETE', `/apis/dubbo-dns.io/v1alpha1/namespaces/${ns}/dubboservices/rbac`);
      await eventually(
        async () => ((await k.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/services`, { query: { labelSelector: 'app.kubernetes.io/managed-by=dubbo-dns' } })).items.length === 1 ? true : undefined),
        10_000,
        'the CR Services deleted by the ServiceAccount',
      );
      assert.equal(await c.stop(), 0);
      assert.ok(c.logs.some((l) => l['msg'] === 'released the lease'), 'the lease was released (update allowed)');
      const denied = c.logs.filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
      assert.deepEqual(denied, [], 'nothing was forbidden');
    } finally {
      await c.stop('SIGKILL');
    }
  });
});
