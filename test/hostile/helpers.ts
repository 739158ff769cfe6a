import { readFile } from 'node:fs/promises';
import dnsPacket from 'dns-packet';
import { ZoneHolder } from '../../src/dns/index/zone-holder.ts';
import { parseRegistry } from '../../src/source/registry-file.ts';
import { serviceNames } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

// Shared by the hostile-input tests: a registry with one big service (so truncation runs), query
// building with dns-packet (an independent codec), and a seeded packet mutator for the fuzz run.

export const ZONE = 'dubbo.internal.';
export const HEADER = 12;

/** A registry: a small service, a dual-stack one, and `bigCount` endpoints behind one key. */
export function registryText(bigCount: number): string {
  const big = Array.from({ length: bigCount }, (_, i) => `      - { address: 10.1.${Math.floor(i / 250)}.${(i % 250) + 1}, hostname: big-${i} }`);
  return [
    'namespace: shop',
    'services:',
    '  - interface: org.apache.dubbo.demo.DemoService',
    '    group: gray',
    '    version: 1.0.0',
    '    protocol: tri',
    '    port: 50051',
    '    metadata: { serialization: hessian2, timeout: "3000", application: demo-provider }',
    '    endpoints:',
    '      - { address: 10.0.0.11, weight: 100, hostname: demo-0 }',
    '      - { address: 10.0.0.12, weight: 200, hostname: demo-1 }',
    '      - { address: "fd00::12", ready: false }',
    '  - interface: org.apache.dubbo.demo.GreetingService',
    '    version: 2.0.0',
    '    port: 20880',
    '    metadata: { application: greeting }',
    '    endpoints:',
    '      - { address: 10.0.1.5, hostname: greeting-a }',
    '      - { address: "fd00::1:5", hostname: greeting-b }',
    '  - interface: org.apache.dubbo.demo.BigService',
    '    port: 20880',
    '    metadata: { application: big }',
    '    endpoints:',
    ...big,
    '',
  ].join('\n');
}

/** The names the registry above publishes that the tests check exactly. */
export const DEMO = serviceNames(serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0'), 'shop', ZONE, 'tri');
export const BIG = serviceNames(serviceKey('org.apache.dubbo.demo.BigService'), 'shop', ZONE);

/** A ZoneHolder loaded with `registryText(bigCount)`. */
export function loadedHolder(bigCount: number): ZoneHolder {
  const holder = new ZoneHolder({ zone: ZONE, ttl: 5 });
  holder.update(parseRegistry(registryText(bigCount)));
  return holder;
}

/** Wire-form key (latin1) -> dotted name. Only for keys of published (plain) names. */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let offset = 0;
  while (offset < key.length) {
    const len = key.charCodeAt(offset);
    if (len === 0) break;
    labels.push(key.slice(offset + 1, offset + 1 + len));
    offset += 1 + len;
  }
  return labels.length === 0 ? '.' : labels.join('.');
}

/** Dotted name -> wire form (no escapes; labels as given). */
export function nameToWireBytes(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l, 'latin1')]), Buffer.from([0])]);
}

/** ASCII-only lowercasing of wire bytes (RFC 4343), as a latin1 string. */
export function asciiLowerKey(wire: Uint8Array): string {
  const out = Buffer.from(wire);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! + 0x20;
  return out.toString('latin1');
}

export interface EdnsSpec {
  /** 1..65535 (dns-packet writes 0 as 4096). */
  readonly size: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  readonly options: readonly { readonly code: number; readonly data: Uint8Array }[];
}

export interface QuerySpec {
  readonly id: number;
  readonly opcode: number;
  readonly rd: boolean;
  readonly cd: boolean;
  /** Dotted name, labels as they go on the wire ('.' is the root). */
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns?: EdnsSpec | undefined;
}

