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

/** Encodes a dotted name (trailing dot optional) to uncompressed wire form. */
export function nameToWire(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length > 63) throw new Error(`label over 63 bytes in ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`name over 255 bytes: ${name}`);
  return wire;
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
  const labels = name.toLowerCase().replace(/\.$/, '').split('.').filter((l) => l !== '');
  const parts: Buffer[] = [];
  for (let i = 0; i < labels.length; i++) {
    const pointer = table.get(labels.slice(i).join('.'));
    if (pointer !== undefined) {
      parts.push(Buffer.from([0xc0 | (pointer >> 8), pointer & 0xff]));
      return Buffer.concat(parts);
    }
    const label = labels[i] ?? '';
    parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function rdataBytes(rdata: Rdata, table: SuffixTable): Buffer {
  switch (rdata.type) {
    case 'A':
    case 'AAAA':
      return Buffer.from(ipaddr.parse(rdata.address).toByteArray());
    case 'SRV':
      // RFC 2782: "name compression is not to be used for this field" (and c-ares rejects it).
      return Buffer.concat([u16(rdata.priority), u16(rdata.weight), u16(rdata.port), nameToWire(rdata.target.toLowerCase())]);
    case 'TXT': {
      const strings = rdata.strings.length === 0 ? [''] : rdata.strings; // RFC 6763 §6.1: never empty
      return Buffer.concat(
        strings.flatMap((s) => {
          const bytes = Buffer.from(s, 'utf8');
          if (bytes.length > 255) throw new Error(`TXT string over 255 bytes: ${s.slice(0, 40)}…`);
          return [Buffer.from([bytes.length]), bytes];
        }),
      );
    }
    case 'PTR':
    case 'NS':
      return compressName(rdata.target, table);
    case 'SOA': {
      const tail = Buffer.alloc(20);
      tail.writeUInt32BE(rdata.serial >>> 0, 0);
      tail.writeUInt32BE(rdata.refresh, 4);
      tail.writeUInt32BE(rdata.retry, 8);
      tail.writeUInt32BE(rdata.expire, 12);
      tail.writeUInt32BE(rdata.minimum, 16);
      return Buffer.concat([compressName(rdata.mname, table), compressName(rdata.rname, table), tail]);
    }
  }
}

/** Encodes one resource record (class IN) whose names compress only against the question. */
export function encodeRecord(owner: string, ttl: number, rdata: Rdata, table: SuffixTable): Buffer {
  const name = compressName(owner, table);
  const data = rdataBytes(rdata, table);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(QTYPE[rdata.type], 0);
  fixed.writeUInt16BE(QCLASS.IN, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([name, fixed, data]);
}
