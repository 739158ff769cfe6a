import ipaddr from 'ipaddr.js';
import { QCLASS, QTYPE } from './codes.ts';
import type { Rdata } from '../model/types.ts';

// Resource records are encoded once per zone change, not per query (docs/architecture.md). Each record is
// encoded on its own, and its names are compressed only against the question name (RFC 1035
// §4.1.4), which always sits at offset 12. That makes every record position-independent: a
// response is any selection of records in any order (truncated subsets, rotation), and since the
// question is echoed with the same length, the pointers stay valid whatever case the client used.
// dns2's writer cannot restrict pointers this way (and keeps one array slot per bit), so records
// are written here.

/** Offset of the question name in every DNS message. */
export const QUESTION_OFFSET = 12;

/**
 * Records are written into this scratch buffer, then copied out at their exact size: one
 * allocation per record instead of one per label and field (the build encodes a million records
 * for a large zone). A record is at most 255 (owner) + 10 + 65,535 (rdata) bytes.
 */
const scratch = Buffer.allocUnsafeSlow(255 + 10 + 65_535);

/** The labels of a dotted name, empty ones dropped, rejoined: `a..b.` -> `a.b`. */
function tidy(name: string): string {
  let end = name.length;
  if (end > 0 && name.charCodeAt(end - 1) === 46) end--;
  const trimmed = end === name.length ? name : name.slice(0, end);
  return trimmed.startsWith('.') || trimmed.includes('..') ? trimmed.split('.').filter((l) => l !== '').join('.') : trimmed;
}

/**
 * Writes `name` (tidy) at `at` in latin1 labels, ending in a pointer to the longest suffix found
 * in `table`, else in the root label; returns the offset after it.
 */
function writeName(out: Buffer, at: number, name: string, table: SuffixTable | undefined, original: string): number {
  let start = 0;
  while (start < name.length) {
    if (table !== undefined) {
      const pointer = table.get(start === 0 ? name : name.slice(start));
      if (pointer !== undefined) {
        out[at] = 0xc0 | (pointer >> 8);
        out[at + 1] = pointer & 0xff;
        return at + 2;
      }
    }
    let dot = name.indexOf('.', start);
    if (dot === -1) dot = name.length;
    const length = dot - start;
    if (length > 63) throw new Error(`label over 63 bytes in ${original}`);
    out[at++] = length;
    for (let i = start; i < dot; i++) out[at++] = name.charCodeAt(i);
    start = dot + 1;
  }
  out[at] = 0;
  return at + 1;
}

/** Encodes a dotted name (trailing dot optional) to uncompressed wire form. */
export function nameToWire(name: string): Buffer {
  const tidied = tidy(name);
  if (tidied.length + 2 > 255) throw new Error(`name over 255 bytes: ${name}`);
  const end = writeName(scratch, 0, tidied, undefined, name);
  return copyOut(end);
}

function copyOut(length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  scratch.copy(out, 0, 0, length);
  return out;
}

/** The suffixes of a question name, lowercase dotted form -> offset in the message. */
export type SuffixTable = ReadonlyMap<string, number>;

/** Builds the compression table for a question name (dotted, lowercase). */
export function suffixTable(qname: string): SuffixTable {
  const table = new Map<string, number>();
  const labels = qname.replace(/\.$/, '').split('.').filter((l) => l !== '');
  let offset = QUESTION_OFFSET;
  for (let i = 0; i < labels.length; i++) {
    table.set(labels.slice(i).join('.'), offset);
    offset += 1 + (labels[i]?.length ?? 0);
  }
  return table;
}

/** A name in wire form, ending in a pointer to the longest suffix of the question it shares. */
export function compressName(name: string, table: SuffixTable): Buffer {
  return copyOut(writeName(scratch, 0, tidy(name.toLowerCase()), table, name));
}

/** IPv4 dotted quad in canonical form (what the sources store), without a parser's generality. */
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function writeAddress(out: Buffer, at: number, address: string): number {
  const quad = DOTTED_QUAD.exec(address);
  if (quad !== null) {
    const octets = [Number(quad[1]), Number(quad[2]), Number(quad[3]), Number(quad[4])];
    if (octets.every((o) => o <= 255)) {
      for (const o of octets) out[at++] = o;
      return at;
    }
  }
  for (const byte of ipaddr.parse(address).toByteArray()) out[at++] = byte;
  return at;
}

/** Writes the RDATA of `rdata` at `at`; returns the offset after it. */
function writeRdata(out: Buffer, at: number, rdata: Rdata, table: SuffixTable): number {
  switch (rdata.type) {
    case 'A':
    case 'AAAA':
      return writeAddress(out, at, rdata.address);
    case 'SRV': {
      at = out.writeUInt16BE(rdata.priority, at);
      at = out.writeUInt16BE(rdata.weight, at);
      at = out.writeUInt16BE(rdata.port, at);
      // RFC 2782: "name compression is not to be used for this field" (and c-ares rejects it).
      const target = tidy(rdata.target.toLowerCase());
      if (target.length + 2 > 255) throw new Error(`name over 255 bytes: ${rdata.target}`);
      return writeName(out, at, target, undefined, rdata.target);
    }
    case 'TXT': {
      const strings = rdata.strings.length === 0 ? [''] : rdata.strings; // RFC 6763 §6.1: never empty
      for (const s of strings) {
        const length = Buffer.byteLength(s, 'utf8');
        if (length > 255) throw new Error(`TXT string over 255 bytes: ${s.slice(0, 40)}…`);
        if (at + 1 + length > out.length) throw new Error('TXT record over 65,535 bytes');
        out[at++] = length;
        at += out.write(s, at, 'utf8');
      }
      return at;
    }
    case 'PTR':
    case 'NS':
      return writeName(out, at, tidy(rdata.target.toLowerCase()), table, rdata.target);
    case 'SOA': {
      at = writeName(out, at, tidy(rdata.mname.toLowerCase()), table, rdata.mname);
      at = writeName(out, at, tidy(rdata.rname.toLowerCase()), table, rdata.rname);
      at = out.writeUInt32BE(rdata.serial >>> 0, at);
      at = out.writeUInt32BE(rdata.refresh, at);
      at = out.writeUInt32BE(rdata.retry, at);
      at = out.writeUInt32BE(rdata.expire, at);
      return out.writeUInt32BE(rdata.minimum, at);
    }
  }
}

/** Encodes one resource record (class IN) whose names compress only against the question. */
export function encodeRecord(owner: string, ttl: number, rdata: Rdata, table: SuffixTable): Buffer {
  let at = writeName(scratch, 0, tidy(owner.toLowerCase()), table, owner);
  at = scratch.writeUInt16BE(QTYPE[rdata.type], at);
  at = scratch.writeUInt16BE(QCLASS.IN, at);
  at = scratch.writeUInt32BE(ttl, at);
  const rdlengthAt = at;
  const end = writeRdata(scratch, at + 2, rdata, table);
  scratch.writeUInt16BE(end - rdlengthAt - 2, rdlengthAt);
  return copyOut(end);
}
