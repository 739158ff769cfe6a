// Shared helpers of the controller tests: a REST client on the test control plane, pods with a
// status (Pods never run on a bare apiserver), DubboServices, reads of what the controller wrote,
// the controller in-process or as the real CLI, and Prometheus text parsing.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.ts';
import { KubeClient, KubeError } from '../../src/kube/rest.ts';
import { ControllerMetrics } from '../../src/observability/controller-metrics.ts';
import { eventually, type ControlPlane } from '../../harness/control-plane.ts';
import { followJsonLogs } from '../support/json-logs.ts';
import { installCrd as installCrdFor } from '../../harness/control-plane.ts';

export { eventually };

/** The CLI entry, run with the Node that runs the tests (Node 24). */
export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const CRD = '/apis/dubbo-dns.io/v1alpha1';
export const TEST_MANAGER = 'controller-test';

// ---------------------------------------------------------------------------------------------
// object shapes (as much as the tests read)

export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
  deletionTimestamp?: string;
}

export interface ServiceObj {
  metadata: Meta;
  spec: { clusterIP?: string; selector?: Record<string, string>; ports?: { name?: string; port: number; protocol?: string; targetPort?: number | string }[]; publishNotReadyAddresses?: boolean; type?: string };
}

export interface SliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string };
}

export interface SliceObj {
  metadata: Meta;
  addressType: string;
  endpoints?: SliceEndpoint[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface DubboServiceObj {
  metadata: Meta;
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    serviceCount?: number;
    readyEndpoints?: number;
    services?: { name: string; interface: string; group?: string; version?: string; endpoints?: number; readyEndpoints?: number }[];
    conditions?: Condition[];
  };
}

export interface EventObj {
  metadata: Meta;
  involvedObject: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string };
  type: string;
  reason: string;
  message: string;
  source?: { component?: string };
}

export interface PodObj {
  metadata: Meta;
  spec: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// API helpers

/** A REST client with the admin token. */
export function adminClient(cp: ControlPlane): KubeClient {
  return new KubeClient(cp.kubeConfig);
}

/** GET, or undefined on 404. */
export async function getOrUndefined<T>(k: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await k.request<T>('GET', path);
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return undefined;
    throw err;
  }
}

export interface PodOptions {
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly ip: string;
  readonly ips?: readonly string[];
  readonly ready: boolean;
  readonly nodeName?: string;
  readonly hostname?: string;
}

/** Creates a pod and gives it a Running status with the IP and the Ready condition. */
export async function createPod(k: KubeClient, ns: string, name: string, o: PodOptions): Promise<PodObj> {
  await k.request('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
      spec: {
        containers: [{ name: 'app', image: 'registry.invalid/provider:1' }],
        ...(o.nodeName === undefined ? {} : { nodeName: o.nodeName }),
        ...(o.hostname === undefined ? {} : { hostname: o.hostname }),
      },
    },
  });
  return setPodStatus(k, ns, name, o.ip, o.ready, o.ips);
}

/** Sets a pod's IP(s) and Ready condition through /status (server-side apply). */
export async function setPodStatus(k: KubeClient, ns: string, name: string, ip: string, ready: boolean, ips?: readonly string[]): Promise<PodObj> {
  return k.apply<PodObj>(
    `/api/v1/namespaces/${ns}/pods/${name}/status`,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: (ips ?? [ip]).map((x) => ({ ip: x })),
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      },
    },
    TEST_MANAGER,
  );
}

/** Creates many pods, a few at a time. */
export async function createPods(k: KubeClient, ns: string, pods: readonly { name: string; options: PodOptions }[], parallel = 16): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pods.length) {
      const p = pods[next++]!;
      await createPod(k, ns, p.name, p.options);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Deletes a pod; gracePeriodSeconds 0 removes it at once even when it has a nodeName. */
export async function deletePod(k: KubeClient, ns: string, name: string, gracePeriodSeconds = 0): Promise<void> {
  await k.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, { query: { gracePeriodSeconds } });
}

/** Server-side applies a DubboService (as the test's field manager). */
export async function applyDubboService(k: KubeClient, ns: string, name: string, spec: Record<string, unknown>): Promise<DubboServiceObj> {
  return k.apply<DubboServiceObj>(`${CRD}/namespaces/${ns}/dubboservices/${name}`, { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace: ns }, spec }, TEST_MANAGER);
}

export function getDubboService(k: KubeClient, ns: string, name: string): Promise<DubboServiceObj> {
  return k.request<DubboServiceObj>('GET', `${CRD}/namespaces/${ns}/dubboservices/${name}`);
}

