// The real `dubbo-dns controller` process: /metrics, /readyz, and leader election between replicas
// (only the leader writes; another takes over when it stops, gracefully or not).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  CRD,
  adminClient,
  applyDubboService,
  condition,
  createPod,
  endpointsOf,
  eventually,
  getDubboService,
  getOrUndefined,
  getService,
  installCrd,
  killAllCli,
  metric,
  setPodStatus,
  settled,
  startCli,
  type CliController,
} from './helpers.ts';

const SPEC = {
  application: 'cli-app',
  selector: { matchLabels: { app: 'cli' } },
  ports: [{ name: 'dubbo', port: 20880 }],
  interfaces: [{ interface: 'org.example.CliService', version: '1' }, { interface: 'org.example.OtherService' }],
};

interface Lease {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
  await installCrd(k);
});
after(async () => {
  await killAllCli();
  await cp?.stop();
});

const metricsOf = (c: CliController) => async (): Promise<string> => (await c.get('/metrics')).text;
const writesOf = async (c: CliController): Promise<number> => metric(await metricsOf(c)(), 'dubbo_dns_controller_api_writes_total') ?? 0;
const holder = async (ns: string): Promise<string | undefined> => (await getOrUndefined<Lease>(k, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/dubbo-dns-controller`))?.spec.holderIdentity;

describe('controller CLI', { timeout: 90_000 }, () => {
  it('serves /healthz, /readyz and /metrics with reconciles, queue depth and writes', async () => {
    const ns = await cp.newNamespace('cli-metrics');
    const c = await startCli(cp.kubeconfigPath, ['--namespace', ns, '--workers', '2']);
    try {
      assert.equal((await c.get('/healthz')).status, 200);
      const ready = await c.get('/readyz');
      assert.equal(ready.status, 200);
      assert.match(ready.text, /caches synced; leading/);

      await createPod(k, ns, 'p1', { labels: { app: 'cli' }, ip: '10.60.0.1', ready: true });
      await applyDubboService(k, ns, 'cli', SPEC);
      await eventually(async () => (condition(await getDubboService(k, ns, 'cli'), 'Ready')?.status === 'True' ? true : undefined), 15_000, 'Ready');
      await settled(metricsOf(c));
      const text = await metricsOf(c)();
      assert.ok((metric(text, 'dubbo_dns_controller_reconciles_total', { kind: 'svc', result: 'done' }) ?? 0) >= 2, 'service-key reconciles counted');
      assert.ok((metric(text, 'dubbo_dns_controller_reconciles_total', { kind: 'cr' }) ?? 0) >= 1, 'status reconciles counted');
      assert.equal(metric(text, 'dubbo_dns_controller_queue_depth'), 0);
      const writeLog = (): string => c.logs.filter((l) => ['created Service', 'applied', 'pruned'].includes(String(l['msg']))).map((l) => JSON.stringify(l)).join('\n');
      // (Exactly one write per object: scale-restart.test.ts.)
      assert.ok((metric(text, 'dubbo_dns_controller_api_writes_total', { verb: 'apply', kind: 'Service' }) ?? 0) >= 2, writeLog());
      assert.ok((metric(text, 'dubbo_dns_controller_api_writes_total', { verb: 'apply', kind: 'EndpointSlice' }) ?? 0) >= 2, writeLog());
      assert.ok((metric(text, 'dubbo_dns_controller_api_writes_total', { verb: 'apply', kind: 'DubboServiceStatus' }) ?? 0) >= 1);
      assert.equal(metric(text, 'dubbo_dns_controller_managed_objects', { kind: 'Service' }), 2);
      assert.equal(metric(text, 'dubbo_dns_controller_managed_objects', { kind: 'EndpointSlice' }), 2);
      assert.equal(metric(text, 'dubbo_dns_controller_leader'), 1);
      assert.ok((metric(text, 'dubbo_dns_controller_reconcile_duration_seconds_count', { kind: 'svc' }) ?? 0) >= 2);

      await k.request('DELETE', `${CRD}/namespaces/${ns}/dubboservices/cli`);
      await eventually(async () => (metric(await metricsOf(c)(), 'dubbo_dns_controller_api_writes_total', { verb: 'delete', kind: 'Service' }) === 2 ? true : undefined), 10_000, 'two Service deletes counted');
      await eventually(async () => (metric(await metricsOf(c)(), 'dubbo_dns_controller_managed_objects', { kind: 'Service' }) === 0 ? true : undefined), 10_000, 'no managed Service left');
      assert.equal(await c.stop(), 0, 'SIGTERM exits 0');
    } finally {
      await c.stop('SIGKILL');
    }
  });

  it('with two controllers only the leader writes, and the other takes over when it stops (gracefully, then by a crash)', async () => {
    const ns = await cp.newNamespace('cli-leader');
    const args = (id: string): string[] => ['--namespace', ns, '--leader-elect', '--lease-namespace', ns, '--identity', id];
    const a = await startCli(cp.kubeconfigPath, args('a'));
    let b: CliController | undefined;
    let c: CliController | undefined;
    try {
      await eventually(async () => ((await holder(ns)) === 'a' ? true : undefined), 10_000, 'a to hold the lease');
      b = await startCli(cp.kubeconfigPath, args('b'));
      const bReady = await b.get('/readyz');
      assert.equal(bReady.status, 200);
      assert.match(bReady.text, /standing by/);

      await Promise.all([
        createPod(k, ns, 'p1', { labels: { app: 'cli' }, ip: '10.61.0.1', ready: true }),
        createPod(k, ns, 'p2', { labels: { app: 'cli' }, ip: '10.61.0.2', ready: false }),
      ]);
      await applyDubboService(k, ns, 'cli', SPEC);
      await eventually(async () => (condition(await getDubboService(k, ns, 'cli'), 'Ready')?.status === 'True' ? true : undefined), 15_000, 'Ready (written by the leader)');
      await settled(metricsOf(a));
      const bm = await metricsOf(b)();
      assert.ok((await writesOf(a)) >= 5, 'the leader wrote Services, slices and status');
      assert.equal(metric(bm, 'dubbo_dns_controller_api_writes_total') ?? 0, 0, 'the follower wrote nothing');
      assert.equal(metric(bm, 'dubbo_dns_controller_leader'), 0);
      assert.equal(metric(await metricsOf(a)(), 'dubbo_dns_controller_leader'), 1);
      assert.ok(!b.logs.some((l) => l['msg'] === 'applied' || l['msg'] === 'created Service'), 'the follower logged no write');

      // The leader stops: it releases the lease and b takes over without waiting for it to expire.
      const t0 = Date.now();
      assert.equal(await a.stop(), 0);
      assert.ok(a.logs.some((l) => l['msg'] === 'released the lease'));
      await eventually(async () => ((await holder(ns)) === 'b' ? true : undefined), 8_000, 'b to take over the lease');
      const takeoverMs = Date.now() - t0;
      assert.ok(takeoverMs < 8_000, `takeover in ${takeoverMs} ms`);
      await b.waitForLog((l) => l['msg'] === 'became leader', 5_000, 'b became leader');
      await eventually(async () => (/leading/.test((await b!.get('/readyz')).text) ? true : undefined), 5_000, 'b /readyz says leading');
      await settled(metricsOf(b));
      const bWritesAtTakeover = await writesOf(b);

      // The new leader writes: p2 turns ready.
      await setPodStatus(k, ns, 'p2', '10.61.0.2', true);
      const svcName = (await getDubboService(k, ns, 'cli')).status!.services![0]!.name;
      await eventually(async () => ((await endpointsOf(k, ns, svcName)).get('10.61.0.2')?.conditions?.ready === true ? true : undefined), 10_000, 'p2 ready, written by b');
      assert.ok((await writesOf(b)) > bWritesAtTakeover, 'b wrote the change');
      assert.equal(metric(await metricsOf(b)(), 'dubbo_dns_controller_leader'), 1);

      // A crash: c stands by, b is killed outright; c takes over once the lease expires.
      c = await startCli(cp.kubeconfigPath, args('c'));
      await settled(metricsOf(c), 300);
      assert.equal(await writesOf(c), 0, 'c, standing by, wrote nothing');
      const leaseBefore = (await getOrUndefined<Lease>(k, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/dubbo-dns-controller`))!;
      await b.stop('SIGKILL');
      await eventually(async () => ((await holder(ns)) === 'c' ? true : undefined), (leaseBefore.spec.leaseDurationSeconds ?? 15) * 1000 + 8_000, 'c to take over an expired lease');
      const lease = (await getOrUndefined<Lease>(k, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/dubbo-dns-controller`))!;
      assert.ok((lease.spec.leaseTransitions ?? 0) >= 2, `leaseTransitions ${lease.spec.leaseTransitions}`);
      await createPod(k, ns, 'p3', { labels: { app: 'cli' }, ip: '10.61.0.3', ready: true });
      await eventually(async () => ((await endpointsOf(k, ns, svcName)).has('10.61.0.3') ? true : undefined), 10_000, 'p3 published by c');
      assert.ok((await writesOf(c)) > 0, 'c writes once it leads');
      assert.ok(await getService(k, ns, svcName));
    } finally {
      await a.stop('SIGKILL');
      await b?.stop('SIGKILL');
      await c?.stop('SIGKILL');
    }
  });
});
