// End to end, the DNS server's own connection to the API server (through a TCP proxy we control):
// SERVFAIL and /readyz 503 until the first data; a watch cut mid-stream recovers and later changes
// arrive; a partition (connections refused) keeps the last data, stale, and recovers. The controller
// talks to the API server directly, so the cluster keeps changing while the DNS server is cut off.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  ZONE,
  applyDubboService,
  createPod,
  deletePod,
  dubboSpec,
  eventually,
  installCrd,
  killAll,
  kubeconfigFor,
  metric,
  query,
  serviceName,
  setPodReady,
  sliceReadiness,
  startController,
  startDns,
  startProxy,
  tempDir,
  waitForAddresses,
} from './helpers.ts';

const EDE_STALE = 3;
const IFACE = 'org.example.WatchService';
const IP = { w1: '10.40.0.1', w2: '10.40.0.2', w3: '10.40.0.3', w4: '10.40.0.4' } as const;

let cp: ControlPlane;
let k: KubeClient;
/** One namespace per test, all reconciled by one controller (which talks to the API server directly). */
const namespaces = { first: '', cut: '', partition: '' };

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  for (const key of Object.keys(namespaces) as (keyof typeof namespaces)[]) namespaces[key] = await cp.newNamespace(`e2e-watch-${key}`);
  await startController(cp.kubeconfigPath, Object.values(namespaces).join(','));
});
after(async () => {
  await killAll();
  await cp?.stop();
});

