// Propagation latency and memory against a real control plane (issue: "from an EndpointSlice write
// acknowledged by the API server to the new answer on the wire, p50/p99 over 1,000 changes with 10k
// endpoints loaded, for dubbo-dns and for CoreDNS's `kubernetes` plugin watching the same apiserver
// in the same run (goal: p99 <= 100 ms and no worse than CoreDNS). Memory of the DNS server with 10k
// services x 10 endpoints, next to CoreDNS's for the same objects.")
//
//   1. latency: etcd + kube-apiserver (harness/control-plane.ts); --services managed Services with
//      --endpoints endpoints each (one EndpointSlice each), built by the product's own
//      desiredService/desiredSlices and written by server-side apply (field manager `bench`).
//      `dubbo-dns serve --kubernetes` and CoreDNS `kubernetes cluster.local { kubeconfig ... }`
//      watch the same apiserver. Each change moves one endpoint of one service to a new address
//      (SSA of its slice); from the moment the apiserver's response arrives, both servers are polled
//      over UDP (A query every --interval ms) until the answer holds the new address. Changes run one
//      at a time; one not seen within --timeout ms counts as a timeout (Infinity in percentiles).
//      --warmup changes first, not counted.
//   2. memory: the namespace grows to --memory-services services (x --endpoints); then both servers
//      are started afresh, and once sampled names answer with all endpoints on both, VmRSS/VmHWM
//      are read (after --settle ms).
//
//   Pinning (2+ cores): DNS servers on --server-cpus (0), the driver on --driver-cpus (1), etcd and
//   kube-apiserver moved to --cp-cpus (1) while latencies are measured (unpinned while bulk-creating).
//
//   node bench/propagation.ts [--services 1000] [--endpoints 10] [--changes 1000] [--warmup 20]
//     [--memory-services 10000] [--memory-rounds 3] [--quick] [--json] [--skip-memory] [--skip-latency]
//     [--cpu-prof DIR] (dubbo-dns of the latency phase, and the in-cluster one of the memory phase in
//     DIR/start, run with node --cpu-prof; its output goes to
//     DIR/dubbo-dns.log) [--node-flags '--trace-gc ...'] (more node flags for that dubbo-dns)

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus as osCpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { inPod, podEnv, writeServiceAccount } from '../harness/pod.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { Applier, benchService, CHANGED_BASE, ipv4, Prober, serviceManifest, sliceManifest, withAddress, type BenchService } from './propagation-lib.ts';
import { killAllChildren, MAIN, median, memoryOf, PRODUCT_NODE_FLAGS, mib, ms, pin, pool, printUsageAndExit, sleep, spawnTracked, summarize, table, writeChart, type Summary, type Tracked } from './lib.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({
  options: {
    services: { type: 'string' },
    endpoints: { type: 'string' },
    changes: { type: 'string' },
    warmup: { type: 'string' },
    'memory-services': { type: 'string' },
    'memory-rounds': { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '5000' },
    interval: { type: 'string', default: '1' },
    gap: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '24' },
    settle: { type: 'string', default: '5000' },
    'server-cpus': { type: 'string', default: '0' },
    'driver-cpus': { type: 'string', default: '1' },
    'cp-cpus': { type: 'string', default: '1' },
    'no-pin': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-latency': { type: 'boolean', default: false },
    'max-minutes': { type: 'string', default: '45' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) printUsageAndExit(import.meta.url);

