import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { ask, bare, DEMO_REGISTRY, lines, names, optOf, tempDir, txtStrings, writeFile, type Transport } from './helpers.ts';

// DESIGN §5 on the wire: {qname, qtype} x {UDP, TCP} x {no EDNS, EDNS} -> rcode, flags and the three
// sections, decoded from our bytes by dns-packet. Default settings: zone dubbo.internal., TTL 5,
// EDNS size 1232.

const Z = 'dubbo.internal.';
const z = bare(Z);
const TTL = 5;
const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', Z, 'tri');
const greeting = names('org.apache.dubbo.demo.GreetingService', undefined, '2.0.0', 'shop', Z);
const idle = names('org.apache.dubbo.demo.IdleService', undefined, undefined, 'shop', Z);
const order = names('org.apache.dubbo.demo.OrderService', undefined, undefined, 'shop', Z);
const D = bare(demo.service);
const G = bare(greeting.service);
const O = bare(order.service);
const SOA = `${z} ${TTL} SOA minimum=${TTL}`;

const demoSrv = (owner: string): string[] => [
  `${owner} ${TTL} SRV 0 100 50051 demo-0.${D}`,
  `${owner} ${TTL} SRV 0 200 50051 demo-1.${D}`,
  `${owner} ${TTL} SRV 0 50 50051 demo-2.${D}`,
];
const demoGlue = [`demo-0.${D} ${TTL} A 10.0.0.11`, `demo-1.${D} ${TTL} A 10.0.0.12`, `demo-2.${D} ${TTL} AAAA fd00::13`];
const demoTxt = [
  'txtvers=1',
  'interface=org.apache.dubbo.demo.DemoService',
  'group=gray',
  'version=1.0.0',
  'protocol=tri',
  'serialization=hessian2',
  'timeout=3000',
  'application=demo-provider',
];

interface Row {
  readonly qname: string;
  readonly qtype: string;
  readonly rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  /** Sorted record lines (see helpers `rr`); TXT rows list strings in order. */
  readonly answer: readonly string[];
  /** Negative answers carry the SOA (RFC 2308); positive and REFUSED answers carry nothing. */
  readonly authority: readonly string[];
  readonly additional: readonly string[];
}

const ok = (qname: string, qtype: string, answer: string[], additional: string[] = []): Row => ({ qname, qtype, rcode: 'NOERROR', answer, authority: [], additional });
const nodata = (qname: string, qtype: string): Row => ({ qname, qtype, rcode: 'NOERROR', answer: [], authority: [SOA], additional: [] });
const nxdomain = (qname: string, qtype: string): Row => ({ qname, qtype, rcode: 'NXDOMAIN', answer: [], authority: [SOA], additional: [] });
const refused = (qname: string, qtype: string): Row => ({ qname, qtype, rcode: 'REFUSED', answer: [], authority: [], additional: [] });

