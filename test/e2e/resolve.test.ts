// End to end, all real processes: kube-apiserver + etcd, `dubbo-dns controller`, `dubbo-dns serve
// --kubernetes`, and CoreDNS forwarding the zone to it. A DubboService and its pods resolve
// through CoreDNS; scaling and readiness flips follow; the mass-deregistration guard holds an
// everything-unready drop for its grace period, but not a deleted DubboService.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  ZONE,
  applyDubboService,
  createPod,
  deleteDubboService,
  deletePod,
  dubboSpec,
  eventually,
  installCrd,
  killAll,
  metric,
  query,
  serviceExists,
  serviceName,
  setPodReady,
  sliceReadiness,
  startController,
  startCoreDns,
  startDns,
  waitForAddresses,
  waitForRcode,
  type CoreDns,
} from './helpers.ts';

const execFileAsync = promisify(execFile);

const IFACE = 'org.apache.dubbo.demo.DemoService';
/** DESIGN §4's worked example. */
const LABEL = 'demoservice-gray-v1-0-0-gvbnf6n34g';
const IP = { r1: '10.20.0.1', r2: '10.20.0.2', r3: '10.20.0.3' } as const;

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let dns: Awaited<ReturnType<typeof startDns>>;
let coredns: CoreDns;
let name: string;

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('e2e-resolve');
  await startController(cp.kubeconfigPath, ns);
  dns = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '2', '--guard-grace', '3', '--guard-max-drop', '50']);
  coredns = await startCoreDns(dns.dnsPort);
  name = serviceName(ns, IFACE, 'gray', '1.0.0');
});
after(async () => {
  await killAll();
  await cp?.stop();
});

const metricsOf = async (port: number): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

