// End to end, a silent API server (issue 10): frozen with SIGSTOP, its connections stay open and mute,
// as in a partition that drops packets. `serve --kubernetes` keeps answering the last data and,
// within its watch liveness window, reports it stale (the RFC 8914 Stale Answer EDE, /readyz,
// dubbo_dns_data_stale); thawed, it is current again and follows new changes, and the controller,
// which lived through the same freeze, rewrites nothing. All real processes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { listAll, resourceVersions, settled } from '../controller/helpers.ts';
import {
  applyDubboService,
  createPod,
  dubboSpec,
  eventually,
  installCrd,
  killAll,
  metric,
  query,
  serviceName,
  startController,
  startDns,
  waitForAddresses,
  type Controller,
} from './helpers.ts';

const EDE_STALE = 3;
/** Small, so that the test sees the deadline pass, with room for a loaded machine; the default is 60 s. */
const LIVENESS_SECONDS = 10;
const A = { iface: 'org.example.FrozenOrders', ips: ['10.50.0.1', '10.50.0.2'] } as const;
const B = { iface: 'org.example.FrozenStock', ips: ['10.50.1.1'] } as const;

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let controller: Controller;
let dns: Awaited<ReturnType<typeof startDns>>;
let nameA: string;
let nameB: string;
/** resourceVersions of the controller's objects, settled before the freeze. */
let rvsBefore: Map<string, string>;

/** What the DNS server says about freshness, all three ways. */
async function freshness(): Promise<{ ede: number[]; addresses: string[]; stale: number | undefined; ready: number; detail: string }> {
  const r = await query(dns.dnsPort, nameA, 'A', { edns: true });
  const stale = metric((await dns.get('/metrics')).text, 'dubbo_dns_data_stale');
  const ready = await dns.get('/readyz');
  return { ede: r.ede, addresses: r.addresses, stale, ready: ready.status, detail: ready.text.trim() };
}

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('e2e-frozen');
  nameA = serviceName(ns, A.iface);
  nameB = serviceName(ns, B.iface);
  controller = await startController(cp.kubeconfigPath, ns);
});
after(async () => {
  // Thawed before anything is stopped: a frozen apiserver would hold up the others' shutdown.
  cp?.thawApiServer();
  await killAll();
  await cp?.stop();
});

describe('frozen API server', { timeout: 120_000 }, () => {
  it('with the API server up: current data, no EDE, dubbo_dns_data_stale 0', async () => {
    await Promise.all([createPod(k, ns, 'o1', 'orders', A.ips[0]), createPod(k, ns, 'o2', 'orders', A.ips[1]), createPod(k, ns, 's1', 'stock', B.ips[0])]);
    await applyDubboService(k, ns, 'orders', dubboSpec('orders', A.iface));
    await applyDubboService(k, ns, 'stock', dubboSpec('stock', B.iface));
    dns = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '2', '--watch-liveness-seconds', String(LIVENESS_SECONDS), '--log-level', 'debug']);
    await waitForAddresses(dns.dnsPort, nameA, A.ips, 15_000);
    await waitForAddresses(dns.dnsPort, nameB, B.ips, 10_000);
    const now = await freshness();
    assert.deepEqual(now.ede, [], 'no EDE while current');
    assert.equal(now.stale, 0);
    assert.match(now.detail, /watching the API server/);

    // Quiet is not stale: nothing changes for longer than the liveness window (the watches are
    // ended by the server and resumed), and the data stays current all along.
    const quietFrom = Date.now();
    await dns.waitForLog((l) => l['msg'] === 'watch ended by the server; resuming' && Date.parse(String(l['time'])) >= quietFrom + (LIVENESS_SECONDS + 1) * 1000, 30_000);
    const lapses = dns.logs.filter((l) => l['msg'] === 'watch silent past its deadline; restarting it' || l['msg'] === 'list/watch failed; retrying');
    assert.deepEqual(lapses, [], 'no watch lapsed while the API server was up');
    const quiet = await freshness();
    assert.deepEqual([quiet.ede, quiet.stale], [[], 0], 'still current after a quiet liveness window');
    await settled(() => controller.get('/metrics').then((r) => r.text));
    rvsBefore = await resourceVersions(k, ns);
    assert.equal([...rvsBefore.keys()].filter((key) => key.startsWith('EndpointSlice/')).length, 2, [...rvsBefore.keys()].join(' '));
  });

  it('frozen: the last data is still served, and reported stale within the liveness window', async () => {
    await cp.freezeApiServer();
    let last = {} as Awaited<ReturnType<typeof freshness>>;
    await eventually(
      async () => {
        last = await freshness();
        return last.ede.includes(EDE_STALE) && last.stale === 1 ? true : undefined;
      },
      60_000,
      'EDE 3 and dubbo_dns_data_stale 1 with the API server frozen',
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last: ${JSON.stringify(last)}`);
    });
    assert.deepEqual(last.addresses, [...A.ips].sort(), 'the last data, still served');
    assert.equal(last.ready, 200, 'still ready: it answers from the last data');
    assert.match(last.detail, /API server unreachable since .*; serving the last data/);
    const b = await query(dns.dnsPort, nameB, 'A', { edns: true, tcp: true });
    assert.deepEqual(b.addresses, [...B.ips]);
    assert.ok(b.ede.includes(EDE_STALE), 'EDE over TCP too');
  });

  it('thawed: current again, a later change is served, and the controller rewrites nothing', async () => {
    cp.thawApiServer();
    let last = {} as Awaited<ReturnType<typeof freshness>>;
    await eventually(
      async () => {
        last = await freshness();
        return last.ede.length === 0 && last.stale === 0 ? true : undefined;
      },
      60_000,
      'the Stale Answer EDE and dubbo_dns_data_stale to clear after the thaw',
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last: ${JSON.stringify(last)}`);
    });
    assert.match(last.detail, /watching the API server/);

    // A change after the thaw flows through the controller (which lived through the freeze) to DNS.
    await createPod(k, ns, 'o3', 'orders', '10.50.0.3');
    await waitForAddresses(dns.dnsPort, nameA, [...A.ips, '10.50.0.3'], 40_000, 'a pod added after the thaw');
    await settled(() => controller.get('/metrics').then((r) => r.text));
    const now = await resourceVersions(k, ns);
    const changed = [...rvsBefore].filter(([key, rv]) => now.get(key) !== rv).map(([key]) => key);
    // Only what the new pod changes: the orders slice (and its DubboService's status, which counts endpoints).
    const slices = await listAll<{ metadata: { name: string }; endpoints?: { addresses: string[] }[] }>(k, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`);
    const ordersSlices = slices.filter((s) => (s.endpoints ?? []).some((e) => e.addresses.includes(A.ips[0]))).map((s) => `EndpointSlice/${s.metadata.name}`);
    const expected = [...ordersSlices, 'DubboService/orders'];
    assert.deepEqual(
      changed.filter((key) => !expected.includes(key)),
      [],
      `objects rewritten by the controller after the thaw: ${changed.join(', ')}`,
    );
    assert.equal(now.size, rvsBefore.size, 'no objects made twice');
    assert.ok(changed.some((key) => ordersSlices.includes(key)), `the orders slice took the new pod (${changed.join(', ')})`);
  });
});
