// Helpers of bench/propagation.ts: the benchmark's objects (managed Services and EndpointSlices built
// with the product's own desiredService/desiredSlices), a keep-alive server-side-apply client, a UDP
// prober that polls for an address, child processes pinned with taskset, /proc readings, statistics.

import { createSocket, type Socket } from 'node:dgram';
import { Agent, request } from 'node:https';
import dnsPacket from 'dns-packet';
import { serviceLabel } from '../src/dubbo/naming.ts';
import { bindSlice, desiredService, desiredSlices, MAX_ENDPOINTS_PER_SLICE, type Manifest } from '../src/plan/desired.ts';
import type { DeclaredEndpoint, DeclaredService } from '../src/source/declared.ts';
import { sleep } from './lib.ts';

export const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// The objects.

/** IPv4 address number n (0-based) inside 10.0.0.0/8, skipping .0 and .255 host bytes for clarity. */
export function ipv4(base: number, n: number): string {
  const v = base + Math.floor(n / 254) * 256 + (n % 254) + 1;
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
/** Initial endpoint addresses: 10.0.0.0/9 (room for 8M). */
export const INITIAL_BASE = (10 << 24) >>> 0;
/** Addresses written by the changes: 10.128.0.0/9. */
export const CHANGED_BASE = ((10 << 24) | (128 << 16)) >>> 0;

/** One benchmark service: its declaration and where its objects live. */
export interface BenchService {
  readonly index: number;
  readonly label: string;
  svc: DeclaredService;
  uid: string;
}

function endpoint(namespace: string, s: number, e: number, address: string): DeclaredEndpoint {
  const pod = `p-${s}-${e}`;
  return {
    address,
    addressType: 'IPv4',
    ports: [{ protocol: 'dubbo', port: 20880 }],
    ready: true,
    serving: true,
    terminating: false,
    hostname: pod,
    nodeName: `node-${e}`,
    podName: pod,
    podUid: `00000000-0000-4000-8000-${String(s).padStart(6, '0')}${String(e).padStart(6, '0')}`,
    weight: 100,
    params: { application: `bench-app-${s}`, timestamp: '1700000000000' },
  };
}

/** The declaration of benchmark service `s` with `endpoints` ready providers. */
export function benchService(namespace: string, s: number, endpoints: number): BenchService {
  if (endpoints > MAX_ENDPOINTS_PER_SLICE) throw new Error(`--endpoints must be at most ${MAX_ENDPOINTS_PER_SLICE} (one slice per service)`);
  const key = { interface: `org.apache.dubbo.bench.BenchService${s}`, group: '', version: '1.0.0' };
  const svc: DeclaredService = {
    namespace,
    key,
    protocol: 'dubbo',
    params: { application: `bench-app-${s}`, serialization: 'hessian2', timeout: '3000' },
    endpoints: Array.from({ length: endpoints }, (_, e) => endpoint(namespace, s, e, ipv4(INITIAL_BASE, s * endpoints + e))),
    owners: [],
  };
  return { index: s, label: serviceLabel(key), svc, uid: '' };
}

/** The service with endpoint `e` moved to `address` (a new pod: the EndpointSlice changes). */
export function withAddress(b: BenchService, e: number, address: string): DeclaredService {
  const endpoints = b.svc.endpoints.map((old, i) => (i === e ? { ...old, address } : old));
  return { ...b.svc, endpoints };
}

export function serviceManifest(b: BenchService): Manifest {
  return desiredService(b.svc);
}

/** The one slice of a service (endpoints <= 100). */
export function sliceManifest(b: BenchService, svc: DeclaredService = b.svc): Manifest {
  const slices = desiredSlices(svc, []).map((s) => bindSlice(s, b.uid));
  if (slices.length !== 1) throw new Error(`expected one slice for ${b.label}, got ${slices.length}`);
  return slices[0]!;
}

// ---------------------------------------------------------------------------------------------
// Server-side apply over one keep-alive agent (client-node adds milliseconds of its own per call;
// here the acknowledgement time is the moment the response headers arrive).

export interface ApplyResult {
  readonly status: number;
  readonly body: string;
  /** performance.now() when the response headers arrived (the apiserver acknowledged the write). */
  readonly ackAt: number;
  readonly sentAt: number;
}

export class Applier {
  readonly #agent: Agent;
  readonly #server: URL;
  readonly #token: string;

  constructor(server: string, caPem: string, token: string, maxSockets: number) {
    this.#server = new URL(server);
    this.#token = token;
    this.#agent = new Agent({ keepAlive: true, maxSockets, ca: caPem });
  }

  path(m: Manifest): string {
    const { namespace, name } = m.metadata;
    const collection = m.kind === 'Service' ? `/api/v1/namespaces/${namespace}/services` : `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`;
    return `${collection}/${name}?fieldManager=bench&force=true`;
  }

  apply(m: Manifest, timeoutMs = 30_000): Promise<ApplyResult> {
    const body = JSON.stringify(m);
    return new Promise((resolve, reject) => {
      const sentAt = performance.now();
      let ackAt = 0;
      const req = request(
        {
          host: this.#server.hostname,
          port: this.#server.port,
          method: 'PATCH',
          path: this.path(m),
          agent: this.#agent,
          timeout: timeoutMs,
          headers: {
            Authorization: `Bearer ${this.#token}`,
            'Content-Type': 'application/apply-patch+yaml',
            Accept: 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          ackAt = performance.now();
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ackAt, sentAt }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`PATCH ${m.kind} ${m.metadata.name} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Applies and throws on a non-2xx answer; retries 429/5xx/connection errors a few times. */
  async applyOk(m: Manifest): Promise<ApplyResult> {
    let last = '';
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        const r = await this.apply(m);
        if (r.status >= 200 && r.status < 300) return r;
        last = `${r.status} ${r.body.slice(0, 300)}`;
        if (r.status !== 429 && r.status < 500) break;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(200 * 2 ** attempt);
    }
    throw new Error(`apply ${m.kind} ${m.metadata.namespace}/${m.metadata.name} failed: ${last}`);
  }

  close(): void {
    this.#agent.destroy();
  }
}


// ---------------------------------------------------------------------------------------------
// A UDP prober: one connected socket per server, queries matched by ID.

export interface Reply {
  readonly rcode: string;
  readonly addresses: string[];
  /** performance.now() when the reply arrived. */
  readonly at: number;
}

export class Prober {
  readonly #socket: Socket;
  readonly #pending = new Map<number, (r: Reply | undefined) => void>();
  #id = Math.floor(Math.random() * 65536);
  readonly port: number;
  #ready: Promise<void>;

  constructor(port: number) {
    this.port = port;
    this.#socket = createSocket('udp4');
    this.#socket.on('message', (msg) => {
      const at = performance.now();
      let p: dnsPacket.Packet;
      try {
        p = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const done = this.#pending.get(p.id ?? -1);
      if (done === undefined) return;
      this.#pending.delete(p.id ?? -1);
      done({
        rcode: (p as { rcode?: string }).rcode ?? 'NOERROR',
        addresses: (p.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data: unknown }).data)),
        at,
      });
    });
    this.#socket.on('error', () => {});
    this.#ready = new Promise((resolve) => this.#socket.connect(port, HOST, () => resolve()));
  }

  async query(name: string, timeoutMs = 200): Promise<Reply | undefined> {
    await this.#ready;
    this.#id = (this.#id + 1) & 0xffff;
    const id = this.#id;
    const packet = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A', class: 'IN' }] });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.#pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.#socket.send(packet);
    });
  }

  /**
   * Polls `name` every `intervalMs` from now until an answer holds `address`; the time (ms after
   * `from`) at which that answer arrived, or undefined after `timeoutMs`.
   */
  async waitFor(name: string, address: string, from: number, timeoutMs: number, intervalMs: number): Promise<number | undefined> {
    while (performance.now() - from < timeoutMs) {
      const r = await this.query(name, Math.min(200, timeoutMs));
      if (r !== undefined && r.addresses.includes(address)) return r.at - from;
      if (intervalMs > 0) await sleep(intervalMs);
    }
    return undefined;
  }

  close(): void {
    this.#socket.close();
  }
}
