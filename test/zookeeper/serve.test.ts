// `dubbo-dns serve --zookeeper`: providers registered in a real ZooKeeper 3.8 (Debian's, one private
// instance per suite) get DNS names with no other declaration, and keep them while ZooKeeper is away.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { startZooKeeper, type ZooKeeper } from '../support/zookeeper.ts';
import { eventually, killAll, metric, query, serviceName, tempDir, waitForAddresses, waitForRcode } from '../e2e/helpers.ts';
import { createNode, instanceNode, javaUrlEncode, metadataInfo, providerPath, removeNode, setData, startRegistrant, startZkDns, zkClient } from './helpers.ts';

const EDE_STALE = 3;
const NS = 'zk';

type Rec = { readonly type: string };
const dataOf = <T>(r: Rec): T => (r as unknown as { data: T }).data;

function txtOf(records: readonly Rec[]): string[] {
  return records.flatMap((r) => dataOf<Buffer[]>(r).map((b) => b.toString()));
}

describe('serve --zookeeper', () => {
  let zk: ZooKeeper;
  before(async () => {
    zk = await startZooKeeper();
  });
  after(async () => {
    await killAll();
    await zk.dispose();
  });

  it('publishes providers written as Dubbo writes them: SRV, TXT, A/AAAA; a token never; bad nodes skipped, the rest unharmed', async () => {
    const client = await zkClient(zk.address);
    const order = 'org.example.zk.OrderService';
    const v4 = `dubbo://10.61.0.1:20880/${order}?anyhost=true&application=order-app&group=east&version=1.0.0&interface=${order}&methods=get,list&side=provider&token=s3cr3t-t0ken&weight=200&category=providers`;
    const v6 = `tri://[fd00::61:2]:50051/${order}?application=order-app&group=east&version=1.0.0&interface=${order}&methods=get,list&side=provider&timeout=3000`;
    const spaced = 'dubbo://10.61.0.3:20880/org.example.zk.Spaced?application=a b&interface=org.example.zk.Spaced&desc=x%y+z&side=provider';
    for (const url of [v4, v6, spaced]) await createNode(client, providerPath(url));
    // Not providers: a garbage name, a host that is no IP address, an over-long name, a consumer.
    await createNode(client, '/dubbo/org.example.zk.OrderService/providers/not-a-url');
    await createNode(client, `/dubbo/org.example.zk.Bad/providers/${javaUrlEncode('dubbo://provider.example.com:20880/org.example.zk.Bad?side=provider')}`);
    await createNode(client, `/dubbo/org.example.zk.Huge/providers/${javaUrlEncode(`dubbo://10.61.0.9:20880/org.example.zk.Huge?pad=${'x'.repeat(9000)}`)}`);
    await createNode(client, `/dubbo/${order}/consumers/${javaUrlEncode(`consumer://10.61.0.50/${order}?category=consumers&side=consumer`)}`);

    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--guard-grace', '0']);
    const name = serviceName(NS, order, 'east', '1.0.0');
    const a = await waitForAddresses(dns.dnsPort, name, ['10.61.0.1']);
    assert.deepEqual(a.ede, []);
    const aaaa = await query(dns.dnsPort, name, 'AAAA');
    assert.deepEqual(aaaa.addresses, ['fd00::61:2']);
    const srv = await query(dns.dnsPort, `_dubbo._tcp.${name}`, 'SRV');
    assert.deepEqual(
      srv.records.map((r) => `${dataOf<{ port: number }>(r).port}/${dataOf<{ weight: number }>(r).weight}`),
      ['20880/200'],
    );
    const triSrv = await query(dns.dnsPort, `_tri._tcp.${name}`, 'SRV');
    assert.deepEqual(triSrv.records.map((r) => dataOf<{ port: number }>(r).port), [50051]);
    const txt = txtOf((await query(dns.dnsPort, name, 'TXT')).records);
    assert.ok(txt.includes(`interface=${order}`), txt.join(' '));
    assert.ok(txt.includes('group=east') && txt.includes('version=1.0.0'), txt.join(' '));
    const everything = JSON.stringify(txt) + JSON.stringify((await query(dns.dnsPort, `_dubbo._tcp.${NS}.dubbo.internal`, 'PTR')).records);
    assert.ok(!everything.includes('s3cr3t'), 'the token is published');
    // Java's encoding of a space (+) and of % come back as written.
    const spacedTxt = txtOf((await query(dns.dnsPort, serviceName(NS, 'org.example.zk.Spaced'), 'TXT')).records);
    assert.ok(spacedTxt.includes('application=a b'), spacedTxt.join(' '));
    // Each unusable node is one log line naming why; the server lives on.
    const skipped = dns.logs.filter((l) => l['msg'] === 'provider node skipped' || l['msg'] === 'provider skipped');
    assert.equal(skipped.length, 3, JSON.stringify(skipped));
    assert.ok(skipped.every((l) => typeof l['reason'] === 'string' && String(l['node'] ?? l['provider']).length <= 201));
    assert.equal((await waitForRcode(dns.dnsPort, serviceName(NS, 'org.example.zk.Bad'), 'NXDOMAIN')).rcode, 'NXDOMAIN');

    // Registration and deregistration follow, with no restart.
    const later = `dubbo://10.61.0.4:20880/${order}?application=order-app&group=east&version=1.0.0&interface=${order}&side=provider`;
    await createNode(client, providerPath(later));
    await waitForAddresses(dns.dnsPort, name, ['10.61.0.1', '10.61.0.4']);
    await removeNode(client, providerPath(v4));
    await waitForAddresses(dns.dnsPort, name, ['10.61.0.4']);
    const health = await dns.get('/readyz');
    assert.equal(health.status, 200);
    assert.match(health.text, /mirroring ZooKeeper/);
  });

  it('interfaces registered from 4 clients while the server starts, its root made meanwhile (parents made on the way): every one is answered', async () => {
    // Each read of a path not there yet races the writers making it (at the root, at each
    // interface): whatever the interleaving, every interface must arrive.
    const root = '/race';
    const clients = await Promise.all([0, 1, 2, 3].map(() => zkClient(zk.address)));
    const ifaces: string[] = [];
    let serving = false;
    let after = 0;
    const writer = async (client: (typeof clients)[number]): Promise<void> => {
      while (!serving || after++ < 40) {
        const i = ifaces.length;
        const iface = `org.example.zkrace.Service${i}`;
        ifaces.push(iface);
        await createNode(client, providerPath(`dubbo://10.66.${i >> 8}.${i & 255}:20880/${iface}?interface=${iface}&side=provider`, root));
      }
    };
    const writing = Promise.all(clients.map(writer));
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--zookeeper-root', root, '--guard-grace', '0']).finally(() => (serving = true));
    await writing;
    await Promise.all(ifaces.map((iface, i) => waitForAddresses(dns.dnsPort, serviceName(NS, iface), [`10.66.${i >> 8}.${i & 255}`])));
    for (const c of clients) c.close();
  });

  it('application-level registrations (Dubbo 3): the instances of the applications a mapping names; data changes and departures follow; bad instances skipped', async () => {
    const client = await zkClient(zk.address);
    const iface = 'org.example.zk.PayService';
    await createNode(client, `/dubbo/mapping/${iface}`, false, Buffer.from('pay-app,ledger-app'));
    const one = instanceNode('pay-app', '10.68.0.1', [{ protocol: 'dubbo', port: 20880 }, { protocol: 'tri', port: 50051 }]);
    const two = instanceNode('ledger-app', '10.68.0.2', [{ protocol: 'tri', port: 50052 }]);
    await createNode(client, one.path, true, one.data);
    await createNode(client, two.path, true, two.data);
    await createNode(client, '/services/pay-app/10.68.0.9:20880', true, Buffer.from('{not json'));
    // An application no mapping names is not published.
    const stray = instanceNode('stray-app', '10.68.0.8', [{ protocol: 'dubbo', port: 20880 }]);
    await createNode(client, stray.path, true, stray.data);

    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--guard-grace', '0']);
    const name = serviceName(NS, iface);
    await waitForAddresses(dns.dnsPort, name, ['10.68.0.1', '10.68.0.2']);
    const ports = async (proto: string): Promise<number[]> => (await query(dns.dnsPort, `_${proto}._tcp.${name}`, 'SRV')).records.map((r) => dataOf<{ port: number }>(r).port).sort();
    assert.deepEqual(await ports('tri'), [50051, 50052]);
    assert.deepEqual(await ports('dubbo'), [20880]);
    const txt = txtOf((await query(dns.dnsPort, `10-68-0-1.${name}`, 'TXT')).records);
    assert.ok(txt.includes('application=pay-app'), txt.join(' '));
    assert.ok(dns.logs.some((l) => l['msg'] === 'instance node skipped' && l['application'] === 'pay-app' && /not JSON/.test(String(l['reason']))), 'the bad instance is logged');

    // The instance's data changes (a new port), one leaves, the mapping drops an application.
    await setData(client, one.path, instanceNode('pay-app', '10.68.0.1', [{ protocol: 'dubbo', port: 20880 }, { protocol: 'tri', port: 50061 }]).data);
    await eventually(async () => ((await ports('tri')).join() === '50052,50061' ? true : undefined), 10_000, 'the new tri port');
    await removeNode(client, two.path);
    await waitForAddresses(dns.dnsPort, name, ['10.68.0.1']);
    await createNode(client, two.path, true, two.data);
    await waitForAddresses(dns.dnsPort, name, ['10.68.0.1', '10.68.0.2']);
    await setData(client, `/dubbo/mapping/${iface}`, Buffer.from('pay-app'));
    await waitForAddresses(dns.dnsPort, name, ['10.68.0.1']);

    // A provider that registers both ways (Dubbo 3's register-mode all) is one provider: its node wins.
    await createNode(client, providerPath(`tri://10.68.0.1:50061/${iface}?application=pay-app&interface=${iface}&side=provider&weight=70`));
    await eventually(async () => {
      const srv = (await query(dns.dnsPort, `_tri._tcp.${name}`, 'SRV')).records;
      return srv.length === 1 && dataOf<{ weight: number }>(srv[0]!).weight === 70 ? true : undefined;
    }, 10_000, 'one tri provider, with the weight of its node');
    await waitForRcode(dns.dnsPort, serviceName(NS, 'stray-app'), 'NXDOMAIN');
  });

  it('application-level with remote metadata: each interface under its group and version, with its parameters; metadata written after the instance arrives too', async () => {
    const client = await zkClient(zk.address);
    const iface = 'org.example.zk.BillingService';
    await createNode(client, `/dubbo/mapping/${iface}`, false, Buffer.from('billing-app,invoice-app'));
    // dubbo-go writes the metadata under <root>/<app>/<revision>, Dubbo Java under <root>/metadata/<app>/<revision>.
    await createNode(client, '/dubbo/billing-app/rev1', false, metadataInfo('billing-app', 'rev1', [{ iface, group: 'east', version: '2.0', protocol: 'tri', port: 50051, params: { methods: 'charge,refund' } }]));
    const billing = instanceNode('billing-app', '10.69.0.1', [{ protocol: 'tri', port: 50071 }], 'rev1');
    await createNode(client, billing.path, true, billing.data);
    const invoice = instanceNode('invoice-app', '10.69.0.2', [{ protocol: 'dubbo', port: 20890 }], 'rev9');
    await createNode(client, invoice.path, true, invoice.data);

    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--guard-grace', '0']);
    const east = serviceName(NS, iface, 'east', '2.0');
    await waitForAddresses(dns.dnsPort, east, ['10.69.0.1']);
    assert.deepEqual((await query(dns.dnsPort, `_tri._tcp.${east}`, 'SRV')).records.map((r) => dataOf<{ port: number }>(r).port), [50071], 'the port the instance lists');
    const txt = txtOf((await query(dns.dnsPort, east, 'TXT')).records);
    assert.ok(txt.includes('methods=charge,refund') && txt.includes('group=east'), txt.join(' '));
    // invoice-app's metadata is not there yet: its instance is published under the interface alone.
    await waitForAddresses(dns.dnsPort, serviceName(NS, iface), ['10.69.0.2']);
    // Then Dubbo Java's metadata node appears: the provider moves to its full key.
    await createNode(client, '/dubbo/metadata/invoice-app/rev9', false, metadataInfo('invoice-app', 'rev9', [{ iface, version: '1.0', protocol: 'dubbo', port: 20890 }]));
    await waitForAddresses(dns.dnsPort, serviceName(NS, iface, undefined, '1.0'), ['10.69.0.2']);
    await waitForRcode(dns.dnsPort, serviceName(NS, iface), 'NXDOMAIN');
    client.close();
  });

  it('ZooKeeper down: the last answers stay, marked stale; a restart during the outage answers from --snapshot; back: fresh, and a provider that died meanwhile leaves', async () => {
    const iface = 'org.example.zk.StockService';
    const url = (ip: string) => `dubbo://${ip}:20880/${iface}?application=stock&interface=${iface}&side=provider`;
    const stays = await startRegistrant(zk.address, [providerPath(url('10.62.0.1'))], 8000);
    const dies = await startRegistrant(zk.address, [providerPath(url('10.62.0.2'))], 2000);
    const snapshot = join(tempDir('zk-snapshot'), 'zone.json');
    const args = ['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--snapshot', snapshot, '--sync-timeout', '2', '--guard-grace', '0'];
    let dns = await startZkDns(args);
    const name = serviceName(NS, iface);
    await waitForAddresses(dns.dnsPort, name, ['10.62.0.1', '10.62.0.2']);
    await eventually(async () => ((await import('node:fs')).existsSync(snapshot) ? true : undefined), 10_000, 'snapshot written');

    await zk.stop();
    const stale = await eventually(
      async () => {
        const r = await query(dns.dnsPort, name, 'A', { edns: true });
        return r.ede.includes(EDE_STALE) ? r : undefined;
      },
      30_000,
      'stale answers',
    );
    assert.deepEqual(stale.addresses, ['10.62.0.1', '10.62.0.2']);
    assert.equal(metric((await dns.get('/metrics')).text, 'dubbo_dns_data_stale'), 1);
    assert.match((await dns.get('/readyz')).text, /ZooKeeper unreachable since/);

    // The provider crashes while ZooKeeper is down; the DNS server restarts too.
    await dies.kill();
    await dns.stop();
    dns = await startZkDns(args);
    const fromSnapshot = await query(dns.dnsPort, name, 'A', { edns: true });
    assert.deepEqual(fromSnapshot.addresses, ['10.62.0.1', '10.62.0.2']);
    assert.ok(fromSnapshot.ede.includes(EDE_STALE));
    assert.match((await dns.get('/readyz')).text, /serving the snapshot/);

    await zk.start();
    // The dead provider's session expires once ZooKeeper runs again; the live one's survives.
    const fresh = await eventually(
      async () => {
        const r = await query(dns.dnsPort, name, 'A', { edns: true });
        return r.ede.length === 0 && r.addresses.length === 1 ? r : undefined;
      },
      40_000,
      'fresh answers without the dead provider',
    );
    assert.deepEqual(fresh.addresses, ['10.62.0.1']);
    assert.equal(metric((await dns.get('/metrics')).text, 'dubbo_dns_data_stale'), 0);
    await stays.kill();
  });

  it("a provider's session expiring removes it; all of a service's providers expiring at once is held by the guard, then believed", async () => {
    const ifaces = Array.from({ length: 100 }, (_, i) => `org.example.zk.mass.Service${i}`);
    // 1,000 providers (10 per interface) in one session: one process dying takes them all.
    const paths = ifaces.flatMap((iface, i) => Array.from({ length: 10 }, (_, j) => providerPath(`dubbo://10.63.${i}.${j + 1}:20880/${iface}?interface=${iface}&side=provider`)));
    const mass = await startRegistrant(zk.address, paths, 2000);
    const single = 'org.example.zk.Single';
    const one = await startRegistrant(zk.address, [providerPath(`dubbo://10.64.0.1:20880/${single}?interface=${single}&side=provider`)], 2000);
    const two = await startRegistrant(zk.address, [providerPath(`dubbo://10.64.0.2:20880/${single}?interface=${single}&side=provider`)], 2000);
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--guard-grace', '6', '--guard-max-drop', '50']);
    const singleName = serviceName(NS, single);
    await waitForAddresses(dns.dnsPort, singleName, ['10.64.0.1', '10.64.0.2']);
    await waitForAddresses(dns.dnsPort, serviceName(NS, ifaces[99]!), Array.from({ length: 10 }, (_, j) => `10.63.99.${j + 1}`).sort(), 20_000);

    // Half of a service's providers going is within the guard's limit: believed at once.
    await two.kill();
    await waitForAddresses(dns.dnsPort, singleName, ['10.64.0.1'], 20_000);
    // All 1,000 going at once: every service is held, its last answer kept for the grace period.
    await mass.kill();
    const guardLines = (): string => JSON.stringify(dns.logs.filter((l) => /guard|mass|ZooKeeper/.test(String(l['msg']))).slice(-6));
    await eventually(async () => (metric((await dns.get('/metrics')).text, 'dubbo_dns_guard_held_services') === 100 ? true : undefined), 20_000, `100 services held (${guardLines()})`);
    const held = await query(dns.dnsPort, serviceName(NS, ifaces[0]!), 'A');
    assert.equal(held.addresses.length, 10, `a held service keeps its answer: ${held.rcode} [${held.addresses.join(', ')}] ${guardLines()}`);
    assert.equal(dns.logs.filter((l) => l['msg'] === 'holding a mass deregistration for the grace period').length, 100, 'one log line per held service');
    // After the grace period the drop is believed: the names go.
    await waitForRcode(dns.dnsPort, serviceName(NS, ifaces[0]!), 'NXDOMAIN', 20_000);
    await waitForRcode(dns.dnsPort, serviceName(NS, ifaces[99]!), 'NXDOMAIN', 20_000);
    assert.deepEqual((await query(dns.dnsPort, singleName, 'A')).addresses, ['10.64.0.1']);
    await one.kill();
  });

  it('digest auth from --zookeeper-auth-file reads a registry only those credentials may read, and never logs them', async () => {
    const password = 'pw-never-logged-9f3a';
    const admin = await zkClient(zk.address);
    admin.addAuthInfo('digest', Buffer.from(`dubbo:${password}`));
    const digest = createHash('sha1').update(`dubbo:${password}`).digest('base64');
    const acl = [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('digest', `dubbo:${digest}`))];
    const iface = 'org.example.zk.Secured';
    await createNode(admin, '/secure', false);
    await new Promise<void>((resolve, reject) => admin.create('/secure/dubbo', Buffer.alloc(0), acl, zookeeper.CreateMode.PERSISTENT, (err) => (err === null ? resolve() : reject(err))));
    await createNode(admin, providerPath(`dubbo://10.67.0.1:20880/${iface}?interface=${iface}&side=provider`, '/secure/dubbo'));
    const authFile = join(tempDir('zk-auth'), 'auth');
    writeFileSync(authFile, `dubbo:${password}\n`);
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-root', '/secure/dubbo', '--zookeeper-auth-file', authFile, '--zookeeper-namespace', NS]);
    await waitForAddresses(dns.dnsPort, serviceName(NS, iface), ['10.67.0.1']);
    assert.ok(!JSON.stringify(dns.logs).includes(password), 'the password is in the logs');
    // Without the credentials the same registry cannot be read: the ACL is what the test relies on.
    const anonymous = await startZkDns(['--zookeeper', zk.address, '--zookeeper-root', '/secure/dubbo', '--zookeeper-namespace', NS, '--sync-timeout', '1']);
    await anonymous.waitForLog((l) => l['msg'] === 'ZooKeeper read failed; retrying');
    assert.equal((await query(anonymous.dnsPort, serviceName(NS, iface), 'A')).rcode, 'SERVFAIL');
  });

  it('hostile registry data: 10,000 providers under one interface, deep trees and junk: served or skipped, nothing else disturbed', async () => {
    const client = await zkClient(zk.address);
    const big = 'org.example.zk.Big';
    const reg = await startRegistrant(
      zk.address,
      Array.from({ length: 10_000 }, (_, i) => providerPath(`dubbo://10.65.${i >> 8}.${i & 255}:20880/${big}?interface=${big}&side=provider`)),
      8000,
    );
    for (let d = 1, path = '/dubbo/org.example.zk.Deep'; d <= 30; d++) {
      path += `/level${d}`;
      await createNode(client, path, false);
    }
    await createNode(client, `/dubbo/org.example.zk.Junk/providers/${'%'.repeat(300)}`);
    const steady = 'org.example.zk.Steady';
    await createNode(client, providerPath(`dubbo://10.66.0.1:20880/${steady}?interface=${steady}&side=provider`));
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--guard-grace', '0']);
    await waitForAddresses(dns.dnsPort, serviceName(NS, steady), ['10.66.0.1']);
    // All 10,000 are in the zone; an answer holds as many as one TCP message can (64 KiB).
    const bigName = serviceName(NS, big);
    const zoneLoaded = await eventually(
      async () => dns.logs.find((l) => typeof l['endpoints'] === 'number' && (l['endpoints'] as number) >= 10_001),
      30_000,
      'a zone with the 10,000 providers',
    );
    assert.ok(zoneLoaded);
    const tcp = await query(dns.dnsPort, bigName, 'A', { tcp: true, timeoutMs: 5000 });
    assert.equal(tcp.rcode, 'NOERROR');
    assert.ok(tcp.addresses.length > 3000, `${tcp.addresses.length} addresses over TCP`);
    assert.ok(tcp.addresses.every((a) => a.startsWith('10.65.')));
    assert.ok(dns.logs.some((l) => l['msg'] === 'provider node skipped' && l['interface'] === 'org.example.zk.Junk'));
    // A change elsewhere still flows while the big interface is there.
    await createNode(client, providerPath(`dubbo://10.66.0.2:20880/${steady}?interface=${steady}&side=provider`));
    await waitForAddresses(dns.dnsPort, serviceName(NS, steady), ['10.66.0.1', '10.66.0.2']);
    await reg.kill();
  });
});
