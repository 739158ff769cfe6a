// Shared pieces of the benchmark harness: child processes (pinned, bounded, always cleaned up),
// the three servers, a tiny DNS client, dnsperf runs and their parsing, /proc readings, stats.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import type { KubeApi } from '../src/kube/rest.ts';
export { httpGet } from '../harness/control-plane.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
/**
 * The dubbo-dns entry point the benches run: the TypeScript sources, or with BENCH_COMPILED=1 the
 * compiled JavaScript that the image and the npm package run (`npm run build` first), which starts
 * without type stripping and holds less memory.
 */
export const MAIN = process.env['BENCH_COMPILED'] === '1' ? compiledMain() : join(ROOT, 'src', 'main.ts');
/** With BENCH_COMPILED=1, the Node flags the image's entrypoint gives (Containerfile). */
export const PRODUCT_NODE_FLAGS: readonly string[] = process.env['BENCH_COMPILED'] === '1' ? ['--max-semi-space-size=4'] : [];

function compiledMain(): string {
  const main = join(ROOT, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`BENCH_COMPILED=1: ${main} is missing; run npm run build first`);
  return main;
}
export const HOST = '127.0.0.1';

export type ServerName = 'dubbo-dns' | 'coredns' | 'knot';
export const SERVER_NAMES: readonly ServerName[] = ['dubbo-dns', 'coredns', 'knot'];

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every child is remembered and killed on exit, Ctrl-C or deadline.

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let keepTemp = false;

export function keepTempDirs(keep: boolean): void {
  keepTemp = keep;
}

