import type { Lookup, ParseResult, Prepared, Query, Snapshot } from '../model/types.ts';
import { records } from './packed.ts';
import { RCODE } from './codes.ts';

// Turns a lookup into response bytes: header, the question copied byte for byte from the query
// (0x20 case randomisation survives, RFC 1035 §4.1.1 / draft-vixie-dnsext-dns0x20), precomputed
// records, OPT, and truncation. Nothing here is computed per record except when truncating.

const HEADER = 12;
const OPT_FIXED = 11;
/** Without EDNS a UDP message is at most 512 bytes (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
/** A TCP message is at most 65535 bytes (RFC 1035 §4.2.2). */
export const TCP_SIZE = 65535;

/** What the transport and the server's settings add to an answer. */
export interface ResponseContext {
  /** Largest message the transport carries (UDP limit already negotiated, or TCP_SIZE). */
  readonly limit: number;
  /** Our UDP payload size, advertised in OPT (`--max-udp-size`). */
  readonly udpSize: number;
  /** RFC 8914 Extended DNS Error to attach when the query has EDNS (e.g. Stale Answer). */
  readonly ede?: { readonly code: number; readonly text: string } | undefined;
}

/** The size limit for a UDP answer: 512 without EDNS, else the client's size capped by ours. */
export function udpLimit(query: Query | undefined, maxUdpSize: number): number {
  if (query?.edns === undefined) return CLASSIC_UDP_SIZE;
  return Math.max(CLASSIC_UDP_SIZE, Math.min(query.edns.udpSize, maxUdpSize));
}

/**
 * Where the next truncated reply of each answer set starts. Each set has its own cursor, moved on by
 * the records sent, so consecutive replies walk the whole set: one shared counter made some
 * endpoints never appear for clients asking several services in turn.
 */
const cursors = new WeakMap<Prepared, number>();
const EMPTY = Buffer.alloc(0);

