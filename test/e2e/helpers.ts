// Shared by the end-to-end tests: the real control plane, the real `dubbo-dns controller` and
// `dubbo-dns serve --kubernetes` processes, CoreDNS forwarding to us, a TCP proxy that can cut the
// DNS server's connections to the API server, and a small DNS client decoded with dns-packet (an
// independent codec). Everything spawned here is tracked and killed by `killAll()` (call it in
// `after`, which runs even when a test failed).
import { spawn, type ChildProcess } from 'node:child_process';
import { udpExchange } from '../support/dns-client.ts';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { KubeClient, KubeError } from '../../src/kube/rest.ts';
import { eventually, freePort, type ControlPlane } from '../../harness/control-plane.ts';
import { followJsonLogs } from '../support/json-logs.ts';
import { installCrd as installCrdFor } from '../../harness/control-plane.ts';
import { MAIN, ROOT, startServer, type ServerProcess } from '../support/server.ts';

export { eventually };

export const ZONE = 'dubbo.internal';
export const CRD = '/apis/dubbo-dns.io/v1alpha1';
const TEST_MANAGER = 'e2e-test';

/** `S.N.Z` of a key (no trailing dot). */
export function serviceName(ns: string, iface: string, group?: string, version?: string): string {
  return `${serviceLabel(serviceKey(iface, group, version))}.${ns}.${ZONE}`;
}

// ---------------------------------------------------------------------------------------------
// processes, tracked for cleanup

const children = new Set<ChildProcess>();
const cleanups: (() => void | Promise<void>)[] = [];

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Registers something to undo in killAll() (temp dirs, proxies). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** SIGKILLs every process started here that still runs, then runs the cleanups (last first). */
export async function killAll(): Promise<void> {
  for (const child of [...children]) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  }
  children.clear();
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // best effort
    }
  }
}

/** Stops a child with SIGTERM, SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  const [code] = await exited;
  clearTimeout(timer);
  return code;
}

/** A temp dir removed by killAll(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dubbo-dns-e2e-${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The DNS server as the real CLI (`serve --kubernetes ...`), tracked for cleanup. */
export async function startDns(args: readonly string[]): Promise<ServerProcess & { get(path: string): Promise<{ status: number; text: string }> }> {
  const server = await startServer(['--kubernetes', ...args]);
  track(server.child);
  return {
    ...server,
    stop: () => stopChild(server.child),
    get: (path) => httpGet(server.httpPort!, path),
  };
}

export interface Controller {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly httpPort: number;
  get(path: string): Promise<{ status: number; text: string }>;
  stop(): Promise<number | null>;
}

/** `node src/main.ts controller --kubeconfig F --namespace NS --http-listen 127.0.0.1:0 ...extra`; resolves once started. */
export async function startController(kubeconfig: string, ns: string, extra: readonly string[] = []): Promise<Controller> {
  const child = spawn(process.execPath, [MAIN, 'controller', '--kubeconfig', kubeconfig, '--namespace', ns, '--http-listen', '127.0.0.1:0', ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const followed = followJsonLogs(child);
  const { logs } = followed;
  const started = await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`controller exited ${child.exitCode}: ${followed.stderr()}`);
      return logs.find((l) => l['msg'] === 'controller started');
    },
    30_000,
    'controller started',
    50,
  );
  const httpPort = Number(String(started['http']).split(':').pop());
  return { child, logs, httpPort, get: (path) => httpGet(httpPort, path), stop: () => stopChild(child) };
}

export interface CoreDns {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<number | null>;
}

/** The CoreDNS binary of test/tools/paths.sh. */
export function coreDnsBin(): string {
  const cache = process.env['DUBBO_DNS_CACHE'] || join(process.env['HOME'] ?? '/root', '.cache', 'dubbo-dns');
  const bin = process.env['COREDNS_BIN'] || join(cache, 'bin', 'coredns-v1.12.3');
  if (!existsSync(bin)) throw new Error(`CoreDNS not found at ${bin}; run bash test/setup.sh`);
  return bin;
}

/** CoreDNS with `dubbo.internal:PORT { bind 127.0.0.1; forward . 127.0.0.1:upstream }`; resolves once it answers. */
export function startCoreDns(upstreamPort: number): Promise<CoreDns> {
  return startCoreDnsServing(`${ZONE}.`, (port) => `${ZONE}:${port} {\n  bind 127.0.0.1\n  forward . 127.0.0.1:${upstreamPort}\n}\n`);
}

/**
 * CoreDNS with its `kubernetes` plugin on the test apiserver (`S.N.svc.cluster.local`, what the
 * cluster DNS of a real cluster answers); resolves once it answers.
 */
