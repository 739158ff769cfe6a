import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applicationLabel, applicationRecords, serviceApplications } from '../../src/dns/index/app-records.ts';
import { buildZoneIndex, wireKey, type ZoneIndex } from '../../src/dns/index/zone-index.ts';
import { ZoneHolder } from '../../src/dns/index/zone-holder.ts';
import type { EndpointData, ServiceData, ZoneData } from '../../src/dns/index/zone-data.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

// Application-level names (`A.app.N.Z`): which applications a service's providers belong to, the
// records of one application, and the index reusing compiled application names across builds
// without ever answering differently from a build from scratch.

const ZONE = 'dubbo.internal.';

function endpoint(address: string, o: Partial<EndpointData> & { app?: string } = {}): EndpointData {
  const { app, ...rest } = o;
  return { address, port: 20880, protocol: 'dubbo', ready: true, weight: 100, params: app === undefined ? {} : { application: app }, ...rest };
}

function service(iface: string, endpoints: EndpointData[], params: Record<string, string> = {}, namespace = 'shop'): ServiceData {
  return { namespace, key: serviceKey(iface), protocol: endpoints[0]?.protocol ?? 'dubbo', params, endpoints };
}

test('application names that can be published: RFC 1123 labels, lowercased', () => {
  for (const [name, label] of [
    ['orders', 'orders'],
    ['Shop-Orders', 'shop-orders'],
    ['0rders2', '0rders2'],
    ['a'.repeat(63), 'a'.repeat(63)],
    ['a'.repeat(64), undefined],
    ['shop_orders', undefined],
    ['shop.orders', undefined],
    ['-orders', undefined],
    ['orders-', undefined],
    ['', undefined],
    ['订单', undefined],
  ] as const) {
    assert.equal(applicationLabel(name), label, name);
  }
});

test("a service's applications: each endpoint's own, else the service's; invalid names listed apart", () => {
  const s = service('org.example.A', [endpoint('10.0.0.1', { app: 'Orders' }), endpoint('10.0.0.2'), endpoint('10.0.0.3', { app: 'bad_name', ready: false })], { application: 'pay' });
  // Endpoint params normally carry the service's application too; an endpoint without one falls back to it.
  assert.deepEqual(serviceApplications(s), { labels: ['orders', 'pay'], skipped: ['bad_name'] });
  assert.deepEqual(serviceApplications(service('org.example.B', [], { application: 'idle' })), { labels: ['idle'], skipped: [] });
  assert.deepEqual(serviceApplications(service('org.example.C', [endpoint('10.0.0.1')])), { labels: [], skipped: [] });
});

test('the records of an application: ready addresses once, one SRV per address and port, dubbo first, first service wins', () => {
  const a = service('org.example.A', [
    endpoint('10.0.0.2', { app: 'orders', hostname: 'a-2', weight: 50 }),
    endpoint('10.0.0.1', { app: 'orders', hostname: 'a-1' }),
    endpoint('10.0.0.9', { app: 'orders', ready: false }),
    endpoint('10.0.0.8', { app: 'other' }),
  ]);
  const b = service('org.example.B', [
    endpoint('10.0.0.1', { app: 'ORDERS', port: 50051, protocol: 'tri', hostname: 'b-1' }),
    endpoint('fd00::1', { app: 'orders', port: 50051, protocol: 'tri' }),
    endpoint('10.0.0.2', { app: 'orders', weight: 7, hostname: 'b-2' }),
  ]);
  const { rrsets, glue } = applicationRecords('orders', 'shop', ZONE, [a, b]);
  const A = `${serviceLabel(a.key)}.shop.${ZONE}`;
  const B = `${serviceLabel(b.key)}.shop.${ZONE}`;
  assert.deepEqual(
    rrsets.map((set) => ({ name: set.name, type: set.type, records: set.records })),
    [
      { name: 'orders.app.shop.dubbo.internal.', type: 'A', records: [{ type: 'A', address: '10.0.0.1' }, { type: 'A', address: '10.0.0.2' }] },
      { name: 'orders.app.shop.dubbo.internal.', type: 'AAAA', records: [{ type: 'AAAA', address: 'fd00::1' }] },
      {
        name: 'orders.app.shop.dubbo.internal.',
        type: 'SRV',
        records: [
          { type: 'SRV', priority: 0, weight: 100, port: 20880, target: `a-1.${A}` },
          { type: 'SRV', priority: 0, weight: 50, port: 20880, target: `a-2.${A}` },
          { type: 'SRV', priority: 0, weight: 100, port: 50051, target: `b-1.${B}` },
          { type: 'SRV', priority: 0, weight: 100, port: 50051, target: `fd00--1.${B}` },
        ],
      },
    ],
  );
  assert.deepEqual(glue.get(`fd00--1.${B}`), [{ name: `fd00--1.${B}`, type: 'AAAA', records: [{ type: 'AAAA', address: 'fd00::1' }] }]);
  assert.deepEqual(applicationRecords('orders', 'shop', ZONE, [service('org.example.C', [endpoint('10.0.0.3', { app: 'orders', ready: false })])]).rrsets, []);
});