/** A temp dir under os.tmpdir(), removed at exit unless --keep. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function cleanupSync(): void {
  killAllChildren();
  if (!keepTemp) for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let installed = false;
/** Kills children and removes temp dirs on exit, SIGINT/SIGTERM, and after `maxMs`. */
export function installCleanup(maxMs: number): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping servers and cleaning up\n`);
      cleanupSync();
      process.exit(130);
    });
  }
  const deadline = setTimeout(() => {
    process.stderr.write(`\nbenchmark deadline of ${Math.round(maxMs / 1000)} s reached: aborting\n`);
    cleanupSync();
    process.exit(2);
  }, maxMs);
  deadline.unref();
}

/** A child process the library tracks: killed on exit, its output kept (last 64 KiB of each stream). */
export interface Tracked {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The command line, for messages. */
  readonly command: string;
  stdout: string;
  stderr: string;
  /** Both streams, interleaved as they arrived (last 64 KiB). */
  output: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `argv`, under `taskset -c cpus` when `cpus` is given. */
export function spawnTracked(argv: readonly string[], cpus?: string, env: NodeJS.ProcessEnv = process.env): Tracked {
  const full = cpus === undefined ? [...argv] : ['taskset', '-c', cpus, ...argv];
  const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  if (child.pid === undefined) throw new Error(`failed to spawn ${full[0]}`);
  children.add(child);
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const keep = (s: string, add: string): string => (s.length + add.length > 65536 ? (s + add).slice(-65536) : s + add);
  const tracked: Tracked = {
    child,
    pid: child.pid,
    command: full.join(' '),
    stdout: '',
    stderr: '',
    output: '',
    exited,
    alive: () => !gone,
    async stop(graceMs = 5000) {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  child.stdout?.on('data', (d: Buffer) => {
    tracked.stdout = keep(tracked.stdout, d.toString());
    tracked.output = keep(tracked.output, d.toString());
  });
  child.stderr?.on('data', (d: Buffer) => {
    tracked.stderr = keep(tracked.stderr, d.toString());
    tracked.output = keep(tracked.output, d.toString());
  });
  return tracked;
}

/** Spawns `argv` pinned to `cpus` with taskset. */
export function spawnPinned(cpus: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Tracked {
  return spawnTracked(argv, cpus, env);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopProcess(t: Tracked, graceMs = 5000): Promise<void> {
  return t.stop(graceMs);
}

/** Kills every tracked child now. */
export function killAllChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

/** Pins every thread of `pid` to `cpus` (taskset -a -p); false when taskset failed. */
export function pin(pid: number, cpus: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' }).status === 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A loopback port free for both TCP and UDP right now. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, HOST, () => {
        const a = s.address();
        const p = typeof a === 'object' && a !== null ? a.port : 0;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, HOST, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free loopback port found in 20 attempts');
}

// ---------------------------------------------------------------------------------------------
// A small DNS client for readiness checks and answer comparison (dns-packet codec).

export interface DnsReply {
  readonly rcode: string;
  readonly tc: boolean;
  readonly answers: string[];
  readonly authority: number;
  readonly additional: number;
}

function rdataString(a: dnsPacket.Answer): string {
  const data = (a as { data?: unknown }).data;
  if (a.type === 'TXT') {
    const list = Array.isArray(data) ? data : [data];
    return list.map((b) => JSON.stringify(Buffer.isBuffer(b) ? b.toString('utf8') : String(b))).join(' ');
  }
  if (a.type === 'SRV' && typeof data === 'object' && data !== null) {
    const d = data as dnsPacket.SrvData;
    return `${d.priority ?? 0} ${d.weight ?? 0} ${d.port} ${d.target.toLowerCase()}`;
  }
  if (a.type === 'SOA') return 'SOA';
  return typeof data === 'string' ? data.toLowerCase() : JSON.stringify(data);
}

/** One UDP query, with an EDNS OPT of `edns` bytes when given; undefined on timeout. */
export function queryUdp(port: number, name: string, type: string, timeoutMs = 1000, edns?: number): Promise<DnsReply | undefined> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 65535);
    const socket = createSocket('udp4');
    const done = (r: DnsReply | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('error', () => done(undefined));
    socket.on('message', (msg) => {
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return;
      }
      if (p.id !== id) return;
      const flags = p.flags ?? 0;
      done({
        rcode: (p as { rcode?: string }).rcode ?? String(flags & 0xf),
        tc: (flags & 0x200) !== 0,
        answers: (p.answers ?? []).map((a) => `${a.name.toLowerCase()} ${a.type} ${rdataString(a)}`).sort(),
        authority: (p.authorities ?? []).length,
        additional: (p.additionals ?? []).filter((a) => a.type !== 'OPT').length,
      });
    });
    const packet = dnsPacket.encode({
      type: 'query',
      id,
      flags: 0,
      questions: [{ name, type: type as dnsPacket.RecordType, class: 'IN' }],
      additionals: edns === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    socket.send(packet, port, HOST);
  });
}

/** Polls until `probe` answers NOERROR with an answer, or throws after `timeoutMs`. */
export async function waitAnswering(port: number, probe: { name: string; type: string }, timeoutMs: number, alive: () => boolean): Promise<number> {
  const started = performance.now();
  for (let i = 0; performance.now() - started < timeoutMs; i++) {
    if (!alive()) throw new Error('server exited before it answered');
    const r = await queryUdp(port, probe.name, probe.type, 200);
    if (r !== undefined && r.rcode === 'NOERROR' && (r.answers.length > 0 || r.tc)) return performance.now() - started;
    await sleep(Math.min(100, 5 * (i + 1)));
  }
  throw new Error(`no answer to ${probe.name} ${probe.type} within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// The three servers.

export interface ServerConfig {
  readonly zoneFile: string;
  readonly registryFile: string;
  readonly zone: string;
  /** CPU list for taskset, e.g. "0" or "0-1". */
  readonly cpus: string;
  /** Worker count (1 per core given). */
  readonly workers: number;
  readonly dir: string;
  /** dubbo-dns log level (warn for throughput runs). */
  readonly logLevel?: string;
  /** Extra node flags for dubbo-dns (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  /** Pass --workers N to dubbo-dns (only when the flag exists). */
  readonly dubboWorkersFlag?: boolean;
}

export interface RunningServer {
  readonly name: ServerName;
  readonly port: number;
  readonly process: Tracked;
  readonly pid: number;
  readonly command: string;
  stop(): Promise<void>;
}

/** Where the CoreDNS binary is (test/tools/paths.sh), or undefined. */
export function corednsBin(): string | undefined {
  const fromEnv = process.env['COREDNS_BIN'];
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  const cache = process.env['DUBBO_DNS_CACHE'] ?? join(homedir(), '.cache', 'dubbo-dns');
  const bin = join(cache, 'bin', 'coredns-v1.12.3');
  return existsSync(bin) ? bin : undefined;
}