export function startCoreDnsKubernetes(kubeconfig: string): Promise<CoreDns> {
  return startCoreDnsServing('cluster.local.', (port) => `cluster.local:${port} {\n  bind 127.0.0.1\n  kubernetes cluster.local {\n    kubeconfig ${kubeconfig}\n  }\n}\n`);
}

async function startCoreDnsServing(apex: string, corefileFor: (port: number) => string): Promise<CoreDns> {
  const dir = tempDir('coredns');
  const port = await freePort();
  const corefile = join(dir, 'Corefile');
  writeFileSync(corefile, corefileFor(port));
  const child = spawn(coreDnsBin(), ['-conf', corefile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`coredns exited ${child.exitCode}: ${out}`);
      const r = await query(port, apex, 'SOA', { timeoutMs: 500 });
      return r.rcode === 'NOERROR' || r.rcode === 'SERVFAIL' ? true : undefined;
    },
    15_000,
    `CoreDNS answering on ${port}`,
  );
  return { port, child, stop: () => stopChild(child) };
}

// ---------------------------------------------------------------------------------------------
// HTTP and metrics

export async function httpGet(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
}

/** The value of sample `name`, summed over its label sets (only those containing `labels`, e.g. `transport="tcp"`); undefined when absent. */
export function metric(text: string, name: string, labels = ''): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name || !(m[2] ?? '').includes(labels)) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// DNS

export interface Reply {
  readonly rcode: string;
  readonly msg: dnsPacket.DecodedPacket;
  /** A/AAAA data of the answer section, sorted. */
  readonly addresses: string[];
  /** Answer records of the asked type. */
  readonly records: dnsPacket.Answer[];
  /** True when the reply carried an OPT record. */
  readonly hasOpt: boolean;
  /** RFC 8914 EDE info-codes (OPT option 15). */
  readonly ede: number[];
}

let nextId = 1;

/** One query over UDP (or TCP), decoded. `edns`: send OPT with a 1232-byte payload size. */
export async function query(port: number, name: string, type: dnsPacket.RecordType, o: { edns?: boolean; tcp?: boolean; timeoutMs?: number; rd?: boolean } = {}): Promise<Reply> {
  const id = (nextId = (nextId % 65535) + 1);
  const packet = dnsPacket.encode({
    type: 'query',
    id,
    flags: o.rd === true ? dnsPacket.RECURSION_DESIRED : 0,
    questions: [{ name, type, class: 'IN' }],
    additionals: o.edns === true ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.Answer] : [],
  });
  const raw = o.tcp === true ? await tcpOnce(port, packet, o.timeoutMs ?? 2000) : await udpOnce(port, packet, id, o.timeoutMs ?? 2000);
  const msg = dnsPacket.decode(raw);
  const opt = (msg.additionals ?? []).find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
  // dns-packet's types list only the options it decodes; EDE (15) arrives as { code, data }.
  const options = (opt?.options ?? []) as unknown as { code: number; data?: Buffer }[];
  const ede = options.filter((x) => x.code === 15 && x.data !== undefined && x.data.length >= 2).map((x) => x.data!.readUInt16BE(0));
  const answers = msg.answers ?? [];
  return {
    rcode: (msg as { rcode?: string }).rcode ?? '?',
    msg,
    addresses: answers.flatMap((a) => (a.type === 'A' || a.type === 'AAAA' ? [a.data] : [])).sort(),
    records: answers.filter((a) => a.type === type),
    hasOpt: opt !== undefined,
    ede,
  };
}

function udpOnce(port: number, packet: Buffer, _id: number, timeoutMs: number): Promise<Buffer> {
  return udpExchange(port, packet, timeoutMs);
}

