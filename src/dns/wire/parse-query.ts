import { QTYPE } from './codes.ts';
import type { Edns, ParseResult } from '../model/types.ts';

// Every packet is hostile: this parser reads only within the buffer, accepts no
// compression pointer in the question (nothing precedes it that a pointer could name), follows
// pointers elsewhere only backwards and a bounded number of times, and checks every count against
// the bytes actually present. It never throws: the result says how to answer.

const HEADER = 12;
const MAX_NAME = 255;
/** More pointers than labels a legal name can have means a loop. */
const MAX_POINTERS = 127;

/** Parses a DNS query message. */
export function parseQuery(packet: Uint8Array): ParseResult {
  if (packet.length < HEADER) return { kind: 'drop', reason: 'shorter than a header' };
  const id = (packet[0]! << 8) | packet[1]!;
  const flags = (packet[2]! << 8) | packet[3]!;
  if (flags & 0x8000) return { kind: 'drop', reason: 'QR set: a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qdcount = (packet[4]! << 8) | packet[5]!;
  const ancount = (packet[6]! << 8) | packet[7]!;
  const nscount = (packet[8]! << 8) | packet[9]!;
  const arcount = (packet[10]! << 8) | packet[11]!;
  const formerr = (reason: string): ParseResult => ({ kind: 'formerr', id, opcode, rd, reason });

  if (qdcount !== 1) {
    if (opcode !== 0) return { kind: 'notimp', id, opcode, rd, questionEnd: HEADER };
    return formerr(`QDCOUNT is ${qdcount}, want 1`);
  }
  const name = readQuestionName(packet, HEADER);
  if (typeof name === 'string') return opcode !== 0 ? { kind: 'notimp', id, opcode, rd, questionEnd: HEADER } : formerr(name);
  if (name.end + 4 > packet.length) return opcode !== 0 ? { kind: 'notimp', id, opcode, rd, questionEnd: HEADER } : formerr('question ends before QTYPE/QCLASS');
  const qtype = (packet[name.end]! << 8) | packet[name.end + 1]!;
  const qclass = (packet[name.end + 2]! << 8) | packet[name.end + 3]!;
  const questionEnd = name.end + 4;
  if (opcode !== 0) return { kind: 'notimp', id, opcode, rd, questionEnd };

  let offset = questionEnd;
  for (let i = 0; i < ancount + nscount; i++) {
    const rr = readRecord(packet, offset);
    if (typeof rr === 'string') return formerr(`record ${i + 1} of answer/authority: ${rr}`);
    offset = rr.end;
  }
  let edns: Edns | undefined;
  for (let i = 0; i < arcount; i++) {
    const rr = readRecord(packet, offset);
    if (typeof rr === 'string') return formerr(`additional record ${i + 1}: ${rr}`);
    if (rr.type === QTYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT at most, owned by the root.
      if (edns !== undefined) return formerr('more than one OPT record');
      if (!rr.rootOwner) return formerr('OPT record not owned by the root');
      const optionsOk = checkOptions(packet, rr.rdataStart, rr.end);
      if (!optionsOk) return formerr('EDNS options overrun the OPT record');
      edns = { udpSize: Math.max(512, rr.rrclass), version: (rr.ttl >>> 16) & 0xff, dnssecOk: (rr.ttl & 0x8000) !== 0 };
    }
    offset = rr.end;
  }
  return { kind: 'query', query: { id, opcode, rd, cd, questionEnd, key: name.key, plain: name.plain, qtype, qclass, edns } };
}

interface QuestionName {
  readonly end: number;
  readonly key: string;
  readonly plain: boolean;
}

/** Reads an uncompressed name; returns an error string when it is malformed. */
function readQuestionName(packet: Uint8Array, start: number): QuestionName | string {
  let offset = start;
  let plain = true;
  for (;;) {
    if (offset >= packet.length) return 'question name runs past the end of the packet';
    const len = packet[offset]!;
    if (len === 0) {
      offset += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) return 'compression pointer in the question';
    if (len & 0xc0) return `reserved label type 0x${(len & 0xc0).toString(16)}`;
    if (offset + 1 + len > packet.length) return 'question label runs past the end of the packet';
    for (let i = offset + 1; i <= offset + len; i++) {
      const c = packet[i]!;
      // Published names hold only [A-Za-z0-9_-]; anything else can still be in the zone (NXDOMAIN).
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f)) plain = false;
    }
    offset += 1 + len;
    if (offset - start > MAX_NAME) return 'question name longer than 255 bytes';
  }
  if (offset - start > MAX_NAME) return 'question name longer than 255 bytes';
  // Lowercasing the latin1 view touches only ASCII letters of the labels: length bytes are <= 63.
  const key = Buffer.from(packet.buffer, packet.byteOffset + start, offset - start).toString('latin1').toLowerCase();
  return { end: offset, key, plain };
}

interface RecordHead {
  readonly end: number;
  readonly type: number;
  readonly rrclass: number;
  readonly ttl: number;
  readonly rdataStart: number;
  readonly rootOwner: boolean;
}

/** Reads the frame of a resource record (name, fixed fields, RDATA bounds). */
function readRecord(packet: Uint8Array, start: number): RecordHead | string {
  const nameEnd = skipName(packet, start);
  if (typeof nameEnd === 'string') return nameEnd;
  if (nameEnd + 10 > packet.length) return 'record header runs past the end of the packet';
  const type = (packet[nameEnd]! << 8) | packet[nameEnd + 1]!;
  const rrclass = (packet[nameEnd + 2]! << 8) | packet[nameEnd + 3]!;
  const ttl = ((packet[nameEnd + 4]! << 24) | (packet[nameEnd + 5]! << 16) | (packet[nameEnd + 6]! << 8) | packet[nameEnd + 7]!) >>> 0;
  const rdlength = (packet[nameEnd + 8]! << 8) | packet[nameEnd + 9]!;
  const rdataStart = nameEnd + 10;
  if (rdataStart + rdlength > packet.length) return 'RDATA runs past the end of the packet';
  return { end: rdataStart + rdlength, type, rrclass, ttl, rdataStart, rootOwner: nameEnd === start + 1 && packet[start] === 0 };
}

/** Skips a possibly compressed name; pointers must point backwards, at most MAX_POINTERS of them. */
function skipName(packet: Uint8Array, start: number): number | string {
  let offset = start;
  let end = -1;
  let jumps = 0;
  let length = 0;
  for (;;) {
    if (offset >= packet.length) return 'name runs past the end of the packet';
    const len = packet[offset]!;
    if ((len & 0xc0) === 0xc0) {
      if (offset + 1 >= packet.length) return 'compression pointer cut short';
      const target = ((len & 0x3f) << 8) | packet[offset + 1]!;
      if (target >= offset) return 'compression pointer does not point backwards';
      if (++jumps > MAX_POINTERS) return 'compression pointer loop';
      if (end === -1) end = offset + 2;
      offset = target;
      continue;
    }
    if (len & 0xc0) return `reserved label type 0x${(len & 0xc0).toString(16)}`;
    if (len === 0) return end === -1 ? offset + 1 : end;
    length += len + 1;
    if (length > MAX_NAME) return 'name longer than 255 bytes';
    offset += 1 + len;
  }
}

/** RFC 6891 §6.1.2: options are {code, length, data} and must tile RDATA exactly. */
function checkOptions(packet: Uint8Array, start: number, end: number): boolean {
  let offset = start;
  while (offset < end) {
    if (offset + 4 > end) return false;
    const len = (packet[offset + 2]! << 8) | packet[offset + 3]!;
    offset += 4 + len;
  }
  return offset === end;
}
