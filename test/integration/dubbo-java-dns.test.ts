import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { bare, buildQuery, decode, lines, names, replaceFile, tcpExchange, tempDir, udpExchange, type Decoded } from './helpers.ts';

// Dubbo Java's `dns` service discovery: for a bare name `S.N.Z` it asks A, then AAAA, then SRV,
// over UDP, without EDNS (so 512 bytes at most), RD=1 as a stub resolver sends, and takes the first
// SRV's port; its resolver may not retry over TCP. When the endpoints do not all fit, the server
// must still fill the reply with a fair, rotating subset and set TC (RFC 2181 §9), so such clients
// get usable addresses and clients that do retry get everything over TCP.

const big = names('org.example.BigJavaService', 'java');
const small = names('org.example.SmallJavaService', 'java');
const B = bare(big.service);
const S = bare(small.service);
const V4 = 140;
const V6 = 60;
const v4 = (i: number): string => `10.5.${Math.floor(i / 100)}.${(i % 100) + 1}`;
const v6 = (i: number): string => `fd00::5:${(i + 1).toString(16)}`;
const BIG_PORT = 20880;
const SMALL_PORT = 20990;

const REGISTRY = `namespace: java
services:
  - interface: org.example.BigJavaService
    port: ${BIG_PORT}
    endpoints:
${Array.from({ length: V4 }, (_, i) => `      - { address: ${v4(i)}, hostname: p4-${i} }`).join('\n')}
${Array.from({ length: V6 }, (_, i) => `      - { address: "${v6(i)}", hostname: p6-${i} }`).join('\n')}
  - interface: org.example.SmallJavaService
    port: ${SMALL_PORT}
    endpoints:
      - { address: 10.6.0.1, hostname: s-0 }
      - { address: 10.6.0.2, hostname: s-1 }
      - { address: "fd00::6:3", hostname: s-2 }
`;

const ALL = {
  A: Array.from({ length: V4 }, (_, i) => `${B} 5 A ${v4(i)}`).sort(),
  AAAA: Array.from({ length: V6 }, (_, i) => `${B} 5 AAAA ${v6(i)}`).sort(),
  SRV: [
    ...Array.from({ length: V4 }, (_, i) => `${B} 5 SRV 0 100 ${BIG_PORT} p4-${i}.${B}`),
    ...Array.from({ length: V6 }, (_, i) => `${B} 5 SRV 0 100 ${BIG_PORT} p6-${i}.${B}`),
  ].sort(),
} as const;
const SMALL_ALL = {
  A: [`${S} 5 A 10.6.0.1`, `${S} 5 A 10.6.0.2`],
  AAAA: [`${S} 5 AAAA fd00::6:3`],
  SRV: [`${S} 5 SRV 0 100 ${SMALL_PORT} s-0.${S}`, `${S} 5 SRV 0 100 ${SMALL_PORT} s-1.${S}`, `${S} 5 SRV 0 100 ${SMALL_PORT} s-2.${S}`].sort(),
} as const;
const TYPES = ['A', 'AAAA', 'SRV'] as const;

/** One UDP query as Dubbo Java's resolver sends it: no OPT record, RD=1. */
async function stubQuery(port: number, name: string, type: string): Promise<{ raw: Buffer; msg: Decoded }> {
  const raw = await udpExchange(port, buildQuery(name, type, { rd: true }));
  return { raw, msg: decode(raw) };
}

/** What the Dubbo client makes of one A/AAAA/SRV round: addresses and the first SRV's port. */
async function dubboRound(port: number, name: string): Promise<Record<(typeof TYPES)[number], { raw: Buffer; msg: Decoded }>> {
  const A = await stubQuery(port, name, 'A');
  const AAAA = await stubQuery(port, name, 'AAAA');
  const SRV = await stubQuery(port, name, 'SRV');
  return { A, AAAA, SRV };
}