const ROWS: readonly Row[] = [
  // The apex.
  ok(Z, 'SOA', [SOA]),
  ok(Z, 'NS', [`${z} ${TTL} NS ns.dns.${z}`]),
  nodata(Z, 'A'),
  nodata(Z, 'TXT'),
  ok(Z, 'ANY', [SOA]), // RFC 8482: one RRset, not SOA + NS
  // S.N.Z: A, AAAA (ready endpoints only: fd00::12 is not ready), SRV with glue, TXT.
  ok(demo.service, 'A', [`${D} ${TTL} A 10.0.0.11`, `${D} ${TTL} A 10.0.0.12`]),
  ok(demo.service, 'AAAA', [`${D} ${TTL} AAAA fd00::13`]),
  ok(demo.service, 'SRV', demoSrv(D), demoGlue),
  ok(demo.service, 'TXT', [`${D} ${TTL} TXT ${demoTxt.join('|')}`]),
  nodata(demo.service, 'PTR'),
  nodata(demo.service, 'NS'),
  ok(demo.service, 'ANY', demoSrv(D)),
  // _P._tcp.S.N.Z: the service's protocol only; the name with another protocol does not exist.
  ok(demo.protocolSrv, 'SRV', demoSrv(bare(demo.protocolSrv)), demoGlue),
  nodata(demo.protocolSrv, 'TXT'),
  nxdomain(`_dubbo._tcp.${demo.service}`, 'SRV'),
  // Empty non-terminals: NODATA, never NXDOMAIN (RFC 8020).
  nodata(`_tcp.${demo.service}`, 'SRV'),
  nodata(`_tcp.${demo.service}`, 'ANY'),
  nodata(`shop.${Z}`, 'A'),
  nodata(`shop.${Z}`, 'SRV'),
  nodata(`_tcp.shop.${Z}`, 'PTR'),
  // Endpoint names E.S.N.Z: an address and the instance TXT.
  ok(`demo-0.${demo.service}`, 'A', [`demo-0.${D} ${TTL} A 10.0.0.11`]),
  nodata(`demo-0.${demo.service}`, 'AAAA'),
  ok(`demo-0.${demo.service}`, 'TXT', [
    `demo-0.${D} ${TTL} TXT txtvers=1|application=demo-provider|weight=100|release=3.3.0|serialization=hessian2`,
  ]),
  ok(`demo-2.${demo.service}`, 'AAAA', [`demo-2.${D} ${TTL} AAAA fd00::13`]),
  nodata(`demo-2.${demo.service}`, 'A'),
  nxdomain(`fd00--12.${demo.service}`, 'AAAA'), // not ready: not published
  nxdomain(`x.demo-0.${demo.service}`, 'A'),
  // An endpoint without hostname is named after its address; per-endpoint ports.
  ok(greeting.service, 'SRV', [`${G} ${TTL} SRV 0 100 20880 10-0-1-5.${G}`, `${G} ${TTL} SRV 0 100 20881 greeting-b.${G}`], [
    `10-0-1-5.${G} ${TTL} A 10.0.1.5`,
    `greeting-b.${G} ${TTL} A 10.0.1.6`,
  ]),
  ok(`10-0-1-5.${greeting.service}`, 'A', [`10-0-1-5.${G} ${TTL} A 10.0.1.5`]),
  nodata(greeting.service, 'AAAA'),
  // Provider URLs: one key on two protocols. The first protocol owns the bare SRV.
  ok(order.service, 'SRV', [`${O} ${TTL} SRV 0 100 20880 10-0-2-7.${O}`], [`10-0-2-7.${O} ${TTL} A 10.0.2.7`]),
  ok(`_tri._tcp.${order.service}`, 'SRV', [`_tri._tcp.${O} ${TTL} SRV 0 100 50052 10-0-2-8.${O}`], [`10-0-2-8.${O} ${TTL} A 10.0.2.8`]),
  ok(`_dubbo._tcp.${order.service}`, 'SRV', [`_dubbo._tcp.${O} ${TTL} SRV 0 100 20880 10-0-2-7.${O}`], [`10-0-2-7.${O} ${TTL} A 10.0.2.7`]),
  ok(order.service, 'A', [`${O} ${TTL} A 10.0.2.7`, `${O} ${TTL} A 10.0.2.8`]),
  ok(order.service, 'TXT', [`${O} ${TTL} TXT txtvers=1|interface=org.apache.dubbo.demo.OrderService|protocol=dubbo|application=order|serialization=hessian2`]),
  // A service with no ready endpoint still exists (its TXT), with no SRV.
  nodata(idle.service, 'SRV'),
  nodata(idle.service, 'A'),
  ok(idle.service, 'TXT', [`${bare(idle.service)} ${TTL} TXT txtvers=1|interface=org.apache.dubbo.demo.IdleService|protocol=dubbo`]),
  // DNS-SD: browse PTR per service in the namespace, instance SRV + TXT.
  ok(demo.browse, 'PTR', [demo, greeting, idle, order].map((n) => `${bare(demo.browse)} ${TTL} PTR ${bare(n.instance)}`).sort()),
  nodata(demo.browse, 'SRV'),
  ok(demo.instance, 'SRV', demoSrv(bare(demo.instance)), demoGlue),
  ok(demo.instance, 'TXT', [`${bare(demo.instance)} ${TTL} TXT ${demoTxt.join('|')}`]),
  nodata(idle.instance, 'SRV'),
  // Names that do not exist.
  nxdomain(`nope.shop.${Z}`, 'A'),
  nxdomain(`other.${Z}`, 'SRV'),
  nxdomain(`demoservice-gray-v1-0-0-gvbnf6n34g.default.${Z}`, 'SRV'), // right label, wrong namespace
  // Outside the zone: REFUSED, AA clear.
  refused('example.com.', 'A'),
  refused('xdubbo.internal.', 'A'), // shares the suffix, not the label boundary
  refused('internal.', 'SOA'), // the parent
  refused('.', 'NS'),
];

