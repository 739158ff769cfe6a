// End to end, the API server going away (DESIGN §10): the DNS server keeps answering the last data
// with the RFC 8914 Stale Answer EDE, reports staleness in /metrics and /readyz; restarted while the
// API server is still down, it answers from its --snapshot; when the API server comes back, the
// staleness clears, nothing is lost, and new changes flow again. All real processes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
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
  setPodReady,
  startController,
  startDns,
  tempDir,
  waitForAddresses,
} from './helpers.ts';

const execFileAsync = promisify(execFile);
const EDE_STALE = 3;
const A = { iface: 'org.example.OrderService', version: '1.0', ips: ['10.30.0.1', '10.30.0.2'] } as const;
const B = { iface: 'org.example.StockService', group: 'east', ips: ['10.30.1.1'] } as const;

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let snapshot: string;
let dns: Awaited<ReturnType<typeof startDns>>;
/** A second DNS server that is never restarted: it lives through the whole outage. */
let steady: Awaited<ReturnType<typeof startDns>>;
let nameA: string;
let nameB: string;

const dnsArgs = (): string[] => ['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--snapshot', snapshot, '--sync-timeout', '2'];
const metrics = async (): Promise<string> => (await dns.get('/metrics')).text;

/**
 * Asks both names every 100 ms while the API server is away and records every reply that is not
 * the full last-known data (a timeout while the DNS server restarts is not a reply).
 */
function watchAnswers(): { stop(): Promise<{ replies: number; bad: string[] }> } {
  let running = true;
  let replies = 0;
  const bad: string[] = [];
  const loop = (async () => {
    while (running) {
      for (const [name, want] of [
        [nameA, [...A.ips].sort()],
        [nameB, [...B.ips]],
      ] as const) {
        try {
          const r = await query(dns.dnsPort, name, 'A', { timeoutMs: 500 });
          replies++;
          if (r.rcode !== 'NOERROR' || JSON.stringify(r.addresses) !== JSON.stringify(want)) bad.push(`${name}: ${r.rcode} [${r.addresses.join(', ')}]`);
        } catch {
          // no server on that port right now
        }
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { replies, bad };
    },
  };
}

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('e2e-outage');
  snapshot = join(tempDir('outage'), 'tmp', 'snap.json');
  nameA = serviceName(ns, A.iface, undefined, A.version);
  nameB = serviceName(ns, B.iface, B.group);
  await startController(cp.kubeconfigPath, ns);
});
after(async () => {
  await killAll();
  await cp?.stop();
});

