import type { Logger } from 'pino';
import ipaddr from 'ipaddr.js';
import { serviceKey, type ServiceKey } from '../dubbo/service-key.ts';
import type { EndpointData, ServiceData, ZoneData } from '../dns/index/zone-data.ts';
import * as L from '../kube/labels.ts';
import { Reflector } from '../kube/reflector.ts';
import { collectionPaths, type NamespaceScope } from '../kube/scope.ts';
import type { KubeClient } from '../kube/rest.ts';
import { guardDecision, type GuardOptions } from './deregistration-guard.ts';

// The DNS server's Kubernetes source (docs/architecture.md): list+watch of the managed Services and
// EndpointSlices, so answers show what was really applied, by any controller replica. Each Service
// becomes one ServiceData, rebuilt only when it or one of its slices changed.

/** A managed Service, as far as DNS needs it. */
interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly key: ServiceKey;
  readonly protocol: string;
  readonly params: Readonly<Record<string, string>>;
}

/** A managed EndpointSlice, as far as DNS needs it. */
interface SliceView {
  readonly namespace: string;
  readonly serviceName: string;
  readonly ports: readonly { readonly protocol: string; readonly port: number }[];
  readonly endpoints: readonly { readonly address: string; readonly ready: boolean; readonly hostname?: string | undefined }[];
  readonly params: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

function parseJson<T>(text: string | undefined, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as T) : fallback;
  } catch {
    return fallback;
  }
}

type Obj = Record<string, unknown>;
type Meta = { namespace?: string; name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };

/** Service -> view; undefined for Services without our identity annotations. */
export function projectService(o: Obj): ServiceView | undefined {
  const m = (o['metadata'] ?? {}) as Meta;
  const a = m.annotations ?? {};
  const iface = a[L.INTERFACE_ANNOTATION];
  if (iface === undefined || m.labels?.[L.MANAGED_BY_LABEL] !== L.MANAGED_BY_VALUE) return undefined;
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    key: serviceKey(iface, a[L.GROUP_ANNOTATION], a[L.VERSION_ANNOTATION]),
    protocol: a[L.PROTOCOL_ANNOTATION] ?? 'dubbo',
    params: parseJson<Record<string, string>>(a[L.METADATA_ANNOTATION], {}),
  };
}

/** EndpointSlice -> view. */
export function projectSlice(o: Obj): SliceView | undefined {
  const m = (o['metadata'] ?? {}) as Meta;
  const serviceName = m.labels?.[L.SLICE_SERVICE_LABEL];
  if (serviceName === undefined) return undefined;
  const ports = ((o['ports'] ?? []) as { name?: string; port?: number }[])
    .filter((p) => typeof p.name === 'string' && typeof p.port === 'number')
    .map((p) => ({ protocol: p.name as string, port: p.port as number }));
  const endpoints: SliceView['endpoints'][number][] = [];
  for (const e of (o['endpoints'] ?? []) as { addresses?: string[]; conditions?: { ready?: boolean | null }; hostname?: string }[]) {
    const address = e.addresses?.[0];
    if (address === undefined || !ipaddr.isValid(address)) continue;
    // EndpointSlice API: a nil `ready` means ready.
    endpoints.push({ address: ipaddr.parse(address).toString(), ready: e.conditions?.ready !== false, hostname: e.hostname });
  }
  return { namespace: m.namespace ?? '', serviceName, ports, endpoints, params: parseJson(m.annotations?.[L.ENDPOINTS_ANNOTATION], {}) };
}

/** Pure: one Service and its slices -> the zone data of that key. */
export function serviceData(service: ServiceView, slices: Iterable<SliceView>): ServiceData {
  const endpoints: EndpointData[] = [];
  for (const slice of slices) {
    for (const e of slice.endpoints) {
      const params = slice.params[e.address] ?? {};
      const w = Number(params['weight'] ?? 100);
      for (const p of slice.ports) {
        endpoints.push({
          address: e.address,
          port: p.port,
          protocol: p.protocol,
          hostname: e.hostname,
          ready: e.ready,
          weight: Number.isInteger(w) && w >= 0 && w <= 65535 ? w : 100,
          params,
        });
      }
    }
  }
  endpoints.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  return { namespace: service.namespace, key: service.key, protocol: service.protocol, params: service.params, endpoints };
}

/**
 * Reconnect quickly: while disconnected the answers may be stale, and two watches per DNS replica
 * retrying every few seconds cost the API server nothing.
 */
const RECONNECT_BACKOFF = { initial: 200, max: 3000 } as const;

/** Options of the Kubernetes source. */
export interface KubernetesSourceOptions {
  readonly client: KubeClient;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly log: Logger;
  /** Called (coalesced) whenever the data changed. */
  readonly onChange: (data: ZoneData) => void;
  /** The mass-deregistration guard; off when undefined. */
  readonly guard?: GuardOptions | undefined;
  /** Told when the guard starts or stops holding a service's drop. */
  readonly onGuard?: (service: string, held: boolean) => void;
}

