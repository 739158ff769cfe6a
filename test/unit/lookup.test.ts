import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as packet from 'dns-packet';
import { createHandler } from '../../src/dns/handler.ts';
import { ZoneHolder } from '../../src/dns/index/zone-holder.ts';
import { parseRegistry } from '../../src/source/registry-file.ts';

// CoreDNS-style table tests: {qname, qtype} -> {rcode, answer, authority, additional}, written as
// zone-file text and checked on the bytes the handler returns, decoded by dns-packet (a second codec).

const REGISTRY = `
namespace: shop
services:
  - interface: org.apache.dubbo.demo.DemoService
    group: gray
    version: 1.0.0
    protocol: tri
    port: 50051
    metadata: { serialization: hessian2, application: demo }
    endpoints:
      - { address: 10.0.0.11, hostname: demo-0 }
      - { address: 10.0.0.12, weight: 200, hostname: demo-1 }
      - { address: "fd00::12", ready: false }
  - interface: com.example.Dual
    port: 20880
    endpoints:
      - { address: "fd00::1", hostname: dual-0 }
`;
const S = 'demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal';
const D = 'dual-bglgfflv4v.shop.dubbo.internal';

const holder = new ZoneHolder({ zone: 'dubbo.internal.', ttl: 5 });
holder.update(parseRegistry(REGISTRY));
const handle = createHandler(holder, { maxUdpSize: 1232 }, { answered() {}, dropped() {} });
const serial = holder.current?.serial;
const SOA = `dubbo.internal. 5 IN SOA ns.dns.dubbo.internal. hostmaster.dubbo.internal. ${serial} 60 10 86400 5`;

function render(rr: packet.Answer): string {
  const d = (rr as { data: unknown }).data;
  let data: string;
  switch (rr.type) {
    case 'SRV': {
      const s = d as packet.SrvData;
      data = `${s.priority ?? 0} ${s.weight ?? 0} ${s.port} ${s.target}.`;
      break;
    }
    case 'TXT':
      data = (d as Buffer[]).map((b) => JSON.stringify(b.toString())).join(' ');
      break;
    case 'SOA': {
      const s = d as packet.SoaData;
      data = `${s.mname}. ${s.rname}. ${s.serial} ${s.refresh} ${s.retry} ${s.expire} ${s.minimum}`;
      break;
    }
    case 'PTR':
    case 'NS':
      data = `${d as string}.`;
      break;
    default:
      data = String(d);
  }
  return `${rr.name}. ${(rr as { ttl: number }).ttl} IN ${rr.type} ${data}`;
}

/** dns-packet decodes the rcode but its types do not declare it. */
const rcodeOf = (p: packet.Packet): string => (p as { rcode?: string }).rcode ?? '';
type QType = packet.RecordType | 'ANY';

function ask(name: string, type: QType): { rcode: string; aa: boolean; answer: string[]; ns: string[]; extra: string[] } {
  const query = packet.encode({ type: 'query', id: 7, flags: 0, questions: [{ type: type as packet.RecordType, name, class: 'IN' }] });
  const bytes = handle(query, 'tcp');
  assert.ok(bytes !== undefined);
  const res = packet.decode(bytes);
  assert.equal(res.id, 7);
  return {
    rcode: rcodeOf(res),
    aa: (res.flags ?? 0) & packet.AUTHORITATIVE_ANSWER ? true : false,
    answer: (res.answers ?? []).map(render),
    ns: (res.authorities ?? []).map(render),
    extra: (res.additionals ?? []).map(render),
  };
}

interface Case {
  qname: string;
  qtype: QType;
  rcode: string;
  answer?: string[];
  ns?: string[];
  extra?: string[];
}