describe("Dubbo Java's dns discovery: A, AAAA, SRV on the bare name, UDP, no EDNS", () => {
  let server: ServerProcess | undefined;
  const tmp = tempDir('dubbo-java');

  before(async () => {
    const file = join(tmp.dir, 'registry.yaml');
    writeFileSync(file, REGISTRY);
    server = await startServer(['--registry', file]);
  });

  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('200 endpoints: each reply <= 512 bytes, TC=1, a non-empty subset of valid records, the declared SRV port', async () => {
    assert.ok(server !== undefined);
    const round = await dubboRound(server.dnsPort, big.service);
    for (const type of TYPES) {
      const { raw, msg } = round[type];
      assert.ok(raw.length <= 512, `${type}: ${raw.length} bytes`);
      assert.equal(msg.rcode, 'NOERROR', type);
      assert.equal(msg.flag_qr, true);
      assert.equal(msg.flag_aa, true, `${type}: authoritative`);
      assert.equal(msg.flag_rd, true, `${type}: RD copied`);
      assert.equal(msg.flag_tc, true, `${type}: the full answer cannot fit in 512 bytes`);
      assert.equal(msg.questions?.[0]?.name, big.service.replace(/\.$/, ''), `${type}: question echoed`);
      assert.equal((msg.additionals ?? []).some((a) => a.type === 'OPT'), false, `${type}: no OPT to a query without EDNS`);
      const got = lines(msg.answers);
      assert.ok(got.length > 0, `${type}: usable records for a client that never retries`);
      assert.ok(got.length < ALL[type].length);
      assert.equal(new Set(got).size, got.length, `${type}: no duplicates`);
      for (const line of got) assert.ok((ALL[type] as readonly string[]).includes(line), `${type}: ${line} is one of ours`);
      assert.ok(raw.length > 512 - 60, `${type}: ${raw.length} bytes, the room is used`);
    }
    for (const a of round.A.msg.answers ?? []) assert.ok(a.type === 'A' && isIPv4(a.data));
    for (const a of round.AAAA.msg.answers ?? []) assert.ok(a.type === 'AAAA' && isIPv6(a.data));
    // The Dubbo client takes the first SRV's port and pairs it with the addresses.
    const first = round.SRV.msg.answers?.[0];
    assert.ok(first?.type === 'SRV');
    assert.equal(first.data.port, BIG_PORT);
    for (const srv of round.SRV.msg.answers ?? []) assert.ok(srv.type === 'SRV' && srv.data.port === BIG_PORT);
  });

  test('repeated rounds rotate fairly: every endpoint shows up, counts within a factor of 3', async () => {
    assert.ok(server !== undefined);
    const ROUNDS = 200;
    const counts = { A: new Map<string, number>(), AAAA: new Map<string, number>(), SRV: new Map<string, number>() };
    const firstPorts = new Set<number>();
    for (let i = 0; i < ROUNDS; i++) {
      const round = await dubboRound(server.dnsPort, big.service);
      for (const type of TYPES) {
        const { raw, msg } = round[type];
        assert.ok(raw.length <= 512 && msg.flag_tc === true, `round ${i} ${type}`);
        const got = lines(msg.answers);
        assert.ok(got.length > 0, `round ${i} ${type}: non-empty`);
        for (const line of got) counts[type].set(line, (counts[type].get(line) ?? 0) + 1);
      }
      const first = round.SRV.msg.answers?.[0];
      if (first?.type === 'SRV') firstPorts.add(first.data.port);
    }
    assert.deepEqual([...firstPorts], [BIG_PORT]);
    for (const type of TYPES) {
      const seen = [...counts[type].keys()].sort();
      assert.deepEqual(seen, [...ALL[type]], `${type}: every endpoint appears in ${ROUNDS} rounds`);
      const values = [...counts[type].values()];
      const max = Math.max(...values);
      const min = Math.min(...values);
      assert.ok(max / min <= 3, `${type}: counts from ${min} to ${max} are not roughly balanced`);
    }
  });

  test('the same questions over TCP (a client that retries) get every record, TC=0', async () => {
    assert.ok(server !== undefined);
    for (const type of TYPES) {
      const [raw] = await tcpExchange(server.dnsPort, buildQuery(big.service, type, { rd: true }));
      const msg = decode(raw!);
      assert.equal(msg.rcode, 'NOERROR');
      assert.equal(msg.flag_tc, false, type);
      assert.deepEqual(lines(msg.answers), [...ALL[type]], `${type}: all records over TCP`);
    }
  });

  test('3 endpoints: everything fits, TC=0 and all records in the UDP replies', async () => {
    assert.ok(server !== undefined);
    for (let i = 0; i < 3; i++) {
      const round = await dubboRound(server.dnsPort, small.service);
      for (const type of TYPES) {
        const { raw, msg } = round[type];
        assert.ok(raw.length <= 512, `${type}: ${raw.length} bytes`);
        assert.equal(msg.rcode, 'NOERROR');
        assert.equal(msg.flag_tc, false, type);
        assert.equal(msg.flag_aa, true);
        assert.deepEqual(lines(msg.answers), [...SMALL_ALL[type]], `${type}: every record`);
      }
      const first = round.SRV.msg.answers?.[0];
      assert.ok(first?.type === 'SRV' && first.data.port === SMALL_PORT);
      // SRV glue: the targets' addresses ride along when they fit.
      assert.deepEqual(lines(round.SRV.msg.additionals), [`s-0.${S} 5 A 10.6.0.1`, `s-1.${S} 5 A 10.6.0.2`, `s-2.${S} 5 AAAA fd00::6:3`]);
    }
  });
});

