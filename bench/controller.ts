// Controller benchmark (issue: "2,000 keys × 10 pods"): on a real, bare control plane (etcd +
// kube-apiserver, harness/control-plane.ts), create --apps DubboServices with --interfaces interfaces
// each, and --pods Ready pods per app, so there are apps × interfaces service keys with --pods
// endpoints each (default 200 × 10 = 2,000 keys, 2,000 pods, 20,000 endpoints). Then run the
// controller as the real CLI subprocess and measure:
//
//   cold start   time from spawn to converged (queue empty, every Service and EndpointSlice there
//                with all endpoints ready, every DubboService Ready), API writes from the
//                controller's metric and from the apiserver's own request counter (which also sees
//                Events), controller RSS (VmRSS, VmHWM) and CPU seconds, apiserver/etcd RSS;
//   restart      SIGTERM, start again with nothing changed: time to re-sync and writes (goal 0);
//   one change   flip one pod's readiness (and back): time until every slice holding it shows it,
//                and the writes that caused (ideal: one slice per interface of its app + 1 status).
//
//   node bench/controller.ts [--apps 200] [--interfaces 10] [--pods 10] [--workers 4]
//                            [--concurrency 32] [--quick] [--json] [--profile]
//                            [--timeout 900]
//
// --profile runs the cold-start controller with --cpu-prof and prints its top self-time functions.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { KubeClient } from '../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../harness/control-plane.ts';
import { cpuSeconds, freePort, httpGet, killAllChildren, listAll, memoryOf, parseProm, pool, retry, ROOT, sleep, spawnTracked, table, type Tracked } from './lib.ts';

const MAIN = join(ROOT, 'src', 'main.ts');
const CRD_NAME = 'dubboservices.dubbo-dns.io';
const DS_PATH = '/apis/dubbo-dns.io/v1alpha1';
const SVC_SELECTOR = 'app.kubernetes.io/managed-by=dubbo-dns';
const SLICE_SELECTOR = 'endpointslice.kubernetes.io/managed-by=controller.dubbo-dns.io';
const BENCH_MANAGER = 'dubbo-dns-bench';

// ---------------------------------------------------------------------------------------------
// options

const { values: opts } = parseArgs({
  options: {
    apps: { type: 'string' },
    interfaces: { type: 'string' },
    pods: { type: 'string' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '32' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '900' },
    'poll-ms': { type: 'string', default: '200' },
  },
});

const APPS = Number(opts.apps ?? (opts.quick ? 20 : 200));
const IFACES = Number(opts.interfaces ?? 10);
const PODS = Number(opts.pods ?? 10);
const WORKERS = Number(opts.workers);
const CONCURRENCY = Number(opts.concurrency);
const POLL_MS = Number(opts['poll-ms']);
const TIMEOUT_MS = Number(opts.timeout) * 1000;
const KEYS = APPS * IFACES;
const TOTAL_PODS = APPS * PODS;
for (const [k, v] of Object.entries({ apps: APPS, interfaces: IFACES, pods: PODS, workers: WORKERS, concurrency: CONCURRENCY })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
}
if (IFACES > 64) throw new Error('--interfaces: the CRD allows at most 64');
if (TOTAL_PODS > 60_000) throw new Error('too many pods for the 10.64.0.0/10 address plan');

const log = (msg: string): void => {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};
const T0 = performance.now();

// ---------------------------------------------------------------------------------------------
// the objects

