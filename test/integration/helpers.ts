import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { accessSync, constants, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import dnsPacket from 'dns-packet';
import { serviceNames, type ServiceNames } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { ROOT } from '../support/server.ts';
import { udpExchange } from '../support/dns-client.ts';
import { poll } from '../support/poll.ts';

// Shared by the integration tests (real Knot, real CoreDNS, a Dubbo-Java-like stub): finding the
// external binaries, running them as bounded child processes, raw DNS exchanges with dns-packet
// (an independent codec), dig output parsing, temp files and polling. Self-contained on purpose:
// it depends only on src/ and test/support/.

export const SETUP_HINT = '`bash test/setup.sh` builds/installs it';

/** The path of an installed program (knotd lives in /usr/sbin, often not on a user's PATH); throws with the setup hint. */
export function requireProgram(name: string, debianPackage: string): string {
  const dirs = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  throw new Error(`${name} not found (Debian package ${debianPackage}); ${SETUP_HINT}`);
}

/** CoreDNS v1.12.3 as test/tools/paths.sh places it (COREDNS_BIN overrides); throws with the setup hint. */
export function requireCoreDns(): string {
  let bin = process.env['COREDNS_BIN'];
  if (bin === undefined || bin === '') {
    bin = execFileSync('bash', ['-c', '. test/tools/paths.sh && printf %s "$COREDNS_BIN"'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  }
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`CoreDNS binary not found at ${bin}; ${SETUP_HINT} (or directly: bash test/tools/build-coredns.sh)`);
  }
  const version = execFileSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0];
  if (version !== 'CoreDNS-1.12.3') throw new Error(`${bin} reports ${JSON.stringify(version)}, not CoreDNS-1.12.3; ${SETUP_HINT}`);
  return bin;
}

/** A long-running external program started by a test. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `command` in the foreground as a child (its own process, killed by pid only). */
export function startDaemon(command: string, args: readonly string[], options: { cwd?: string } = {}): Daemon {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let done = false;
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', (err) => {
      output += `\nspawn error: ${String(err)}`;
      done = true;
      resolve();
    });
  });
  if (child.pid === undefined) done = true;
  return {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited: () => done,
    async stop(graceMs = 5000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** A loopback port free for both TCP and UDP right now (for programs that bind both). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: '127.0.0.1', port: 0 }, () => {
        const a = tcp.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
    });
    const udp = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind({ address: '127.0.0.1', port }, () => resolve(true));
    });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve();
      }
    });
    if (ok) return port;
  }
  throw new Error('no free loopback port for TCP and UDP after 20 attempts');
}

/**
 * A temporary directory, made on first use of `dir` (so a suite that never runs leaves nothing
 * behind), and its removal.
 */
export function tempDir(prefix: string): { readonly dir: string; remove: () => void } {
  let made: string | undefined;
  return {
    get dir() {
      made ??= mkdtempSync(join(tmpdir(), `dubbo-dns-it-${prefix}-`));
      return made;
    },
    remove() {
      if (made !== undefined) rmSync(made, { recursive: true, force: true });
    },
  };
}

/** Replaces `file` atomically (write aside, rename), as editors and ConfigMap mounts do. */
export function replaceFile(file: string, text: string): void {
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, text);
  renameSync(aside, file);
}

/** The DESIGN §5 names of a key, by the product's own naming code. */
export function names(iface: string, namespace: string, zone = 'dubbo.internal.', protocol = 'dubbo'): ServiceNames {
  return serviceNames(serviceKey(iface, undefined, undefined), namespace, zone, protocol);
}

/** `name` lowercase without its trailing dot. */
export function bare(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

// --- raw DNS ----------------------------------------------------------------------------------

/** What dns-packet decodes, with the header fields its types leave out. */
export type Decoded = dnsPacket.DecodedPacket & { rcode: string; opcode: string };

let nextId = 1;

/** A query built by dns-packet: no OPT record unless `edns` is given. */
export function buildQuery(name: string, type: string, options: { rd?: boolean; edns?: number; id?: number } = {}): Buffer {
  const additionals: dnsPacket.Answer[] = [];
  if (options.edns !== undefined) {
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: options.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] });
  }
  return dnsPacket.encode({
    type: 'query',
    id: options.id ?? (nextId++ & 0xffff),
    flags: options.rd === true ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
    additionals,
  });
}

export function decode(message: Buffer): Decoded {
  return dnsPacket.decode(message) as Decoded;
}

export { udpExchange };

/**
 * Sends one message over TCP and collects replies until `done` says the exchange is complete (a
 * transfer spans several messages), the server closes, or the timeout passes.
 */