/** Builds the response to a well-formed query. */
export function respond(packet: Uint8Array, query: Query, result: Lookup, index: Snapshot | undefined, ctx: ResponseContext): Buffer {
  let rcode: number = RCODE.NOERROR;
  let authoritative = true;
  let prepared: Prepared | undefined;
  let authority: Buffer | undefined;
  const questionLength = query.questionEnd - HEADER;
  const qnameLength = questionLength - 4;

  switch (result.kind) {
    case 'answer':
      prepared = result.prepared;
      break;
    case 'nxdomain':
    case 'nodata':
      // RFC 2308 §2: both negative answers carry the zone's SOA in authority.
      if (result.kind === 'nxdomain') rcode = RCODE.NXDOMAIN;
      if (index !== undefined) authority = index.negativeSoa(HEADER + qnameLength - index.zoneKey.length);
      break;
    case 'refused':
    case 'transfer': // a transfer that was not allowed
      rcode = RCODE.REFUSED;
      authoritative = false;
      break;
    case 'servfail':
      rcode = RCODE.SERVFAIL;
      authoritative = false;
      break;
    case 'notimp':
      rcode = RCODE.NOTIMP;
      authoritative = false;
      break;
    case 'formerr':
      rcode = RCODE.FORMERR;
      authoritative = false;
      break;
  }
  if (query.edns !== undefined && query.edns.version > 0) {
    // RFC 6891 §6.1.3: we speak EDNS version 0 only.
    rcode = RCODE.BADVERS;
    prepared = undefined;
    authority = undefined;
    authoritative = false;
  }

  const opt = query.edns === undefined ? undefined : optRecord(ctx.udpSize, rcode, query.edns.dnssecOk, ctx.ede);
  const fixed = HEADER + questionLength + (authority?.length ?? 0) + (opt?.length ?? 0);
  const answerSize = prepared?.answerBytes.length ?? 0;
  const additionalSize = prepared?.additionalBytes.length ?? 0;

  let chosenAnswers: readonly Buffer[] | Buffer = prepared?.answerBytes ?? EMPTY;
  let answerCount = prepared?.answerEnds.length ?? 0;
  let chosenAdditional: readonly Buffer[] | Buffer = prepared?.additionalBytes ?? EMPTY;
  let additionalCount = prepared?.additionalEnds.length ?? 0;
  let withAuthority = authority !== undefined;
  let truncated = false;

  if (prepared !== undefined && fixed + answerSize + additionalSize > ctx.limit) {
    if (fixed + answerSize <= ctx.limit) {
      // RFC 2181 §9: missing additional data is no reason for TC; send the glue that fits.
      const fit = fitting(records(prepared.additionalBytes, prepared.additionalEnds), ctx.limit - fixed - answerSize, 0);
      chosenAdditional = fit;
      additionalCount = fit.length;
    } else {
      // RFC 2181 §9: the answer RRset does not fit. Send a fair, rotating subset of it with TC set,
      // so clients that never retry over TCP still get usable records and the rest retry.
      const room = ctx.limit - HEADER - questionLength - (opt?.length ?? 0);
      const answers = records(prepared.answerBytes, prepared.answerEnds);
      const start = cursors.get(prepared) ?? 0;
      const subset = fitting(answers, room, start);
      if (answers.length > 0) cursors.set(prepared, (start + Math.max(1, subset.length)) % answers.length);
      chosenAnswers = subset;
      answerCount = subset.length;
      chosenAdditional = [];
      additionalCount = 0;
      withAuthority = false;
      truncated = true;
    }
  }

  // One buffer of the exact size, written in place: this runs for every query.
  const auth = withAuthority && authority !== undefined ? authority : EMPTY;
  const size = HEADER + questionLength + sizeOf(chosenAnswers) + auth.length + sizeOf(chosenAdditional) + (opt?.length ?? 0);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(query.id, 0);
  out.writeUInt16BE(flags(query.opcode, authoritative, truncated, query.rd, query.cd, rcode), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(answerCount, 6);
  out.writeUInt16BE(withAuthority ? 1 : 0, 8);
  out.writeUInt16BE(additionalCount + (opt === undefined ? 0 : 1), 10);
  out.set(packet.subarray(HEADER, query.questionEnd), HEADER);
  let at = HEADER + questionLength;
  at = put(out, at, chosenAnswers);
  at = put(out, at, auth);
  at = put(out, at, chosenAdditional);
  if (opt !== undefined) put(out, at, opt);
  return out;
}

/** A header-only reply (FORMERR for a question we could not read, NOTIMP for other opcodes). */
export function respondBare(packet: Uint8Array, parsed: Extract<ParseResult, { kind: 'formerr' | 'notimp' }>): Buffer {
  const questionEnd = parsed.kind === 'notimp' ? parsed.questionEnd : HEADER;
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(parsed.id, 0);
  const rcode = parsed.kind === 'notimp' ? RCODE.NOTIMP : RCODE.FORMERR;
  header.writeUInt16BE(flags(parsed.opcode, false, false, parsed.rd, false, rcode), 2);
  header.writeUInt16BE(questionEnd > HEADER ? 1 : 0, 4);
  return Buffer.concat([header, packet.subarray(HEADER, questionEnd)]);
}

function flags(opcode: number, aa: boolean, tc: boolean, rd: boolean, cd: boolean, rcode: number): number {
  return 0x8000 | ((opcode & 0xf) << 11) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (rd ? 0x0100 : 0) | (cd ? 0x0010 : 0) | (rcode & 0xf);
}

/** RFC 6891 §6.1.2 OPT: root owner, our payload size, extended RCODE, version 0, DO copied. */
function optRecord(udpSize: number, rcode: number, dnssecOk: boolean, ede: ResponseContext['ede']): Buffer {
  const text = ede === undefined ? undefined : Buffer.from(ede.text, 'utf8');
  const optionLength = text === undefined ? 0 : 4 + 2 + text.length;
  const opt = Buffer.alloc(OPT_FIXED + optionLength);
  opt.writeUInt8(0, 0);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(udpSize, 3);
  opt.writeUInt8((rcode >> 4) & 0xff, 5);
  opt.writeUInt8(0, 6);
  opt.writeUInt16BE(dnssecOk ? 0x8000 : 0, 7);
  opt.writeUInt16BE(optionLength, 9);
  if (ede !== undefined && text !== undefined) {
    // RFC 8914 §2: option code 15, INFO-CODE then EXTRA-TEXT.
    opt.writeUInt16BE(15, 11);
    opt.writeUInt16BE(2 + text.length, 13);
    opt.writeUInt16BE(ede.code, 15);
    text.copy(opt, 17);
  }
  return opt;
}

/** As many whole records as fit in `room` bytes, starting at `start` and wrapping around. */
function fitting(records: readonly Buffer[], room: number, start: number): Buffer[] {
  const out: Buffer[] = [];
  let used = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[(start + i) % records.length]!;
    if (used + r.length > room) break;
    out.push(r);
    used += r.length;
  }
  return out;
}

function sizeOf(chosen: readonly Buffer[] | Buffer): number {
  if (Buffer.isBuffer(chosen)) return chosen.length;
  let n = 0;
  for (const b of chosen) n += b.length;
  return n;
}

/** Copies `chosen` into `out` at `at`; returns where the next part goes. */
function put(out: Buffer, at: number, chosen: readonly Buffer[] | Buffer): number {
  if (Buffer.isBuffer(chosen)) {
    out.set(chosen, at);
    return at + chosen.length;
  }
  for (const b of chosen) {
    out.set(b, at);
    at += b.length;
  }
  return at;
}