const appName = (a: number): string => `app-${a}`;
const podName = (a: number, p: number): string => `app-${a}-${p}`;
const ifaceName = (a: number, i: number): string => `org.apache.dubbo.bench.app${a}.Service${i}`;
const podIp = (a: number, p: number): string => {
  const n = a * PODS + p + 1;
  return `10.${64 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
};

function dubboService(ns: string, a: number): object {
  return {
    apiVersion: 'dubbo-dns.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: appName(a), namespace: ns },
    spec: {
      application: appName(a),
      selector: { matchLabels: { app: appName(a) } },
      ports: [{ name: 'tri', port: 50051 }],
      interfaces: Array.from({ length: IFACES }, (_, i) => ({ interface: ifaceName(a, i), version: '1.0.0', metadata: { serialization: 'hessian2', timeout: '3000' } })),
    },
  };
}

function pod(ns: string, a: number, p: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName(a, p), namespace: ns, labels: { app: appName(a), 'pod-template-hash': 'bench' } },
    spec: { nodeName: `node-${p % 8}`, containers: [{ name: 'provider', image: 'registry.invalid/dubbo-provider:1', ports: [{ name: 'tri', containerPort: 50051 }] }] },
  };
}

function podStatus(ns: string, a: number, p: number, ready: boolean): object {
  const ip = podIp(a, p);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: podName(a, p), namespace: ns },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

// ---------------------------------------------------------------------------------------------
// helpers

const mib = (kib: number): string => (Number.isNaN(kib) ? '-' : `${(kib / 1024).toFixed(0)} MiB`);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const secs = (ms: number): string => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);

/** VmRSS and VmHWM in KiB. */
type ProcMem = ReturnType<typeof memoryOf>;

// ---------------------------------------------------------------------------------------------
// apiserver-side write counter: apiserver_request_total by verb/resource/subresource

type Counts = Record<string, number>;
const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'APPLY', 'DELETE', 'DELETECOLLECTION']);

async function apiserverRequests(client: KubeClient): Promise<Counts> {
  const text = await client.request<string>('GET', '/metrics', { timeoutMs: 20_000 });
  const out: Counts = {};
  for (const s of parseProm(typeof text === 'string' ? text : '')) {
    if (s.name !== 'apiserver_request_total') continue;
    const { verb = '', resource = '', subresource = '' } = s.labels;
    const key = `${verb} ${resource}${subresource === '' ? '' : `/${subresource}`}`;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

function delta(before: Counts, after: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/** The writes in a delta, without the apiserver's own lease renewals (kube-system leases). */
function writesOf(d: Counts): { total: number; byKind: Counts; reads: Counts } {
  const byKind: Counts = {};
  const reads: Counts = {};
  let total = 0;
  for (const [k, v] of Object.entries(d)) {
    const [verb = '', res = ''] = k.split(' ');
    if (!WRITE_VERBS.has(verb)) {
      if (['services', 'endpointslices', 'dubboservices', 'pods', 'events'].includes(res.split('/')[0]!)) reads[k] = v;
      continue;
    }
    if (res === 'leases') continue; // kube-apiserver identity lease, not ours
    byKind[k] = v;
    total += v;
  }
  return { total, byKind, reads };
}

// ---------------------------------------------------------------------------------------------
// the controller subprocess

interface ControllerMetricsSample {
  ready: boolean;
  depth: number;
  writes: Counts; // "verb kind" -> n
  writesTotal: number;
  reconciles: Counts; // "kind result" -> n
  reconcilesTotal: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

class ControllerProc {
  readonly proc: Tracked;
  readonly port: number;
  readonly started = performance.now();

  constructor(kubeconfig: string, ns: string, port: number, cpuProfDir?: string) {
    this.port = port;
    const env = { ...process.env };
    if (cpuProfDir !== undefined) env['NODE_OPTIONS'] = [env['NODE_OPTIONS'] ?? '', '--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`].join(' ').trim();
    this.proc = spawnTracked(
      [process.execPath, MAIN, 'controller', '--kubeconfig', kubeconfig, '--namespace', ns, '--http-listen', `127.0.0.1:${port}`, '--log-level', 'warn', '--workers', String(WORKERS), '--resync', '86400'],
      undefined,
      env,
    );
  }

  get output(): string {
    return this.proc.output;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Warnings and errors it logged (pino JSON lines, level >= 40). */
  problems(): string[] {
    return this.output.split('\n').filter((l) => /"level":(4|5|6)\d/.test(l));
  }

  async sample(): Promise<ControllerMetricsSample | undefined> {
    if (!this.proc.alive()) throw new Error(`controller exited (${this.proc.child.exitCode}):\n${this.output.slice(-3000)}`);
    try {
      const [ready, metrics] = await Promise.all([httpGet(`http://127.0.0.1:${this.port}/readyz`), httpGet(`http://127.0.0.1:${this.port}/metrics`)]);
      const s: ControllerMetricsSample = { ready: ready.status === 200, depth: NaN, writes: {}, writesTotal: 0, reconciles: {}, reconcilesTotal: 0, heapUsed: NaN, heapTotal: NaN, external: NaN };
      for (const m of parseProm(metrics.body)) {
        if (m.name === 'dubbo_dns_controller_queue_depth') s.depth = m.value;
        else if (m.name === 'dubbo_dns_controller_api_writes_total') {
          s.writes[`${m.labels['verb']} ${m.labels['kind']}`] = m.value;
          s.writesTotal += m.value;
        } else if (m.name === 'nodejs_heap_size_used_bytes') s.heapUsed = m.value;
        else if (m.name === 'nodejs_heap_size_total_bytes') s.heapTotal = m.value;
        else if (m.name === 'nodejs_external_memory_bytes') s.external = m.value;
        else if (m.name === 'dubbo_dns_controller_reconciles_total') {
          s.reconciles[`${m.labels['kind']} ${m.labels['result']}`] = m.value;
          s.reconcilesTotal += m.value;
        }
      }
      return s;
    } catch {
      return undefined; // not listening yet
    }
  }

  async stop(graceMs = 20_000): Promise<{ code: number | null; stopMs: number }> {
    const t = performance.now();
    await this.proc.stop(graceMs);
    return { code: (await this.proc.exited).code, stopMs: performance.now() - t };
  }
}

