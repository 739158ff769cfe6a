import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { createHandler, type Transport } from '../../src/dns/handler.ts';
import { parseQuery } from '../../src/dns/wire/parse-query.ts';
import type { ParseResult } from '../../src/dns/model/types.ts';
import { asciiLowerKey, DEMO, BIG, decode, encodeQuery, HEADER, keyToName, loadedHolder, optRecord, recordKey, ZONE, type QuerySpec } from './helpers.ts';

// DESIGN §10 (hostile DNS input): parseQuery is pure and must never throw, whatever the bytes; its
// classification must hold exact invariants; and the whole handler must answer every non-dropped
// packet with a decodable response that fits the transport.

const RUNS = Number(process.env['HOSTILE_RUNS'] ?? 1);

// No per-parse time budget here: on a shared, loaded machine a GC pause or a descheduled core took a
// single parse past any bound that still meant something. A compression loop that never ends is
// caught by the invariants below (the parse returns) and by the runner's timeout; the parser's cost
// per packet is measured in bench/, not asserted in tests.

const PLAIN = /^[A-Za-z0-9_-]$/;

/** What every parse result must satisfy, whatever the input. */
function checkInvariants(packet: Uint8Array, r: ParseResult): void {
  if (packet.length < HEADER) return assert.equal(r.kind, 'drop', 'shorter than a header must drop');
  if ((packet[2]! & 0x80) !== 0) return assert.equal(r.kind, 'drop', 'QR set must drop');
  assert.notEqual(r.kind, 'drop', 'a query-shaped header must be answered (FORMERR at worst)');
  if (r.kind === 'drop') return;
  const id = (packet[0]! << 8) | packet[1]!;
  const opcode = (packet[2]! >> 3) & 0xf;
  const qdcount = (packet[4]! << 8) | packet[5]!;
  const head = r.kind === 'query' ? r.query : r;
  assert.equal(head.id, id);
  assert.equal(head.opcode, opcode);
  assert.equal(head.rd, (packet[2]! & 1) === 1);
  switch (r.kind) {
    case 'query': {
      const q = r.query;
      assert.equal(opcode, 0);
      assert.equal(qdcount, 1);
      assert.ok(q.questionEnd <= packet.length && q.questionEnd >= HEADER + 5, `questionEnd ${q.questionEnd}`);
      const wire = packet.subarray(HEADER, q.questionEnd - 4);
      assert.ok(wire.length <= 255, 'question name over 255 bytes accepted');
      assert.equal(q.key.length, wire.length);
      // Walk the labels: every length byte <= 63, ending exactly at the root.
      let offset = 0;
      let plain = true;
      while (wire[offset] !== 0) {
        const len = wire[offset]!;
        assert.ok(len <= 63, `label length ${len} accepted`);
        for (let i = offset + 1; i <= offset + len; i++) if (!PLAIN.test(String.fromCharCode(wire[i]!))) plain = false;
        offset += 1 + len;
      }
      assert.equal(offset, wire.length - 1);
      assert.equal(q.plain, plain);
      if (plain) assert.equal(q.key, asciiLowerKey(wire));
      assert.equal(q.qtype, (packet[q.questionEnd - 4]! << 8) | packet[q.questionEnd - 3]!);
      assert.equal(q.qclass, (packet[q.questionEnd - 2]! << 8) | packet[q.questionEnd - 1]!);
      if (q.edns !== undefined) assert.ok(q.edns.udpSize >= 512 && q.edns.udpSize <= 65535);
      if (plain) {
        // An independent decoder reads the same question.
        const head = Buffer.from(packet.subarray(0, HEADER));
        head.writeUInt16BE(0, 2);
        head.writeUInt16BE(1, 4);
        head.fill(0, 6, 12);
        const d = dnsPacket.decode(Buffer.concat([head, packet.subarray(HEADER, q.questionEnd)]));
        assert.equal(d.questions?.[0]?.name.toLowerCase(), keyToName(q.key));
      }
      return;
    }
    case 'notimp':
      assert.notEqual(opcode, 0);
      assert.ok(r.questionEnd === HEADER || (r.questionEnd > HEADER && r.questionEnd <= packet.length));
      return;
    case 'formerr':
      assert.equal(opcode, 0);
      assert.ok(r.reason.length > 0);
      return;
  }
}