const int = (v: string | undefined, quick: number, full: number): number => {
  const n = Number(v ?? (values.quick ? quick : full));
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${v}`);
  return n;
};
const SERVICES = int(values.services, 100, 1000);
const ENDPOINTS = int(values.endpoints, 10, 10);
const MEMORY_ROUNDS = Math.max(1, int(values['memory-rounds'], 1, 3));
const CHANGES = int(values.changes, 100, 1000);
const WARMUP = int(values.warmup, 5, 20);
const MEMORY_SERVICES = int(values['memory-services'], 1000, 10000);
const TIMEOUT = int(values.timeout, 5000, 5000);
const INTERVAL = int(values.interval, 1, 1);
const GAP = int(values.gap, 10, 10);
const CONCURRENCY = Math.max(1, int(values.concurrency, 24, 24));
const SETTLE = int(values.settle, 2000, 5000);
const LOAD_AT_START = loadavg().map((x) => Number(x.toFixed(2)));
const CPU_COUNT = availableParallelism(); // before the driver pins itself
const PIN = !values['no-pin'] && CPU_COUNT >= 2;
const SERVER_CPUS = PIN ? values['server-cpus'] : undefined;
const COREDNS_BIN = process.env['COREDNS_BIN'] ?? join(process.env['DUBBO_DNS_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'dubbo-dns'), 'bin', 'coredns-v1.12.3');
const NODE = process.execPath;

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};

// ---------------------------------------------------------------------------------------------
// Cleanup: children, the control plane, temp dirs; on exit, Ctrl-C and the deadline.

let cp: ControlPlane | undefined;
const work = mkdtempSync(join(tmpdir(), 'dubbo-dns-propagation-'));
process.on('exit', () => {
  killAllChildren();
  rmSync(work, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    killAllChildren();
    void (cp?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
setTimeout(
  () => {
    log(`deadline of ${values['max-minutes']} min reached: aborting`);
    killAllChildren();
    void (cp?.stop() ?? Promise.resolve()).finally(() => process.exit(2));
  },
  Number(values['max-minutes']) * 60_000,
).unref();

// ---------------------------------------------------------------------------------------------
// Servers.

interface DnsServer {
  readonly name: 'dubbo-dns' | 'dubbo-dns in-cluster' | 'coredns';
  readonly proc: Tracked;
  readonly port: number;
  readonly prober: Prober;
  /** The A name of benchmark service `b` on this server. */
  nameOf(b: BenchService): string;
  readonly startedAt: number;
  /** dubbo-dns: its /metrics port. */
  readonly httpPort?: number;
}

async function freeUdpTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const { createSocket } = await import('node:dgram');
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    const ok = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

/**
 * `serve --kubernetes` with `--kubeconfig`, or as in a pod ('in-cluster'): no kubeconfig, the
 * ServiceAccount directory (the admin token and the cluster CA) mounted in a private mount
 * namespace where the kubelet would put it, and KUBERNETES_SERVICE_HOST/PORT set.
 */
async function startDubboDns(kubeconfig: string, namespace: string, profDir: string | undefined, credentials: 'kubeconfig' | 'in-cluster' = 'kubeconfig'): Promise<DnsServer> {
  const port = await freeUdpTcpPort();
  const nodeFlags = [...(profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]), ...values['node-flags'].split(' ').filter((f) => f !== '')];
  const httpPort = await freeUdpTcpPort();
  const serve = [MAIN, 'serve', '--kubernetes', '--listen', `127.0.0.1:${port}`, '--http-listen', `127.0.0.1:${httpPort}`, '--log-level', 'warn', '--guard-grace', '0', '--sync-timeout', '600', '--lameduck', '0'];
  let proc: Tracked;
  if (credentials === 'kubeconfig') {
    proc = spawnTracked([NODE, ...PRODUCT_NODE_FLAGS, ...nodeFlags, ...serve, '--kubeconfig', kubeconfig], SERVER_CPUS);
  } else {
    const sa = mkdtempSync(join(work, 'serviceaccount-'));
    writeServiceAccount(sa, { token: cp!.token, caPem: cp!.caPem, namespace });
    const env = podEnv(cp!.port, mkdtempSync(join(work, 'home-')));
    proc = spawnTracked(inPod(sa, [NODE, ...PRODUCT_NODE_FLAGS, ...nodeFlags, ...serve]), SERVER_CPUS, env);
  }
  const name = credentials === 'kubeconfig' ? 'dubbo-dns' : 'dubbo-dns in-cluster';
  return { name, proc, port, httpPort, prober: new Prober(port), nameOf: (b) => `${b.label}.${namespace}.dubbo.internal.`, startedAt: performance.now() };
}

async function startCoreDns(kubeconfig: string, namespace: string): Promise<DnsServer> {
  const port = await freeUdpTcpPort();
  const dir = join(work, `coredns-${port}`);
  mkdirSync(dir, { recursive: true });
  const corefile = join(dir, 'Corefile');
  // kubernetes plugin only: no cache, no log, no errors (the same work as dubbo-dns: watch + answer).
  writeFileSync(corefile, `cluster.local:${port} {\n    bind 127.0.0.1\n    kubernetes cluster.local {\n        kubeconfig ${kubeconfig}\n    }\n}\n`);
  const proc = spawnTracked([COREDNS_BIN, '-conf', corefile, '-quiet'], SERVER_CPUS);
  return { name: 'coredns', proc, port, prober: new Prober(port), nameOf: (b) => `${b.label}.${namespace}.svc.cluster.local.`, startedAt: performance.now() };
}

/** V8 heap used/total and external memory (KiB) from dubbo-dns's /metrics (prom-client default metrics). */
async function heapOf(s: DnsServer): Promise<{ heapUsedKiB: number; heapTotalKiB: number; externalKiB: number } | undefined> {
  if (s.httpPort === undefined) return undefined;
  try {
    const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
    return { heapUsedKiB: metric('nodejs_heap_size_used_bytes'), heapTotalKiB: metric('nodejs_heap_size_total_bytes'), externalKiB: metric('nodejs_external_memory_bytes') };
  } catch {
    return undefined;
  }
}

async function stopServer(s: DnsServer): Promise<void> {
  s.prober.close();
  await s.proc.stop();
}

/**
 * Polls sampled names until each answers with exactly the expected addresses; ms since start.
 * Throws with the server's output after `timeoutMs`.
 */
async function waitSynced(s: DnsServer, sample: readonly BenchService[], timeoutMs: number): Promise<number> {
  const pending = new Set(sample);
  const deadline = performance.now() + timeoutMs;
  while (pending.size > 0) {
    if (!s.proc.alive()) throw new Error(`${s.name} exited:\n${s.proc.output.slice(-3000)}`);
    if (performance.now() > deadline) throw new Error(`${s.name}: ${pending.size}/${sample.length} sampled names not answered within ${timeoutMs} ms:\n${s.proc.output.slice(-3000)}`);
    for (const b of [...pending]) {
      // A short timeout: a query sent before the server listens is lost, and a long wait for it
      // would be counted as start-up time (a 500 ms timeout made every start a multiple of it).
      const r = await s.prober.query(s.nameOf(b), 50);
      const want = b.svc.endpoints.map((e) => e.address).sort();
      if (r !== undefined && r.rcode === 'NOERROR' && r.addresses.slice().sort().join(',') === want.join(',')) pending.delete(b);
      else break;
    }
    if (pending.size > 0) await sleep(10);
  }
  return performance.now() - s.startedAt;
}

function sampleOf(all: readonly BenchService[], n: number): BenchService[] {
  if (all.length <= n) return [...all];
  const picked = new Set<number>([0, all.length - 1]);
  for (let i = 1; picked.size < n; i++) picked.add(Math.floor((i * all.length) / n) % all.length);
  return [...picked].sort((a, b) => a - b).map((i) => all[i]!);
}

// ---------------------------------------------------------------------------------------------
// Objects.

async function createServices(applier: Applier, namespace: string, from: number, to: number, into: BenchService[]): Promise<{ ms: number; objects: number }> {
  const started = performance.now();
  const todo = Array.from({ length: to - from }, (_, i) => benchService(namespace, from + i, ENDPOINTS));
  let done = 0;
  let lastLog = performance.now();
  await pool(todo, CONCURRENCY, async (b) => {
    const r = await applier.applyOk(serviceManifest(b));
    b.uid = (JSON.parse(r.body) as { metadata: { uid: string } }).metadata.uid;
    await applier.applyOk(sliceManifest(b));
    into[b.index] = b;
    done++;
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  created ${done}/${todo.length} services (+ slices), ${((done * 2) / ((performance.now() - started) / 1000)).toFixed(0)} objects/s`);
    }
  });
  return { ms: performance.now() - started, objects: todo.length * 2 };
}