let cp: ControlPlane | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAllChildren();
    void (cp?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}
process.on('exit', killAllChildren);

/**
 * Polls the controller until its caches synced and its queue is empty, and then until `check`
 * (listing the API) passes. Returns the times (ms since spawn) and the last metrics sample.
 */
async function waitSettled(ctl: ControllerProc, deadline: number, check: () => Promise<string | undefined>): Promise<{ readyMs: number; idleMs: number; verifiedMs: number; sample: ControllerMetricsSample; peak: ProcMem; verifyProblem?: string }> {
  let readyMs = NaN;
  let idleMs = NaN;
  let lastProblem: string | undefined;
  for (;;) {
    if (performance.now() > deadline) throw new Error(`controller did not settle in time (last check: ${lastProblem ?? 'queue not empty'})\n${ctl.output.slice(-3000)}`);
    const s = await ctl.sample();
    const now = performance.now() - ctl.started;
    if (s?.ready && Number.isNaN(readyMs)) readyMs = now;
    if (s?.ready && s.depth === 0) {
      if (Number.isNaN(idleMs)) idleMs = now;
      lastProblem = await check();
      if (lastProblem === undefined) {
        const verifiedMs = performance.now() - ctl.started;
        return { readyMs, idleMs, verifiedMs, sample: s, peak: memoryOf(ctl.pid) };
      }
      log(`queue empty but not converged yet: ${lastProblem}`);
      idleMs = NaN; // it was not really done
      await sleep(1000);
      continue;
    }
    await sleep(POLL_MS);
  }
}