export function getService(k: KubeClient, ns: string, name: string): Promise<ServiceObj | undefined> {
  return getOrUndefined<ServiceObj>(k, `/api/v1/namespaces/${ns}/services/${name}`);
}

/** Every EndpointSlice labelled with the Service's name, sorted by name. */
export async function slicesOf(k: KubeClient, ns: string, service: string): Promise<SliceObj[]> {
  const list = await k.request<{ items: SliceObj[] }>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { query: { labelSelector: `kubernetes.io/service-name=${service}` } });
  return list.items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

export async function listAll<T>(k: KubeClient, path: string): Promise<T[]> {
  return (await k.request<{ items: T[] }>('GET', path)).items;
}

/** Events about one object (by name), oldest first. */
export async function eventsFor(k: KubeClient, ns: string, involvedName: string): Promise<EventObj[]> {
  const list = await k.request<{ items: EventObj[] }>('GET', `/api/v1/namespaces/${ns}/events`, { query: { fieldSelector: `involvedObject.name=${involvedName}` } });
  return list.items;
}

/** The endpoints of a key's slices, by address. */
export async function endpointsOf(k: KubeClient, ns: string, service: string): Promise<Map<string, SliceEndpoint>> {
  const out = new Map<string, SliceEndpoint>();
  for (const s of await slicesOf(k, ns, service)) for (const e of s.endpoints ?? []) out.set(e.addresses[0] ?? '', e);
  return out;
}

