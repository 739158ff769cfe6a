// Slices at scale (250 pods: 3 slices of at most 100, one pod change rewrites one slice) and
// restarts: a controller started over an unchanged cluster writes nothing (DESIGN §10).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { encodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  adminClient,
  applyDubboService,
  condition,
  createPod,
  createPods,
  deletePod,
  eventually,
  getDubboService,
  installCrd,
  listAll,
  metric,
  resourceVersions,
  setPodStatus,
  settled,
  slicesOf,
  startInProcess,
  type EventObj,
  type SliceObj,
} from './helpers.ts';

const BULK_SVC = 'bulkservice-vbulk-'; // prefix; the hash follows
let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
  await installCrd(k);
});
after(async () => {
  await cp?.stop();
});

const ipOf = (i: number): string => `10.40.${Math.floor(i / 200)}.${(i % 200) + 1}`;

const rvByName = (slices: readonly SliceObj[]): Map<string, string> => new Map(slices.map((s) => [s.metadata.name, s.metadata.resourceVersion]));

describe('scale and restarts', { timeout: 60_000 }, () => {
  it('250 pods give 3 slices of at most 100, and one pod change rewrites exactly one slice', async () => {
    const ns = await cp.newNamespace('bulk');
    await createPods(
      k,
      ns,
      Array.from({ length: 250 }, (_, i) => ({ name: `bulk-${i}`, options: { labels: { app: 'bulk' }, ip: ipOf(i), ready: true } })),
    );
    await applyDubboService(k, ns, 'bulk', {
      selector: { matchLabels: { app: 'bulk' } },
      ports: [{ name: 'dubbo', port: 20880 }],
      interfaces: [{ interface: 'org.example.BulkService', version: 'bulk' }],
    });
    const c = await startInProcess(cp, ns);
    try {
      const ds = await eventually(async () => {
        const d = await getDubboService(k, ns, 'bulk');
        return d.status?.readyEndpoints === 250 && condition(d, 'Ready')?.status === 'True' ? d : undefined;
      }, 30_000, '250 ready endpoints in status');
      const svcName = ds.status!.services![0]!.name;
      assert.ok(svcName.startsWith(BULK_SVC), svcName);
      const slices = await eventually(async () => {
        const s = await slicesOf(k, ns, svcName);
        return s.reduce((n, x) => n + (x.endpoints?.length ?? 0), 0) === 250 ? s : undefined;
      }, 20_000, 'slices with 250 endpoints');
      assert.equal(slices.length, 3);
      assert.deepEqual(slices.map((s) => s.endpoints?.length ?? 0).sort((a, b) => b - a), [100, 100, 50]);
      const addresses = slices.flatMap((s) => (s.endpoints ?? []).map((e) => e.addresses[0]));
      assert.equal(new Set(addresses).size, 250, 'every address exactly once');
      await settled(c.metrics);
      const writesBefore = metric(await c.metrics(), 'dubbo_dns_controller_api_writes_total', { kind: 'EndpointSlice' }) ?? 0;
      const before = rvByName(await slicesOf(k, ns, svcName));

      // One pod turns unready: exactly the slice that holds it is rewritten.
      const target = 137;
      await setPodStatus(k, ns, `bulk-${target}`, ipOf(target), false);
      const after1 = await eventually(async () => {
        const s = await slicesOf(k, ns, svcName);
        const e = s.flatMap((x) => x.endpoints ?? []).find((x) => x.addresses[0] === ipOf(target));
        return e?.conditions?.ready === false ? s : undefined;
      }, 10_000, 'the pod unready in its slice');
      await settled(c.metrics);
      const changed = [...rvByName(await slicesOf(k, ns, svcName))].filter(([name, rv]) => before.get(name) !== rv).map(([name]) => name);
      const holder = after1.find((s) => (s.endpoints ?? []).some((e) => e.addresses[0] === ipOf(target)))!.metadata.name;
      assert.deepEqual(changed, [holder], 'only the slice holding the pod was rewritten');
      assert.equal((metric(await c.metrics(), 'dubbo_dns_controller_api_writes_total', { kind: 'EndpointSlice' }) ?? 0) - writesBefore, 1, 'one slice write');

      // A new pod fills the slice with room; a deleted one is removed from its slice only.
      const before2 = rvByName(await slicesOf(k, ns, svcName));
      await createPod(k, ns, 'bulk-new', { labels: { app: 'bulk' }, ip: '10.40.9.9', ready: true });
      await eventually(async () => ((await slicesOf(k, ns, svcName)).some((s) => (s.endpoints ?? []).some((e) => e.addresses[0] === '10.40.9.9')) ? true : undefined), 10_000, 'new pod placed');
      await settled(c.metrics);
      const afterAdd = await slicesOf(k, ns, svcName);
      assert.equal(afterAdd.length, 3);
      const grown = afterAdd.find((s) => (s.endpoints ?? []).some((e) => e.addresses[0] === '10.40.9.9'))!;
      assert.equal(grown.endpoints?.length, 51, 'placed in the slice that had room');
      assert.deepEqual([...rvByName(afterAdd)].filter(([n, rv]) => before2.get(n) !== rv).map(([n]) => n), [grown.metadata.name]);

      const before3 = rvByName(afterAdd);
      await deletePod(k, ns, 'bulk-3');
      await eventually(async () => ((await slicesOf(k, ns, svcName)).every((s) => (s.endpoints ?? []).every((e) => e.addresses[0] !== ipOf(3))) ? true : undefined), 10_000, 'deleted pod removed');
      await settled(c.metrics);
      const afterDelete = await slicesOf(k, ns, svcName);
      assert.equal(afterDelete.length, 3);
      assert.equal([...rvByName(afterDelete)].filter(([n, rv]) => before3.get(n) !== rv).length, 1, 'one slice rewritten for a deletion');
      assert.equal(afterDelete.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0), 250);
    } finally {
      await c.stop();
    }
  });

  it('a write whose watch echo comes before its response (or after the next reconcile) is not repeated', async () => {
    // The API server's response and the watch event of the same write travel apart; either can come
    // first. This client makes the order deterministic: Service apply responses arrive 150 ms late
    // (the Service's echo comes first), and EndpointSlice watch events 400 ms late.
    class RacyClient extends KubeClient {
      override async apply<T = unknown>(path: string, manifest: unknown, fieldManager: string, force = true): Promise<T> {
        const result = await super.apply<T>(path, manifest, fieldManager, force);
        if (path.includes('/services/')) await new Promise((r) => setTimeout(r, 150));
        return result;
      }
      override watch(...args: Parameters<KubeClient['watch']>): Promise<void> {
        const [path, query, onEvent, ...rest] = args;
        if (!path.includes('/endpointslices')) return super.watch(...args);
        const late: typeof onEvent = (type, object) => {
          if (type === 'ERROR') onEvent(type, object);
          else setTimeout(() => onEvent(type, object), 400);
        };
        return super.watch(path, query, late, ...rest);
      }
    }
    const ns = await cp.newNamespace('echo');
    await Promise.all([
      createPod(k, ns, 'p1', { labels: { app: 'echo' }, ip: '10.46.0.1', ready: true }),
      createPod(k, ns, 'p2', { labels: { app: 'echo' }, ip: '10.46.0.2', ready: true }),
    ]);
    const keys = 4;
    await applyDubboService(k, ns, 'echo', {
      selector: { matchLabels: { app: 'echo' } },
      ports: [{ name: 'dubbo', port: 20880 }],
      interfaces: Array.from({ length: keys }, (_, i) => ({ interface: `org.example.Echo${i}` })),
    });
    const c = await startInProcess(cp, ns, { client: new RacyClient(cp.kubeConfig) });
    try {
      await eventually(async () => (condition(await getDubboService(k, ns, 'echo'), 'Ready')?.status === 'True' ? true : undefined), 15_000, 'Ready');
      await settled(c.metrics, 1000);
      const text = await c.metrics();
      const again = c.logs.filter((l) => l['msg'] === 'applied' && l['serviceWritten'] === false).map((l) => `${String(l['service'])}: ${String(l['slicesApplied'])} slice(s) applied again`);
      assert.deepEqual(
        {
          services: metric(text, 'dubbo_dns_controller_api_writes_total', { verb: 'apply', kind: 'Service' }),
          slices: metric(text, 'dubbo_dns_controller_api_writes_total', { verb: 'apply', kind: 'EndpointSlice' }),
          reapplied: again,
        },
        { services: keys, slices: keys, reapplied: [] },
      );
    } finally {
      await c.stop();
    }
  });

  it('a resync, or a pod change that alters no object, makes no write (not even of an identical status)', async () => {
    const ns = await cp.newNamespace('nochange');
    await createPod(k, ns, 'p1', { labels: { app: 'same' }, ip: '10.45.0.1', ready: true });
    await applyDubboService(k, ns, 'same', { selector: { matchLabels: { app: 'same' } }, ports: [{ name: 'dubbo', port: 20880 }], interfaces: [{ interface: 'org.example.Same' }] });
    // Resync every second: every key and status is reconciled again, whatever the caches say.
    const c = await startInProcess(cp, ns, { resyncMs: 1000 });
    try {
      await eventually(async () => (condition(await getDubboService(k, ns, 'same'), 'Ready')?.status === 'True' ? true : undefined), 15_000, 'Ready');
      const writes = await settled(c.metrics);
      const rvs = await resourceVersions(k, ns);
      const crReconciles = async (): Promise<number> => metric(await c.metrics(), 'dubbo_dns_controller_reconciles_total', { kind: 'cr' }) ?? 0;
      const reconciles = await crReconciles();
      // A label the selector does not look at.
      await k.request('PATCH', `/api/v1/namespaces/${ns}/pods/p1`, { body: { metadata: { labels: { unrelated: 'x' } } }, contentType: 'application/merge-patch+json' });
      await eventually(async () => ((await crReconciles()) >= reconciles + 2 ? true : undefined), 10_000, 'two more status reconciles (resyncs)');
      const after = await settled(c.metrics);
      const text = await c.metrics();
      assert.equal(after - writes, 0, `writes when nothing changed: ${text.split('\n').filter((l) => l.startsWith('dubbo_dns_controller_api_writes_total')).join('; ')}`);
      assert.deepEqual(await resourceVersions(k, ns), rvs);
    } finally {
      await c.stop();
    }
  });

  it('a controller restart with nothing changed makes zero writes', async () => {
    const ns = await cp.newNamespace('restart');
    await Promise.all([
      createPod(k, ns, 'p1', { labels: { app: 'demo' }, ip: '10.50.0.1', ready: true, nodeName: 'n1' }),
      createPod(k, ns, 'p2', { labels: { app: 'demo' }, ip: '10.50.0.2', ready: false, nodeName: 'n2' }),
      createPod(k, ns, 'go-0', {
        labels: { 'dubbo.io/label': 'dubbo.io-value' },
        annotations: { 'dubbo.io/annotation': encodeDubboGoAnnotation(['tri://10.50.0.9:50051/org.example.Go?interface=org.example.Go&application=go-app']) },
        ip: '10.50.0.9',
        ready: true,
      }),
    ]);
    await applyDubboService(k, ns, 'demo', {
      application: 'demo-app',
      selector: { matchLabels: { app: 'demo' } },
      ports: [
        { name: 'dubbo', port: 20880 },
        { name: 'tri', port: 50051 },
      ],
      interfaces: [
        { interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0' },
        { interface: 'org.apache.dubbo.demo.GreetingService', version: '2.0.0', protocol: 'tri' },
      ],
    });
    const first = await startInProcess(cp, ns);
    try {
      await eventually(async () => (condition(await getDubboService(k, ns, 'demo'), 'Ready')?.status === 'True' ? true : undefined), 15_000, 'Ready');
      await settled(first.metrics);
    } finally {
      await first.stop();
    }
    const rvs = await resourceVersions(k, ns);
    assert.equal([...rvs.keys()].filter((x) => x.startsWith('Service/')).length, 3, [...rvs.keys()].join(' '));
    assert.equal([...rvs.keys()].filter((x) => x.startsWith('EndpointSlice/')).length, 3, [...rvs.keys()].join(' '));
    const events = (await listAll<EventObj>(k, `/api/v1/namespaces/${ns}/events`)).length;

    for (const round of [1, 2]) {
      const again = await startInProcess(cp, ns);
      try {
        // Wait until every key and the status have been reconciled, and the controller is idle.
        await eventually(
          async () => {
            const text = await again.metrics();
            return (metric(text, 'dubbo_dns_controller_reconciles_total', { kind: 'svc' }) ?? 0) >= 3 && (metric(text, 'dubbo_dns_controller_reconciles_total', { kind: 'cr' }) ?? 0) >= 1 ? true : undefined;
          },
          10_000,
          'the restarted controller to reconcile everything',
        );
        const writes = await settled(again.metrics);
        const text = await again.metrics();
        const byKind = text.split('\n').filter((l) => l.startsWith('dubbo_dns_controller_api_writes_total'));
        const now = await resourceVersions(k, ns);
        const changed = [...rvs].filter(([name, rv]) => now.get(name) !== rv).map(([name]) => name);
        const newEvents = (await listAll<EventObj>(k, `/api/v1/namespaces/${ns}/events`)).length - events;
        // Report every symptom at once.
        assert.deepEqual(
          { writes, changed, newEvents, objects: now.size },
          { writes: 0, changed: [], newEvents: 0, objects: rvs.size },
          `round ${round}: a restart over an unchanged cluster wrote: ${byKind.join('; ')}`,
        );
      } finally {
        await again.stop();
      }
    }
  });
});