test('the index: an application with no ready provider is NODATA, an invalid one is absent and reported', () => {
  const index = buildZoneIndex(
    { services: [service('org.example.A', [endpoint('10.0.0.1', { app: 'idle', ready: false }), endpoint('10.0.0.2', { app: 'Bad_Name' })])] },
    { zone: ZONE, ttl: 5 },
    1,
  );
  const node = (name: string) => index.names.get(wireKey(name));
  assert.equal(node('idle.app.shop.dubbo.internal.')?.types.size, 0);
  assert.equal(node('app.shop.dubbo.internal.')?.types.size, 0);
  assert.equal(node('bad_name.app.shop.dubbo.internal.'), undefined);
  assert.deepEqual(index.skippedApplications, ['Bad_Name']);
  assert.equal(index.stats.applications, 1);
});

// A build that reuses the previous snapshot must answer exactly like one built from scratch.
const APPS = ['orders', 'Orders', 'pay', 'bad_name', undefined];
const ADDRESSES = ['10.0.0.1', '10.0.0.2', '10.0.0.3', 'fd00::1', 'fd00::2'];
const arbEndpoint = fc.record({
  address: fc.constantFrom(...ADDRESSES),
  port: fc.constantFrom(20880, 50051),
  protocol: fc.constantFrom('dubbo', 'tri'),
  ready: fc.boolean(),
  weight: fc.constantFrom(0, 50, 100),
  hostname: fc.option(fc.constantFrom('p-0', 'p-1'), { nil: undefined }),
  app: fc.constantFrom(...APPS),
});
const arbZone: fc.Arbitrary<ZoneData> = fc
  .uniqueArray(
    fc.record({
      iface: fc.constantFrom('org.example.A', 'org.example.B', 'org.example.C', 'org.example.D'),
      namespace: fc.constantFrom('shop', 'pay'),
      app: fc.constantFrom(...APPS),
      endpoints: fc.array(arbEndpoint, { maxLength: 4 }),
    }),
    { selector: (s) => `${s.namespace}/${s.iface}`, maxLength: 5 },
  )
  .map((list) => ({
    services: list.map((s) =>
      service(
        s.iface,
        s.endpoints.map(({ app, ...e }) => endpoint(e.address, { ...e, app: app ?? s.app })),
        s.app === undefined ? {} : { application: s.app },
        s.namespace,
      ),
    ),
  }));

test('a table changed in place answers exactly like one built from scratch', () => {
  fc.assert(
    fc.property(fc.array(arbZone, { minLength: 2, maxLength: 4 }), (zones) => {
      const holder = new ZoneHolder({ zone: ZONE, ttl: 5 });
      for (const data of zones) {
        holder.install(data, 1);
        const incremental = holder.current!;
        const cold = buildZoneIndex(data, { zone: ZONE, ttl: 5 }, 1);
        assert.deepEqual(answers(incremental), answers(cold));
        assert.deepEqual(incremental.skippedApplications, cold.skippedApplications);
        assert.deepEqual(incremental.stats, cold.stats);
        assert.deepEqual(transfer(incremental), transfer(cold));
      }
    }),
    { seed: 8020, numRuns: 300 },
  );
});

/** A zone transfer's records as hex, sorted (the order is free). */
function transfer(index: ZoneIndex): string[] {
  return [...index.transferRecords()].map((rr) => rr.toString('hex')).sort();
}

/** Every name of a snapshot with its answers as hex, for comparing two snapshots. */
function answers(index: ZoneIndex): Record<string, Record<number, string>> {
  const out: Record<string, Record<number, string>> = {};
  for (const [key, node] of [...index.names].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const types: Record<number, string> = {};
    for (const [type, p] of node.types) types[type] = `${p.answerBytes.toString('hex')}|${p.additionalBytes.toString('hex')}`;
    out[Buffer.from(key, 'latin1').toString('hex')] = types;
  }
  return out;
}
