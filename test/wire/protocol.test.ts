import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, bare, buildQuery, decode, exchange, lines, names, optOf, tempDir, udpExchange, writeFile, type Transport } from './helpers.ts';

// Protocol behaviour with non-default settings: `--zone Example.Test` (any case, no trailing dot),
// `--ttl 30`, `--max-udp-size 1400`. EDNS negotiation and truncation, BADVERS, DO, FORMERR,
// NOTIMP, the question echoed byte for byte (0x20), dropped responses, other classes, AXFR.

const ZONE_FLAG = 'Example.Test';
const Z = 'example.test.';
const TTL = 30;
const MAX_UDP = 1400;

const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'ns1', Z);
/** 4 endpoints with 40-character hostnames: the SRV answer fits in 512 bytes, its glue does not. */
const mid = names('org.example.MidService', undefined, undefined, 'ns1', Z);
/** 60 endpoints: the SRV answer does not fit in 1400 bytes. */
const wide = names('org.example.WideService', undefined, undefined, 'ns1', Z);

const MID_HOST = (i: number): string => `mid-${i}-${'h'.repeat(34)}`;
const endpoints = (prefix: string, n: number, port: number): string =>
  Array.from({ length: n }, (_, i) => `      - { address: ${prefix}.${i + 1}, port: ${port} }`).join('\n');

const REGISTRY = `namespace: ns1
services:
  - interface: org.apache.dubbo.demo.DemoService
    group: gray
    version: 1.0.0
    port: 20880
    endpoints:
      - { address: 10.0.0.11, hostname: demo-0 }
      - { address: "fd00::11", hostname: demo-1 }
  - interface: org.example.MidService
    port: 20880
    endpoints:
${Array.from({ length: 4 }, (_, i) => `      - { address: 10.0.9.${i + 1}, hostname: ${MID_HOST(i)} }`).join('\n')}
  - interface: org.example.WideService
    endpoints:
${endpoints('10.1.0', 60, 20880)}
`;

let server: ServerProcess;
const dir = tempDir('protocol');

before(async () => {
  const file = writeFile(dir.dir, 'registry.yaml', REGISTRY);
  server = await startServer(['--registry', file, '--zone', ZONE_FLAG, '--ttl', String(TTL), '--max-udp-size', String(MAX_UDP)]);
});
after(async () => {
  await server?.stop();
  dir.remove();
});

const BOTH: readonly Transport[] = ['udp', 'tcp'];

describe('--zone and --ttl', () => {
  test('the zone is served lowercase with a trailing dot; the default zone is now outside', async () => {
    const soa = await ask(server.dnsPort, 'EXAMPLE.test.', 'SOA', 'udp');
    assert.equal(soa.msg.rcode, 'NOERROR');
    assert.equal(soa.msg.flag_aa, true);
    assert.equal(soa.msg.answers?.[0]?.type, 'SOA');
    const other = await ask(server.dnsPort, 'dubbo.internal.', 'SOA', 'udp');
    assert.equal(other.msg.rcode, 'REFUSED');
    assert.equal(other.msg.flag_aa, false);
  });

  test('every record, glue and negative answer carries --ttl', async () => {
    const srv = await ask(server.dnsPort, demo.service, 'SRV', 'udp', { edns: 1232 });
    assert.deepEqual(lines(srv.msg.answers), [
      `${bare(demo.service)} ${TTL} SRV 0 100 20880 demo-0.${bare(demo.service)}`,
      `${bare(demo.service)} ${TTL} SRV 0 100 20880 demo-1.${bare(demo.service)}`,
    ]);
    assert.deepEqual(lines(srv.msg.additionals), [`demo-0.${bare(demo.service)} ${TTL} A 10.0.0.11`, `demo-1.${bare(demo.service)} ${TTL} AAAA fd00::11`]);
    const nx = await ask(server.dnsPort, `nope.${Z}`, 'A', 'udp');
    assert.equal(nx.msg.rcode, 'NXDOMAIN');
    assert.deepEqual(lines(nx.msg.authorities), [`example.test ${TTL} SOA minimum=${TTL}`]);
    const nodata = await ask(server.dnsPort, demo.service, 'PTR', 'udp');
    assert.equal(nodata.msg.rcode, 'NOERROR');
    assert.deepEqual(lines(nodata.msg.authorities), [`example.test ${TTL} SOA minimum=${TTL}`]);
  });
});