// ---- arbitraries ----

const LABEL_CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'];
const label = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.constantFrom(...LABEL_CHARS), { minLength: 1, maxLength: 12, size: 'max' }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...LABEL_CHARS), { minLength: 48, maxLength: 63, size: 'max' }).map((a) => a.join('')) },
);
const wireLength = (labels: readonly string[]): number => labels.reduce((n, l) => n + l.length + 1, 1);
const labelsArb = fc.array(label, { maxLength: 10 }).filter((ls) => wireLength(ls) <= 255);
const dotted = (labels: readonly string[]): string => (labels.length === 0 ? '.' : labels.join('.'));

/** Labels whose wire form is exactly `n` bytes (2 <= n), with letters of both cases. */
function labelsOfWireLength(n: number, salt: number): string[] {
  const out: string[] = [];
  let left = n - 1;
  let i = salt;
  while (left > 0) {
    let len = Math.min(63, left - 1);
    if (left - (len + 1) === 1) len -= 1; // never leave a single byte, which no label can fill
    out.push(Array.from({ length: len }, () => LABEL_CHARS[i++ % LABEL_CHARS.length]).join(''));
    left -= len + 1;
  }
  return out;
}

/** Bytes of every length up to `max`: fast-check's default size keeps arrays under ~10 items. */
const bytesArb = (max: number): fc.Arbitrary<Uint8Array> => fc.oneof(fc.uint8Array({ maxLength: max }), fc.uint8Array({ maxLength: max, size: 'max' }));

const qtypeArb = fc.oneof(fc.constantFrom(1, 2, 6, 12, 16, 28, 33, 41, 251, 252, 253, 254, 255), fc.integer({ min: 0, max: 65535 }));
const qclassArb = fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, fc.constantFrom(3, 4, 254, 255), fc.integer({ min: 0, max: 65535 }));
const ednsArb = fc.option(
  fc.record({
    size: fc.oneof(fc.constantFrom(1, 511, 512, 1232, 1233, 4096, 65535), fc.integer({ min: 1, max: 65535 })),
    version: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 255 })),
    dnssecOk: fc.boolean(),
    options: fc.array(fc.record({ code: fc.integer({ min: 0, max: 65535 }), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 3 }),
  }),
  { nil: undefined, freq: 2 },
);
const specArb = (opcode: fc.Arbitrary<number> = fc.constant(0), labels: fc.Arbitrary<string[]> = labelsArb): fc.Arbitrary<QuerySpec> =>
  fc.record({
    id: fc.integer({ min: 0, max: 65535 }),
    opcode,
    rd: fc.boolean(),
    cd: fc.boolean(),
    name: labels.map(dotted),
    qtype: qtypeArb,
    qclass: qclassArb,
    edns: ednsArb,
  });
const validQuery = specArb().map((spec) => ({ spec, ...encodeQuery(spec) }));

/** Random bytes behind a header that claims one question (so parsing goes past the header). */
const headerPrefixed = fc
  .record({
    id: fc.integer({ min: 0, max: 65535 }),
    flags: fc.integer({ min: 0, max: 0x7fff }),
    counts: fc.array(fc.oneof(fc.constantFrom(0, 1, 2, 65535), fc.integer({ min: 0, max: 65535 })), { minLength: 3, maxLength: 3 }),
    body: bytesArb(600),
  })
  .map(({ id, flags, counts, body }) => {
    const h = Buffer.alloc(HEADER);
    h.writeUInt16BE(id, 0);
    h.writeUInt16BE(flags & 0x87ff, 2); // opcode 0 mostly matters; keep QR clear
    h.writeUInt16BE(1, 4);
    h.writeUInt16BE(counts[0]!, 6);
    h.writeUInt16BE(counts[1]!, 8);
    h.writeUInt16BE(counts[2]!, 10);
    return new Uint8Array(Buffer.concat([h, body]));
  });