function pinControlPlane(cpus: string | undefined): void {
  if (!PIN || cp === undefined) return;
  const all = osCpus().map((_, i) => i).join(',');
  for (const pid of [cp.pids.apiServer, cp.pids.etcd]) if (pid !== undefined) pin(pid, cpus ?? all);
}

// ---------------------------------------------------------------------------------------------
// Phases.

interface Mem {
  readonly rssKiB: number;
  readonly hwmKiB: number;
  /** dubbo-dns only: V8 heap and external memory. */
  readonly heap?: { heapUsedKiB: number; heapTotalKiB: number; externalKiB: number } | undefined;
}

interface ChangeRecord {
  readonly service: string;
  readonly ackMs: number;
  readonly dubbo: number | undefined;
  readonly coredns: number | undefined;
}

interface LatencyResult {
  readonly services: number;
  readonly endpoints: number;
  readonly changes: number;
  readonly warmup: number;
  readonly dubbo: Summary;
  readonly coredns: Summary;
  readonly apiserverAck: Summary;
  readonly ratioP50: number;
  readonly ratioP99: number;
  readonly memory: { dubbo: Mem; coredns: Mem };
  readonly syncMs: { dubbo: number; coredns: number };
  readonly changesMs: number;
  readonly slowest: ChangeRecord[];
}