const cases: Case[] = [
  { qname: 'dubbo.internal', qtype: 'SOA', rcode: 'NOERROR', answer: [SOA] },
  { qname: 'dubbo.internal', qtype: 'NS', rcode: 'NOERROR', answer: ['dubbo.internal. 5 IN NS ns.dns.dubbo.internal.'] },
  { qname: S, qtype: 'A', rcode: 'NOERROR', answer: [`${S}. 5 IN A 10.0.0.11`, `${S}. 5 IN A 10.0.0.12`] },
  // The only IPv6 endpoint is not ready: the name exists, AAAA has no data.
  { qname: S, qtype: 'AAAA', rcode: 'NOERROR', ns: [SOA] },
  {
    qname: S,
    qtype: 'SRV',
    rcode: 'NOERROR',
    answer: [`${S}. 5 IN SRV 0 100 50051 demo-0.${S}.`, `${S}. 5 IN SRV 0 200 50051 demo-1.${S}.`],
    extra: [`demo-0.${S}. 5 IN A 10.0.0.11`, `demo-1.${S}. 5 IN A 10.0.0.12`],
  },
  {
    qname: S,
    qtype: 'TXT',
    rcode: 'NOERROR',
    answer: [
      `${S}. 5 IN TXT "txtvers=1" "interface=org.apache.dubbo.demo.DemoService" "group=gray" "version=1.0.0" "protocol=tri" "serialization=hessian2" "application=demo"`,
    ],
  },
  {
    qname: `_tri._tcp.${S}`,
    qtype: 'SRV',
    rcode: 'NOERROR',
    answer: [`_tri._tcp.${S}. 5 IN SRV 0 100 50051 demo-0.${S}.`, `_tri._tcp.${S}. 5 IN SRV 0 200 50051 demo-1.${S}.`],
    extra: [`demo-0.${S}. 5 IN A 10.0.0.11`, `demo-1.${S}. 5 IN A 10.0.0.12`],
  },
  { qname: `_dubbo._tcp.${S}`, qtype: 'SRV', rcode: 'NXDOMAIN', ns: [SOA] },
  { qname: `_tcp.${S}`, qtype: 'SRV', rcode: 'NOERROR', ns: [SOA] },
  { qname: `demo-1.${S}`, qtype: 'A', rcode: 'NOERROR', answer: [`demo-1.${S}. 5 IN A 10.0.0.12`] },
  { qname: `demo-1.${S}`, qtype: 'TXT', rcode: 'NOERROR', answer: [`demo-1.${S}. 5 IN TXT "txtvers=1" "application=demo" "weight=200" "serialization=hessian2"`] },
  { qname: `dual-0.${D}`, qtype: 'AAAA', rcode: 'NOERROR', answer: [`dual-0.${D}. 5 IN AAAA fd00::1`] },
  { qname: `dual-0.${D}`, qtype: 'A', rcode: 'NOERROR', ns: [SOA] },
  {
    qname: '_dubbo._tcp.shop.dubbo.internal',
    qtype: 'PTR',
    rcode: 'NOERROR',
    answer: [
      `_dubbo._tcp.shop.dubbo.internal. 5 IN PTR dual-bglgfflv4v._dubbo._tcp.shop.dubbo.internal.`,
      `_dubbo._tcp.shop.dubbo.internal. 5 IN PTR demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal.`,
    ],
  },
  {
    qname: 'demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal',
    qtype: 'SRV',
    rcode: 'NOERROR',
    answer: [
      `demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal. 5 IN SRV 0 100 50051 demo-0.${S}.`,
      `demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal. 5 IN SRV 0 200 50051 demo-1.${S}.`,
    ],
    extra: [`demo-0.${S}. 5 IN A 10.0.0.11`, `demo-1.${S}. 5 IN A 10.0.0.12`],
  },
  // Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN.
  { qname: 'shop.dubbo.internal', qtype: 'A', rcode: 'NOERROR', ns: [SOA] },
  { qname: '_tcp.shop.dubbo.internal', qtype: 'PTR', rcode: 'NOERROR', ns: [SOA] },
  { qname: 'ns.dns.dubbo.internal', qtype: 'A', rcode: 'NOERROR', ns: [SOA] },
  { qname: 'nope.shop.dubbo.internal', qtype: 'A', rcode: 'NXDOMAIN', ns: [SOA] },
  { qname: `x.demo-0.${S}`, qtype: 'A', rcode: 'NXDOMAIN', ns: [SOA] },
  { qname: 'other.internal', qtype: 'SOA', rcode: 'REFUSED' },
  { qname: 'xdubbo.internal', qtype: 'A', rcode: 'REFUSED' },
  // RFC 8482: ANY gets one RRset.
  { qname: S, qtype: 'ANY', rcode: 'NOERROR', answer: [`${S}. 5 IN SRV 0 100 50051 demo-0.${S}.`, `${S}. 5 IN SRV 0 200 50051 demo-1.${S}.`] },
  { qname: 'dubbo.internal', qtype: 'ANY', rcode: 'NOERROR', answer: [SOA] },
  { qname: 'dubbo.internal', qtype: 'AXFR', rcode: 'REFUSED' },
];