/** List+watch of managed Services and EndpointSlices, turned into zone data. */
export class KubernetesSource {
  readonly #o: KubernetesSourceOptions;
  /** One reflector per collection path (cluster-wide, or one per watched namespace). */
  readonly #services: Reflector<ServiceView>[];
  readonly #slices: Reflector<SliceView>[];
  /** ns/serviceName -> slice key -> view. */
  readonly #slicesByService = new Map<string, Map<string, SliceView>>();
  /** ns/serviceName -> its zone data, rebuilt only when dirty. */
  readonly #data = new Map<string, ServiceData>();
  readonly #dirty = new Set<string>();
  /** ns/serviceName -> when the guard started holding its drop. */
  readonly #held = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #scheduled = false;
  #started = false;

  constructor(options: KubernetesSourceOptions) {
    this.#o = options;
    const log = options.log;
    this.#services = collectionPaths('/api/v1', 'services', options.namespaces).map((path) => new Reflector<ServiceView>({
      client: options.client,
      path,
      labelSelector: `${L.MANAGED_BY_LABEL}=${L.MANAGED_BY_VALUE}`,
      project: projectService,
      handler: { changed: (key) => this.#touch(key) },
      log,
      backoff: RECONNECT_BACKOFF,
    }));
    this.#slices = collectionPaths('/apis/discovery.k8s.io/v1', 'endpointslices', options.namespaces).map((path) => new Reflector<SliceView>({
      client: options.client,
      path,
      labelSelector: `${L.SLICE_MANAGED_BY_LABEL}=${L.SLICE_MANAGED_BY_VALUE}`,
      project: projectSlice,
      backoff: RECONNECT_BACKOFF,
      handler: {
        changed: (key, before, after) => {
          const v = (after ?? before)!;
          const owner = `${v.namespace}/${v.serviceName}`;
          const group = this.#slicesByService.get(owner) ?? new Map<string, SliceView>();
          if (after === undefined) group.delete(key);
          else group.set(key, after);
          if (group.size === 0) this.#slicesByService.delete(owner);
          else this.#slicesByService.set(owner, group);
          if (before !== undefined && before.serviceName !== v.serviceName) this.#touch(`${before.namespace}/${before.serviceName}`);
          this.#touch(owner);
        },
      },
      log,
    }));
  }

  get #reflectors(): Reflector<unknown>[] {
    return [...this.#services, ...this.#slices] as Reflector<unknown>[];
  }

  /** Starts both watches; resolves once both have listed (the first snapshot is then built). */
  async start(): Promise<void> {
    await Promise.all(this.#reflectors.map((r) => r.start()));
    this.#started = true;
    this.#flush();
  }

  async stop(): Promise<void> {
    for (const t of this.#timers.values()) clearTimeout(t);
    await Promise.all(this.#reflectors.map((r) => r.stop()));
  }

  /** Services whose endpoint drop is being held by the guard. */
  get held(): number {
    return this.#held.size;
  }

  /** True while both watches are connected (the data is current). */
  get connected(): boolean {
    return this.#reflectors.every((r) => r.connected);
  }

  /** When the data was last known to be current (ms); now while connected. */
  get currentAsOf(): number {
    return this.connected ? Date.now() : Math.min(...this.#reflectors.map((r) => r.lastConnected));
  }

  #release(key: string): void {
    if (!this.#held.delete(key)) return;
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    this.#o.log.info({ service: key }, 'guard released');
    this.#o.onGuard?.(key, false);
  }

  #touch(serviceKey: string): void {
    this.#dirty.add(serviceKey);
    if (!this.#started || this.#scheduled) return;
    // Coalesce a burst of watch events (a relist, a rollout) into one rebuild.
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  /** The Service `ns/name` from whichever reflector watches its namespace. */
  #serviceView(key: string): ServiceView | undefined {
    for (const r of this.#services) {
      const v = r.items.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  #flush(): void {
    this.#scheduled = false;
    const now = Date.now();
    for (const key of this.#dirty) {
      const service = this.#serviceView(key);
      if (service === undefined) {
        // A deleted Service is an explicit decision: never held.
        this.#data.delete(key);
        this.#release(key);
        continue;
      }
      const next = serviceData(service, this.#slicesByService.get(key)?.values() ?? []);
      if (this.#o.guard === undefined) {
        this.#data.set(key, next);
        continue;
      }
      const decision = guardDecision(this.#data.get(key), next, this.#held.get(key), now, this.#o.guard);
      this.#data.set(key, decision.publish);
      if (decision.heldSince === undefined) this.#release(key);
      else {
        if (!this.#held.has(key)) {
          this.#o.log.warn({ service: key, graceMs: this.#o.guard.graceMs }, 'holding a mass deregistration for the grace period');
          this.#o.onGuard?.(key, true);
        }
        this.#held.set(key, decision.heldSince);
        clearTimeout(this.#timers.get(key));
        const timer = setTimeout(() => this.#touch(key), Math.max(0, (decision.releaseAt ?? now) - now) + 5);
        timer.unref();
        this.#timers.set(key, timer);
      }
    }
    this.#dirty.clear();
    this.#o.onChange({ services: [...this.#data.values()] });
  }
}