// A consumer application that uses several large services asks the A/AAAA/SRV sequence for each of
// them in turn, over and over. Each service's rotation must stay fair whatever else is asked in
// between: a subset that depends on the other questions' rhythm can leave some endpoints out forever.
const FLEET = Array.from({ length: 5 }, (_, k) => names(`org.example.fleet.Service${k}`, 'fleet'));
const FLEET_SIZE = 100;
const podName = (k: number, i: number): string => `provider-${k}-5f7d8c9b6-${String(i).padStart(5, 'x')}`;
const FLEET_REGISTRY = `namespace: fleet
services:
${FLEET.map(
  (_, k) => `  - interface: org.example.fleet.Service${k}
    port: ${21000 + k}
    endpoints:
${Array.from({ length: FLEET_SIZE }, (_, i) => `      - { address: 10.7.${k}.${i + 1}, hostname: ${podName(k, i)} }`).join('\n')}`,
).join('\n')}
`;

describe('a consumer of several large services polling them in turn', () => {
  let server: ServerProcess | undefined;
  const tmp = tempDir('dubbo-java-fleet');

  before(async () => {
    const file = join(tmp.dir, 'registry.yaml');
    writeFileSync(file, FLEET_REGISTRY);
    server = await startServer(['--registry', file]);
  });

  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('every endpoint of every service still shows up over UDP, in roughly equal shares', async () => {
    assert.ok(server !== undefined);
    const ROUNDS = 120; // more replies than endpoints: even a one-step-per-reply rotation covers them all
    const counts = FLEET.map(() => ({ A: new Map<string, number>(), SRV: new Map<string, number>() }));
    let srvPerReply = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      for (const [k, service] of FLEET.entries()) {
        const round = await dubboRound(server.dnsPort, service.service);
        for (const type of ['A', 'SRV'] as const) {
          const { raw, msg } = round[type];
          assert.ok(raw.length <= 512 && msg.flag_tc === true && (msg.answers ?? []).length > 0, `round ${r} service ${k} ${type}`);
          for (const line of lines(msg.answers)) counts[k]![type].set(line, (counts[k]![type].get(line) ?? 0) + 1);
        }
        srvPerReply = Math.min(srvPerReply, round.SRV.msg.answers?.length ?? 0);
        assert.equal(round.AAAA.msg.flag_tc, false);
        assert.equal(round.AAAA.msg.answers?.length ?? 0, 0, 'IPv4 only: NODATA');
      }
    }
    // ROUNDS replies of srvPerReply records each could cover each RRset several times over.
    assert.ok(ROUNDS * srvPerReply >= 3 * FLEET_SIZE, `${srvPerReply} SRV per reply`);
    for (const [k, service] of FLEET.entries()) {
      const S2 = bare(service.service);
      const allSrv = Array.from({ length: FLEET_SIZE }, (_, i) => `${S2} 5 SRV 0 100 ${21000 + k} ${podName(k, i)}.${S2}`).sort();
      const allA = Array.from({ length: FLEET_SIZE }, (_, i) => `${S2} 5 A 10.7.${k}.${i + 1}`).sort();
      for (const [type, all] of [
        ['A', allA],
        ['SRV', allSrv],
      ] as const) {
        const seen = counts[k]![type];
        const missing = all.filter((l) => !seen.has(l));
        assert.equal(missing.length, 0, `service ${k} ${type}: ${missing.length} of ${FLEET_SIZE} endpoints never served over UDP in ${ROUNDS} rounds (${srvPerReply} SRV per reply), e.g. ${missing.slice(0, 3).join(', ')}`);
        const values = [...seen.values()];
        assert.ok(Math.max(...values) / Math.min(...values) <= 3, `service ${k} ${type}: counts from ${Math.min(...values)} to ${Math.max(...values)}`);
      }
    }
  });
});