/** Encodes a query with dns-packet; QCLASS is patched in after (dns-packet knows only named classes). */
export function encodeQuery(spec: QuerySpec): { bytes: Buffer; nameWire: Buffer; questionEnd: number } {
  const additionals: dnsPacket.Answer[] = [];
  if (spec.edns !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: spec.edns.size,
      extendedRcode: 0,
      ednsVersion: spec.edns.version,
      flags: spec.edns.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
      options: spec.edns.options.map((o) => ({ code: o.code, data: Buffer.from(o.data) })),
    } as unknown as dnsPacket.Answer);
  }
  const flags = ((spec.opcode & 0xf) << 11) | (spec.rd ? 0x0100 : 0) | (spec.cd ? 0x0010 : 0);
  const bytes = dnsPacket.encode({
    type: 'query',
    id: spec.id,
    flags,
    questions: [{ name: spec.name, type: `UNKNOWN_${spec.qtype}` as dnsPacket.RecordType, class: 'IN' }],
    additionals,
  });
  const nameWire = nameToWireBytes(spec.name);
  const questionEnd = HEADER + nameWire.length + 4;
  bytes.writeUInt16BE(spec.qclass, questionEnd - 2);
  return { bytes, nameWire, questionEnd };
}

/** Decoded response with the header fields @types/dns-packet leaves out. */
export type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string; flag_tc?: boolean; flag_aa?: boolean };

export function decode(bytes: Buffer): Decoded {
  return dnsPacket.decode(bytes) as Decoded;
}

/** A record's data (undefined for OPT, which has options instead). */
export function dataOf(a: dnsPacket.Answer): unknown {
  return 'data' in a ? a.data : undefined;
}

/** A record as a comparable string (name lowercased, data JSON). */
export function recordKey(a: dnsPacket.Answer): string {
  const data = 'data' in a ? a.data : undefined;
  return `${a.name.toLowerCase()} ${a.type} ${JSON.stringify(data)}`;
}

/** Reads VmRSS of a process in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Small, fast, seedable PRNG (mulberry32), so a failing fuzz run can be replayed by seed. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const TYPES = [1, 2, 6, 12, 16, 28, 33, 255, 252, 251, 41, 253, 254, 0, 65535];

/** A random valid query for one of `names` (0x20 random case), maybe with EDNS. */
export function randomQuery(rng: Rng, names: readonly string[]): Buffer {
  const base = rng.pick(names);
  const name = [...base].map((c) => (rng.bool() ? c.toUpperCase() : c)).join('');
  const edns: EdnsSpec | undefined = rng.bool(0.6)
    ? { size: rng.pick([1, 512, 1232, 4096, 65535, rng.range(1, 65535)]), version: rng.bool(0.9) ? 0 : rng.int(256), dnssecOk: rng.bool(), options: [] }
    : undefined;
  return encodeQuery({ id: rng.int(65536), opcode: 0, rd: rng.bool(), cd: rng.bool(0.1), name, qtype: rng.bool(0.85) ? rng.pick(TYPES) : rng.int(65536), qclass: rng.bool(0.9) ? 1 : rng.int(65536), edns }).bytes;
}

/** An additional record whose owner name is the given raw bytes (type A, 4 bytes of RDATA). */
function recordWithOwner(owner: Buffer, type = 1): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt16BE(4, 8);
  return Buffer.concat([owner, fixed, Buffer.from([127, 0, 0, 1])]);
}

function bumpCount(p: Buffer, offset: number, by: number): void {
  p.writeUInt16BE((p.readUInt16BE(offset) + by) & 0xffff, offset);
}

/** An OPT record: root owner, payload size, version, and raw RDATA. */
export function optRecord(size: number, version: number, rdata: Buffer, owner: Buffer = Buffer.from([0])): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(41, 0);
  fixed.writeUInt16BE(size, 2);
  fixed.writeUInt8(version, 5);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, fixed, rdata]);
}