/** Waits until the controller's write counter stays still for `quietMs` with an empty queue. */
async function waitQuiet(ctl: ControllerProc, quietMs: number, deadline: number): Promise<ControllerMetricsSample> {
  let last: ControllerMetricsSample | undefined;
  let since = performance.now();
  for (;;) {
    const s = await ctl.sample();
    if (s !== undefined && last !== undefined && s.writesTotal === last.writesTotal && s.depth === 0) {
      if (performance.now() - since >= quietMs) return s;
    } else since = performance.now();
    if (s !== undefined) last = s;
    if (performance.now() > deadline) throw new Error('controller never went quiet');
    await sleep(POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// convergence check by listing the API

async function checkConverged(client: KubeClient, ns: string, readyWanted: (svc: string) => number): Promise<string | undefined> {
  const services = await listAll(client, `/api/v1/namespaces/${ns}/services`, SVC_SELECTOR);
  if (services.length !== KEYS) return `${services.length}/${KEYS} Services`;
  const slices = await listAll(client, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, SLICE_SELECTOR);
  const ready = new Map<string, number>();
  for (const s of slices) {
    const svc = (s['metadata'] as { labels?: Record<string, string> }).labels?.['kubernetes.io/service-name'] ?? '';
    const eps = (s['endpoints'] ?? []) as { conditions?: { ready?: boolean } }[];
    ready.set(svc, (ready.get(svc) ?? 0) + eps.filter((e) => e.conditions?.ready === true).length);
  }
  let bad = 0;
  for (const s of services) {
    const name = (s['metadata'] as { name: string }).name;
    if ((ready.get(name) ?? 0) !== readyWanted(name)) bad++;
  }
  if (bad > 0) return `${bad}/${KEYS} Services without their ready endpoints (${slices.length} slices)`;
  const crs = await listAll(client, `${DS_PATH}/namespaces/${ns}/dubboservices`);
  const notReady = crs.filter((c) => {
    const st = (c['status'] ?? {}) as { conditions?: { type: string; status: string }[]; serviceCount?: number };
    return st.serviceCount !== IFACES || st.conditions?.find((x) => x.type === 'Ready')?.status !== 'True';
  });
  if (notReady.length > 0) return `${notReady.length}/${APPS} DubboServices not Ready`;
  return undefined;
}

/** Each DubboService's status, by name. */
async function crStatuses(client: KubeClient, ns: string): Promise<Map<string, unknown>> {
  return new Map((await listAll(client, `${DS_PATH}/namespaces/${ns}/dubboservices`)).map((c) => [(c['metadata'] as { name: string }).name, c['status']]));
}

/** What a rewrite changed in the statuses: `path: before -> after`, counted over all objects. */
function diffStatuses(before: Map<string, unknown>, after: Map<string, unknown>): string[] {
  const counts = new Map<string, number>();
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && Array.isArray(a) === Array.isArray(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
      return;
    }
    const show = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v).slice(0, 60));
    const generic = /Time$/.test(path) ? `${path}: changed` : `${path}: ${show(a)} -> ${show(b)}`;
    counts.set(generic, (counts.get(generic) ?? 0) + 1);
  };
  for (const [name, st] of after) walk(before.get(name), st, 'status');
  return [...counts].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} (×${n})`);
}

// ---------------------------------------------------------------------------------------------
// one change: flip a pod's readiness and watch the slices

async function flip(client: KubeClient, ctl: ControllerProc, ns: string, a: number, p: number, ready: boolean, deadline: number): Promise<{ firstMs: number; lastMs: number; slicesSeen: number; writes: Counts; writesTotal: number; statusVisibleMs: number }> {
  const before = await waitQuiet(ctl, 1000, deadline);
  const rv = (await client.request<{ metadata: { resourceVersion: string } }>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { query: { labelSelector: SLICE_SELECTOR, limit: 1 } })).metadata.resourceVersion;
  const name = podName(a, p);
  const seen = new Map<string, number>();
  const abort = new AbortController();
  let t0 = NaN;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const watching = client
    .watch(
      `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
      { labelSelector: SLICE_SELECTOR, resourceVersion: rv, timeoutSeconds: 120 },
      (type, obj) => {
        if (type !== 'MODIFIED' && type !== 'ADDED') return;
        const eps = (obj['endpoints'] ?? []) as { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[];
        const mine = eps.find((e) => e.targetRef?.name === name);
        const sliceName = (obj['metadata'] as { name: string }).name;
        if (mine !== undefined && mine.conditions?.ready === ready && !seen.has(sliceName)) {
          seen.set(sliceName, performance.now() - t0);
          if (seen.size >= IFACES) done();
        }
      },
      abort.signal,
    )
    .catch(() => undefined);
  await sleep(200); // let the watch connect
  t0 = performance.now();
  await client.apply(`/api/v1/namespaces/${ns}/pods/${name}/status`, podStatus(ns, a, p, ready), BENCH_MANAGER);
  const timeout = sleep(Math.max(0, deadline - performance.now())).then(() => 'timeout' as const);
  const r = await Promise.race([all.then(() => 'ok' as const), timeout]);
  abort.abort();
  await watching;
  if (r === 'timeout') throw new Error(`slices never showed ${name} ready=${ready} (${seen.size}/${IFACES} seen)`);
  // the status write follows the slices; wait for the DubboService to say it, then for quiet
  const wantReady = ready ? IFACES * PODS : IFACES * (PODS - 1);
  let statusVisibleMs = NaN;
  for (;;) {
    const cr = await client.request<{ status?: { readyEndpoints?: number } }>('GET', `${DS_PATH}/namespaces/${ns}/dubboservices/${appName(a)}`);
    if (cr.status?.readyEndpoints === wantReady) {
      statusVisibleMs = performance.now() - t0;
      break;
    }
    if (performance.now() > deadline) throw new Error('DubboService status never caught up');
    await sleep(20);
  }
  const after = await waitQuiet(ctl, 1500, deadline);
  const writes: Counts = {};
  for (const [k, v] of Object.entries(after.writes)) if (v - (before.writes[k] ?? 0) > 0) writes[k] = v - (before.writes[k] ?? 0);
  const times = [...seen.values()];
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  return { firstMs: r1(Math.min(...times)), lastMs: r1(Math.max(...times)), slicesSeen: seen.size, writes, writesTotal: after.writesTotal - before.writesTotal, statusVisibleMs: r1(statusVisibleMs) };
}