function tcpOnce(port: number, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP reply from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(packet.length);
      socket.write(Buffer.concat([len, packet]));
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Polls until the A answer for `name` is exactly `want` (sorted) with NOERROR; bounded. */
export async function waitForAddresses(port: number, name: string, want: readonly string[], timeoutMs = 10_000, what?: string): Promise<Reply> {
  const sorted = [...want].sort();
  let last = '';
  return eventually(
    async () => {
      const r = await query(port, name, 'A', { timeoutMs: 1000 });
      last = `${r.rcode} [${r.addresses.join(', ')}]`;
      return r.rcode === 'NOERROR' && JSON.stringify(r.addresses) === JSON.stringify(sorted) ? r : undefined;
    },
    timeoutMs,
    `${what ?? name} to answer [${sorted.join(', ')}] (last: ${last})`,
  ).catch((e: Error) => {
    throw new Error(`${e.message} (last answer: ${last})`);
  });
}

/** Polls until `name` gets `rcode`; bounded. */
export async function waitForRcode(port: number, name: string, rcode: string, timeoutMs = 10_000): Promise<Reply> {
  let last = '';
  return eventually(
    async () => {
      const r = await query(port, name, 'A', { timeoutMs: 1000 });
      last = `${r.rcode} [${r.addresses.join(', ')}]`;
      return r.rcode === rcode ? r : undefined;
    },
    timeoutMs,
    `${name} to answer ${rcode}`,
  ).catch((e: Error) => {
    throw new Error(`${e.message} (last answer: ${last})`);
  });
}

// ---------------------------------------------------------------------------------------------
// Kubernetes objects

/** Applies deploy/crd.yaml and waits until DubboServices can be listed. */
export function installCrd(k: KubeClient): Promise<void> {
  return installCrdFor(k, TEST_MANAGER);
}

/** A DubboService spec with one port and one interface. */
export function dubboSpec(app: string, iface: string, o: { group?: string; version?: string; port?: number } = {}): Record<string, unknown> {
  return {
    application: app,
    selector: { matchLabels: { app } },
    ports: [{ name: 'dubbo', port: o.port ?? 20880 }],
    interfaces: [{ interface: iface, ...(o.group === undefined ? {} : { group: o.group }), ...(o.version === undefined ? {} : { version: o.version }), metadata: { serialization: 'hessian2' } }],
  };
}

export async function applyDubboService(k: KubeClient, ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await k.apply(`${CRD}/namespaces/${ns}/dubboservices/${name}`, { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace: ns }, spec }, TEST_MANAGER);
}

export async function deleteDubboService(k: KubeClient, ns: string, name: string): Promise<void> {
  await k.request('DELETE', `${CRD}/namespaces/${ns}/dubboservices/${name}`);
}

/** Creates a pod (label app=`app`) and sets its IP and Ready condition through /status. */
export async function createPod(k: KubeClient, ns: string, name: string, app: string, ip: string, ready = true): Promise<void> {
  await k.request('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app } }, spec: { containers: [{ name: 'app', image: 'registry.invalid/provider:1' }] } },
  });
  await setPodReady(k, ns, name, ip, ready);
}

export async function setPodReady(k: KubeClient, ns: string, name: string, ip: string, ready: boolean): Promise<void> {
  await k.apply(
    `/api/v1/namespaces/${ns}/pods/${name}/status`,
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns },
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    },
    TEST_MANAGER,
  );
}

export async function deletePod(k: KubeClient, ns: string, name: string): Promise<void> {
  await k.request('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, { query: { gracePeriodSeconds: 0 } });
}

/** Ready flags of the endpoints in the managed slices of Service `svc`, by address. */
export async function sliceReadiness(k: KubeClient, ns: string, svc: string): Promise<Map<string, boolean>> {
  const list = await k.request<{ items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[] }>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    query: { labelSelector: `kubernetes.io/service-name=${svc}` },
  });
  const out = new Map<string, boolean>();
  for (const s of list.items) for (const e of s.endpoints ?? []) out.set(e.addresses[0] ?? '', e.conditions?.ready !== false);
  return out;
}

export async function serviceExists(k: KubeClient, ns: string, svc: string): Promise<boolean> {
  try {
    await k.request('GET', `/api/v1/namespaces/${ns}/services/${svc}`);
    return true;
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return false;
    throw err;
  }
}

/** Writes a kubeconfig like the control plane's (same CA and admin token) for another server URL. */
export function kubeconfigFor(cp: ControlPlane, server: string, dir: string): string {
  const path = join(dir, 'kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: e2e',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${Buffer.from(cp.caPem).toString('base64')}`,
      'users:',
      '- name: admin',
      '  user:',
      `    token: ${cp.token}`,
      'contexts:',
      '- name: e2e',
      '  context:',
      '    cluster: e2e',
      '    user: admin',
      'current-context: e2e',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return path;
}

// ---------------------------------------------------------------------------------------------
// a TCP proxy between the DNS server and the API server

export interface Proxy {
  readonly port: number;
  /** Connections accepted and piped so far. */
  readonly accepted: number;
  /** Connections piped now. */
  readonly open: number;
  /** While refusing, new connections are closed at once (the API server looks unreachable). */
  refuse(on: boolean): void;
  /** Destroys every piped connection (both sides); returns how many. */
  cut(): number;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 to `targetPort` (TLS passes through untouched); closed by killAll(). */
export async function startProxy(targetPort: number, o: { refusing?: boolean } = {}): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = o.refusing === true;
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  const cut = (): number => {
    const n = pairs.size;
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
    return n;
  };
  const proxy: Proxy = {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    refuse(on) {
      refusing = on;
    },
    cut,
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };
  onCleanup(() => proxy.close());
  return proxy;
}