/** The mutations the fuzz run applies, by name (for the tally in the report). */
export const MUTATIONS = [
  'random-bytes',
  'valid',
  'bit-flips',
  'byte-sets',
  'truncate',
  'extend',
  'count-lie',
  'pointer-loop',
  'forward-pointer',
  'label-64+',
  'name-over-255',
  'flags-opcode',
  'type-class',
  'oversized-edns',
  'multiple-opt',
  'opt-bad-options',
  'splice',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** One fuzz packet: a real query for a published name, mutated one or more ways. */
export function fuzzPacket(rng: Rng, names: readonly string[]): { bytes: Buffer; mutation: Mutation } {
  const mutation = rng.pick(MUTATIONS);
  let p: Buffer = randomQuery(rng, names);
  switch (mutation) {
    case 'random-bytes':
      p = rng.bytes(rng.bool(0.2) ? rng.int(12) : rng.range(12, 600));
      if (rng.bool(0.5) && p.length >= 12) p[2] = p[2]! & 0x7f; // mostly queries, so they get past QR
      break;
    case 'valid':
      break;
    case 'bit-flips':
      for (let i = rng.range(1, 8); i > 0; i--) {
        const at = rng.int(p.length);
        p[at] = p[at]! ^ (1 << rng.int(8));
      }
      break;
    case 'byte-sets':
      for (let i = rng.range(1, 4); i > 0; i--) p[rng.int(p.length)] = rng.pick([0, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff, rng.int(256)]);
      break;
    case 'truncate':
      p = p.subarray(0, rng.int(p.length));
      break;
    case 'extend':
      p = Buffer.concat([p, rng.bytes(rng.range(1, 300))]);
      break;
    case 'count-lie':
      p.writeUInt16BE(rng.pick([0, 1, 2, 255, 65535, rng.int(65536)]), 4 + 2 * rng.int(4));
      break;
    case 'pointer-loop': {
      // An additional record whose owner loops: a pointer to itself, or a label then a pointer back
      // to that label (every pointer points backwards, yet the walk never ends).
      const at = p.length;
      const owner = rng.bool()
        ? Buffer.from([0xc0 | (at >> 8), at & 0xff])
        : Buffer.concat([Buffer.from([3]), Buffer.from('abc'), Buffer.from([0xc0 | (at >> 8), at & 0xff])]);
      p = Buffer.concat([p, recordWithOwner(owner)]);
      bumpCount(p, 10, 1);
      break;
    }
    case 'forward-pointer': {
      const at = p.length;
      const target = at + 2 + rng.int(20);
      p = Buffer.concat([p, recordWithOwner(Buffer.from([0xc0 | (target >> 8), target & 0xff])), recordWithOwner(Buffer.from([0]))]);
      bumpCount(p, 10, 2);
      break;
    }
    case 'label-64+':
      // The first label length of the question gets a reserved (0x40/0x80) or pointer (0xc0) type.
      if (p.length > HEADER) p[HEADER] = rng.range(64, 255);
      break;
    case 'name-over-255': {
      const labels: string[] = [];
      let wire = 1;
      const want = rng.range(256, 600);
      while (wire < want) {
        const len = rng.range(1, 63);
        labels.push('x'.repeat(len));
        wire += len + 1;
      }
      const name = Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0])]);
      const header = Buffer.from(p.subarray(0, HEADER));
      header.writeUInt16BE(1, 4);
      header.writeUInt32BE(0, 6);
      header.writeUInt16BE(0, 10);
      p = Buffer.concat([header, name, Buffer.from([0, 33, 0, 1])]);
      break;
    }
    case 'flags-opcode':
      p[2] = rng.int(256);
      p[3] = rng.int(256);
      break;
    case 'type-class': {
      const nameEnd = p.indexOf(0, HEADER) + 1;
      if (nameEnd > 0 && nameEnd + 4 <= p.length) {
        p.writeUInt16BE(rng.int(65536), nameEnd);
        p.writeUInt16BE(rng.pick([1, 3, 4, 254, 255, rng.int(65536)]), nameEnd + 2);
      }
      break;
    }
    case 'oversized-edns': {
      const pad = rng.range(0, 3000);
      const option = Buffer.alloc(4 + pad);
      option.writeUInt16BE(rng.pick([12, 8, 10, 15, rng.int(65536)]), 0);
      option.writeUInt16BE(pad, 2);
      p = Buffer.concat([p, optRecord(rng.pick([65535, 0, 511, 4096]), 0, option)]);
      bumpCount(p, 10, 1);
      break;
    }
    case 'multiple-opt':
      p = Buffer.concat([p, optRecord(1232, 0, Buffer.alloc(0)), optRecord(4096, 0, Buffer.alloc(0))]);
      bumpCount(p, 10, 2);
      break;
    case 'opt-bad-options': {
      const option = Buffer.from([0, 10, 0xff, 0xff, 1, 2, 3]); // option length lies
      p = Buffer.concat([p, rng.bool() ? optRecord(1232, 0, option) : optRecord(1232, 0, Buffer.alloc(0), Buffer.from([1, 0x61, 0]))]);
      bumpCount(p, 10, 1);
      break;
    }
    case 'splice': {
      const other = randomQuery(rng, names);
      p = Buffer.concat([p.subarray(0, rng.int(p.length)), other.subarray(rng.int(other.length))]);
      break;
    }
  }
  return { bytes: p, mutation };
}
