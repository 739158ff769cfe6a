// Smoke test of the real control plane (etcd + kube-apiserver) the controller tests run against,
// and a record of which @kubernetes/client-node 2.0.1 calls work against it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import {
  KUBE_VERSION,
  apiErrorCode,
  applyCustomObjectStatus,
  applyObject,
  applyPodStatus,
  eventually,
  findBinaries,
  pidAlive,
  portInUse,
  rssBytes,
  serverSideApplyOptions,
  startControlPlane,
  type ControlPlane,
} from './control-plane.ts';

const GROUP = 'smoke.dubbo-dns.test';
const VERSION = 'v1alpha1';

interface WidgetStatus {
  observedGeneration?: number;
  resolved?: number;
  conditions?: { type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }[];
}
interface Widget extends k8s.KubernetesObject {
  spec?: { size?: number };
  status?: WidgetStatus;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

describe('binaries', () => {
  it('names the missing binary and how to build it', () => {
    assert.throws(
      () => findBinaries({ apiServerBin: '/nonexistent/kube-apiserver' }),
      (e: Error) => e.message.includes('/nonexistent/kube-apiserver') && e.message.includes('bash test/setup.sh'),
    );
    assert.throws(
      () => findBinaries({ etcdBin: 'no-such-etcd-binary' }),
      (e: Error) => e.message.includes('no-such-etcd-binary') && e.message.includes('bash test/setup.sh'),
    );
  });
});

describe('control plane', { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let ns: string;

  before(async (t) => {
    const t0 = performance.now();
    cp = await startControlPlane();
    const ms = Math.round(performance.now() - t0);
    kc = cp.kubeConfig;
    core = kc.makeApiClient(k8s.CoreV1Api);
    ns = await cp.newNamespace('smoke');
    const mib = (b: number | undefined): string => (b === undefined ? '?' : `${Math.round(b / 2 ** 20)} MiB`);
    t.diagnostic(`control plane started in ${ms} ms; RSS apiserver ${mib(rssBytes(cp.pids.apiServer))}, etcd ${mib(rssBytes(cp.pids.etcd))}`);
  });
  after(async () => {
    await cp?.stop();
  });

  it(`serves /version ${KUBE_VERSION} and a kubeconfig`, async () => {
    const v = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.equal(v.gitVersion, KUBE_VERSION);
    assert.equal(kc.getCurrentCluster()?.server, cp.server);
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(cp.kubeconfigPath));
    const nsObj = await core.readNamespace({ name: ns });
    assert.equal(nsObj.status?.phase, 'Active');
  });

  it('stores a headless Service and its EndpointSlice', async () => {
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: 'greeter' }, spec: { clusterIP: 'None', ports: [{ name: 'dubbo', port: 20880, protocol: 'TCP' }] } },
    });
    await discovery.createNamespacedEndpointSlice({
      namespace: ns,
      body: {
        metadata: { name: 'greeter-abc', labels: { 'kubernetes.io/service-name': 'greeter' } },
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'greeter-0', namespace: ns } },
          { addresses: ['10.1.0.2'], conditions: { ready: false } },
        ],
        ports: [{ name: 'dubbo', port: 20880, protocol: 'TCP' }],
      },
    });
    const svc = await core.readNamespacedService({ name: 'greeter', namespace: ns });
    assert.equal(svc.spec?.clusterIP, 'None');
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: 'kubernetes.io/service-name=greeter' });
    assert.equal(slices.items.length, 1);
    assert.deepEqual(
      slices.items[0]?.endpoints?.map((e) => [e.addresses[0], e.conditions?.ready]),
      [
        ['10.1.0.1', true],
        ['10.1.0.2', false],
      ],
    );
  });

  it('sets a Pod status through /status (server-side apply)', async () => {
    await core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'greeter-0', labels: { app: 'greeter' } }, spec: { containers: [{ name: 'app', image: 'example.invalid/greeter:1' }] } },
    });
    const created = await core.readNamespacedPod({ name: 'greeter-0', namespace: ns });
    assert.equal(created.status?.phase, 'Pending');
    await applyPodStatus(kc, ns, 'greeter-0', {
      phase: 'Running',
      podIP: '10.1.0.1',
      podIPs: [{ ip: '10.1.0.1' }],
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date() }],
    });
    const pod = await core.readNamespacedPod({ name: 'greeter-0', namespace: ns });
    assert.equal(pod.status?.phase, 'Running');
    assert.equal(pod.status?.podIP, '10.1.0.1');
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    // the plain replace of /status works too
    pod.status = { ...pod.status, phase: 'Succeeded' };
    await core.replaceNamespacedPodStatus({ name: 'greeter-0', namespace: ns, body: pod });
    assert.equal((await core.readNamespacedPod({ name: 'greeter-0', namespace: ns })).status?.phase, 'Succeeded');
  });

  it('server-side applies a ConfigMap with a field manager (object API and typed API)', async () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: ns }, data: { a: '1', b: '2' } };
    const applied = await applyObject(kc, cm, 'dubbo-dns');
    assert.equal(applied.metadata?.name, 'ssa');
    let read = await core.readNamespacedConfigMap({ name: 'ssa', namespace: ns });
    assert.deepEqual(read.data, { a: '1', b: '2' });
    assert.ok(read.metadata?.managedFields?.some((f) => f.manager === 'dubbo-dns' && f.operation === 'Apply'));

    // Applying again without `b` removes it (the manager owned it).
    await applyObject(kc, { ...cm, data: { a: '1' } }, 'dubbo-dns');
    read = await core.readNamespacedConfigMap({ name: 'ssa', namespace: ns });
    assert.deepEqual(read.data, { a: '1' });

    // Another manager changing an owned field: 409 Conflict without force, accepted with force.
    const other = { ...cm, data: { a: 'other' } };
    await assert.rejects(applyObject(kc, other, 'someone-else', { force: false }), (e) => apiErrorCode(e) === 409);

    // The typed API's patch* + Content-Type: application/apply-patch+yaml is the same thing.
    await core.patchNamespacedConfigMap(
      { name: 'ssa', namespace: ns, body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa', namespace: ns }, data: { a: 'other' } }, fieldManager: 'someone-else', force: true },
      serverSideApplyOptions(),
    );
    read = await core.readNamespacedConfigMap({ name: 'ssa', namespace: ns });
    assert.equal(read.data?.a, 'other');
  });

  it('establishes a CRD and server-side applies a custom object and its /status', async () => {
    const crd: k8s.V1CustomResourceDefinition = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${GROUP}` },
      spec: {
        group: GROUP,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: VERSION,
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { size: { type: 'integer' } } },
                  status: {
                    type: 'object',
                    properties: {
                      observedGeneration: { type: 'integer' },
                      resolved: { type: 'integer' },
                      conditions: {
                        type: 'array',
                        // client-node's serializer keeps only model property names: x_kubernetes_list_type,
                        // not 'x-kubernetes-list-type' (which it would silently drop).
                        x_kubernetes_list_type: 'map',
                        x_kubernetes_list_map_keys: ['type'],
                        items: {
                          type: 'object',
                          required: ['type', 'status'],
                          properties: {
                            type: { type: 'string' },
                            status: { type: 'string' },
                            reason: { type: 'string' },
                            message: { type: 'string' },
                            lastTransitionTime: { type: 'string', format: 'date-time' },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    };
    await applyObject(kc, crd, 'dubbo-dns');
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const established = await eventually(
      async () => {
        const c = await ext.readCustomResourceDefinition({ name: `widgets.${GROUP}` });
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? c : undefined;
      },
      30_000,
      'CRD Established',
    );
    const schema = established.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.status?.properties?.conditions;
    assert.equal(schema?.x_kubernetes_list_type, 'map');

    const widget: Widget = { apiVersion: `${GROUP}/${VERSION}`, kind: 'Widget', metadata: { name: 'w1', namespace: ns }, spec: { size: 3 } };
    // Discovery of a just-established group can lag a moment.
    await eventually(() => applyObject(kc, widget, 'dubbo-dns'), 15_000, 'Widget apply');

    const ref = { group: GROUP, version: VERSION, plural: 'widgets', namespace: ns, name: 'w1' };
    await applyCustomObjectStatus(
      kc,
      ref,
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Widget',
        metadata: { name: 'w1', namespace: ns },
        status: { observedGeneration: 1, resolved: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Resolved', message: 'ok', lastTransitionTime: now() }] },
      },
      'dubbo-dns',
    );
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    let got = (await custom.getNamespacedCustomObject(ref)) as Widget;
    assert.equal(got.spec?.size, 3);
    assert.equal(got.status?.resolved, 2);
    assert.equal(got.status?.conditions?.[0]?.reason, 'Resolved');
    assert.ok(got.metadata?.managedFields?.some((f) => f.manager === 'dubbo-dns' && f.operation === 'Apply' && f.subresource === 'status'));

    // Status applied without `resolved` drops it; status sent to the main resource is ignored.
    await applyCustomObjectStatus(
      kc,
      ref,
      { apiVersion: `${GROUP}/${VERSION}`, kind: 'Widget', metadata: { name: 'w1', namespace: ns }, status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'Empty', lastTransitionTime: now() }] } },
      'dubbo-dns',
    );
    await applyObject(kc, { ...widget, status: { resolved: 99 } }, 'dubbo-dns');
    got = (await custom.getNamespacedCustomObject(ref)) as Widget;
    assert.equal(got.status?.resolved, undefined);
    assert.equal(got.status?.conditions?.[0]?.status, 'False');
  });

  it('lists and watches (Watch and makeInformer)', async () => {
    const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
    const wns = await cp.newNamespace('watch');

    // Raw watch from a list's resourceVersion.
    const list = await core.listNamespacedConfigMap({ namespace: wns });
    const seen: string[] = [];
    let watchDone: unknown = 'not done';
    const controller = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${wns}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (phase: string, obj: k8s.V1ConfigMap) => {
        if (phase !== 'BOOKMARK') seen.push(`${phase} ${obj.metadata?.name}`);
      },
      (err: unknown) => (watchDone = err),
    );
    await core.createNamespacedConfigMap({ namespace: wns, body: { metadata: { name: 'w' }, data: { x: '1' } } });
    await core.deleteNamespacedConfigMap({ name: 'w', namespace: wns });
    await eventually(async () => (seen.length >= 2 ? true : undefined), 10_000, 'watch events');
    assert.deepEqual(seen, ['ADDED w', 'DELETED w']);
    controller.abort();
    await eventually(async () => (watchDone !== 'not done' ? true : undefined), 5000, 'watch done');

    // Informer (list + watch + cache).
    const informer = k8s.makeInformer(kc, `/apis/discovery.k8s.io/v1/namespaces/${wns}/endpointslices`, () => discovery.listNamespacedEndpointSlice({ namespace: wns }));
    const events: string[] = [];
    informer.on('add', (s) => events.push(`add ${s.metadata?.name} ${s.endpoints?.length}`));
    informer.on('update', (s) => events.push(`update ${s.metadata?.name} ${s.endpoints?.length}`));
    informer.on('delete', (s) => events.push(`delete ${s.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await discovery.createNamespacedEndpointSlice({
      namespace: wns,
      body: { metadata: { name: 'pre' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.2.0.1'] }] },
    });
    await informer.start();
    try {
      await eventually(async () => (events.includes('add pre 1') ? true : undefined), 10_000, 'informer initial list');
      const slice = await discovery.createNamespacedEndpointSlice({
        namespace: wns,
        body: { metadata: { name: 'live' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.2.0.2'] }] },
      });
      slice.endpoints = [...(slice.endpoints ?? []), { addresses: ['10.2.0.3'] }];
      await discovery.replaceNamespacedEndpointSlice({ name: 'live', namespace: wns, body: slice });
      await discovery.deleteNamespacedEndpointSlice({ name: 'live', namespace: wns });
      await eventually(async () => (events.includes('delete live') ? true : undefined), 10_000, 'informer events');
      assert.deepEqual(events, ['add pre 1', 'add live 1', 'update live 2', 'delete live']);
      assert.deepEqual(
        informer.list(wns).map((s) => s.metadata?.name),
        ['pre'],
      );
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
  });

  it('creates Events (core/v1 and events.k8s.io/v1)', async () => {
    const svc = await core.readNamespacedService({ name: 'greeter', namespace: ns });
    const regarding = { apiVersion: 'v1', kind: 'Service', namespace: ns, name: 'greeter', uid: svc.metadata?.uid };
    const ev = await kc.makeApiClient(k8s.EventsV1Api).createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { generateName: 'greeter-' },
        eventTime: new k8s.V1MicroTime(), // a plain Date is rejected: MicroTime wants 6 fraction digits
        reportingController: 'dubbo.apache.org/dubbo-dns',
        reportingInstance: 'dubbo-dns-0',
        action: 'Publish',
        reason: 'Published',
        regarding,
        note: 'published 2 providers',
        type: 'Normal',
      },
    });
    assert.ok(ev.metadata?.name?.startsWith('greeter-'));
    const legacy = await core.createNamespacedEvent({
      namespace: ns,
      body: {
        metadata: { generateName: 'greeter-' },
        involvedObject: regarding,
        reason: 'Published',
        message: 'published 2 providers',
        type: 'Normal',
        source: { component: 'dubbo-dns' },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
    assert.ok(legacy.metadata?.name);
    // Both APIs read the same storage.
    const all = await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=greeter' });
    assert.equal(all.items.length, 2);
    assert.ok(all.items.some((e) => e.reportingComponent === 'dubbo.apache.org/dubbo-dns' && e.action === 'Publish'));
  });

  it('gets and updates a Lease with optimistic concurrency', async () => {
    const coord = kc.makeApiClient(k8s.CoordinationV1Api);
    await assert.rejects(coord.readNamespacedLease({ name: 'dubbo-dns', namespace: ns }), (e) => apiErrorCode(e) === 404);
    const created = await coord.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: 'dubbo-dns' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new k8s.V1MicroTime(), renewTime: new k8s.V1MicroTime(), leaseTransitions: 0 },
      },
    });
    const lease = await coord.readNamespacedLease({ name: 'dubbo-dns', namespace: ns });
    assert.equal(lease.spec?.holderIdentity, 'a');
    assert.equal(lease.metadata?.resourceVersion, created.metadata?.resourceVersion);
    // MicroTime fields read back are strings at runtime (typed Date) and round-trip unchanged; new
    // ones must be k8s.V1MicroTime (a plain Date serializes with 3 fraction digits: 400 Bad Request).
    const renewed = await coord.replaceNamespacedLease({
      name: 'dubbo-dns',
      namespace: ns,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b', acquireTime: new k8s.V1MicroTime(), renewTime: new k8s.V1MicroTime(), leaseTransitions: 1 } },
    });
    assert.equal(renewed.spec?.holderIdentity, 'b');
    assert.notEqual(renewed.metadata?.resourceVersion, lease.metadata?.resourceVersion);
    // A stale resourceVersion loses: 409 Conflict.
    await assert.rejects(
      coord.replaceNamespacedLease({ name: 'dubbo-dns', namespace: ns, body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c', renewTime: new k8s.V1MicroTime() } } }),
      (e) => apiErrorCode(e) === 409,
    );
  });

  it('restarts the apiserver on the same port and keeps the data in etcd', async () => {
    const oldPid = cp.pids.apiServer;
    assert.ok(oldPid !== undefined);
    await cp.stopApiServer();
    assert.equal(cp.pids.apiServer, undefined);
    assert.equal(pidAlive(oldPid), false);
    assert.equal(await portInUse(cp.port), false);
    await assert.rejects(core.readNamespace({ name: ns }));

    await cp.startApiServer();
    assert.notEqual(cp.pids.apiServer, oldPid);
    const svc = await core.readNamespacedService({ name: 'greeter', namespace: ns });
    assert.equal(svc.spec?.clusterIP, 'None');
    const got = (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'widgets', namespace: ns, name: 'w1' })) as Widget;
    assert.equal(got.spec?.size, 3);
    // a second stop with SIGKILL (a crash) and start works as well
    await cp.stopApiServer({ signal: 'SIGKILL' });
    await cp.startApiServer();
    assert.equal((await core.readNamespacedConfigMap({ name: 'ssa', namespace: ns })).data?.a, 'other');
  });

  it('stop() kills everything, frees the ports and removes the temp dirs', async () => {
    const { apiServer, etcd } = cp.pids;
    assert.ok(apiServer !== undefined && etcd !== undefined);
    const etcdPort = Number(new URL(cp.etcdUrl).port);
    assert.equal(await portInUse(cp.port), true);
    assert.equal(await portInUse(etcdPort), true);
    await cp.stop();
    assert.equal(pidAlive(apiServer), false);
    assert.equal(pidAlive(etcd), false);
    assert.deepEqual(cp.pids, { apiServer: undefined, etcd: undefined });
    assert.equal(await portInUse(cp.port), false);
    assert.equal(await portInUse(etcdPort), false);
    assert.equal(existsSync(cp.dir), false);
    assert.equal(existsSync(cp.kubeconfigPath), false);
    await cp.stop(); // idempotent
  });
});