let changeCounter = 0;

async function oneChange(applier: Applier, servers: readonly DnsServer[], b: BenchService, e: number): Promise<ChangeRecord> {
  const address = ipv4(CHANGED_BASE, changeCounter++);
  const next = withAddress(b, e, address);
  const r = await applier.apply(sliceManifest(b, next));
  if (r.status < 200 || r.status >= 300) throw new Error(`change of ${b.label} rejected: ${r.status} ${r.body.slice(0, 300)}`);
  b.svc = next;
  const [dubbo, coredns] = await Promise.all(servers.map((s) => s.prober.waitFor(s.nameOf(b), address, r.ackAt, TIMEOUT, INTERVAL)));
  return { service: b.label, ackMs: r.ackAt - r.sentAt, dubbo, coredns };
}

async function latencyPhase(applier: Applier, namespace: string, services: BenchService[]): Promise<LatencyResult> {
  log(`latency: starting dubbo-dns and CoreDNS on ${SERVICES} services x ${ENDPOINTS} endpoints`);
  const profDir = values['cpu-prof'];
  if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
  const dubbo = await startDubboDns(cp!.kubeconfigPath, namespace, profDir);
  const coredns = await startCoreDns(cp!.kubeconfigPath, namespace);
  const servers = [dubbo, coredns];
  try {
    const sample = sampleOf(services, 20);
    const [dubboSync, corednsSync] = await Promise.all(servers.map((s) => waitSynced(s, sample, 180_000)));
    log(`  synced: dubbo-dns ${ms(dubboSync!)} ms, CoreDNS ${ms(corednsSync!)} ms after start`);
    pinControlPlane(values['cp-cpus']);
    await sleep(1000);
    const records: ChangeRecord[] = [];
    const started = performance.now();
    for (let k = 0; k < WARMUP + CHANGES; k++) {
      // Round-robin over services; each pass moves the next endpoint of every service.
      const b = services[k % SERVICES]!;
      const e = Math.floor(k / SERVICES) % ENDPOINTS;
      const rec = await oneChange(applier, servers, b, e);
      if (k >= WARMUP) records.push(rec);
      if (!dubbo.proc.alive() || !coredns.proc.alive()) throw new Error(`a server exited during the changes:\n${dubbo.proc.output.slice(-2000)}\n${coredns.proc.output.slice(-2000)}`);
      if ((k + 1) % 100 === 0) {
        const recent = records.slice(-100);
        log(`  ${k + 1}/${WARMUP + CHANGES} changes; last 100 p50 dubbo-dns ${ms(summarize(recent.map((x) => x.dubbo)).p50)} ms, CoreDNS ${ms(summarize(recent.map((x) => x.coredns)).p50)} ms`);
      }
      if (GAP > 0) await sleep(GAP);
    }
    const changesMs = performance.now() - started;
    pinControlPlane(undefined);
    const memory = { dubbo: { ...memoryOf(dubbo.proc.pid), heap: await heapOf(dubbo) }, coredns: memoryOf(coredns.proc.pid) };
    const d = summarize(records.map((x) => x.dubbo));
    const c = summarize(records.map((x) => x.coredns));
    writeChart(`propagation-${SERVICES}`, {
      kind: 'cdf',
      title: `EndpointSlice write acknowledged -> new answer, ${SERVICES.toLocaleString('en-US')} services x ${ENDPOINTS} endpoints, ${CHANGES} changes`,
      unit: 'ms',
      series: [
        { label: 'dubbo-dns', values: records.flatMap((x) => (x.dubbo === undefined ? [] : [Number(x.dubbo.toFixed(3))])) },
        { label: 'CoreDNS kubernetes', values: records.flatMap((x) => (x.coredns === undefined ? [] : [Number(x.coredns.toFixed(3))])) },
      ],
    });
    const slowest = [...records].sort((x, y) => Math.max(y.dubbo ?? Infinity, y.coredns ?? Infinity) - Math.max(x.dubbo ?? Infinity, x.coredns ?? Infinity)).slice(0, 5);
    return {
      services: SERVICES,
      endpoints: ENDPOINTS,
      changes: CHANGES,
      warmup: WARMUP,
      dubbo: d,
      coredns: c,
      apiserverAck: summarize(records.map((x) => x.ackMs)),
      ratioP50: d.p50 / c.p50,
      ratioP99: d.p99 / c.p99,
      memory,
      syncMs: { dubbo: dubboSync!, coredns: corednsSync! },
      changesMs,
      slowest,
    };
  } finally {
    await Promise.all(servers.map(stopServer));
    if (profDir !== undefined) writeFileSync(join(profDir, 'dubbo-dns.log'), dubbo.proc.output);
  }
}