describe('EDNS and truncation', () => {
  test('the OPT record advertises --max-udp-size whatever the client offered', async () => {
    for (const offered of [512, 1232, 4096, 65535]) {
      for (const transport of BOTH) {
        const { msg } = await ask(server.dnsPort, demo.service, 'A', transport, { edns: offered });
        assert.equal(optOf(msg)?.udpPayloadSize, MAX_UDP, `client offered ${offered} over ${transport}`);
      }
    }
  });

  test('without EDNS: 512 bytes; SRV answers that fit are whole (no TC) with as much glue as fits', async () => {
    assert.equal(MID_HOST(0).length, 40);
    const { raw, msg } = await ask(server.dnsPort, mid.service, 'SRV', 'udp');
    assert.ok(raw.length <= 512, `${raw.length} bytes`);
    assert.equal(msg.flag_tc, false, 'missing glue is no reason for TC (RFC 2181 §9)');
    assert.equal(msg.answers?.length, 4);
    const glue = msg.additionals ?? [];
    assert.ok(glue.length >= 1 && glue.length < 4, `${glue.length} glue records`);
    assert.ok(raw.length + 57 > 512, `${raw.length} bytes: another 57-byte glue record would have fit`);
    const targets = new Set((msg.answers ?? []).map((a) => (a.type === 'SRV' ? a.data.target.toLowerCase() : '')));
    for (const g of glue) assert.ok(g.type === 'A' && targets.has(g.name.toLowerCase()), `${g.name} is an SRV target`);
    // With EDNS all the glue fits.
    const big = await ask(server.dnsPort, mid.service, 'SRV', 'udp', { edns: 4096 });
    assert.equal(big.msg.flag_tc, false);
    assert.equal(big.msg.answers?.length, 4);
    assert.deepEqual(
      lines(big.msg.additionals),
      Array.from({ length: 4 }, (_, i) => `${MID_HOST(i)}.${bare(mid.service)} ${TTL} A 10.0.9.${i + 1}`).sort(),
    );
  });

  for (const { offered, limit } of [
    { offered: undefined, limit: 512 },
    { offered: 600, limit: 600 },
    { offered: 1232, limit: 1232 },
    { offered: 4096, limit: MAX_UDP },
    { offered: 100, limit: 512 }, // RFC 6891 §6.2.5: below 512 counts as 512
  ]) {
    test(`60 SRV over UDP with EDNS ${offered ?? 'off'}: at most ${limit} bytes, TC=1, a non-empty subset`, async () => {
      const all = await ask(server.dnsPort, wide.service, 'SRV', 'tcp');
      const full = new Set(lines(all.msg.answers));
      assert.equal(full.size, 60);
      const { raw, msg } = await ask(server.dnsPort, wide.service, 'SRV', 'udp', { edns: offered });
      assert.ok(raw.length <= limit, `${raw.length} bytes > ${limit}`);
      assert.ok(raw.length > limit * 0.75, `${raw.length} bytes: the room is used`);
      assert.equal(msg.flag_tc, true);
      assert.equal(msg.rcode, 'NOERROR');
      const got = lines(msg.answers);
      assert.ok(got.length > 0 && got.length < 60, `${got.length} answers`);
      for (const line of got) assert.ok(full.has(line), `${line} is one of the 60`);
      assert.equal(msg.authorities?.length ?? 0, 0);
      assert.equal((msg.additionals ?? []).filter((a) => a.type !== 'OPT').length, 0);
      assert.equal(optOf(msg) === undefined, offered === undefined, 'OPT iff the query had EDNS');
    });
  }

  test('over TCP the 60 SRV and their glue come whole, without TC', async () => {
    const { msg } = await ask(server.dnsPort, wide.service, 'SRV', 'tcp', { edns: 1232 });
    assert.equal(msg.flag_tc, false);
    assert.equal(msg.answers?.length, 60);
    assert.equal(msg.additionals?.filter((a) => a.type === 'A').length, 60);
  });

  test('EDNS version 1 gets BADVERS with an OPT of version 0 and no records', async () => {
    for (const transport of BOTH) {
      const { raw, msg } = await ask(server.dnsPort, demo.service, 'SRV', transport, { edns: 1232, ednsVersion: 1 });
      const opt = optOf(msg);
      assert.ok(opt !== undefined, transport);
      // BADVERS = 16: header RCODE 0, extended RCODE 1 (RFC 6891 §6.1.3).
      assert.equal(raw[3]! & 0x0f, 0);
      assert.equal(opt.extendedRcode, 1);
      assert.equal(opt.ednsVersion, 0);
      assert.equal(msg.answers?.length ?? 0, 0);
      assert.equal(msg.authorities?.length ?? 0, 0);
      assert.equal(msg.additionals?.length, 1);
      assert.equal(msg.flag_qr, true);
    }
  });

  test('the DO bit is copied', async () => {
    for (const transport of BOTH) {
      const withDo = await ask(server.dnsPort, demo.service, 'A', transport, { edns: 1232, dnssecOk: true });
      assert.equal(optOf(withDo.msg)?.flag_do, true, transport);
      const without = await ask(server.dnsPort, demo.service, 'A', transport, { edns: 1232 });
      assert.equal(optOf(without.msg)?.flag_do, false, transport);
    }
  });
});