/** resourceVersion of every Service, EndpointSlice and DubboService in a namespace. */
export async function resourceVersions(k: KubeClient, ns: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [kind, path] of [
    ['Service', `/api/v1/namespaces/${ns}/services`],
    ['EndpointSlice', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`],
    ['DubboService', `${CRD}/namespaces/${ns}/dubboservices`],
  ] as const) {
    for (const o of await listAll<{ metadata: Meta }>(k, path)) out.set(`${kind}/${o.metadata.name}`, o.metadata.resourceVersion);
  }
  return out;
}

/** A condition of a DubboService's status. */
export function condition(ds: DubboServiceObj | undefined, type: string): Condition | undefined {
  return ds?.status?.conditions?.find((c) => c.type === type);
}

/** Every annotation value of every Service and EndpointSlice in a namespace, joined. */
export async function allAnnotationText(k: KubeClient, ns: string): Promise<string> {
  const parts: string[] = [];
  for (const path of [`/api/v1/namespaces/${ns}/services`, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, `${CRD}/namespaces/${ns}/dubboservices`]) {
    for (const o of await listAll<{ metadata: Meta; status?: unknown }>(k, path)) {
      parts.push(JSON.stringify(o.metadata.annotations ?? {}), JSON.stringify(o.metadata.labels ?? {}));
      if (path.includes('dubboservices')) parts.push(JSON.stringify(o.status ?? {}));
    }
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// the controller, in-process

export interface InProcess {
  readonly controller: Controller;
  /** Every log line (JSON) so far. */
  readonly logs: Record<string, unknown>[];
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  readonly orphanRetentionMs?: number;
  readonly resyncMs?: number;
  readonly workers?: number;
  readonly leaderElection?: { namespace: string; name: string; identity: string; leaseDurationSeconds?: number };
  /** A client of the test's own (e.g. one that injects latency); default the admin client. */
  readonly client?: KubeClient;
}

/** Starts a Controller scoped to `ns`; resolves once its caches have synced. */
export async function startInProcess(cp: ControlPlane, ns: string, o: InProcessOptions = {}): Promise<InProcess> {
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as Record<string, unknown>) });
  const controller = new Controller({
    client: o.client ?? new KubeClient(cp.kubeConfig),
    namespaces: [ns],
    orphanRetentionMs: o.orphanRetentionMs ?? 600_000,
    resyncMs: o.resyncMs ?? 600_000,
    workers: o.workers ?? 4,
    log,
    leaderElection: o.leaderElection,
    metrics: (depth, managed) => new ControllerMetrics(depth, managed),
  });
  await controller.start();
  let stopped = false;
  return {
    controller,
    logs,
    metrics: () => controller.metrics!.registry.metrics(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await controller.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the controller, as the real CLI

export interface CliController {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly stderr: () => string;
  /** Port of --http-listen 127.0.0.1:0, from the "controller started" line. */
  readonly httpPort: number;
  get(path: string): Promise<{ status: number; text: string }>;
  waitForLog(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  /** SIGTERM (or another signal) and wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
/** Kills every CLI child still running (for `after` hooks). */
export async function killAllCli(): Promise<void> {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  running.clear();
}

/** Starts `node src/main.ts controller --kubeconfig F --http-listen 127.0.0.1:0 ...args`. */
export async function startCli(kubeconfig: string, args: readonly string[], timeoutMs = 20_000): Promise<CliController> {
  const child = spawn(process.execPath, [MAIN, 'controller', '--kubeconfig', kubeconfig, '--http-listen', '127.0.0.1:0', '--log-level', 'info', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const followed = followJsonLogs(child);
  const { logs } = followed;
  const waitForLog = (match: (l: Record<string, unknown>) => boolean, ms = 10_000, what = 'log line'): Promise<Record<string, unknown>> =>
    eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`controller exited ${child.exitCode}: ${followed.stderr()}\n${JSON.stringify(logs.slice(-5))}`);
        return logs.find(match);
      },
      ms,
      what,
      50,
    );
  const started = await waitForLog((l) => l['msg'] === 'controller started', timeoutMs, 'controller started');
  const port = Number(String(started['http']).split(':').pop());
  return {
    child,
    logs,
    stderr: () => followed.stderr(),
    httpPort: port,
    async get(path) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    },
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Writes a kubeconfig for a bearer token next to the control plane's own. */
export function writeTokenKubeconfig(cp: ControlPlane, name: string, token: string): string {
  return writeKubeconfig(cp, name, [`    token: ${token}`]);
}

/** A kubeconfig whose user reads its bearer token from `tokenFile`, as in-cluster credentials do. */
export function writeTokenFileKubeconfig(cp: ControlPlane, name: string, tokenFile: string): string {
  return writeKubeconfig(cp, name, ['    auth-provider:', '      name: tokenFile', '      config:', `        tokenFile: ${tokenFile}`]);
}

function writeKubeconfig(cp: ControlPlane, name: string, userLines: readonly string[]): string {
  const path = join(cp.dir, `${name}.kubeconfig`);
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${cp.server}`,
      `    certificate-authority-data: ${Buffer.from(cp.caPem).toString('base64')}`,
      'users:',
      `- name: ${name}`,
      '  user:',
      ...userLines,
      'contexts:',
      '- name: test',
      '  context:',
      '    cluster: test',
      `    user: ${name}`,
      'current-context: test',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return path;
}

/** Where a kind lives (plural, namespaced), from the API server's discovery documents, per client. */
const discovered = new WeakMap<KubeClient, Map<string, { plural: string; namespaced: boolean }>>();
async function resourceOf(k: KubeClient, apiVersion: string, kind: string): Promise<{ plural: string; namespaced: boolean }> {
  let cache = discovered.get(k);
  if (cache === undefined) discovered.set(k, (cache = new Map()));
  const id = `${apiVersion}|${kind}`;
  let r = cache.get(id);
  if (r === undefined) {
    const list = await k.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
    const found = list.resources.find((x) => x.kind === kind && !x.name.includes('/'));
    if (found === undefined) throw new Error(`the API server serves no ${kind} in ${apiVersion}`);
    r = { plural: found.name, namespaced: found.namespaced };
    cache.set(id, r);
  }
  return r;
}

/** The REST path of any object (so a test can apply manifests of any kind); namespace defaults to `default`. */
export async function objectPath(k: KubeClient, o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<string> {
  const r = await resourceOf(k, o.apiVersion, o.kind);
  const prefix = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = r.namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : '';
  return `${prefix}${ns}/${r.plural}/${o.metadata.name}`;
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

/** The value of the sample `name` whose labels include `labels`; summed over matches; undefined when none. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const kv of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(kv[1]!, kv[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum = (sum ?? 0) + Number(m[4]);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// setup and settling

/** Applies deploy/crd.yaml for real and waits until DubboServices can be listed. */
export function installCrd(k: KubeClient): Promise<void> {
  return installCrdFor(k, TEST_MANAGER);
}

/**
 * Waits until the controller is idle: queue empty and its write counter unchanged for `quietMs`.
 * Returns the write count then.
 */
export async function settled(metrics: () => Promise<string>, quietMs = 800, timeoutMs = 20_000): Promise<number> {
  let last = -1;
  let since = Date.now();
  return eventually(
    async () => {
      const text = await metrics();
      const writes = metric(text, 'dubbo_dns_controller_api_writes_total') ?? 0;
      const depth = metric(text, 'dubbo_dns_controller_queue_depth') ?? 0;
      if (writes !== last || depth !== 0) {
        last = writes;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= quietMs ? writes : undefined;
    },
    timeoutMs,
    'controller to settle',
    100,
  );
}