// ---------------------------------------------------------------------------------------------
// main

async function main(): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  const hard = setTimeout(() => {
    process.stderr.write(`deadline of ${TIMEOUT_MS / 1000} s reached: aborting\n`);
    killAllChildren();
    void (cp?.stop() ?? Promise.resolve()).finally(() => process.exit(2));
  }, TIMEOUT_MS + 30_000);
  hard.unref();

  log(`control plane: starting etcd + kube-apiserver`);
  cp = await startControlPlane();
  const client = new KubeClient(cp.kubeConfig);
  const result: Record<string, unknown> = { apps: APPS, interfaces: IFACES, podsPerApp: PODS, keys: KEYS, pods: TOTAL_PODS, endpoints: KEYS * PODS, workers: WORKERS, node: process.version, nproc: (await import('node:os')).availableParallelism() };

  // --- CRD ------------------------------------------------------------------------------------
  const crd = parseYaml(readFileSync(join(ROOT, 'deploy', 'crd.yaml'), 'utf8')) as object;
  await client.apply(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`, crd, BENCH_MANAGER);
  for (let i = 0; ; i++) {
    const c = await client.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    if (c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) {
      // discovery of the new group can lag Established by a moment
      try {
        await client.request('GET', `${DS_PATH}/dubboservices`, { query: { limit: 1 } });
        break;
      } catch {
        /* not served yet */
      }
    }
    if (i > 300) throw new Error('CRD never became Established');
    await sleep(100);
  }
  const ns = await cp.newNamespace('bench-controller');
  log(`CRD established; namespace ${ns}`);

  // --- objects ---------------------------------------------------------------------------------
  let t = performance.now();
  await pool(range(APPS), CONCURRENCY, async (a) => {
    await retry(() => client.request('POST', `${DS_PATH}/namespaces/${ns}/dubboservices`, { body: dubboService(ns, a) }));
  });
  await pool(range(TOTAL_PODS), CONCURRENCY, async (i) => {
    const a = Math.floor(i / PODS);
    const p = i % PODS;
    await retry(() => client.request('POST', `/api/v1/namespaces/${ns}/pods`, { body: pod(ns, a, p) }));
    await retry(() => client.apply(`/api/v1/namespaces/${ns}/pods/${podName(a, p)}/status`, podStatus(ns, a, p, true), BENCH_MANAGER));
  });
  const setupMs = performance.now() - t;
  log(`created ${APPS} DubboServices (${KEYS} keys) and ${TOTAL_PODS} Ready pods in ${secs(setupMs)} (${Math.round((APPS + 2 * TOTAL_PODS) / (setupMs / 1000))} writes/s)`);
  result['setupMs'] = Math.round(setupMs);
  const allReady = (): number => PODS;

  const kubeconfig = cp.kubeconfigPath;
  const profDir = opts.profile ? mkdtempSync(join(tmpdir(), 'dubbo-dns-ctl-prof-')) : undefined;

  // --- cold start ------------------------------------------------------------------------------
  let api0 = await apiserverRequests(client);
  let apiCpu0 = cpuSeconds(cp.pids.apiServer) + cpuSeconds(cp.pids.etcd);
  let ctl = new ControllerProc(kubeconfig, ns, await freePort(), profDir);
  log(`cold start: controller pid ${ctl.pid}`);
  const cold = await waitSettled(ctl, deadline, () => checkConverged(client, ns, allReady));
  log(`cold start: caches synced at ${secs(cold.readyMs)}, queue empty at ${secs(cold.idleMs)}, verified at ${secs(cold.verifiedMs)}`);
  const coldCpu = cpuSeconds(ctl.pid);
  const coldQuiet = await waitQuiet(ctl, 2000, deadline); // trailing events and status writes
  await sleep(500);
  let api1 = await apiserverRequests(client);
  const coldApi = writesOf(delta(api0, api1));
  const coldApiCpu = cpuSeconds(cp.pids.apiServer) + cpuSeconds(cp.pids.etcd) - apiCpu0;
  const coldMem = memoryOf(ctl.pid);
  const apiMem = memoryOf(cp.pids.apiServer);
  const etcdMem = memoryOf(cp.pids.etcd);
  result['cold'] = {
    cachesSyncedMs: Math.round(cold.readyMs),
    queueEmptyMs: Math.round(cold.idleMs),
    convergedMs: Math.round(cold.verifiedMs),
    controllerWrites: coldQuiet.writes,
    controllerWritesTotal: coldQuiet.writesTotal,
    idealWrites: { services: KEYS, slices: KEYS, statuses: APPS, total: 2 * KEYS + APPS },
    apiserverWrites: coldApi.byKind,
    apiserverWritesTotal: coldApi.total,
    apiserverReads: coldApi.reads,
    reconciles: coldQuiet.reconciles,
    controllerCpuSeconds: coldCpu,
    apiserverEtcdCpuSeconds: Math.round(coldApiCpu * 100) / 100,
    controllerHeapUsedBytes: coldQuiet.heapUsed,
    controllerHeapTotalBytes: coldQuiet.heapTotal,
    controllerExternalBytes: coldQuiet.external,
    controllerHeapTotalBytesAtConvergence: cold.sample.heapTotal,
    controllerRssKiB: coldMem.rssKiB,
    controllerHwmKiB: coldMem.hwmKiB,
    apiserverRssKiB: apiMem.rssKiB,
    apiserverHwmKiB: apiMem.hwmKiB,
    etcdRssKiB: etcdMem.rssKiB,
    warnings: ctl.problems().length,
  };
  log(`cold start: ${coldQuiet.writesTotal} writes by the metric (ideal ${2 * KEYS + APPS}), ${coldApi.total} seen by the apiserver; RSS ${mib(coldMem.rssKiB)} (HWM ${mib(coldMem.hwmKiB)})`);
  const coldStop = await ctl.stop();
  const coldProblems = ctl.problems();
  log(`stopped (exit ${coldStop.code}) in ${secs(coldStop.stopMs)}`);

  // --- restart, nothing changed -----------------------------------------------------------------
  await sleep(500);
  const statusesBefore = await crStatuses(client, ns);
  api0 = await apiserverRequests(client);
  apiCpu0 = cpuSeconds(cp.pids.apiServer) + cpuSeconds(cp.pids.etcd);
  ctl = new ControllerProc(kubeconfig, ns, await freePort());
  log(`restart: controller pid ${ctl.pid}`);
  const warm = await waitSettled(ctl, deadline, async () => undefined);
  const warmCpu = cpuSeconds(ctl.pid);
  const warmQuiet = await waitQuiet(ctl, 3000, deadline);
  await sleep(500);
  api1 = await apiserverRequests(client);
  const warmApi = writesOf(delta(api0, api1));
  const warmApiCpu = cpuSeconds(cp.pids.apiServer) + cpuSeconds(cp.pids.etcd) - apiCpu0;
  const warmMem = memoryOf(ctl.pid);
  const statusChanges = diffStatuses(statusesBefore, await crStatuses(client, ns));
  result['restart'] = {
    cachesSyncedMs: Math.round(warm.readyMs),
    resyncedMs: Math.round(warm.idleMs),
    controllerWrites: warmQuiet.writes,
    controllerWritesTotal: warmQuiet.writesTotal,
    apiserverWrites: warmApi.byKind,
    apiserverWritesTotal: warmApi.total,
    apiserverReads: warmApi.reads,
    reconciles: warmQuiet.reconciles,
    controllerCpuSeconds: warmCpu,
    apiserverEtcdCpuSeconds: Math.round(warmApiCpu * 100) / 100,
    controllerHeapUsedBytes: warmQuiet.heapUsed,
    controllerHeapTotalBytes: warmQuiet.heapTotal,
    controllerRssKiB: warmMem.rssKiB,
    controllerHwmKiB: warmMem.hwmKiB,
    statusChanges,
  };
  log(`restart: synced ${secs(warm.readyMs)}, queue empty ${secs(warm.idleMs)}, ${warmQuiet.writesTotal} writes (goal 0), apiserver saw ${warmApi.total}`);

  // --- one change --------------------------------------------------------------------------------
  const down = await flip(client, ctl, ns, 0, 0, false, deadline);
  log(`pod ${podName(0, 0)} not ready: first slice ${secs(down.firstMs)}, all ${down.slicesSeen} ${secs(down.lastMs)}, ${down.writesTotal} writes ${JSON.stringify(down.writes)}`);
  const up = await flip(client, ctl, ns, 0, 0, true, deadline);
  log(`pod ${podName(0, 0)} ready again: first slice ${secs(up.firstMs)}, all ${up.slicesSeen} ${secs(up.lastMs)}, ${up.writesTotal} writes ${JSON.stringify(up.writes)}`);
  result['oneChange'] = { idealWrites: { slices: IFACES, statuses: 1 }, notReady: down, readyAgain: up };
  const finalProblems = ctl.problems();
  await ctl.stop();
  const problems = [...coldProblems, ...finalProblems];
  result['controllerWarnings'] = problems.length;
  if (problems.length > 0) result['controllerWarningSample'] = problems.slice(0, 5);

  // --- profile -----------------------------------------------------------------------------------
  let profileText: string | undefined;
  if (profDir !== undefined) {
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length > 0) {
      const { formatSummary } = await import('./profile.ts');
      profileText = formatSummary(join(profDir, files[0]!), 25);
      result['profile'] = join(profDir, files[0]!);
    } else profileText = `no .cpuprofile written in ${profDir}`;
  }

  await cp.stop(); // the .cpuprofile (if any) stays in profDir for inspection
  cp = undefined;

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const w = (o: Counts): string =>
    Object.entries(o)
      .sort()
      .map(([k, v]) => `${k}=${v}`)
      .join(', ') || 'none';
  const lines = [
    `dubbo-dns controller bench: ${APPS} DubboServices × ${IFACES} interfaces = ${KEYS} keys, ${PODS} pods per app (${TOTAL_PODS} pods, ${KEYS * PODS} endpoints), ${WORKERS} workers, node ${process.version}, ${result['nproc']} CPUs`,
    `setup: ${APPS + 2 * TOTAL_PODS} writes in ${secs(setupMs)}`,
    '',
    table(
      ['phase', 'synced', 'settled', 'writes (metric)', 'ideal', 'apiserver writes', 'ctl CPU', 'apiserver+etcd CPU', 'ctl RSS', 'ctl HWM', 'ctl heap used'],
      [
        ['cold start', secs(cold.readyMs), secs(cold.verifiedMs), String(coldQuiet.writesTotal), String(2 * KEYS + APPS), String(coldApi.total), `${coldCpu.toFixed(1)} s`, `${coldApiCpu.toFixed(1)} s`, mib(coldMem.rssKiB), mib(coldMem.hwmKiB), mib(coldQuiet.heapUsed / 1024)],
        ['restart, no change', secs(warm.readyMs), secs(warm.idleMs), String(warmQuiet.writesTotal), '0', String(warmApi.total), `${warmCpu.toFixed(1)} s`, `${warmApiCpu.toFixed(1)} s`, mib(warmMem.rssKiB), mib(warmMem.hwmKiB), mib(warmQuiet.heapUsed / 1024)],
      ],
    ),
    '',
    table(
      ['one change (pod app-0-0)', 'first slice', `all ${IFACES} slices`, 'status', 'writes', 'ideal'],
      [
        ['Ready -> not ready', secs(down.firstMs), secs(down.lastMs), secs(down.statusVisibleMs), String(down.writesTotal), String(IFACES + 1)],
        ['not ready -> Ready', secs(up.firstMs), secs(up.lastMs), secs(up.statusVisibleMs), String(up.writesTotal), String(IFACES + 1)],
      ],
    ),
    '',
    `cold writes by the metric:     ${w(coldQuiet.writes)}`,
    `cold writes at the apiserver:  ${w(coldApi.byKind)}`,
    `cold reads at the apiserver:   ${w(coldApi.reads)}`,
    `cold reconciles:               ${w(coldQuiet.reconciles)}`,
    `restart writes by the metric:  ${w(warmQuiet.writes)}`,
    `restart writes at apiserver:   ${w(warmApi.byKind)}`,
    `restart reconciles:            ${w(warmQuiet.reconciles)}`,
    ...(statusChanges.length > 0 ? [`restart changed DubboService status: ${statusChanges.slice(0, 4).join('; ')}`] : []),
    `one change writes:             down: ${w(down.writes)}; up: ${w(up.writes)}`,
    `apiserver RSS ${mib(apiMem.rssKiB)} (HWM ${mib(apiMem.hwmKiB)}), etcd RSS ${mib(etcdMem.rssKiB)} at cold convergence; controller warnings logged: ${problems.length}`,
    ...(problems.length > 0 ? problems.slice(0, 3).map((p) => `  ${p.slice(0, 300)}`) : []),
    ...(profileText !== undefined ? ['', profileText] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAllChildren();
    await cp?.stop();
    process.exit(1);
  },
);