/** A header: ID 0x1234, the given flags and counts. */
function header(flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x1234, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

const TYPE_A_CLASS_IN = Buffer.from([0, 1, 0, 1]);

describe('malformed queries and other opcodes', () => {
  const formerr: Record<string, Buffer> = {
    'QDCOUNT=2': dnsPacket.encode({
      type: 'query',
      id: 0x1234,
      questions: [
        { name: demo.service, type: 'A', class: 'IN' },
        { name: demo.service, type: 'AAAA', class: 'IN' },
      ],
    }),
    'QDCOUNT=0': header(0, 0),
    'a compression pointer in the question': Buffer.concat([header(0, 1), Buffer.from([0xc0, 0x0c]), TYPE_A_CLASS_IN]),
    'a header claiming a question with no question bytes': header(0, 1),
    'a question cut before QTYPE': Buffer.concat([header(0, 1), Buffer.from([4, 0x74, 0x65, 0x73, 0x74, 0])]),
    'a label running past the end': Buffer.concat([header(0, 1), Buffer.from([40, 0x61, 0x62])]),
    'ARCOUNT=1 with no record': Buffer.concat([header(0, 1, 0, 0, 1), Buffer.from([0]), TYPE_A_CLASS_IN]),
    'two OPT records': (() => {
      const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
      return Buffer.concat([header(0, 1, 0, 0, 2), Buffer.from([7]), Buffer.from('example'), Buffer.from([4]), Buffer.from('test'), Buffer.from([0]), TYPE_A_CLASS_IN, opt, opt]);
    })(),
  };
  for (const [what, packet] of Object.entries(formerr)) {
    test(`FORMERR for ${what}`, async () => {
      for (const transport of BOTH) {
        const raw = await exchange(server.dnsPort, packet, transport);
        assert.equal(raw.readUInt16BE(0), 0x1234, `ID echoed over ${transport}`);
        assert.equal(raw[2]! & 0x80, 0x80, 'QR');
        assert.equal(raw[3]! & 0x0f, 1, `RCODE FORMERR over ${transport}`);
        assert.equal(raw[2]! & 0x04, 0, 'AA clear');
        assert.equal(raw.readUInt16BE(6), 0, 'no answers');
      }
    });
  }

  for (const { opcode, name } of [
    { opcode: 1, name: 'IQUERY' },
    { opcode: 2, name: 'STATUS' },
    { opcode: 5, name: 'UPDATE' },
  ]) {
    test(`NOTIMP for opcode ${opcode} (${name}), opcode and question echoed`, async () => {
      for (const transport of BOTH) {
        const query = buildQuery(Z, 'SOA', { opcode, id: 0x4242 });
        const raw = await exchange(server.dnsPort, query, transport);
        const msg = decode(raw);
        assert.equal(msg.id, 0x4242);
        assert.equal(msg.flag_qr, true);
        assert.equal(msg.opcode, name, transport);
        assert.equal(msg.rcode, 'NOTIMP', transport);
        assert.equal(msg.answers?.length ?? 0, 0);
        assert.equal(msg.questions?.[0]?.name, 'example.test');
      }
    });
  }

  test('a message with QR set (a response) gets no answer; the server answers the next query', async () => {
    const response = dnsPacket.encode({ type: 'response', id: 0x5555, questions: [{ name: Z, type: 'SOA', class: 'IN' }] });
    await assert.rejects(udpExchange(server.dnsPort, response, 400), /no UDP reply/);
    const { msg } = await ask(server.dnsPort, Z, 'SOA', 'udp');
    assert.equal(msg.rcode, 'NOERROR');
  });

  test('a label with bytes no published name holds (space, NUL, 0xC4) is NXDOMAIN in the zone', async () => {
    const apex = Buffer.from([7, ...Buffer.from('example'), 4, ...Buffer.from('test'), 0]);
    for (const label of [Buffer.from('de mo'), Buffer.from([0x64, 0x00, 0x6f]), Buffer.from([0xc4, 0x41])]) {
      const packet = Buffer.concat([header(0, 1), Buffer.from([label.length]), label, apex, TYPE_A_CLASS_IN]);
      for (const transport of BOTH) {
        const raw = await exchange(server.dnsPort, packet, transport);
        const msg = decode(raw);
        assert.equal(msg.rcode, 'NXDOMAIN', `${label.toString('hex')} over ${transport}`);
        assert.equal(msg.flag_aa, true);
        assert.deepEqual(raw.subarray(12, 12 + 1 + label.length + apex.length + 4), packet.subarray(12));
        assert.deepEqual(lines(msg.authorities), [`example.test ${TTL} SOA minimum=${TTL}`]);
      }
    }
  });

  test('class CH and zone transfers are REFUSED', async () => {
    const ch = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: Z, type: 'SOA', class: 'CH' }] });
    const chReply = decode(await udpExchange(server.dnsPort, ch));
    assert.equal(chReply.rcode, 'REFUSED');
    assert.equal(chReply.flag_aa, false);
    const axfr = await ask(server.dnsPort, Z, 'AXFR', 'tcp');
    assert.equal(axfr.msg.rcode, 'REFUSED');
    assert.equal(axfr.msg.answers?.length ?? 0, 0);
  });
});