// Application-level names (`A.app.N.Z`): what Dubbo Java's `dns` service discovery really asks,
// with `addressSuffix=.app.N.Z.` (its `addressPrefix + application + addressSuffix`). The
// application comes from the `application` parameter, declared on a service, on an endpoint, or in
// a provider URL; its name holds the ready providers of all its services.
const APP_NS = 'apps';
const app = (label: string): string => `${label}.app.${APP_NS}.dubbo.internal.`;
const ORDERS = app('shop-orders');
const GRID = app('grid');
const GRID_SIZE = 150;
const APP_REGISTRY = `namespace: ${APP_NS}
services:
  - interface: org.example.shop.OrderService
    port: 20880
    application: Shop-Orders
    endpoints:
      - { address: 10.30.0.1, hostname: orders-0 }
      - { address: 10.30.0.2, hostname: orders-1 }
      - { address: 10.30.0.9, hostname: orders-9, ready: false }
  - interface: org.example.shop.OrderQueryService
    protocol: tri
    port: 50051
    application: shop-orders
    endpoints:
      - { address: 10.30.0.1, hostname: orders-0 }
      - { address: "fd00::30:3", hostname: orders-3 }
  - interface: org.example.shop.LegacyService
    port: 20880
    application: Shop_Legacy
    endpoints:
      - { address: 10.30.1.1 }
  - interface: org.example.grid.GridService
    port: 20881
    application: grid
    endpoints:
${Array.from({ length: GRID_SIZE }, (_, i) => `      - { address: 10.31.${Math.floor(i / 100)}.${(i % 100) + 1} }`).join('\n')}
providers:
  - "dubbo://10.30.0.4:20880/org.example.shop.OrderService?application=shop-orders&weight=50"
`;