export function tcpExchange(port: number, message: Buffer, done: (replies: readonly Buffer[]) => boolean = (r) => r.length >= 1, timeoutMs = 5000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`TCP exchange with 127.0.0.1:${port}: ${replies.length} replies within ${timeoutMs} ms, not complete`)), timeoutMs);
    socket.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(message.length);
      socket.write(Buffer.concat([prefix, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (done(replies)) finish();
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(replies.length > 0 ? undefined : new Error(`TCP connection to 127.0.0.1:${port} closed without a reply`)));
  });
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
      return `${head} ${n(a.data)}`;
    case 'SRV':
      return `${head} ${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${n(a.data.target)}`;
    case 'TXT': {
      const data = Array.isArray(a.data) ? a.data : [a.data];
      return `${head} ${data.map((d) => (typeof d === 'string' ? d : d.toString('utf8'))).join('|')}`;
    }
    case 'SOA':
      return `${head} ${n(a.data.mname)} ${n(a.data.rname)} ${a.data.serial} ${a.data.refresh} ${a.data.retry} ${a.data.expire} ${a.data.minimum}`;
    default:
      return head;
  }
}

/** Records of a section as sorted lines, OPT left out. */
export function lines(section: readonly dnsPacket.Answer[] | undefined): string[] {
  return (section ?? []).filter((a) => a.type !== 'OPT').map(rr).sort();
}

// --- external clients -------------------------------------------------------------------------

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion with a timeout (never rejects on a non-zero exit). */
export function run(command: string, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown }) | null;
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** What dig or kdig printed: status, header flags, and the records of each section as normalised lines. */
export interface DigOutput {
  readonly status: string;
  readonly flags: ReadonlySet<string>;
  readonly answer: readonly string[];
  readonly authority: readonly string[];
  readonly additional: readonly string[];
  /** The reply size dig reports (`MSG SIZE rcvd`), when it does. */
  readonly size: number | undefined;
  readonly text: string;
}

/** Normalises one presentation-format record line: `owner ttl TYPE rdata` (owner lowercase, no class). */
export function recordLine(line: string): string | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 4) return undefined;
  const [owner, ttl, klass, type, ...rdata] = fields;
  if (klass !== 'IN' || owner === undefined || type === undefined) return undefined;
  return `${bare(owner)} ${ttl} ${type} ${rdata.join(' ').toLowerCase().replace(/\.(\s|$)/g, '$1')}`;
}

/** Parses dig/kdig output (sections headed `;; X SECTION:`; `+noall +answer` output is all answer). */
export function parseDig(text: string): DigOutput {
  const status = /(?:status|rcode): ([A-Z]+)/.exec(text)?.[1] ?? '?';
  const flagText = /flags: ([a-z ]*?)\s*;/i.exec(text)?.[1] ?? '';
  const size = /MSG SIZE\s+rcvd: (\d+)/.exec(text)?.[1];
  const sections: Record<string, string[]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  let current: string | undefined = /SECTION:/.test(text) ? undefined : 'ANSWER';
  for (const line of text.split('\n')) {
    const header = /^;; ([A-Z]+) SECTION:/.exec(line);
    if (header !== null) {
      current = header[1];
      continue;
    }
    if (line.trim() === '' || line.startsWith(';')) continue;
    const record = recordLine(line);
    if (record !== undefined && current !== undefined) sections[current]?.push(record);
  }
  return {
    status,
    flags: new Set(flagText.trim().split(/\s+/).filter((f) => f !== '')),
    answer: (sections['ANSWER'] ?? []).sort(),
    authority: (sections['AUTHORITY'] ?? []).sort(),
    additional: (sections['ADDITIONAL'] ?? []).sort(),
    size: size === undefined ? undefined : Number(size),
    text,
  };
}

/** Runs dig against 127.0.0.1:port (one try, 3 s) and parses the output; throws when dig fails. */
export async function dig(port: number, args: readonly string[]): Promise<DigOutput> {
  const result = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', ...args]);
  if (result.code !== 0) throw new Error(`dig ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return parseDig(result.stdout);
}

export { poll };

/** The SOA serial in a message's answer or authority section. */
export function serialOf(msg: Decoded): number {
  const soa = [...(msg.answers ?? []), ...(msg.authorities ?? [])].find((a) => a.type === 'SOA');
  if (soa?.type !== 'SOA' || soa.data.serial === undefined) throw new Error('no SOA in message');
  return soa.data.serial;
}

/** Asks the SOA of `zone` at 127.0.0.1:port over UDP; the serial, or undefined without an answer. */
export async function soaSerial(port: number, zone = 'dubbo.internal.'): Promise<number | undefined> {
  const msg = decode(await udpExchange(port, buildQuery(zone, 'SOA'), 1000));
  if (msg.rcode !== 'NOERROR' || !(msg.answers ?? []).some((a) => a.type === 'SOA')) return undefined;
  return serialOf(msg);
}
