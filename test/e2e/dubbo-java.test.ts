// What a Dubbo Java consumer finds in a cluster, all real processes: kube-apiserver + etcd, the
// `dubbo-dns controller`, `dubbo-dns serve --kubernetes`, and CoreDNS's `kubernetes` plugin as the
// cluster DNS. Two ways in:
// - stock `dns` service discovery (`addressSuffix=.app.N.Z.`): the application-level name, whose
//   application travels from the DubboService (`spec.application`) and from a dubbo-go pod's
//   provider URL (`application=`) through the managed EndpointSlices to the DNS server;
// - mesh mode (`tri://{providedBy}.{namespace}.svc.cluster.local:{port}`): the managed headless
//   Service answers in the cluster DNS, from its EndpointSlices.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type dnsPacket from 'dns-packet';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { encodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { createPod, setPodStatus } from '../controller/helpers.ts';
import { ZONE, applyDubboService, eventually, installCrd, killAll, query, startController, startCoreDnsKubernetes, startDns, waitForAddresses, type CoreDns } from './helpers.ts';

const ORDER = 'org.example.shop.OrderService';
const QUERY = 'org.example.shop.OrderQueryService';
const AUDIT = 'org.example.shop.OrderAuditService';
const IP = { p0: '10.40.0.1', p1: '10.40.0.2', p2: '10.40.0.3', go: '10.40.1.1' } as const;

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let dns: Awaited<ReturnType<typeof startDns>>;
let cluster: CoreDns;

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('e2e-java');
  await startController(cp.kubeconfigPath, ns);
  dns = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '2', '--guard-grace', '0']);
  cluster = await startCoreDnsKubernetes(cp.kubeconfigPath);
  const labels = { app: 'orders' };
  await Promise.all([
    createPod(k, ns, 'p-0', { labels, ip: IP.p0, ready: true }),
    createPod(k, ns, 'p-1', { labels, ip: IP.p1, ready: true }),
    createPod(k, ns, 'p-2', { labels, ip: IP.p2, ready: false }),
    createPod(k, ns, 'go-0', {
      labels: { 'dubbo.io/label': 'dubbo.io-value' },
      annotations: { 'dubbo.io/annotation': encodeDubboGoAnnotation([`tri://${IP.go}:50052/${AUDIT}?interface=${AUDIT}&application=shop-orders`]) },
      ip: IP.go,
      ready: true,
    }),
  ]);
  await applyDubboService(k, ns, 'orders', {
    application: 'Shop-Orders',
    selector: { matchLabels: labels },
    ports: [
      { name: 'dubbo', port: 20880 },
      { name: 'tri', port: 50051 },
    ],
    interfaces: [
      { interface: ORDER, protocol: 'dubbo' },
      { interface: QUERY, protocol: 'tri' },
    ],
  });
  await applyDubboService(k, ns, 'legacy', {
    application: 'Shop_Legacy',
    selector: { matchLabels: labels },
    ports: [{ name: 'dubbo', port: 20880 }],
    interfaces: [{ interface: 'org.example.shop.LegacyService' }],
  });
});
after(async () => {
  await killAll();
  await cp?.stop();
});

const label = (iface: string): string => serviceLabel(serviceKey(iface));
const srvLine = (a: dnsPacket.Answer): string => (a.type === 'SRV' ? `${a.data.port} ${a.data.target.toLowerCase()}` : a.type);

describe("Dubbo Java's stock dns discovery: the application-level name", { timeout: 90_000 }, () => {
  it('holds the ready providers of every service of the application, from the DubboService and a dubbo-go pod', async () => {
    const app = `shop-orders.app.${ns}.${ZONE}`;
    await waitForAddresses(dns.dnsPort, app, [IP.p0, IP.p1, IP.go], 30_000, 'the application name');
    // netty's sequence: A, AAAA, SRV on the same name, UDP, no EDNS, RD set.
    const a = await query(dns.dnsPort, app, 'A', { rd: true });
    const aaaa = await query(dns.dnsPort, app, 'AAAA', { rd: true });
    const srv = await query(dns.dnsPort, app, 'SRV', { rd: true });
    assert.equal(a.hasOpt || aaaa.hasOpt || srv.hasOpt, false);
    assert.equal(aaaa.rcode, 'NOERROR');
    assert.deepEqual(aaaa.addresses, []);
    const base = (iface: string): string => `${label(iface)}.${ns}.${ZONE}`;
    assert.deepEqual(srv.records.map(srvLine), [
      `20880 p-0.${base(ORDER)}`,
      `20880 p-1.${base(ORDER)}`,
      `50051 p-0.${base(QUERY)}`,
      `50051 p-1.${base(QUERY)}`,
      `50052 go-0.${base(AUDIT)}`,
    ]);
    // What the client keeps: every address, with the first SRV's port (the dubbo port).
    const first = srv.records[0];
    assert.ok(first?.type === 'SRV');
    assert.deepEqual(a.addresses.map((x) => `${x}:${first.data.port}`), [`${IP.p0}:20880`, `${IP.p1}:20880`, `${IP.go}:20880`]);
  });

  it('follows readiness, and an application name that is not a DNS label gets one warning, no name', async () => {
    const app = `shop-orders.app.${ns}.${ZONE}`;
    await setPodStatus(k, ns, 'p-1', IP.p1, false);
    await waitForAddresses(dns.dnsPort, app, [IP.p0, IP.go], 30_000, 'the application name without p-1');
    assert.equal((await query(dns.dnsPort, `shop_legacy.app.${ns}.${ZONE}`, 'A')).rcode, 'NXDOMAIN');
    const warnings = dns.logs.filter((l) => l['level'] === 40 && l['application'] !== undefined).map((l) => l['application']);
    assert.deepEqual(warnings, ['Shop_Legacy']);
    await setPodStatus(k, ns, 'p-1', IP.p1, true);
    await waitForAddresses(dns.dnsPort, app, [IP.p0, IP.p1, IP.go], 30_000, 'the application name with p-1 back');
  });
});

describe('mesh mode: the managed headless Service in the cluster DNS (CoreDNS kubernetes plugin)', { timeout: 90_000 }, () => {
  it('S.N.svc.cluster.local answers A with the ready pods and SRV with the protocol ports', async () => {
    const name = `${label(QUERY)}.${ns}.svc.cluster.local`;
    const a = await waitForAddresses(cluster.port, name, [IP.p0, IP.p1], 30_000, 'the headless Service in CoreDNS');
    assert.equal(a.msg.flag_aa, true);
    const srv = await eventually(
      async () => {
        const r = await query(cluster.port, `_tri._tcp.${name}`, 'SRV');
        return r.records.length === 2 ? r : undefined;
      },
      30_000,
      '_tri._tcp SRV',
    );
    assert.deepEqual(srv.records.map(srvLine).sort(), [`50051 p-0.${name}`, `50051 p-1.${name}`]);
    const bareSrv = await query(cluster.port, name, 'SRV');
    assert.deepEqual(bareSrv.records.map(srvLine).sort(), [`50051 p-0.${name}`, `50051 p-1.${name}`]);
    // The same providers as dubbo-dns's own name for the key.
    const own = await query(dns.dnsPort, `${label(QUERY)}.${ns}.${ZONE}`, 'A');
    assert.deepEqual(own.addresses, a.addresses);
    // Each pod's own name, as SRV targets point to it.
    assert.deepEqual((await query(cluster.port, `p-0.${name}`, 'A')).addresses, [IP.p0]);
  });
});
