import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { serviceNames, type ServiceNames } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { MAIN } from '../support/server.ts';
import { udpExchange } from '../support/dns-client.ts';
import { poll } from '../support/poll.ts';

// Shared by the wire and CLI tests: raw DNS exchanges over UDP and TCP encoded and decoded with
// dns-packet (an independent codec), external clients, temp registry files and polling.

export type Transport = 'udp' | 'tcp';

/** What dns-packet decodes, with the header fields its types leave out. */
export type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string };

export interface QueryOptions {
  readonly id?: number;
  readonly rd?: boolean;
  /** EDNS UDP payload size; undefined or false: no OPT record. */
  readonly edns?: number | false | undefined;
  readonly dnssecOk?: boolean;
  readonly ednsVersion?: number;
  readonly opcode?: number;
}

let nextId = 1;

/** Encodes a query with dns-packet (the name is written byte for byte, case kept). */
export function buildQuery(name: string, type: string, options: QueryOptions = {}): Buffer {
  const id = options.id ?? (nextId++ & 0xffff);
  const additionals: dnsPacket.Answer[] = [];
  if (options.edns !== undefined && options.edns !== false) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: options.edns,
      extendedRcode: 0,
      ednsVersion: options.ednsVersion ?? 0,
      flags: options.dnssecOk === true ? dnsPacket.DNSSEC_OK : 0,
      flag_do: options.dnssecOk === true,
      options: [],
    });
  }
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: (options.rd === true ? dnsPacket.RECURSION_DESIRED : 0) | ((options.opcode ?? 0) << 11),
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals,
  });
}

export function decode(message: Buffer): Decoded {
  return dnsPacket.decode(message) as Decoded;
}

export { udpExchange };

/** Writes every message (length-prefixed) on one TCP connection at once and reads as many replies. */
export function tcpExchange(port: number, messages: readonly Buffer[], timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`got ${replies.length} of ${messages.length} TCP replies within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(Buffer.concat(messages.map(frame))));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (replies.length === messages.length) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (replies.length < messages.length) reject(new Error(`TCP connection closed after ${replies.length} of ${messages.length} replies`));
    });
  });
}

/** A DNS message with its two-byte TCP length prefix. */
export function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** Sends raw bytes over a transport and returns the raw reply. */
export async function exchange(port: number, message: Buffer, transport: Transport, timeoutMs?: number): Promise<Buffer> {
  if (transport === 'udp') return udpExchange(port, message, timeoutMs);
  const [reply] = await tcpExchange(port, [message], timeoutMs);
  return reply!;
}

/** Builds, sends and decodes one query. */
export async function ask(port: number, name: string, type: string, transport: Transport, options: QueryOptions = {}): Promise<{ raw: Buffer; query: Buffer; msg: Decoded }> {
  const query = buildQuery(name, type, options);
  const raw = await exchange(port, query, transport);
  return { raw, query, msg: decode(raw) };
}

/** A record as one comparable line: `name TTL TYPE data` (names lowercase, no trailing dot). */
export function rr(a: dnsPacket.Answer): string {
  const n = (s: string): string => s.toLowerCase().replace(/\.$/, '');
  const ttl = 'ttl' in a ? a.ttl : undefined;
  const head = `${n(a.name)} ${ttl ?? '-'} ${a.type}`;
  switch (a.type) {
    case 'A':
    case 'AAAA':
      return `${head} ${a.data}`;
    case 'NS':
    case 'PTR':
    case 'CNAME':
      return `${head} ${n(a.data)}`;
    case 'SRV':
      return `${head} ${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${n(a.data.target)}`;
    case 'TXT':
      return `${head} ${txtStrings(a).join('|')}`;
    case 'SOA':
      // Timers and names are checked where they matter; the negative TTL (minimum) always is.
      return `${head} minimum=${a.data.minimum}`;
    default:
      return head;
  }
}

/** The strings of a TXT record. */
export function txtStrings(a: dnsPacket.Answer): string[] {
  if (a.type !== 'TXT') return [];
  const data = Array.isArray(a.data) ? a.data : [a.data];
  return data.map((d) => (typeof d === 'string' ? d : d.toString('utf8')));
}

/** Records of a section as sorted lines, OPT left out. */
export function lines(section: readonly dnsPacket.Answer[] | undefined): string[] {
  return (section ?? []).filter((a) => a.type !== 'OPT').map(rr).sort();
}

/** The OPT record of a message, if any. */
export function optOf(msg: Decoded): dnsPacket.OptAnswer | undefined {
  return (msg.additionals ?? []).find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
}

/** The SOA serial in the answer or authority section. */
export function serialOf(msg: Decoded): number {
  const soa = [...(msg.answers ?? []), ...(msg.authorities ?? [])].find((a) => a.type === 'SOA');
  if (soa?.type !== 'SOA' || soa.data.serial === undefined) throw new Error('no SOA in message');
  return soa.data.serial;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `dubbo-dns-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion (never rejects on a non-zero exit). */
export function run(command: string, args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 20_000, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, cwd: options.cwd },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: unknown; signal?: string | null }) | null;
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
        });
      },
    );
  });
}

/** Runs the real CLI (`node src/main.ts ...`) with the tests' Node. */
export function cli(args: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [MAIN, ...args], options);
}

export { poll };

/** The DESIGN §5 names of a key, by the product's own naming code. */
export function names(iface: string, group: string | undefined, version: string | undefined, namespace: string, zone: string, protocol = 'dubbo'): ServiceNames {
  return serviceNames(serviceKey(iface, group, version), namespace, zone, protocol);
}

/** `name` without its trailing dot, lowercase: how `rr` prints names. */
export function bare(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The registry most wire tests serve (namespace `shop`): a tri service with IPv4 and IPv6 endpoints
 * and one not ready, a dubbo service with an address-named endpoint, a service with no ready
 * endpoint, and raw provider URLs for one key on two protocols (with a token that must never show).
 */
export const DEMO_REGISTRY = `namespace: shop
services:
  - interface: org.apache.dubbo.demo.DemoService
    group: gray
    version: 1.0.0
    protocol: tri
    port: 50051
    metadata: { serialization: hessian2, timeout: "3000", application: demo-provider }
    endpoints:
      - { address: 10.0.0.11, weight: 100, hostname: demo-0, metadata: { release: 3.3.0 } }
      - { address: 10.0.0.12, weight: 200, hostname: demo-1, metadata: { release: 3.3.0 } }
      - { address: "fd00::13", weight: 50, hostname: demo-2, metadata: { release: 3.3.0 } }
      - { address: "fd00::12", ready: false }
  - interface: org.apache.dubbo.demo.GreetingService
    version: 2.0.0
    port: 20880
    metadata: { application: greeting, serialization: fastjson2 }
    endpoints:
      - { address: 10.0.1.5, weight: 100 }
      - { address: 10.0.1.6, port: 20881, weight: 100, hostname: greeting-b }
  - interface: org.apache.dubbo.demo.IdleService
    port: 20880
    endpoints:
      - { address: 10.0.3.1, ready: false }
providers:
  - "dubbo://10.0.2.7:20880/org.apache.dubbo.demo.OrderService?application=order&serialization=hessian2&weight=100&token=s3cr3t"
  - "tri://10.0.2.8:50052/org.apache.dubbo.demo.OrderService?application=order&serialization=hessian2&weight=100&token=s3cr3t"
`;