interface MemoryResult {
  readonly services: number;
  readonly endpoints: number;
  readonly createMs: number;
  readonly createdObjects: number;
  readonly rounds: number;
  /** Medians over the rounds. */
  readonly syncMs: { dubbo: number; inCluster: number; coredns: number };
  readonly dubbo: Mem & { askedRssKiB: number };
  /** dubbo-dns with a pod's credentials instead of a kubeconfig (no client-node loaded). */
  readonly inCluster: Mem & { askedRssKiB: number };
  readonly coredns: Mem & { askedRssKiB: number };
}

async function memoryPhase(applier: Applier, namespace: string, services: BenchService[]): Promise<MemoryResult> {
  const have = services.filter(Boolean).length;
  let created = { ms: 0, objects: 0 };
  if (MEMORY_SERVICES > have) {
    log(`memory: creating services ${have}..${MEMORY_SERVICES - 1} (x ${ENDPOINTS} endpoints), ${CONCURRENCY} in flight`);
    created = await createServices(applier, namespace, have, MEMORY_SERVICES, services);
    log(`  created ${created.objects} objects in ${(created.ms / 1000).toFixed(1)} s`);
  }
  const all = services.slice(0, MEMORY_SERVICES);
  // One at a time, so neither start-up (list + build) disturbs the other's peak; MEMORY_ROUNDS
  // rounds in a rotated order, medians reported (start times vary by tens of percent run to run).
  type Sample = Mem & { syncMs: number; askedRssKiB: number };
  const samples: Record<'dubbo' | 'inCluster' | 'coredns', Sample[]> = { dubbo: [], inCluster: [], coredns: [] };
  const order = ['inCluster', 'dubbo', 'coredns'] as const;
  for (let round = 0; round < MEMORY_ROUNDS; round++) {
    for (let i = 0; i < order.length; i++) {
      const which = order[(i + round) % order.length]!;
      const profile = round === 0 && which === 'inCluster' && values['cpu-prof'] !== undefined ? join(values['cpu-prof'], 'start') : undefined;
      const s = which === 'coredns' ? await startCoreDns(cp!.kubeconfigPath, namespace) : await startDubboDns(cp!.kubeconfigPath, namespace, profile, which === 'dubbo' ? 'kubeconfig' : 'in-cluster');
      try {
        const syncMs = await waitSynced(s, sampleOf(all, 50), 300_000);
        await sleep(SETTLE);
        // Recheck after settling, then read memory.
        await waitSynced(s, sampleOf(all, 10), 30_000);
        const settled = { ...memoryOf(s.proc.pid), heap: await heapOf(s), syncMs };
        // Then every service asked once (dubbo-dns encodes a service's answers on first use).
        await waitSynced(s, all, 300_000);
        const asked = memoryOf(s.proc.pid);
        samples[which].push({ ...settled, askedRssKiB: asked.rssKiB });
        log(`  round ${round + 1}: ${s.name}: synced in ${ms(syncMs)} ms, VmRSS ${mib(settled.rssKiB)} MiB, VmHWM ${mib(settled.hwmKiB)} MiB; every service asked: VmRSS ${mib(asked.rssKiB)} MiB`);
      } finally {
        await stopServer(s);
      }
    }
  }
  const med = (which: keyof typeof samples, field: 'rssKiB' | 'hwmKiB' | 'syncMs' | 'askedRssKiB'): number => median(samples[which].map((x) => x[field]));
  const mem = (which: keyof typeof samples): Mem & { askedRssKiB: number } => ({ rssKiB: med(which, 'rssKiB'), hwmKiB: med(which, 'hwmKiB'), askedRssKiB: med(which, 'askedRssKiB'), heap: samples[which][0]?.heap });
  return {
    services: MEMORY_SERVICES,
    endpoints: ENDPOINTS,
    createMs: created.ms,
    createdObjects: created.objects,
    rounds: MEMORY_ROUNDS,
    syncMs: { dubbo: med('dubbo', 'syncMs'), inCluster: med('inCluster', 'syncMs'), coredns: med('coredns', 'syncMs') },
    dubbo: mem('dubbo'),
    inCluster: mem('inCluster'),
    coredns: mem('coredns'),
  };
}