describe('DubboService to CoreDNS', { timeout: 60_000 }, () => {
  it('a DubboService and its ready pods resolve through CoreDNS (A, SRV, TXT), fresh: no EDE', async () => {
    assert.equal(name, `${LABEL}.${ns}.${ZONE}`);
    await Promise.all([createPod(k, ns, 'r1', 'demo', IP.r1), createPod(k, ns, 'r2', 'demo', IP.r2)]);
    await applyDubboService(k, ns, 'demo', dubboSpec('demo', IFACE, { group: 'gray', version: '1.0.0' }));

    const viaCoreDns = await waitForAddresses(coredns.port, name, [IP.r1, IP.r2], 15_000, 'CoreDNS');
    assert.equal(viaCoreDns.rcode, 'NOERROR');
    const direct = await query(dns.dnsPort, name, 'A');
    assert.deepEqual(direct.addresses, viaCoreDns.addresses, 'CoreDNS passes our answer on');

    const srv = await query(coredns.port, name, 'SRV', { rd: true });
    assert.equal(srv.rcode, 'NOERROR');
    const targets = srv.records.map((a) => (a.type === 'SRV' ? `${a.data.port} ${a.data.target.toLowerCase()}` : '')).sort();
    assert.equal(targets.length, 2, `two SRV records: ${targets.join('; ')}`);
    for (const t of targets) assert.match(t, new RegExp(`^20880 [a-z0-9-]+\\.${LABEL}\\.${ns}\\.${ZONE.replace('.', '\\.')}\\.?$`));

    const txt = await query(coredns.port, name, 'TXT');
    const strings = txt.records.flatMap((a) => (a.type === 'TXT' ? (Array.isArray(a.data) ? a.data : [a.data]).map((x) => x.toString()) : []));
    for (const want of ['txtvers=1', `interface=${IFACE}`, 'group=gray', 'version=1.0.0', 'application=demo', 'serialization=hessian2']) {
      assert.ok(strings.includes(want), `TXT has ${want}: ${strings.join(' | ')}`);
    }

    // A real client through CoreDNS, and the freshness the server reports.
    const { stdout } = await execFileAsync('dig', ['+short', '+time=2', '+tries=1', '-p', String(coredns.port), '@127.0.0.1', name, 'A']);
    assert.deepEqual(stdout.trim().split('\n').sort(), [IP.r1, IP.r2]);
    const edns = await query(dns.dnsPort, name, 'A', { edns: true });
    assert.ok(edns.hasOpt, 'an EDNS query gets an OPT record');
    assert.deepEqual(edns.ede, [], 'no Stale Answer EDE while the data is current');
    const text = await metricsOf(dns.httpPort!);
    assert.equal(metric(text, 'dubbo_dns_data_stale'), 0);
    assert.equal(metric(text, 'dubbo_dns_data_age_seconds'), 0);
    const ready = await dns.get('/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.text, /watching the API server/);
  });

  it('scaling pods up and down and flipping readiness: answers follow (through CoreDNS)', async () => {
    await createPod(k, ns, 'r3', 'demo', IP.r3);
    await waitForAddresses(coredns.port, name, [IP.r1, IP.r2, IP.r3], 10_000, 'scaled up to 3');
    await deletePod(k, ns, 'r1');
    await waitForAddresses(coredns.port, name, [IP.r2, IP.r3], 10_000, 'r1 deleted');
    await setPodReady(k, ns, 'r2', IP.r2, false);
    await waitForAddresses(coredns.port, name, [IP.r3], 10_000, 'r2 unready');
    await setPodReady(k, ns, 'r2', IP.r2, true);
    await waitForAddresses(coredns.port, name, [IP.r2, IP.r3], 10_000, 'r2 ready again');
    await createPod(k, ns, 'r1', 'demo', IP.r1);
    await waitForAddresses(coredns.port, name, [IP.r1, IP.r2, IP.r3], 10_000, 'r1 back');
    const srv = await query(coredns.port, name, 'SRV');
    assert.equal(srv.records.length, 3, 'one SRV per ready endpoint');
  });

  it('the guard (--guard-grace 3 --guard-max-drop 50) holds all pods going unready, then lets them go', async () => {
    const before = metric(await metricsOf(dns.httpPort!), 'dubbo_dns_guard_holds_total') ?? 0;
    await Promise.all([setPodReady(k, ns, 'r1', IP.r1, false), setPodReady(k, ns, 'r2', IP.r2, false), setPodReady(k, ns, 'r3', IP.r3, false)]);
    // The controller publishes the truth: no endpoint is ready any more...
    await eventually(
      async () => {
        const r = await sliceReadiness(k, ns, LABEL);
        return r.size === 3 && [...r.values()].every((x) => !x) ? true : undefined;
      },
      10_000,
      'slices to show every endpoint unready',
    );
    // ...and the DNS server holds the drop: the counter rises and the old answers keep coming.
    await eventually(async () => ((metric(await metricsOf(dns.httpPort!), 'dubbo_dns_guard_holds_total') ?? 0) > before ? true : undefined), 5000, 'guard_holds_total to rise');
    const held = await query(coredns.port, name, 'A');
    assert.equal(held.rcode, 'NOERROR');
    assert.ok(held.addresses.length > 0, 'answers kept while the drop is held');
    for (const a of held.addresses) assert.ok(Object.values(IP).includes(a as (typeof IP)[keyof typeof IP]), `held answer ${a} is one of the old endpoints`);
    assert.equal(metric(await metricsOf(dns.httpPort!), 'dubbo_dns_guard_held_services'), 1);
    await dns.waitForLog((l) => l['msg'] === 'holding a mass deregistration for the grace period', 1000);

    // After the grace period the drop is believed: NODATA (the name exists, no ready endpoint).
    const gone = await waitForAddresses(coredns.port, name, [], 10_000, 'the held drop to be released');
    assert.equal(gone.rcode, 'NOERROR');
    await dns.waitForLog((l) => l['msg'] === 'guard released', 1000);
    assert.equal(metric(await metricsOf(dns.httpPort!), 'dubbo_dns_guard_held_services'), 0);

    // Readiness coming back is never held.
    await Promise.all([setPodReady(k, ns, 'r1', IP.r1, true), setPodReady(k, ns, 'r2', IP.r2, true)]);
    await waitForAddresses(coredns.port, name, [IP.r1, IP.r2], 10_000, 'r1, r2 ready again');
  });

  /** What the 60 s-grace server said about the deletion (for the next test). */
  let deletion: { holdsBefore: number; holdsAfter: number; holdLogs: string[] } | undefined;

  it('deleting the DubboService is not held: the name goes at once, even with a 60 s grace', async () => {
    const slow = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '2', '--guard-grace', '60', '--guard-max-drop', '50']);
    const ifc = 'org.example.GoneService';
    const gone = serviceName(ns, ifc, undefined, '2');
    const label = gone.split('.')[0]!;
    await Promise.all([createPod(k, ns, 'g1', 'gone', '10.21.0.1'), createPod(k, ns, 'g2', 'gone', '10.21.0.2')]);
    await applyDubboService(k, ns, 'gone', dubboSpec('gone', ifc, { version: '2' }));
    await waitForAddresses(slow.dnsPort, gone, ['10.21.0.1', '10.21.0.2'], 15_000, 'the 60 s-grace server');
    await waitForAddresses(coredns.port, gone, ['10.21.0.1', '10.21.0.2'], 10_000, 'CoreDNS');
    const holdsBefore = metric(await metricsOf(slow.httpPort!), 'dubbo_dns_guard_holds_total') ?? 0;

    await deleteDubboService(k, ns, 'gone');
    await eventually(async () => ((await serviceExists(k, ns, label)) ? undefined : true), 10_000, 'the controller to delete the Service');
    // A hold would keep answering for 60 s: the name must be gone well before that.
    await waitForRcode(slow.dnsPort, gone, 'NXDOMAIN', 10_000);
    await waitForRcode(coredns.port, gone, 'NXDOMAIN', 10_000);
    const text = await metricsOf(slow.httpPort!);
    assert.equal(metric(text, 'dubbo_dns_guard_held_services'), 0);
    deletion = {
      holdsBefore,
      holdsAfter: metric(text, 'dubbo_dns_guard_holds_total') ?? 0,
      holdLogs: slow.logs.filter((l) => l['service'] === `${ns}/${label}`).map((l) => `${String(l['time'])} ${String(l['msg'])}`),
    };
    // The other service is untouched.
    await waitForAddresses(coredns.port, name, [IP.r1, IP.r2], 5000);
    assert.equal(await slow.stop(), 0);
  });

  it('deleting the DubboService is not counted or logged as a held mass deregistration', () => {
    assert.ok(deletion !== undefined, 'the deletion test ran');
    // The controller deletes the EndpointSlices before the Service; the DNS server sees a Service
    // whose endpoints all vanished, starts a hold (metric + warning), and releases it when the
    // Service delete arrives a few ms later.
    assert.equal(
      deletion.holdsAfter,
      deletion.holdsBefore,
      `dubbo_dns_guard_holds_total rose from ${deletion.holdsBefore} to ${deletion.holdsAfter} on a DubboService deletion; log: ${deletion.holdLogs.join('; ')}`,
    );
  });
});