describe("application-level names, as Dubbo Java's `dns` discovery asks for them", () => {
  let server: ServerProcess | undefined;
  const tmp = tempDir('dubbo-java-apps');
  const file = join(tmp.dir, 'registry.yaml');

  before(async () => {
    writeFileSync(file, APP_REGISTRY);
    server = await startServer(['--registry', file]);
  });

  after(async () => {
    await server?.stop();
    tmp.remove();
  });

  test('one application over two services and a provider URL: every ready address once, the dubbo port first', async () => {
    assert.ok(server !== undefined);
    const round = await dubboRound(server.dnsPort, ORDERS);
    const O = bare(ORDERS);
    for (const type of TYPES) {
      assert.equal(round[type].msg.rcode, 'NOERROR', type);
      assert.equal(round[type].msg.flag_tc, false, type);
      assert.equal(round[type].msg.flag_aa, true, type);
    }
    assert.deepEqual(lines(round.A.msg.answers), [`${O} 5 A 10.30.0.1`, `${O} 5 A 10.30.0.2`, `${O} 5 A 10.30.0.4`]);
    assert.deepEqual(lines(round.AAAA.msg.answers), [`${O} 5 AAAA fd00::30:3`]);
    const order = names('org.example.shop.OrderService', APP_NS);
    const query = names('org.example.shop.OrderQueryService', APP_NS);
    // One SRV per address and port, in answer order: dubbo (20880) before tri (50051).
    assert.deepEqual(
      (round.SRV.msg.answers ?? []).map((a) => (a.type === 'SRV' ? `${a.data.port} ${a.data.weight} ${bare(a.data.target)}` : a.type)),
      [
        `20880 100 orders-0.${bare(order.service)}`,
        `20880 100 orders-1.${bare(order.service)}`,
        `20880 50 10-30-0-4.${bare(order.service)}`,
        `50051 100 orders-0.${bare(query.service)}`,
        `50051 100 orders-3.${bare(query.service)}`,
      ],
    );
    // What the Dubbo client makes of it: every address (A and AAAA), each with the first SRV's port.
    const first = round.SRV.msg.answers?.[0];
    assert.ok(first?.type === 'SRV');
    const instances = [...(round.A.msg.answers ?? []), ...(round.AAAA.msg.answers ?? [])].map((a) => `${a.type === 'A' || a.type === 'AAAA' ? a.data : '?'}:${first.data.port}`).sort();
    assert.deepEqual(instances, ['10.30.0.1:20880', '10.30.0.2:20880', '10.30.0.4:20880', 'fd00::30:3:20880']);
    // The targets resolve to the same addresses: glue rides along as far as it fits in 512 bytes,
    // all of it over TCP.
    const [tcpSrv] = await tcpExchange(server.dnsPort, buildQuery(ORDERS, 'SRV', { rd: true }));
    const udpGlue = lines(round.SRV.msg.additionals);
    assert.ok(udpGlue.length >= 1);
    for (const line of udpGlue) assert.ok(lines(decode(tcpSrv!).additionals).includes(line), line);
    assert.deepEqual(lines(decode(tcpSrv!).additionals), [
      `10-30-0-4.${bare(order.service)} 5 A 10.30.0.4`,
      `orders-0.${bare(order.service)} 5 A 10.30.0.1`,
      `orders-0.${bare(query.service)} 5 A 10.30.0.1`,
      `orders-1.${bare(order.service)} 5 A 10.30.0.2`,
      `orders-3.${bare(query.service)} 5 AAAA fd00::30:3`,
    ].sort());
  });

  test('an application too big for 512 bytes: TC, usable addresses, and one port for a client that keeps the first', async () => {
    assert.ok(server !== undefined);
    const ports = new Set<number>();
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const round = await dubboRound(server.dnsPort, GRID);
      assert.ok(round.A.raw.length <= 512 && round.A.msg.flag_tc === true && (round.A.msg.answers ?? []).length > 0, `round ${i}: A`);
      assert.ok(round.SRV.raw.length <= 512 && round.SRV.msg.flag_tc === true, `round ${i}: SRV`);
      assert.equal(round.AAAA.msg.flag_tc, false);
      const first = round.SRV.msg.answers?.[0];
      if (first?.type === 'SRV') ports.add(first.data.port);
      for (const a of round.A.msg.answers ?? []) if (a.type === 'A') seen.add(a.data);
    }
    assert.deepEqual([...ports], [20881]);
    assert.equal(seen.size, GRID_SIZE, 'every provider shows up over UDP across rounds');
    const [raw] = await tcpExchange(server.dnsPort, buildQuery(GRID, 'A', { rd: true }));
    assert.equal((decode(raw!).answers ?? []).length, GRID_SIZE, 'all of them over TCP');
  });

  test('an application name that is not a DNS label is not published, with one warning however often the zone is rebuilt', async () => {
    assert.ok(server !== undefined);
    const { msg } = await stubQuery(server.dnsPort, app('shop_legacy'), 'A');
    assert.equal(msg.rcode, 'NXDOMAIN');
    // `app.N.Z` itself exists (NODATA), as the parent of the application names.
    assert.equal((await stubQuery(server.dnsPort, `app.${APP_NS}.dubbo.internal.`, 'A')).msg.rcode, 'NOERROR');
    replaceFile(file, APP_REGISTRY.replace('10.30.0.2, hostname: orders-1', '10.30.0.5, hostname: orders-1'));
    await server.waitForLog((l) => l['msg'] === 'zone reloaded');
    const reloaded = await stubQuery(server.dnsPort, ORDERS, 'A');
    assert.deepEqual(lines(reloaded.msg.answers).map((l) => l.split(' ').pop()), ['10.30.0.1', '10.30.0.4', '10.30.0.5']);
    const warnings = server.logs.filter((l) => l['level'] === 40 && l['application'] !== undefined);
    assert.deepEqual(
      warnings.map((l) => l['application']),
      ['Shop_Legacy'],
    );
  });
});