describe('API server outage', { timeout: 90_000 }, () => {
  it('with the API server up: answers are current, no EDE, dubbo_dns_data_stale 0, snapshot written', async () => {
    [dns, steady] = await Promise.all([startDns(dnsArgs()), startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '2'])]);
    await Promise.all([
      createPod(k, ns, 'o1', 'orders', A.ips[0]),
      createPod(k, ns, 'o2', 'orders', A.ips[1]),
      createPod(k, ns, 's1', 'stock', B.ips[0]),
    ]);
    await applyDubboService(k, ns, 'orders', dubboSpec('orders', A.iface, { version: A.version }));
    await applyDubboService(k, ns, 'stock', dubboSpec('stock', B.iface, { group: B.group }));
    await waitForAddresses(dns.dnsPort, nameA, A.ips, 15_000);
    await waitForAddresses(dns.dnsPort, nameB, B.ips, 10_000);
    await waitForAddresses(steady.dnsPort, nameA, A.ips, 10_000);

    const r = await query(dns.dnsPort, nameA, 'A', { edns: true });
    assert.ok(r.hasOpt);
    assert.deepEqual(r.ede, [], 'no EDE while current');
    const text = await metrics();
    assert.equal(metric(text, 'dubbo_dns_data_stale'), 0);
    assert.equal(metric(text, 'dubbo_dns_data_age_seconds'), 0);
    const ready = await dns.get('/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.text, /watching the API server/);

    // The last-known-good data reaches the disk (written at most once a second).
    await eventually(
      async () => {
        if (!existsSync(snapshot)) return undefined;
        const text = readFileSync(snapshot, 'utf8');
        return [...A.ips, ...B.ips].every((ip) => text.includes(`"${ip}"`)) ? true : undefined;
      },
      10_000,
      'the snapshot to hold both services',
    );
  });

  it('API server stopped: answers continue with the Stale Answer EDE; metrics and /readyz show it', async () => {
    const watcher = watchAnswers();
    await cp.stopApiServer();
    const stale = await eventually(
      async () => {
        const r = await query(dns.dnsPort, nameA, 'A', { edns: true });
        return r.ede.includes(EDE_STALE) ? r : undefined;
      },
      10_000,
      'EDE 3 (Stale Answer) once the watch broke',
    );
    assert.equal(stale.rcode, 'NOERROR');
    assert.deepEqual(stale.addresses, [...A.ips].sort());
    const tcp = await query(dns.dnsPort, nameB, 'A', { edns: true, tcp: true });
    assert.deepEqual(tcp.addresses, [...B.ips]);
    assert.ok(tcp.ede.includes(EDE_STALE), 'EDE over TCP too');
    // A real client shows it too (dig prints RFC 8914 EDEs since 9.16).
    const { stdout } = await execFileAsync('dig', ['+edns=0', '+time=2', '+tries=1', '-p', String(dns.dnsPort), '@127.0.0.1', nameA, 'A']);
    assert.match(stdout, /EDE: 3 \(Stale Answer\)/, stdout);
    assert.match(stdout, /status: NOERROR/);
    const plain = await query(dns.dnsPort, nameA, 'A');
    assert.equal(plain.hasOpt, false, 'no OPT (so no EDE) for a query without EDNS');
    assert.deepEqual(plain.addresses, [...A.ips].sort());

    assert.equal(metric(await metrics(), 'dubbo_dns_data_stale'), 1);
    const other = await eventually(async () => {
      const r = await query(steady.dnsPort, nameB, 'A', { edns: true });
      return r.ede.includes(EDE_STALE) ? r : undefined;
    }, 10_000, 'EDE 3 from the second server');
    assert.deepEqual(other.addresses, [...B.ips]);
    await eventually(async () => ((metric(await metrics(), 'dubbo_dns_data_age_seconds') ?? 0) >= 1 ? true : undefined), 5000, 'data age to grow');
    const ready = await dns.get('/readyz');
    assert.equal(ready.status, 200, 'still ready: it answers from the last data');
    assert.match(ready.text, /API server unreachable since/);

    const seen = await watcher.stop();
    assert.ok(seen.replies > 0);
    assert.deepEqual(seen.bad, [], 'every answer during the outage was the full last data');
  });

  it('DNS server restarted while the API server is down: answers from the snapshot (stale)', async () => {
    assert.equal(await dns.stop(), 0);
    dns = await startDns(dnsArgs());
    await dns.waitForLog((l) => l['msg'] === 'API server not reachable: serving the snapshot', 1000);
    const r = await query(dns.dnsPort, nameA, 'A', { edns: true });
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.addresses, [...A.ips].sort());
    assert.ok(r.ede.includes(EDE_STALE), 'snapshot answers are stale');
    assert.deepEqual((await query(dns.dnsPort, nameB, 'A')).addresses, [...B.ips]);
    const srv = await query(dns.dnsPort, nameA, 'SRV');
    assert.equal(srv.records.length, 2);

    const text = await metrics();
    assert.equal(metric(text, 'dubbo_dns_data_stale'), 1);
    assert.ok((metric(text, 'dubbo_dns_data_age_seconds') ?? 0) >= 1, 'age counts from when the snapshot was current');
    const ready = await dns.get('/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.text, /serving the snapshot from/);
  });

  it('API server back: staleness clears, nothing is lost, new changes flow again', async () => {
    const watcher = watchAnswers();
    await cp.startApiServer();
    // Both reflectors reconnect (capped, jittered backoff); then the data is current again.
    await eventually(
      async () => {
        const r = await query(dns.dnsPort, nameA, 'A', { edns: true });
        return r.ede.length === 0 && metric(await metrics(), 'dubbo_dns_data_stale') === 0 ? true : undefined;
      },
      40_000,
      'the Stale Answer EDE and dubbo_dns_data_stale to clear',
    );
    const seen = await watcher.stop();
    assert.deepEqual(seen.bad, [], 'no answer lost while reconnecting');
    assert.equal(metric(await metrics(), 'dubbo_dns_data_age_seconds'), 0);
    assert.match((await dns.get('/readyz')).text, /watching the API server/);

    // New changes: the controller (which also lost the API server) and the DNS server follow.
    await createPod(k, ns, 'o3', 'orders', '10.30.0.3');
    await waitForAddresses(dns.dnsPort, nameA, [...A.ips, '10.30.0.3'], 40_000, 'a pod added after the outage');
    await setPodReady(k, ns, 's1', B.ips[0], false);
    await createPod(k, ns, 's2', 'stock', '10.30.1.2');
    await waitForAddresses(dns.dnsPort, nameB, ['10.30.1.2'], 10_000, 'a readiness flip and a new pod');
    await waitForAddresses(dns.dnsPort, nameA, [...A.ips, '10.30.0.3'], 1000);

    // The server that lived through the outage follows too, and is current again.
    await waitForAddresses(steady.dnsPort, nameA, [...A.ips, '10.30.0.3'], 10_000, 'the steady server');
    await waitForAddresses(steady.dnsPort, nameB, ['10.30.1.2'], 10_000, 'the steady server');
    await eventually(
      async () => {
        const r = await query(steady.dnsPort, nameA, 'A', { edns: true });
        const text = (await steady.get('/metrics')).text;
        return r.ede.length === 0 && metric(text, 'dubbo_dns_data_stale') === 0 ? true : undefined;
      },
      10_000,
      'the steady server to report current data',
    );
  });
});
