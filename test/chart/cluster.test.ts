// The chart on a real kube-apiserver: every rendered object is accepted (server-side apply, dry
// run), every pod passes Pod Security `restricted`, and a namespace-scoped install, run for real
// with its ServiceAccounts' tokens, does its job in its namespaces and is forbidden elsewhere.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { KubeClient, KubeError } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { adminClient, createPod, endpointsOf, eventually, getService, killAllCli, objectPath, startCli, TEST_MANAGER, writeTokenKubeconfig } from '../controller/helpers.ts';
import { applyDubboService, dubboSpec, killAll, serviceName, startDns, waitForAddresses } from '../e2e/helpers.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { argsOf, ciValues, dryRunApply, only, podTemplate, RELEASE_NAMESPACE, render, type K8sObject } from './helpers.ts';

const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);

let cp: ControlPlane;
let k: KubeClient;

/** Applies an object for real (server-side apply). */
async function apply(o: K8sObject): Promise<void> {
  await k.apply(await objectPath(k, o), o, TEST_MANAGER);
}

/** Dry-run applies every object; returns the failures as lines. */
async function dryRunAll(objects: readonly K8sObject[]): Promise<string[]> {
  const failures: string[] = [];
  for (const o of objects) {
    try {
      const got = await dryRunApply(k, o, TEST_MANAGER);
      if (got.kind !== o.kind || got.metadata.name !== o.metadata.name) failures.push(`${o.kind}/${o.metadata.name}: answered ${got.kind}/${got.metadata.name}`);
    } catch (err) {
      failures.push(`${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}: ${(err as Error).message}`);
    }
  }
  return failures;
}