/** A test's own world: its namespace, a DubboService with the given pods, a proxy to the API server, and a DNS server behind it. */
async function setup(ns: string, pods: readonly (keyof typeof IP)[], o: { refusing?: boolean; waitForData?: boolean } = {}) {
  const name = serviceName(ns, IFACE, undefined, '3');
  for (const pod of pods) await createPod(k, ns, pod, 'watch', IP[pod]);
  await applyDubboService(k, ns, 'watch', dubboSpec('watch', IFACE, { version: '3' }));
  const proxy = await startProxy(cp.port, { refusing: o.refusing === true });
  const kubeconfig = kubeconfigFor(cp, `https://127.0.0.1:${proxy.port}`, tempDir('watch'));
  const dns = await startDns(['--kubeconfig', kubeconfig, '--namespace', ns, '--sync-timeout', '2']);
  const metrics = async (): Promise<string> => (await dns.get('/metrics')).text;
  /** Waits until the DNS server is current: no EDE, dubbo_dns_data_stale 0. */
  const waitFresh = async (ms: number, what: string): Promise<void> => {
    let last = '';
    await eventually(
      async () => {
        const r = await query(dns.dnsPort, name, 'A', { edns: true });
        const stale = metric(await metrics(), 'dubbo_dns_data_stale');
        last = `ede [${r.ede.join(',')}], dubbo_dns_data_stale ${stale}, readyz "${(await dns.get('/readyz')).text.trim()}"`;
        return r.ede.length === 0 && stale === 0 ? true : undefined;
      },
      ms,
      what,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last: ${last}`);
    });
  };
  if (o.waitForData !== false) {
    await waitForAddresses(dns.dnsPort, name, pods.map((p) => IP[p]), 15_000, 'the first data');
    await waitFresh(5000, 'fresh after the first list');
  }
  return { ns, name, proxy, dns, metrics, waitFresh };
}

describe('the DNS server cut off from the API server', { timeout: 90_000 }, () => {
  it('SERVFAIL (never NXDOMAIN) and /readyz 503 until the first data; then answers and ready', async () => {
    const { ns, name, proxy, dns, waitFresh } = await setup(namespaces.first, ['w1'], { refusing: true, waitForData: false });
    for (const [q, type] of [
      [name, 'A'],
      [`nothing-here.${ns}.${ZONE}`, 'A'],
      [`${ZONE}`, 'SOA'],
    ] as const) {
      const r = await query(dns.dnsPort, q, type);
      assert.equal(r.rcode, 'SERVFAIL', `${q} ${type} before the first data`);
    }
    const notReady = await dns.get('/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.text, /waiting for the API server/);
    const stale = await query(dns.dnsPort, name, 'A', { edns: true });
    assert.equal(stale.rcode, 'SERVFAIL');

    proxy.refuse(false);
    await waitForAddresses(dns.dnsPort, name, [IP.w1], 15_000, 'the first data once the API server is reachable');
    const ready = await dns.get('/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.text, /watching the API server/);
    assert.equal((await query(dns.dnsPort, `nothing-here.${ns}.${ZONE}`, 'A')).rcode, 'NXDOMAIN');
    await waitFresh(5000, 'fresh after the first list');
    assert.equal(await dns.stop(), 0);
  });

  it('a watch cut mid-stream recovers: changes made right after the cut arrive, and the data is current again', async () => {
    const { ns, name, proxy, dns, waitFresh } = await setup(namespaces.cut, ['w1']);
    // Two watches (Services, EndpointSlices) stream through the proxy.
    await eventually(async () => (proxy.open >= 2 ? true : undefined), 5000, 'the watches to be open');
    const acceptedBefore = proxy.accepted;
    assert.ok(proxy.cut() >= 2, 'cut the open watch connections');
    await createPod(k, ns, 'w2', 'watch', IP.w2);
    await waitForAddresses(dns.dnsPort, name, [IP.w1, IP.w2], 10_000, 'a pod added just after the cut');
    assert.ok(proxy.accepted > acceptedBefore, 'the DNS server reconnected');

    // Cut again in the middle of a burst of changes, and once more as soon as it has reconnected.
    await setPodReady(k, ns, 'w1', IP.w1, false);
    proxy.cut();
    await createPod(k, ns, 'w3', 'watch', IP.w3);
    const accepted = proxy.accepted;
    await eventually(async () => (proxy.accepted > accepted ? true : undefined), 10_000, 'a reconnection after the second cut');
    proxy.cut();
    await waitForAddresses(dns.dnsPort, name, [IP.w2, IP.w3], 10_000, 'a burst with two cuts');
    await waitFresh(10_000, 'the Stale Answer EDE and dubbo_dns_data_stale to clear after the watch resumed');
  });

  it('a partition (connections refused) keeps the last data, stale; the changes made meanwhile arrive after it', async () => {
    const { ns, name, proxy, dns, metrics, waitFresh } = await setup(namespaces.partition, ['w2', 'w3']);
    proxy.refuse(true);
    proxy.cut();
    const stale = await eventually(
      async () => {
        const r = await query(dns.dnsPort, name, 'A', { edns: true });
        return r.ede.includes(EDE_STALE) ? r : undefined;
      },
      10_000,
      'EDE 3 while cut off',
    );
    assert.deepEqual(stale.addresses, [IP.w2, IP.w3]);
    assert.equal(metric(await metrics(), 'dubbo_dns_data_stale'), 1);
    assert.match((await dns.get('/readyz')).text, /API server unreachable since/);

    // The cluster changes while the DNS server cannot see it; once the controller has written the
    // change (the settled state to wait for), the DNS server still answers the last data it saw.
    await deletePod(k, ns, 'w2');
    await createPod(k, ns, 'w4', 'watch', IP.w4);
    await eventually(
      async () => {
        const slices = await sliceReadiness(k, ns, name.split('.')[0]!);
        return slices.size === 2 && slices.get(IP.w3) === true && slices.get(IP.w4) === true ? true : undefined;
      },
      10_000,
      'the controller to write the change',
    );
    assert.deepEqual((await query(dns.dnsPort, name, 'A')).addresses, [IP.w2, IP.w3], 'still the last data while partitioned');

    proxy.refuse(false);
    // Reconnecting waits for the reflectors' backoff (capped, jittered).
    await waitForAddresses(dns.dnsPort, name, [IP.w3, IP.w4], 40_000, 'the changes made during the partition');
    await waitFresh(10_000, 'fresh after the partition');
  });
});