describe('lookup table', () => {
  for (const c of cases) {
    it(`${c.qname} ${c.qtype} -> ${c.rcode}`, () => {
      const got = ask(c.qname, c.qtype);
      assert.equal(got.rcode, c.rcode);
      assert.equal(got.aa, c.rcode !== 'REFUSED', 'AA is set exactly on answers from the zone');
      assert.deepEqual(got.answer, c.answer ?? []);
      assert.deepEqual(got.ns, c.ns ?? []);
      assert.deepEqual(got.extra, c.extra ?? []);
    });
  }

  it('answers SERVFAIL in the zone, and REFUSED outside it, before the first snapshot', () => {
    const empty = new ZoneHolder({ zone: 'dubbo.internal.', ttl: 5 });
    const h = createHandler(empty, { maxUdpSize: 1232 }, { answered() {}, dropped() {} });
    const q = (name: string): string | undefined => {
      const bytes = h(packet.encode({ type: 'query', id: 1, questions: [{ type: 'A', name, class: 'IN' }] }), 'udp');
      return bytes === undefined ? undefined : rcodeOf(packet.decode(bytes));
    };
    assert.equal(q(S), 'SERVFAIL');
    assert.equal(q('example.com'), 'REFUSED');
  });

  it('raises the serial only when the content changes', () => {
    const h = new ZoneHolder({ zone: 'dubbo.internal.', ttl: 5 });
    const first = h.update(parseRegistry(REGISTRY));
    const firstSerial = h.current?.serial;
    assert.equal(h.update(parseRegistry(REGISTRY)).changed, false);
    assert.equal(h.current?.serial, firstSerial);
    const second = h.update(parseRegistry(REGISTRY.replace('10.0.0.12', '10.0.0.13')));
    assert.ok(second.changed && first.changed);
    assert.ok(second.index.serial > firstSerial!);
  });
});

describe('nameserver addresses (--nameserver-address)', () => {
  it('publish A/AAAA at the NS target and add them to NS answers as glue', () => {
    const withNs = new ZoneHolder({ zone: 'dubbo.internal.', ttl: 5, nameserverAddresses: ['10.96.0.53', 'fd00::53'] });
    withNs.update(parseRegistry(REGISTRY));
    const h = createHandler(withNs, { maxUdpSize: 1232 }, { answered() {}, dropped() {} });
    const q = (name: string, type: packet.RecordType) => packet.decode(h(packet.encode({ type: 'query', id: 3, questions: [{ type, name, class: 'IN' }] }), 'tcp')!);
    const ns = q('dubbo.internal', 'NS');
    assert.deepEqual((ns.additionals ?? []).map(render), ['ns.dns.dubbo.internal. 5 IN A 10.96.0.53', 'ns.dns.dubbo.internal. 5 IN AAAA fd00::53']);
    assert.deepEqual((q('ns.dns.dubbo.internal', 'A').answers ?? []).map(render), ['ns.dns.dubbo.internal. 5 IN A 10.96.0.53']);
    const transfer = [...withNs.current!.transferRecords()].map((rr) => rr.length);
    assert.equal(transfer.length, withNs.current!.stats.records + 1, 'SOA twice, every other record once');
  });
});