const COMBOS: readonly { transport: Transport; edns: number | undefined }[] = [
  { transport: 'udp', edns: undefined },
  { transport: 'udp', edns: 1232 },
  { transport: 'tcp', edns: undefined },
  { transport: 'tcp', edns: 4096 },
];

let server: ServerProcess;
const dir = tempDir('records');

before(async () => {
  const file = writeFile(dir.dir, 'registry.yaml', DEMO_REGISTRY);
  server = await startServer(['--registry', file]);
});
after(async () => {
  await server?.stop();
  dir.remove();
});

test('the service label of gray/org.apache.dubbo.demo.DemoService:1.0.0 is the worked example', () => {
  assert.equal(serviceLabel(serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0')), 'demoservice-gray-v1-0-0-gvbnf6n34g');
  assert.equal(demo.service, 'demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.');
});

describe('answers on the wire (dns-packet decodes our bytes)', () => {
  for (const row of ROWS) {
    test(`${row.qname} ${row.qtype} -> ${row.rcode}`, async () => {
      for (const { transport, edns } of COMBOS) {
        const where = `${transport}${edns === undefined ? '' : ` edns ${edns}`}`;
        const { msg } = await ask(server.dnsPort, row.qname, row.qtype, transport, { edns });
        assert.equal(msg.rcode, row.rcode, `rcode over ${where}`);
        assert.equal(msg.flag_qr, true, `QR over ${where}`);
        assert.equal(msg.opcode, 'QUERY', `opcode over ${where}`);
        assert.equal(msg.flag_aa, row.rcode !== 'REFUSED', `AA over ${where}`);
        assert.equal(msg.flag_tc, false, `TC over ${where}`);
        assert.equal(msg.flag_ra, false, `RA over ${where}: no recursion, ever`);
        assert.equal(msg.questions?.length, 1, `question echoed over ${where}`);
        assert.equal(msg.questions?.[0]?.name, bare(row.qname) === '' ? '.' : bare(row.qname), `question name over ${where}`);
        assert.equal(msg.questions?.[0]?.type, row.qtype, `question type over ${where}`);
        assert.deepEqual(lines(msg.answers), [...row.answer].sort(), `answer over ${where}`);
        assert.deepEqual(lines(msg.authorities), [...row.authority].sort(), `authority over ${where}`);
        if (transport === 'udp' && edns === undefined) {
          // Glue goes in when it fits (RFC 2181 §9: missing glue is no reason for TC): a subset.
          const got = lines(msg.additionals);
          for (const g of got) assert.ok(row.additional.includes(g), `${g} is expected glue over ${where}`);
          assert.equal(got.length > 0, row.additional.length > 0, `some glue over ${where}`);
        } else assert.deepEqual(lines(msg.additionals), [...row.additional].sort(), `additional over ${where}`);
        const opt = optOf(msg);
        if (edns === undefined) assert.equal(opt, undefined, `no OPT without EDNS over ${where}`);
        else {
          assert.ok(opt !== undefined, `OPT echoed over ${where}`);
          assert.equal(opt.udpPayloadSize, 1232, `our EDNS size over ${where}`);
          assert.equal(opt.ednsVersion, 0);
          assert.equal(opt.extendedRcode, 0);
          assert.equal(msg.additionals?.filter((a) => a.type === 'OPT').length, 1);
          assert.equal(msg.additionals?.at(-1)?.type, 'OPT', 'OPT comes last');
        }
      }
    });
  }
});

describe('details', () => {
  test('TXT strings are in RFC 6763 order: txtvers=1 first', async () => {
    const { msg } = await ask(server.dnsPort, demo.service, 'TXT', 'udp');
    const [txt] = msg.answers ?? [];
    assert.ok(txt !== undefined);
    assert.deepEqual(txtStrings(txt), demoTxt);
  });

  test('the apex SOA names our NS, has a unix-time serial and negative TTL = record TTL', async () => {
    const ns = await ask(server.dnsPort, Z, 'NS', 'udp');
    const soa = await ask(server.dnsPort, Z, 'SOA', 'udp');
    const nsRecord = ns.msg.answers?.[0];
    const soaRecord = soa.msg.answers?.[0];
    assert.ok(nsRecord?.type === 'NS' && soaRecord?.type === 'SOA');
    assert.equal(soaRecord.data.mname, nsRecord.data);
    assert.equal(soaRecord.ttl, TTL);
    assert.equal(soaRecord.data.minimum, TTL);
    const now = Math.floor(Date.now() / 1000);
    assert.ok(soaRecord.data.serial !== undefined);
    assert.ok(Math.abs(soaRecord.data.serial - now) < 600, `serial ${soaRecord.data.serial} is close to unix time ${now}`);
    // The NXDOMAIN authority carries the same SOA (same serial).
    const nx = await ask(server.dnsPort, `nope.${Z}`, 'A', 'tcp');
    const negative = nx.msg.authorities?.[0];
    assert.ok(negative?.type === 'SOA');
    assert.equal(negative.data.serial, soaRecord.data.serial);
    assert.equal(negative.name, z);
  });

  test('names match case-insensitively and the answer owner keeps the case asked', async () => {
    const upper = demo.service.toUpperCase();
    const { msg } = await ask(server.dnsPort, upper, 'SRV', 'udp');
    assert.equal(msg.rcode, 'NOERROR');
    assert.deepEqual(lines(msg.answers), demoSrv(D).sort());
    assert.equal(msg.answers?.[0]?.name, upper.replace(/\.$/, ''));
  });

  test('the ID and RD are copied; RA stays clear', async () => {
    for (const transport of ['udp', 'tcp'] as const) {
      const { msg } = await ask(server.dnsPort, demo.service, 'A', transport, { id: 0xbeef, rd: true });
      assert.equal(msg.id, 0xbeef);
      assert.equal(msg.flag_rd, true);
      assert.equal(msg.flag_ra, false);
      const plain = await ask(server.dnsPort, demo.service, 'A', transport, { id: 0, rd: false });
      assert.equal(plain.msg.id, 0);
      assert.equal(plain.msg.flag_rd, false);
    }
  });

  test('a secret provider parameter (token) is never published', async () => {
    for (const qname of [order.service, order.instance, `10-0-2-7.${order.service}`, `10-0-2-8.${order.service}`]) {
      const { msg } = await ask(server.dnsPort, qname, 'TXT', 'udp');
      assert.equal(msg.rcode, 'NOERROR', qname);
      assert.equal(msg.answers?.length, 1, qname);
      const strings = txtStrings(msg.answers![0]!);
      assert.equal(strings[0], 'txtvers=1');
      assert.ok(!strings.some((s) => s.toLowerCase().startsWith('token') || s.includes('s3cr3t')), `${qname}: ${strings.join(' ')}`);
    }
  });
});