/** Byte-level mutations of valid queries: flips, sets, splices, cuts, appends. */
const mutatedQuery = fc
  .tuple(validQuery, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('xor', 'set', 'cut', 'append')), { minLength: 1, maxLength: 6 }), bytesArb(64))
  .map(([q, edits, tail]) => {
    let p = Buffer.from(q.bytes);
    for (const [at, value, op] of edits) {
      if (p.length === 0) break;
      const i = at % p.length;
      if (op === 'xor') p[i] = p[i]! ^ (value === 0 ? 1 : value);
      else if (op === 'set') p[i] = value;
      else if (op === 'cut') p = p.subarray(0, i);
      else p = Buffer.concat([p, tail]);
    }
    return new Uint8Array(p);
  });

const anyPacket = fc.oneof(bytesArb(600), headerPrefixed, mutatedQuery, validQuery.map((q) => new Uint8Array(q.bytes)));

const params = (numRuns: number) => ({ numRuns: numRuns * RUNS, endOnFailure: true });

describe('parseQuery never throws and classifies exactly', () => {
  test('arbitrary bytes (up to 600): never throws; invariants hold', () => {
    fc.assert(fc.property(bytesArb(600), (bytes) => checkInvariants(bytes, parseQuery(bytes))), params(20_000));
  });

  test('random bodies behind a one-question header with lying counts: invariants hold', () => {
    fc.assert(fc.property(headerPrefixed, (bytes) => checkInvariants(bytes, parseQuery(bytes))), params(20_000));
  });

  test('byte mutations of valid queries (flip, set, cut, append): invariants hold', () => {
    fc.assert(fc.property(mutatedQuery, (bytes) => checkInvariants(bytes, parseQuery(bytes))), params(20_000));
  });

  test('valid queries round-trip: key, qtype, qclass, EDNS, questionEnd', () => {
    fc.assert(
      fc.property(specArb(fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 15 }))), (spec) => {
        const { bytes, nameWire, questionEnd } = encodeQuery(spec);
        const r = parseQuery(bytes);
        checkInvariants(bytes, r);
        if (spec.opcode !== 0) {
          assert.equal(r.kind, 'notimp');
          if (r.kind === 'notimp') assert.equal(r.questionEnd, questionEnd);
          return;
        }
        assert.equal(r.kind, 'query', JSON.stringify(r));
        if (r.kind !== 'query') return;
        const q = r.query;
        assert.equal(q.id, spec.id);
        assert.equal(q.rd, spec.rd);
        assert.equal(q.cd, spec.cd);
        assert.equal(q.key, asciiLowerKey(nameWire));
        assert.equal(q.plain, true);
        assert.equal(q.qtype, spec.qtype);
        assert.equal(q.qclass, spec.qclass);
        assert.equal(q.questionEnd, questionEnd);
        if (spec.edns === undefined) assert.equal(q.edns, undefined);
        else assert.deepEqual(q.edns, { udpSize: Math.max(512, spec.edns.size), version: spec.edns.version, dnssecOk: spec.edns.dnssecOk });
      }),
      params(5_000),
    );
  });

  test('names of exactly 255 wire bytes parse; 256 and more are FORMERR', () => {
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 700 }), fc.nat(1000), fc.integer({ min: 0, max: 65535 }), (n, salt, id) => {
        const name = labelsOfWireLength(n, salt);
        // dns-packet caps nothing when encoding, so the header and question are written by hand here.
        const wire = Buffer.concat([...name.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0])]);
        assert.equal(wire.length, n);
        const h = Buffer.alloc(HEADER);
        h.writeUInt16BE(id, 0);
        h.writeUInt16BE(1, 4);
        const packet = Buffer.concat([h, wire, Buffer.from([0, 33, 0, 1])]);
        const r = parseQuery(packet);
        checkInvariants(packet, r);
        assert.equal(r.kind, n <= 255 ? 'query' : 'formerr', `wire length ${n}`);
      }),
      params(3_000),
    );
  });

  test('packets under 12 bytes, and any packet with QR set, are dropped', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 11 }), validQuery.map((q) => new Uint8Array(q.bytes)), fc.uint8Array({ minLength: 12, maxLength: 100, size: 'max' })), (bytes) => {
        const p = Buffer.from(bytes);
        if (p.length >= HEADER) p[2] = p[2]! | 0x80;
        assert.equal(parseQuery(p).kind, 'drop');
      }),
      params(3_000),
    );
  });

  test('a valid query cut anywhere: drop under 12 bytes, else FORMERR', () => {
    fc.assert(
      fc.property(validQuery, fc.nat(), (q, at) => {
        const cut = q.bytes.subarray(0, at % q.bytes.length);
        const r = parseQuery(cut);
        checkInvariants(cut, r);
        assert.equal(r.kind, cut.length < HEADER ? 'drop' : 'formerr', `cut at ${cut.length} of ${q.bytes.length}: ${cut.toString('hex')}`);
      }),
      params(5_000),
    );
  });

  test('QDCOUNT other than 1: FORMERR for QUERY, NOTIMP (no question) for other opcodes', () => {
    fc.assert(
      fc.property(validQuery, fc.oneof(fc.constant(0), fc.integer({ min: 2, max: 65535 })), fc.integer({ min: 0, max: 15 }), (q, qd, opcode) => {
        const p = Buffer.from(q.bytes);
        p.writeUInt16BE(qd, 4);
        p[2] = (p[2]! & 0x87) | (opcode << 3);
        const r = parseQuery(p);
        checkInvariants(p, r);
        if (opcode === 0) assert.equal(r.kind, 'formerr');
        else {
          assert.equal(r.kind, 'notimp');
          if (r.kind === 'notimp') assert.equal(r.questionEnd, HEADER);
        }
      }),
      params(3_000),
    );
  });

  test('counts that claim more records than the packet holds: FORMERR', () => {
    fc.assert(
      fc.property(validQuery, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 65535 }), (q, section, extra) => {
        const p = Buffer.from(q.bytes);
        const offset = 6 + 2 * section;
        const value = p.readUInt16BE(offset) + extra;
        fc.pre(value <= 65535);
        p.writeUInt16BE(value, offset);
        const r = parseQuery(p);
        checkInvariants(p, r);
        assert.equal(r.kind, 'formerr', p.toString('hex'));
      }),
      params(3_000),
    );
  });

  test('a question label length with the 0x40/0x80 bits (64..255, incl. pointers): FORMERR', () => {
    fc.assert(
      fc.property(validQuery, fc.nat(), fc.integer({ min: 64, max: 255 }), (q, which, len) => {
        fc.pre(q.nameWire.length > 1);
        // Find the length bytes of the question's labels, and corrupt one of them.
        const positions: number[] = [];
        for (let o = 0; q.nameWire[o] !== 0; o += 1 + q.nameWire[o]!) positions.push(HEADER + o);
        const p = Buffer.from(q.bytes);
        p[positions[which % positions.length]!] = len;
        const r = parseQuery(p);
        checkInvariants(p, r);
        assert.equal(r.kind, 'formerr', p.toString('hex'));
      }),
      params(3_000),
    );
  });

  test('compression loops and forward pointers in any record section: FORMERR, fast', () => {
    const loops = fc.constantFrom('self', 'label-then-back', 'forward', 'forward-chain', 'pointer-into-pointer-loop', 'long-backward-chain');
    fc.assert(
      fc.property(validQuery, loops, fc.integer({ min: 0, max: 2 }), (q, kind, section) => {
        // Put the hostile record right after the question (a valid query's OPT, if any, follows it).
        const at = q.questionEnd;
        let owner: Buffer;
        switch (kind) {
          case 'self':
            owner = Buffer.from([0xc0 | (at >> 8), at & 0xff]);
            break;
          case 'label-then-back':
            owner = Buffer.from([1, 0x61, 0xc0 | (at >> 8), at & 0xff]);
            break;
          case 'forward':
            owner = Buffer.from([0xc0 | ((at + 2) >> 8), (at + 2) & 0xff]);
            break;
          case 'forward-chain':
            owner = Buffer.from([0xc0 | ((at + 2) >> 8), (at + 2) & 0xff, 0xc0 | (at >> 8), at & 0xff]);
            break;
          case 'pointer-into-pointer-loop':
            // p2 -> p1 (backwards), p1 -> label at `at` which ends in p1 again.
            owner = Buffer.from([2, 0x61, 0x62, 0xc0 | (at >> 8), at & 0xff]);
            break;
          default: {
            // 200 labels of one byte, each a backward chain: longer than 255 bytes once followed.
            const parts: number[] = [];
            for (let i = 0; i < 200; i++) parts.push(1, 0x61);
            parts.push(0xc0 | (at >> 8), at & 0xff);
            owner = Buffer.from(parts);
          }
        }
        const fixed = Buffer.alloc(10);
        fixed.writeUInt16BE(1, 0);
        fixed.writeUInt16BE(1, 2);
        fixed.writeUInt16BE(4, 8);
        const record = Buffer.concat([owner, fixed, Buffer.from([127, 0, 0, 1])]);
        const p = Buffer.concat([q.bytes.subarray(0, at), record, q.bytes.subarray(at)]);
        // The record goes first in the chosen section; sections before it must stay empty.
        const counts = [0, 0, p.readUInt16BE(10)];
        counts[section] = counts[section]! + 1;
        p.writeUInt16BE(counts[0]!, 6);
        p.writeUInt16BE(counts[1]!, 8);
        p.writeUInt16BE(counts[2]!, 10);
        const r = parseQuery(p);
        checkInvariants(p, r);
        assert.equal(r.kind, 'formerr', `${kind}: ${p.toString('hex')}`);
      }),
      params(3_000),
    );
  });

  test('legal backward pointers in additional records are accepted', () => {
    fc.assert(
      fc.property(validQuery, (q) => {
        fc.pre(q.nameWire.length + 4 <= 255); // the owner `abc` + pointer to the question name
        const fixed = Buffer.alloc(10);
        fixed.writeUInt16BE(1, 0);
        fixed.writeUInt16BE(1, 2);
        fixed.writeUInt16BE(4, 8);
        const record = Buffer.concat([Buffer.from([3, 0x61, 0x62, 0x63, 0xc0, HEADER]), fixed, Buffer.from([127, 0, 0, 1])]);
        const p = Buffer.concat([q.bytes, record]);
        p.writeUInt16BE(p.readUInt16BE(10) + 1, 10);
        const r = parseQuery(p);
        checkInvariants(p, r);
        assert.equal(r.kind, 'query', p.toString('hex'));
      }),
      params(2_000),
    );
  });

  test('OPT rules: two OPTs, a non-root owner, or options overrunning RDATA are FORMERR', () => {
    fc.assert(
      fc.property(validQuery, fc.constantFrom('two', 'owner', 'overrun', 'short-option'), fc.integer({ min: 0, max: 65535 }), (q, kind, size) => {
        fc.pre(q.spec.edns === undefined);
        let extra: Buffer;
        if (kind === 'two') extra = Buffer.concat([optRecord(size, 0, Buffer.alloc(0)), optRecord(1232, 0, Buffer.alloc(0))]);
        else if (kind === 'owner') extra = optRecord(size, 0, Buffer.alloc(0), Buffer.from([1, 0x61, 0]));
        else if (kind === 'overrun') extra = optRecord(size, 0, Buffer.from([0, 12, 0, 9, 0, 0]));
        else extra = optRecord(size, 0, Buffer.from([0, 12, 0]));
        const p = Buffer.concat([q.bytes, extra]);
        p.writeUInt16BE(kind === 'two' ? 2 : 1, 10);
        const r = parseQuery(p);
        checkInvariants(p, r);
        assert.equal(r.kind, 'formerr', `${kind}: ${p.toString('hex')}`);
      }),
      params(2_000),
    );
  });
});