describe('the question is echoed byte for byte (0x20)', () => {
  const mixed = (name: string): string =>
    [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');

  /** Sends over a raw dgram socket and returns [query, reply]. */
  async function raw(name: string, type: string, edns?: number): Promise<[Buffer, Buffer]> {
    const query = buildQuery(name, type, { edns, id: 0x2020 });
    const socket = createSocket('udp4');
    try {
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), 2000);
        socket.once('message', (m) => {
          clearTimeout(timer);
          resolve(m);
        });
        socket.send(query, server.dnsPort, '127.0.0.1');
      });
      return [query, reply];
    } finally {
      socket.close();
    }
  }

  for (const [qname, qtype, rcode] of [
    [mixed(demo.service), 'SRV', 'NOERROR'],
    [mixed(`nope.${demo.service}`), 'A', 'NXDOMAIN'],
    [mixed(demo.service), 'PTR', 'NOERROR'],
    [mixed(`_tcp.${demo.service}`), 'SRV', 'NOERROR'],
    ['ExAmPlE.CoM.', 'A', 'REFUSED'],
  ] as const) {
    test(`${qname} ${qtype}`, async () => {
      for (const edns of [undefined, 1232]) {
        const [query, reply] = await raw(qname, qtype, edns);
        const questionLength = 12 + Buffer.byteLength(qname.replace(/\.$/, '')) + 2 + 4 - 12;
        assert.deepEqual(reply.subarray(12, 12 + questionLength), query.subarray(12, 12 + questionLength));
        const msg = decode(reply);
        assert.equal(msg.rcode, rcode);
        assert.equal(msg.questions?.[0]?.name, qname.replace(/\.$/, ''));
        // Names compressed against the question decode to the asked case; their data stays correct.
        for (const a of [...(msg.answers ?? []), ...(msg.authorities ?? [])]) {
          assert.ok(a.name.toLowerCase().endsWith('example.test'), a.name);
        }
        if (qtype === 'SRV' && qname === mixed(demo.service)) {
          assert.deepEqual(
            lines(msg.answers).map((l) => l.split(' ').slice(2).join(' ')),
            [`SRV 0 100 20880 demo-0.${bare(demo.service)}`, `SRV 0 100 20880 demo-1.${bare(demo.service)}`],
          );
        }
      }
    });
  }
});

describe('SRV RDATA (RFC 2782)', () => {
  /** The answer records of a raw message: type and RDATA bytes. */
  function answerRdata(raw: Buffer): { type: number; rdata: Buffer }[] {
    const skipName = (offset: number): number => {
      for (;;) {
        const len = raw[offset]!;
        if ((len & 0xc0) === 0xc0) return offset + 2;
        if (len === 0) return offset + 1;
        offset += 1 + len;
      }
    };
    let offset = skipName(12) + 4;
    const out: { type: number; rdata: Buffer }[] = [];
    for (let i = 0; i < raw.readUInt16BE(6); i++) {
      offset = skipName(offset);
      const type = raw.readUInt16BE(offset);
      const length = raw.readUInt16BE(offset + 8);
      out.push({ type, rdata: raw.subarray(offset + 10, offset + 10 + length) });
      offset += 10 + length;
    }
    return out;
  }

  /** True when a wire name (at the start of `bytes`) uses a compression pointer. */
  function compressed(bytes: Buffer): boolean {
    let offset = 0;
    while (offset < bytes.length) {
      const len = bytes[offset]!;
      if ((len & 0xc0) === 0xc0) return true;
      if (len === 0) return false;
      offset += 1 + len;
    }
    return false;
  }

  test('SRV targets are written without name compression, as RFC 2782 requires (c-ares rejects them otherwise)', async () => {
    for (const qname of [demo.service, mid.service]) {
      for (const transport of BOTH) {
        const { raw } = await ask(server.dnsPort, qname, 'SRV', transport);
        const srv = answerRdata(raw).filter((r) => r.type === 33);
        assert.ok(srv.length > 0);
        for (const r of srv) {
          assert.equal(compressed(r.rdata.subarray(6)), false, `${qname} over ${transport}: SRV target ${r.rdata.subarray(6).toString('hex')} uses a compression pointer`);
        }
      }
    }
  });
});