export function knotdBin(): string | undefined {
  for (const p of ['/usr/sbin/knotd', '/usr/bin/knotd']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v knotd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

/** Why a server cannot run here, or undefined when it can. */
export function unavailable(name: ServerName): string | undefined {
  if (name === 'coredns' && corednsBin() === undefined) return 'CoreDNS binary not found (run test/tools/build-coredns.sh or set COREDNS_BIN)';
  if (name === 'knot' && knotdBin() === undefined) return 'knotd not found (apt-get install -y knot)';
  return undefined;
}

/** Does `dubbo-dns serve` have a --workers flag yet? */
export function dubboHasWorkersFlag(): boolean {
  const r = spawnSync(process.execPath, [MAIN, 'serve', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return /--workers\b/.test(`${r.stdout}${r.stderr}`);
}

export async function startServer(name: ServerName, cfg: ServerConfig): Promise<RunningServer> {
  const port = await freePort();
  let argv: string[];
  let env: NodeJS.ProcessEnv = process.env;
  switch (name) {
    case 'dubbo-dns':
      argv = [
        process.execPath,
        ...PRODUCT_NODE_FLAGS,
        ...(cfg.nodeFlags ?? []),
        MAIN,
        'serve',
        '--registry',
        cfg.registryFile,
        '--zone',
        cfg.zone,
        '--listen',
        `${HOST}:${port}`,
        '--log-level',
        cfg.logLevel ?? 'warn',
        '--lameduck',
        '0',
        ...(cfg.dubboWorkersFlag === true ? ['--workers', String(cfg.workers)] : []),
      ];
      break;
    case 'coredns': {
      const dir = join(cfg.dir, `coredns-${port}`);
      mkdirSync(dir, { recursive: true });
      const corefile = join(dir, 'Corefile');
      // file plugin only: no log, no cache, no errors, no health (DESIGN §12 compares serving cost).
      writeFileSync(corefile, `${cfg.zone.replace(/\.$/, '')}:${port} {\n    bind ${HOST}\n    file ${cfg.zoneFile}\n}\n`);
      argv = [corednsBin()!, '-conf', corefile, '-quiet'];
      env = { ...process.env, GOMAXPROCS: String(cfg.workers) };
      break;
    }
    case 'knot': {
      const dir = join(cfg.dir, `knot-${port}`);
      mkdirSync(dir, { recursive: true });
      const conf = join(dir, 'knot.conf');
      writeFileSync(
        conf,
        [
          'server:',
          `    rundir: "${dir}"`,
          `    listen: ${HOST}@${port}`,
          `    udp-workers: ${cfg.workers}`,
          `    tcp-workers: ${cfg.workers}`,
          '    background-workers: 1',
          'database:',
          `    storage: "${dir}"`,
          'log:',
          '  - target: stderr',
          '    any: error',
          'zone:',
          `  - domain: ${cfg.zone}`,
          `    file: "${cfg.zoneFile}"`,
          '    journal-content: none',
          '    zonefile-sync: -1',
          '    zonefile-load: whole',
          '    semantic-checks: off',
          '',
        ].join('\n'),
      );
      argv = [knotdBin()!, '-c', conf];
      break;
    }
  }
  const tracked = spawnPinned(cfg.cpus, argv, env);
  const pid = tracked.child.pid;
  if (pid === undefined) throw new Error(`${name}: failed to spawn ${argv[0]}`);
  return {
    name,
    port,
    process: tracked,
    pid,
    command: `taskset -c ${cfg.cpus} ${name === 'coredns' ? `GOMAXPROCS=${cfg.workers} ` : ''}${argv.map((a) => a.replace(ROOT, '')).join(' ')}`,
    stop: () => stopProcess(tracked),
  };
}

/** Starts a server and waits until `probe` is answered; returns the server and the wait in ms. */
export async function startAndWait(name: ServerName, cfg: ServerConfig, probe: { name: string; type: string }, timeoutMs = 120_000): Promise<{ server: RunningServer; readyMs: number }> {
  const server = await startServer(name, cfg);
  try {
    const readyMs = await waitAnswering(server.port, probe, timeoutMs, () => server.process.child.exitCode === null && server.process.child.signalCode === null);
    return { server, readyMs };
  } catch (err) {
    await server.stop();
    throw new Error(`${name} did not start: ${(err as Error).message}\n--- stderr ---\n${server.process.stderr.slice(-2000)}\n--- stdout ---\n${server.process.stdout.slice(-2000)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// /proc readings.

/** VmRSS and VmHWM in KiB (NaN when the process is gone). */
export function memoryOf(pid: number | undefined): { rssKiB: number; hwmKiB: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone
  }
  const field = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system, all threads) used so far by a process and its live descendants
 * (dubbo-dns --workers N runs a cluster: the primary forks the workers).
 */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the comm field: state is f[0], ppid f[1]; utime and stime are fields 14 and 15 of the line.
      procs.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // exited while we looked
    }
  }
  if (!procs.has(pid)) return NaN;
  let ticks = 0;
  for (const [p, info] of procs) {
    for (let q = p, depth = 0; q > 1 && depth < 16; depth++) {
      if (q === pid) {
        ticks += info.ticks;
        break;
      }
      q = procs.get(q)?.ppid ?? 0;
    }
  }
  return ticks / CLK_TCK;
}

/** Busy and total ticks per CPU from /proc/stat (busy includes irq and softirq, not steal). */
function cpuTicks(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => {
      const [user, nice, system, idle, iowait, irq, softirq, steal] = l.split(/\s+/).slice(1).map(Number) as number[];
      const busy = user! + nice! + system! + irq! + softirq!;
      return { busy, total: busy + idle! + iowait! + steal! };
    });
}

/** CPU indices of a taskset list like "0", "0-1" or "0,2". */
export function cpuList(cpus: string): number[] {
  return cpus.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

/** How busy the given CPUs were (0-1, mean over them) between start() and stop(). */
export function coreBusy(cpus: string): { stop(): number } {
  const ids = cpuList(cpus);
  const before = cpuTicks();
  return {
    stop() {
      const after = cpuTicks();
      let busy = 0;
      let total = 0;
      for (const i of ids) {
        busy += (after[i]?.busy ?? 0) - (before[i]?.busy ?? 0);
        total += (after[i]?.total ?? 0) - (before[i]?.total ?? 0);
      }
      return total > 0 ? busy / total : NaN;
    },
  };
}

/** user + nice + system ticks summed over every CPU (what processes ran, without irq/softirq/steal). */
function processTicksAllCpus(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu ')) ?? '';
  const [user, nice, system] = line.split(/\s+/).slice(1).map(Number) as number[];
  return user! + nice! + system!;
}

/**
 * Measures CPU used by processes outside this benchmark, in cores, between start() and stop():
 * all CPU time the kernel accounted to processes (/proc/stat) minus what `ours()` (seconds) says the
 * benchmark's own processes used, minus this harness process itself.
 */
export function foreignLoad(ours: () => number = () => 0): { stop(): number } {
  const ticks0 = processTicksAllCpus();
  const ours0 = ours();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const all = (processTicksAllCpus() - ticks0) / CLK_TCK;
      const self = process.cpuUsage(self0);
      const mine = ours() - ours0 + (self.user + self.system) / 1e6;
      return Math.max(0, all - mine) / wall;
    },
  };
}

/**
 * Waits (bounded) until other processes on the machine use less than `maxCores` of CPU over a
 * one-second sample; returns the last sample. The machine is shared: this keeps runs comparable.
 */
export async function waitQuiet(maxCores: number, maxWaitMs: number): Promise<{ load: number; waitedMs: number }> {
  const t0 = performance.now();
  let load = Infinity;
  while (performance.now() - t0 < maxWaitMs) {
    const m = foreignLoad();
    await sleep(1000);
    load = m.stop();
    if (load <= maxCores) break;
  }
  return { load, waitedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// dnsperf.

export interface PerfResult {
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly lostPct: number;
  readonly qps: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly rcodes: string;
  readonly responseBytes: number;
  readonly reconnections: number;
  /** CPU used by dnsperf itself, as a share of one core over the run. */
  readonly clientCpu: number;
  /** CPU used by the server over the run, as a share of one core. */
  readonly serverCpu: number;
  /** CPU used by processes outside the benchmark during the run, in cores (noise). */
  readonly foreignCpu: number;
  /** How busy the server's cores were (user, system, irq, softirq; 0-1). */
  readonly serverCoreBusy: number;
  readonly raw: string;
}

export interface PerfOptions {
  readonly port: number;
  readonly queryFile: string;
  readonly seconds: number;
  readonly transport: 'udp' | 'tcp';
  readonly clients: number;
  readonly outstanding: number;
  readonly cpus: string;
  readonly serverPid: number;
  /** The server's CPU list, to read how busy its cores were. */
  readonly serverCpus: string;
  /** Send EDNS0 (dnsperf -e), as resolvers and CoreDNS forward do. */
  readonly edns: boolean;
  readonly extra?: readonly string[];
}

export function dnsperfArgs(o: PerfOptions): string[] {
  return [
    '-s', HOST, '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), '-t', '1',
    '-c', String(o.clients), '-q', String(o.outstanding), '-m', o.transport, ...(o.edns ? ['-e'] : []), '-O', 'suppress=timeouts,unexpected', ...(o.extra ?? []),
  ];
}

/**
 * Runs dnsperf pinned to `cpus` inside `sh`, which prints its own /proc stat after dnsperf exits:
 * its cutime+cstime is dnsperf's CPU (the load generator must not be the bottleneck unnoticed).
 */
export async function runDnsperf(o: PerfOptions): Promise<PerfResult> {
  const script = 'dnsperf "$@"; s=$?; cat /proc/$$/stat >&2; exit $s';
  const serverBefore = cpuSeconds(o.serverPid);
  const foreign = foreignLoad(() => cpuSeconds(o.serverPid));
  const cores = coreBusy(o.serverCpus);
  const t0 = performance.now();
  const t = spawnPinned(o.cpus, ['sh', '-c', script, 'sh', ...dnsperfArgs(o)]);
  const killer = setTimeout(() => t.child.kill('SIGKILL'), (o.seconds + 30) * 1000);
  const { code } = await t.exited;
  clearTimeout(killer);
  const wall = (performance.now() - t0) / 1000;
  const serverCpu = (cpuSeconds(o.serverPid) - serverBefore) / wall;
  const foreignAndClient = foreign.stop();
  const serverCoreBusy = cores.stop();
  if (code !== 0) throw new Error(`dnsperf exited ${code}: ${t.stderr.slice(-1000)}${t.stdout.slice(-1000)}`);
  const statLine = t.stderr.trim().split('\n').pop() ?? '';
  const sf = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
  const clientCpuSeconds = (Number(sf[13]) + Number(sf[14])) / CLK_TCK; // cutime, cstime
  const foreignCpu = Math.max(0, foreignAndClient - clientCpuSeconds / wall);
  const out = t.stdout;
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (m === null) throw new Error(`cannot parse dnsperf output (${re}):\n${out.slice(-2000)}`);
    return Number(m[1]);
  };
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    lostPct: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: lat === null ? NaN : Number(lat[1]) * 1000,
    maxLatencyMs: lat === null ? NaN : Number(lat[3]) * 1000,
    rcodes: /Response codes:\s+(.*)/.exec(out)?.[1]?.trim() ?? '',
    responseBytes: Number(/Average packet size:\s+request \d+, response (\d+)/.exec(out)?.[1] ?? NaN),
    reconnections: Number(/Reconnections:\s+(\d+)/.exec(out)?.[1] ?? 0),
    clientCpu: clientCpuSeconds / Math.max(wall, o.seconds),
    serverCpu,
    foreignCpu,
    serverCoreBusy,
    raw: out,
  };
}

// ---------------------------------------------------------------------------------------------
// Stats and formatting.

/** Nearest-rank percentile of an ascending array (Infinity stands for a timeout). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** A latency distribution. */
export interface Summary {
  readonly n: number;
  readonly timeouts: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Timeouts (undefined) count as Infinity in the percentiles; the mean is over seen values only. */
export function summarize(values: readonly (number | undefined)[]): Summary {
  const seen = values.filter((v): v is number => v !== undefined);
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  return {
    n: values.length,
    timeouts: values.length - seen.length,
    min: sorted[0] ?? NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
    mean: seen.length === 0 ? NaN : seen.reduce((a, b) => a + b, 0) / seen.length,
  };
}

/** Milliseconds with sensible digits; `timeout` for Infinity, `-` for NaN. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '-' : 'timeout';
  return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
}

/** KiB as MiB with one decimal; `-` when unknown. */
export function mib(kib: number): string {
  return Number.isFinite(kib) ? (kib / 1024).toFixed(1) : '-';
}

export function median(xs: readonly number[]): number {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spread(xs: readonly number[]): [number, number] {
  const s = xs.filter((x) => !Number.isNaN(x));
  return [Math.min(...s), Math.max(...s)];
}

/** Fixed-width text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function fmtInt(n: number): string {
  return Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US');
}

export function fmt(n: number, digits: number): string {
  return Number.isNaN(n) ? '-' : n.toFixed(digits);
}

/** Facts about the machine for the report. */
export function machine(): string {
  const cpu = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpu)?.[1] ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.*)$/m.exec(cpu)?.[1] ?? '?';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  const mem = /^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  const ver = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? '?';
  };
  const core = corednsBin();
  const git = spawnSync('git', ['-C', ROOT, 'log', '-1', '--format=%h %cs'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').length;
  return [
    `cpu: ${model} @ ${mhz} MHz, nproc ${nproc}, ${mem === undefined ? '?' : Math.round(Number(mem) / 1048576)} GiB, Linux ${ver('uname', ['-r'])}`,
    `dubbo-dns source: commit ${git === '' ? '?' : git}${dirty > 0 ? ` + ${dirty} uncommitted change(s) under src/` : ''}`,
    `node ${process.version}; dnsperf ${ver('sh', ['-c', 'dnsperf -h 2>&1 | grep Version']).replace(/^Version\s*/, '')}; ${core === undefined ? 'coredns: missing' : ver(core, ['-version'])}; ${knotdBin() === undefined ? 'knotd: missing' : ver(knotdBin()!, ['--version'])}`,
  ].join('\n');
}

/** `--help`: prints the leading `//` comment block of the calling script, which documents its flags, and exits. */
export function printUsageAndExit(scriptUrl: string): never {
  const lines = readFileSync(new URL(scriptUrl), 'utf8').split('\n');
  const header = lines.slice(0, lines.findIndex((l) => !l.startsWith('//')));
  process.stdout.write(`${header.map((l) => l.slice(3)).join('\n')}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// The API server and Prometheus text (the Kubernetes benches).

/** Retries a write a few times on transient errors (the apiserver may throttle a burst). */
export async function retry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      if (i >= attempts || !(status === 0 || status === 429 || status >= 500 || status === 409)) throw err;
      await sleep(100 * 2 ** i);
    }
  }
}

/** Lists a whole collection (paged). */
export async function listAll(client: Pick<KubeApi, 'request'>, path: string, labelSelector?: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cont: string | undefined;
  do {
    const page = await client.request<{ items?: Record<string, unknown>[]; metadata?: { continue?: string } }>('GET', path, { query: { labelSelector, limit: 500, continue: cont } });
    out.push(...(page.items ?? []));
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined);
  return out;
}

/** Prometheus text -> samples. */
export function parseProm(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Charts: each bench writes its figures as bench/results/<name>.chart.json; bench/charts.ts draws them.

/** Bars: one value per group and series (qps, MiB, seconds). */
export interface BarsChart {
  readonly kind: 'bars';
  readonly title: string;
  readonly unit: string;
  readonly groups: readonly string[];
  readonly series: readonly { readonly label: string; readonly values: readonly number[] }[];
}
/** A latency distribution per series (every sample). */
export interface CdfChart {
  readonly kind: 'cdf';
  readonly title: string;
  readonly unit: string;
  readonly series: readonly { readonly label: string; readonly values: readonly number[] }[];
}

/** Writes bench/results/<name>.chart.json. */
export function writeChart(name: string, chart: BarsChart | CdfChart): void {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.chart.json`), `${JSON.stringify(chart, null, 1)}\n`);
}