// ---- the whole handler ----

const holder = loadedHolder(60);
const index = holder.current;
assert.ok(index !== undefined);
const published = [...index.names.keys()].map(keyToName);
const MAX_UDP = 1232;

function makeHandler() {
  const calls = { answered: 0, dropped: 0 };
  const handle = createHandler(
    holder,
    { maxUdpSize: MAX_UDP },
    {
      answered: () => void calls.answered++,
      dropped: () => void calls.dropped++,
    },
  );
  return { handle, calls };
}

/** The response invariants for any packet over either transport. */
function checkResponse(packet: Uint8Array, transport: Transport, response: Buffer | undefined): void {
  const parsed = parseQuery(packet);
  if (parsed.kind === 'drop') return assert.equal(response, undefined, 'a dropped packet got an answer');
  assert.ok(response !== undefined, `no answer for a ${parsed.kind}`);
  const head = parsed.kind === 'query' ? parsed.query : parsed;
  assert.equal(response.readUInt16BE(0), head.id, 'response ID differs from the query ID');
  assert.equal(response[2]! & 0x80, 0x80, 'QR not set');
  assert.equal((response[2]! >> 3) & 0xf, head.opcode, 'opcode not copied');
  let decoded;
  try {
    decoded = decode(response);
  } catch (err) {
    assert.fail(`dns-packet cannot decode the response (${(err as Error).message}): query ${Buffer.from(packet).toString('hex')} response ${response.toString('hex')}`);
  }
  assert.ok((decoded.questions?.length ?? 0) <= 1);
  const limit =
    transport === 'tcp' ? 65535 : parsed.kind === 'query' && parsed.query.edns !== undefined ? Math.max(512, Math.min(parsed.query.edns.udpSize, MAX_UDP)) : 512;
  assert.ok(response.length <= limit, `${transport} response of ${response.length} bytes over the limit ${limit}`);
  if (parsed.kind === 'formerr') {
    assert.equal(response[3]! & 0xf, 1);
    assert.equal(response.length, HEADER);
  }
  if (parsed.kind === 'notimp') assert.equal(response[3]! & 0xf, 4);
  if (parsed.kind === 'query') {
    // The question goes back byte for byte (0x20 case randomisation survives).
    assert.deepEqual(response.subarray(HEADER, parsed.query.questionEnd), Buffer.from(packet.subarray(HEADER, parsed.query.questionEnd)));
    const opts = (decoded.additionals ?? []).filter((a) => a.type === 'OPT');
    assert.equal(opts.length, parsed.query.edns === undefined ? 0 : 1, 'OPT present iff the query had EDNS');
  }
}