/** A Pod made from a Deployment's pod template, created with dryRun=All in `ns`. */
function createPodFromTemplate(deployment: K8sObject, ns: string, spec = podTemplate(deployment).spec): Promise<unknown> {
  return k.request('POST', `/api/v1/namespaces/${ns}/pods`, {
    query: { dryRun: 'All' },
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${deployment.metadata.name}-pod`, namespace: ns, labels: podTemplate(deployment).metadata.labels ?? {} }, spec },
  });
}

/** A client authenticated with a ServiceAccount token of the chart (TokenRequest). */
async function serviceAccountClient(name: string): Promise<{ client: KubeClient; kubeconfig: string }> {
  const token = await k.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${RELEASE_NAMESPACE}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const kubeconfig = writeTokenKubeconfig(cp, name, token.status.token);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { client: new KubeClient(kc), kubeconfig };
}

/** The HTTP status a request gets (200 when it succeeds). */
async function statusOf(client: KubeClient, method: 'GET' | 'POST', path: string, body?: unknown): Promise<number> {
  try {
    await client.request(method, path, body === undefined ? {} : { body, query: { dryRun: 'All' } });
    return 200;
  } catch (err) {
    if (err instanceof KubeError) return err.status;
    throw err;
  }
}

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
  // The release namespace as the chart renders it (Pod Security labels), and the namespaces the
  // namespaced values file lists, plus one it does not.
  for (const o of await render([], ['namespace.create=true', 'crds.install=false'])) if (o.kind === 'Namespace') await apply(o);
  for (const ns of ['team-a', 'team-b', 'team-c']) await k.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
});
after(async () => {
  await killAllCli();
  await killAll();
  await cp?.stop();
});

describe('chart on a kube-apiserver', { timeout: 120_000 }, () => {
  it('the release namespace enforces Pod Security restricted', async () => {
    const ns = await k.request<K8sObject>('GET', `/api/v1/namespaces/${RELEASE_NAMESPACE}`);
    for (const mode of ['enforce', 'audit', 'warn']) assert.equal(ns.metadata.labels?.[`pod-security.kubernetes.io/${mode}`], 'restricted', mode);
  });

  for (const [what, values] of [
    ['default values', []],
    ['ci/namespaced-values.yaml', [ciValues('namespaced')]],
    ['ci/kustomize-values.yaml', [ciValues('kustomize')]],
  ] as const) {
    it(`every object rendered with ${what} is accepted (server-side apply, dryRun=All)`, async () => {
      const objects = await render(values);
      assert.deepEqual(await dryRunAll(objects), []);
      for (const d of objects.filter((o) => o.kind === 'Deployment')) {
        await assert.rejects(k.request('GET', await objectPath(k, d)), /: 404 /, `${d.metadata.name}: dry run stored nothing`);
      }
    });
  }

  it('ci/all-features-values.yaml too, all but the ServiceMonitor (a bare API server has no Prometheus Operator CRDs)', async () => {
    const objects = await render([ciValues('all-features')]);
    assert.ok(objects.some((o) => o.kind === 'NetworkPolicy') && objects.some((o) => o.kind === 'ConfigMap'));
    await assert.rejects(k.request('GET', '/apis/monitoring.coreos.com/v1'), /: 404 /);
    assert.deepEqual(await dryRunAll(objects.filter((o) => o.kind !== 'ServiceMonitor')), []);
  });

  it('every pod passes Pod Security restricted (a Pod created from each template is admitted; a weaker one is not)', async () => {
    const deployments = [...(await render()), ...(await render([ciValues('all-features')]))].filter((o) => o.kind === 'Deployment');
    assert.equal(deployments.length, 4);
    for (const d of deployments) await createPodFromTemplate(d, RELEASE_NAMESPACE);
    // The admission is really on: without the container security context the same pod is rejected.
    const d = deployments[0]!;
    const spec = podTemplate(d).spec;
    const weaker = { ...spec, containers: spec.containers.map((c) => ({ ...c, securityContext: undefined })) };
    await assert.rejects(createPodFromTemplate(d, RELEASE_NAMESPACE, weaker), /violates PodSecurity "restricted:latest"/);
  });

  it('the namespaced install, run with its own tokens, works in team-a and is forbidden in team-c and cluster-wide', async () => {
    const objects = await render([ciValues('namespaced')]);
    // For real: the CRD, the ServiceAccounts and the RBAC, as `helm install` would.
    const crd = only(objects, 'CustomResourceDefinition');
    await apply(crd);
    await eventually(async () => ((await statusOf(k, 'GET', '/apis/dubbo-dns.io/v1alpha1/dubboservices')) === 200 ? true : undefined), 30_000, 'CRD established');
    for (const o of objects.filter((x) => RBAC_KINDS.has(x.kind))) await apply(o);
    const controllerDeployment = only(objects, 'Deployment', 'controller');
    const dnsDeployment = only(objects, 'Deployment', 'dns');
    const controllerSa = await serviceAccountClient((podTemplate(controllerDeployment).spec as unknown as { serviceAccountName: string }).serviceAccountName);
    const dnsSa = await serviceAccountClient((podTemplate(dnsDeployment).spec as unknown as { serviceAccountName: string }).serviceAccountName);

    // Both components with the Deployments' own arguments (but loopback ports and no snapshot).
    const local = (a: string): boolean => !/^--(listen|http-listen|snapshot)=/.test(a);
    const controller = await startCli(controllerSa.kubeconfig, argsOf(controllerDeployment).slice(1).filter(local));
    const dnsArgs = argsOf(dnsDeployment);
    assert.deepEqual(dnsArgs.slice(0, 2), ['serve', '--kubernetes']);
    const dns = await startDns(['--kubeconfig', dnsSa.kubeconfig, ...dnsArgs.slice(2).filter(local)]);

    await createPod(k, 'team-a', 'shop-0', { labels: { app: 'shop' }, ip: '10.80.0.1', ready: true });
    await applyDubboService(k, 'team-a', 'shop', dubboSpec('shop', 'org.example.Shop'));
    const name = serviceLabel(serviceKey('org.example.Shop'));
    await eventually(async () => ((await getService(k, 'team-a', name)) !== undefined && (await endpointsOf(k, 'team-a', name)).has('10.80.0.1') ? true : undefined), 20_000, 'managed Service and EndpointSlice in team-a');
    await waitForAddresses(dns.dnsPort, serviceName('team-a', 'org.example.Shop'), ['10.80.0.1'], 20_000);

    // The same tokens outside the listed namespaces.
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'intruder' }, spec: { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] } };
    const expected: [string, KubeClient, 'GET' | 'POST', string, unknown, number][] = [
      ['controller lists Services in team-a', controllerSa.client, 'GET', '/api/v1/namespaces/team-a/services', undefined, 200],
      ['controller lists Services in team-c', controllerSa.client, 'GET', '/api/v1/namespaces/team-c/services', undefined, 403],
      ['controller creates a Service in team-c', controllerSa.client, 'POST', '/api/v1/namespaces/team-c/services', service, 403],
      ['controller lists DubboServices in team-c', controllerSa.client, 'GET', '/apis/dubbo-dns.io/v1alpha1/namespaces/team-c/dubboservices', undefined, 403],
      ['controller lists Services cluster-wide', controllerSa.client, 'GET', '/api/v1/services', undefined, 403],
      ['controller lists Pods cluster-wide', controllerSa.client, 'GET', '/api/v1/pods', undefined, 403],
      ['controller lists DubboServices cluster-wide', controllerSa.client, 'GET', '/apis/dubbo-dns.io/v1alpha1/dubboservices', undefined, 403],
      ['DNS lists EndpointSlices in team-b', dnsSa.client, 'GET', '/apis/discovery.k8s.io/v1/namespaces/team-b/endpointslices', undefined, 200],
      ['DNS creates a Service in team-a', dnsSa.client, 'POST', '/api/v1/namespaces/team-a/services', service, 403],
      ['DNS lists EndpointSlices in team-c', dnsSa.client, 'GET', '/apis/discovery.k8s.io/v1/namespaces/team-c/endpointslices', undefined, 403],
      ['DNS lists Services cluster-wide', dnsSa.client, 'GET', '/api/v1/services', undefined, 403],
    ];
    const got = await Promise.all(expected.map(async ([what, client, method, path, body]) => `${what}: ${await statusOf(client, method, path, body)}`));
    assert.deepEqual(got, expected.map(([what, , , , , status]) => `${what}: ${status}`));

    assert.equal(await controller.stop(), 0);
    assert.ok(controller.logs.some((l) => l['msg'] === 'released the lease'), 'the Lease in the release namespace was held and released');
    assert.equal(await dns.stop(), 0);
    const denied = [...controller.logs, ...dns.logs].filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
    assert.deepEqual(denied, [], 'neither component was refused anything');
  });
});
