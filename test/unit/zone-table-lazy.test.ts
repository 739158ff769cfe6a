import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZoneTable, wireKey } from '../../src/dns/index/zone-index.ts';
import { QTYPE } from '../../src/dns/wire/codes.ts';
import { serviceId, type ServiceData } from '../../src/dns/index/zone-data.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

// The services of a big change (more than 64) have their answers encoded when one of their names
// is first read. Whatever the order of changes and first reads, a name answers with the data of
// the version in the table.

const ZONE = 'dubbo.internal.';
const svc = (address: string): ServiceData => ({
  namespace: 'shop',
  key: serviceKey('org.example.A'),
  protocol: 'dubbo',
  params: {},
  endpoints: [{ address, port: 20880, protocol: 'dubbo', ready: true, weight: 100, params: {} }],
});
/** `s` with 64 other services: a change big enough to leave encoding to the first read. */
const big = (s: ServiceData): ServiceData[] => [s, ...Array.from({ length: 64 }, (_, i) => ({ ...s, key: serviceKey(`org.example.Filler${i}`) }))];
const name = wireKey(`${serviceLabel(serviceKey('org.example.A'))}.shop.${ZONE}`);
const addressOf = (t: ZoneTable): string => {
  const bytes = t.names.get(name)!.types.get(QTYPE.A)!.answerBytes;
  return [...bytes.subarray(bytes.length - 4)].join('.');
};

test('a name read first after its service changed answers with the new version, and a stale stand-in never overwrites it', () => {
  const t = new ZoneTable({ zone: ZONE, ttl: 5 });
  t.apply({ put: big(svc('10.0.0.1')), drop: [] }, 1);
  const before = t.names.get(name)!; // a stand-in of version 1, not read yet
  t.apply({ put: big(svc('10.0.0.2')), drop: [] }, 2);
  // Reading the old stand-in encodes version 1 for whoever holds it...
  const old = before.types.get(QTYPE.A)!.answerBytes;
  assert.equal([...old.subarray(old.length - 4)].join('.'), '10.0.0.1');
  // ...but the table answers with version 2.
  assert.equal(addressOf(t), '10.0.0.2');
});

test('after the first read, the table holds the encoded answers themselves', () => {
  const t = new ZoneTable({ zone: ZONE, ttl: 5 });
  t.apply({ put: big(svc('10.0.0.1')), drop: [] }, 1);
  const standIn = t.names.get(name)!;
  assert.equal(standIn.constructor.name, 'StandIn');
  assert.equal(addressOf(t), '10.0.0.1');
  const encoded = t.names.get(name)!;
  assert.notEqual(encoded, standIn);
  assert.equal(encoded.types, t.names.get(name)!.types);
});

test('a service dropped before any read leaves no name behind, and reading its old stand-in puts nothing back', () => {
  const t = new ZoneTable({ zone: ZONE, ttl: 5 });
  t.apply({ put: big(svc('10.0.0.1')), drop: [] }, 1);
  const standIn = t.names.get(name)!;
  t.apply({ put: [], drop: [serviceId(svc('10.0.0.1'))] }, 2);
  assert.equal(t.names.has(name), false);
  assert.ok(standIn.types.get(QTYPE.A) !== undefined);
  assert.equal(t.names.has(name), false);
});

test('a small change is encoded at once: the table never holds a stand-in for it', () => {
  const t = new ZoneTable({ zone: ZONE, ttl: 5 });
  t.apply({ put: big(svc('10.0.0.1')), drop: [] }, 1);
  t.apply({ put: [svc('10.0.0.3')], drop: [] }, 2);
  assert.notEqual(t.names.get(name)!.constructor.name, 'StandIn');
  assert.equal(addressOf(t), '10.0.0.3');
});