describe('handler answers every packet safely', () => {
  test('any bytes over UDP and TCP: undefined iff dropped, else same ID, QR=1, decodable, within the size limit', () => {
    const { handle, calls } = makeHandler();
    let n = 0;
    const kinds: Record<string, number> = { drop: 0, formerr: 0, notimp: 0, query: 0 };
    fc.assert(
      fc.property(anyPacket, fc.constantFrom<Transport>('udp', 'tcp'), (bytes, transport) => {
        kinds[parseQuery(bytes).kind]! += 1;
        const before = calls.answered + calls.dropped;
        const response = handle(Buffer.from(bytes), transport);
        assert.equal(calls.answered + calls.dropped, before + 1, 'exactly one observer call per packet');
        checkResponse(bytes, transport, response);
        n++;
      }),
      params(20_000),
    );
    assert.ok(n >= 20_000 * RUNS);
    // The generators must reach every outcome, or this property proves little.
    for (const [kind, count] of Object.entries(kinds)) assert.ok(count >= 200, `only ${count} packets classified ${kind}: ${JSON.stringify(kinds)}`);
  });

  test('valid queries for published names: size limits, TC only when the answer does not fit, fair subsets', () => {
    const { handle } = makeHandler();
    const seen = { truncated: 0, whole: 0, badvers: 0 };
    const types = [1, 28, 33, 16, 12, 6, 2, 255];
    fc.assert(
      fc.property(
        fc.constantFrom(...published),
        fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }),
        fc.constantFrom(...types),
        ednsArb,
        fc.integer({ min: 0, max: 65535 }),
        (name, caseBits, qtype, edns, id) => {
          const mixed = [...name].map((c, i) => (caseBits[i % caseBits.length] ? c.toUpperCase() : c)).join('');
          const { bytes } = encodeQuery({ id, opcode: 0, rd: true, cd: false, name: mixed, qtype, qclass: 1, edns: edns === undefined ? undefined : { ...edns, options: [] } });
          const udp = handle(bytes, 'udp');
          const tcp = handle(bytes, 'tcp');
          checkResponse(bytes, 'udp', udp);
          checkResponse(bytes, 'tcp', tcp);
          assert.ok(udp !== undefined && tcp !== undefined);
          const u = decode(udp);
          const t = decode(tcp);
          const badvers = edns !== undefined && edns.version > 0;
          assert.equal(t.rcode, 'NOERROR');
          assert.equal(u.rcode, 'NOERROR');
          const uOpt = (u.additionals ?? []).find((a) => a.type === 'OPT') as { extendedRcode?: number; udpPayloadSize?: number; flags?: number } | undefined;
          if (edns !== undefined) {
            assert.equal(uOpt?.udpPayloadSize, MAX_UDP);
            assert.equal(uOpt?.extendedRcode, badvers ? 1 : 0, 'BADVERS is extended rcode 1');
            assert.equal(((uOpt?.flags ?? 0) & 0x8000) !== 0, edns.dnssecOk, 'DO bit copied');
          }
          if (badvers) {
            seen.badvers++;
            assert.equal(u.answers?.length ?? 0, 0);
            return;
          }
          assert.equal(u.flag_aa, true);
          assert.equal(t.flag_tc, false, 'TCP answers here are never truncated');
          const full = (t.answers ?? []).map(recordKey);
          const got = (u.answers ?? []).map(recordKey);
          for (const r of got) assert.ok(full.includes(r), `UDP answer ${r} not in the full answer`);
          if (u.flag_tc === true) {
            seen.truncated++;
            assert.ok(got.length < full.length, 'TC set though every answer was sent');
            assert.ok(got.length >= 1, 'TC answer carries no record (a fair subset should fit)');
          } else {
            seen.whole++;
            assert.deepEqual([...got].sort(), [...full].sort(), 'TC clear but answers missing');
          }
        },
      ),
      params(3_000),
    );
    for (const [what, count] of Object.entries(seen)) assert.ok(count >= 20, `only ${count} ${what} answers: ${JSON.stringify(seen)}`);
  });

  test('names in and out of the zone, any class and type: the rcode the design asks for', () => {
    const { handle } = makeHandler();
    const rcodes: Record<string, number> = {};
    const zoneLabels = ZONE.replace(/\.$/, '').split('.');
    const nameArb = fc.oneof(
      fc.constantFrom(...published),
      fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom(...published)).map(([pre, base]) => `${pre.join('.')}.${base}`),
      fc.array(label, { maxLength: 4 }).map((pre) => [...pre, ...zoneLabels].join('.')),
      labelsArb.map(dotted),
      fc.constantFrom(DEMO.service, BIG.service, 'DUBBO.internal.', 'internal.', '.', 'xdubbo.internal.', 'dubbo.internal.evil.'),
    );
    fc.assert(
      fc.property(nameArb, qtypeArb, fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, fc.constantFrom(255, 3, 254), fc.integer({ min: 0, max: 65535 })), (name, qtype, qclass) => {
        const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
        fc.pre(wireLength(labels) <= 255);
        const { bytes, nameWire } = encodeQuery({ id: 7, opcode: 0, rd: false, cd: false, name, qtype, qclass, edns: undefined });
        const response = handle(bytes, 'udp');
        checkResponse(bytes, 'udp', response);
        assert.ok(response !== undefined);
        const d = decode(response);
        const key = asciiLowerKey(nameWire);
        const inZone = key.endsWith(index.zoneKey) && (key.length === index.zoneKey.length || labels.length > zoneLabels.length);
        let want: string;
        if ((qclass !== 1 && qclass !== 255) || !inZone || qtype === 251 || qtype === 252) want = 'REFUSED';
        else if (qtype === 253 || qtype === 254) want = 'NOTIMP';
        else if (qtype === 41) want = 'FORMERR';
        else want = index.names.has(key) ? 'NOERROR' : 'NXDOMAIN';
        assert.equal(d.rcode, want, `${name} type ${qtype} class ${qclass}`);
        rcodes[want] = (rcodes[want] ?? 0) + 1;
        if (want === 'NXDOMAIN' || (want === 'NOERROR' && (d.answers?.length ?? 0) === 0)) {
          const soa = d.authorities ?? [];
          assert.equal(soa.length, 1, 'negative answer without SOA');
          assert.equal(soa[0]?.type, 'SOA');
          assert.equal(soa[0]?.name.toLowerCase(), ZONE.replace(/\.$/, ''));
        }
      }),
      params(3_000),
    );
    for (const rcode of ['NOERROR', 'NXDOMAIN', 'REFUSED', 'NOTIMP', 'FORMERR']) assert.ok((rcodes[rcode] ?? 0) >= 5, `too few ${rcode}: ${JSON.stringify(rcodes)}`);
  });
});