// ---------------------------------------------------------------------------------------------
// Main.

async function main(): Promise<void> {
  if (PIN) pin(process.pid, values['driver-cpus']);
  const t0 = performance.now();
  log('starting etcd + kube-apiserver');
  cp = await startControlPlane();
  const cpMs = performance.now() - t0;
  const namespace = await cp.newNamespace('bench');
  const applier = new Applier(cp.server, cp.caPem, cp.token, CONCURRENCY);
  const services: BenchService[] = [];
  let latency: LatencyResult | undefined;
  let memory: MemoryResult | undefined;
  let setup = { ms: 0, objects: 0 };
  try {
    if (!values['skip-latency']) {
      log(`creating ${SERVICES} services x ${ENDPOINTS} endpoints in ${namespace}, ${CONCURRENCY} in flight`);
      setup = await createServices(applier, namespace, 0, SERVICES, services);
      log(`  created ${setup.objects} objects in ${(setup.ms / 1000).toFixed(1)} s`);
      latency = await latencyPhase(applier, namespace, services);
    }
    if (!values['skip-memory']) memory = await memoryPhase(applier, namespace, services);
  } finally {
    applier.close();
    await cp.stop();
    cp = undefined;
  }

  const environment = {
    node: process.version,
    cpus: `${CPU_COUNT} x ${osCpus()[0]?.model ?? '?'}`,
    pinning: PIN ? { servers: values['server-cpus'], driver: values['driver-cpus'], controlPlaneDuringChanges: values['cp-cpus'] } : 'off',
    coredns: 'v1.12.3 (kubernetes plugin, no cache)',
    kubeApiserver: 'v1.32.13 + etcd (Debian), /dev/shm',
    controlPlaneStartMs: Math.round(cpMs),
    loadAverage: { atStart: LOAD_AT_START, atEnd: loadavg().map((x) => Number(x.toFixed(2))) },
    pollIntervalMs: INTERVAL,
    timeoutMs: TIMEOUT,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify({ environment, setup: { ms: Math.round(setup.ms), objects: setup.objects }, latency, memory }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n');
    return;
  }
  const out: string[] = [];
  out.push(`propagation benchmark: ${environment.cpus}, ${environment.node}, pinning ${PIN ? `servers cpu ${values['server-cpus']}, driver cpu ${values['driver-cpus']}, apiserver+etcd cpu ${values['cp-cpus']} during changes` : 'off'}`);
  out.push(`load average (1/5/15 min) at start ${environment.loadAverage.atStart.join(' ')}, at end ${environment.loadAverage.atEnd.join(' ')} (other processes on the machine disturb the tail)`);
  if (latency !== undefined) {
    const l = latency;
    out.push('');
    out.push(`EndpointSlice write ack -> new A answer on the wire; ${l.changes} changes (+${l.warmup} warm-up), ${l.services} services x ${l.endpoints} endpoints = ${l.services * l.endpoints} endpoints; poll every ${INTERVAL} ms`);
    out.push(
      table(
        ['server', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms', 'timeouts', 'RSS MiB'],
        [
        ['dubbo-dns', ms(l.dubbo.p50), ms(l.dubbo.p90), ms(l.dubbo.p99), ms(l.dubbo.max), ms(l.dubbo.mean), String(l.dubbo.timeouts), mib(l.memory.dubbo.rssKiB)],
        ['coredns kubernetes', ms(l.coredns.p50), ms(l.coredns.p90), ms(l.coredns.p99), ms(l.coredns.max), ms(l.coredns.mean), String(l.coredns.timeouts), mib(l.memory.coredns.rssKiB)],
        ['(apiserver write ack)', ms(l.apiserverAck.p50), ms(l.apiserverAck.p90), ms(l.apiserverAck.p99), ms(l.apiserverAck.max), ms(l.apiserverAck.mean), '', ''],
        ],
      ),
    );
    if (l.memory.dubbo.heap !== undefined) out.push(`dubbo-dns after the changes: V8 heap used ${mib(l.memory.dubbo.heap.heapUsedKiB)} MiB of ${mib(l.memory.dubbo.heap.heapTotalKiB)} MiB, external ${mib(l.memory.dubbo.heap.externalKiB)} MiB`);
    out.push(`ratio dubbo-dns/CoreDNS: p50 ${l.ratioP50.toFixed(2)}, p99 ${l.ratioP99.toFixed(2)}; goal p99 <= 100 ms: ${l.dubbo.p99 <= 100 ? 'met' : 'MISSED'}; no worse than CoreDNS (p99): ${l.dubbo.p99 <= l.coredns.p99 ? 'yes' : 'NO'}`);
    out.push(`setup: ${setup.objects} objects in ${(setup.ms / 1000).toFixed(1)} s; synced after start: dubbo-dns ${ms(l.syncMs.dubbo)} ms, CoreDNS ${ms(l.syncMs.coredns)} ms; changes took ${(l.changesMs / 1000).toFixed(1)} s`);
  }
  if (memory !== undefined) {
    const m = memory;
    out.push('');
    out.push(`memory, ${m.services} services x ${m.endpoints} endpoints (fresh start, after sync + ${SETTLE} ms; medians of ${m.rounds} rounds)${m.createdObjects > 0 ? `; created ${m.createdObjects} more objects in ${(m.createMs / 1000).toFixed(1)} s` : ''}`);
    out.push(
      table(
        ['server', 'VmRSS MiB', 'VmHWM MiB', 'sync s', 'VmRSS, every service asked'],
        [
          ['dubbo-dns in-cluster', mib(m.inCluster.rssKiB), mib(m.inCluster.hwmKiB), (m.syncMs.inCluster / 1000).toFixed(2), mib(m.inCluster.askedRssKiB)],
          ['dubbo-dns --kubeconfig', mib(m.dubbo.rssKiB), mib(m.dubbo.hwmKiB), (m.syncMs.dubbo / 1000).toFixed(2), mib(m.dubbo.askedRssKiB)],
          ['coredns kubernetes', mib(m.coredns.rssKiB), mib(m.coredns.hwmKiB), (m.syncMs.coredns / 1000).toFixed(2), mib(m.coredns.askedRssKiB)],
        ],
      ),
    );
    if (m.dubbo.heap !== undefined) out.push(`dubbo-dns V8 heap used ${mib(m.dubbo.heap.heapUsedKiB)} MiB of ${mib(m.dubbo.heap.heapTotalKiB)} MiB, external ${mib(m.dubbo.heap.externalKiB)} MiB`);
    for (const [label, d, sync] of [['in-cluster', m.inCluster, m.syncMs.inCluster], ['--kubeconfig', m.dubbo, m.syncMs.dubbo]] as const) {
      out.push(
        `ratio dubbo-dns (${label})/CoreDNS: VmRSS ${(d.rssKiB / m.coredns.rssKiB).toFixed(2)}, VmHWM ${(d.hwmKiB / m.coredns.hwmKiB).toFixed(2)}, VmRSS every service asked ${(d.askedRssKiB / m.coredns.askedRssKiB).toFixed(2)}, time to first answer ${(sync / m.syncMs.coredns).toFixed(2)}`,
      );
    }
    const size = `${m.services.toLocaleString('en')} services x ${m.endpoints} endpoints`;
    writeChart(`memory-kubernetes-${m.services}`, {
      kind: 'bars',
      title: `RSS, Kubernetes mode, ${size} (after sync)`,
      unit: 'MiB',
      groups: ['VmRSS', 'VmHWM (peak)', 'VmRSS, every service asked'],
      series: [
        { label: 'dubbo-dns in-cluster', values: [m.inCluster.rssKiB, m.inCluster.hwmKiB, m.inCluster.askedRssKiB].map((k) => Math.round(k / 1024)) },
        { label: 'dubbo-dns --kubeconfig', values: [m.dubbo.rssKiB, m.dubbo.hwmKiB, m.dubbo.askedRssKiB].map((k) => Math.round(k / 1024)) },
        { label: 'CoreDNS kubernetes', values: [m.coredns.rssKiB, m.coredns.hwmKiB, m.coredns.askedRssKiB].map((k) => Math.round(k / 1024)) },
      ],
    });
    writeChart(`start-kubernetes-${m.services}`, {
      kind: 'bars',
      title: `Start to first complete answers, Kubernetes mode, ${size}`,
      unit: 's',
      groups: ['time to first answer'],
      series: [
        { label: 'dubbo-dns in-cluster', values: [Number((m.syncMs.inCluster / 1000).toFixed(2))] },
        { label: 'dubbo-dns --kubeconfig', values: [Number((m.syncMs.dubbo / 1000).toFixed(2))] },
        { label: 'CoreDNS kubernetes', values: [Number((m.syncMs.coredns / 1000).toFixed(2))] },
      ],
    });
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (cp !== undefined) {
      log(`apiserver log tail:\n${cp.logTail('apiserver', 20)}`);
      await cp.stop();
    }
    process.exit(1);
  },
);
