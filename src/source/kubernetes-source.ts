import type { Logger } from 'pino';
import { decodeEndpointParams, decodeParams } from '../contracts/annotations.ts';
import { serviceId, type EndpointData, type ServiceData, type ZoneData, type ZoneDelta } from '../dns/index/zone-data.ts';
import { weightOf } from '../dubbo/metadata.ts';
import { Informer } from '../kube/informer.ts';
import { SLICE_INDEXES } from '../kube/indexes.ts';
import { MANAGED_SERVICES, MANAGED_SLICES } from '../kube/kinds.ts';
import type { KubeApi } from '../kube/rest.ts';
import type { NamespaceScope } from '../kube/scope.ts';
import { objectKey } from '../kube/store.ts';
import type { ServiceView, SliceView } from '../kube/views.ts';
import { HeldDrops, type GuardOptions } from './deregistration-guard.ts';

// The DNS server's Kubernetes source (docs/architecture.md): list+watch of the managed Services and
// EndpointSlices, so answers show what was really applied, by any controller replica. Each Service
// becomes one ServiceData, rebuilt only when it or one of its slices changed.

/** Pure: one managed Service and its slices -> the zone data of that key; undefined without an identity. */
export function serviceData(service: ServiceView, slices: Iterable<SliceView>): ServiceData | undefined {
  if (service.key === undefined) return undefined;
  const endpoints: EndpointData[] = [];
  for (const slice of slices) {
    const byAddress = decodeEndpointParams(slice.endpointParams);
    for (const e of slice.endpoints) {
      const params = byAddress[e.address] ?? {};
      const weight = weightOf(params);
      for (const p of slice.ports) {
        endpoints.push({ address: e.address, port: p.port, protocol: p.name, hostname: e.hostname, ready: e.ready, weight, params });
      }
    }
  }
  endpoints.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
  return { namespace: service.namespace, key: service.key, protocol: service.protocol, params: decodeParams(service.params), endpoints };
}

/** The Service a slice belongs to, as an object key. */
function serviceOf(slice: SliceView): string {
  return objectKey(slice.namespace, slice.serviceName);
}

/**
 * Reconnect quickly: while disconnected the answers may be stale, and two watches per DNS replica
 * retrying every few seconds cost the API server nothing.
 */
const RECONNECT_BACKOFF = { initial: 200, max: 3000 } as const;

/** Options of the Kubernetes source. */
export interface KubernetesSourceOptions {
  readonly client: Pick<KubeApi, 'request' | 'watch'>;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly log: Logger;
  /** Called (coalesced) with what changed since the last call. */
  readonly onChange: (delta: ZoneDelta) => void;
  /** The mass-deregistration guard; off when undefined. */
  readonly guard?: GuardOptions | undefined;
  /** Told when the guard starts or stops holding a service's drop. */
  readonly onGuard?: (service: string, held: boolean) => void;
  /** How long a silent (frozen, partitioned) API server may go unnoticed (ms); see ReflectorOptions. */
  readonly livenessMs?: number | undefined;
}

/** List+watch of managed Services and EndpointSlices, turned into zone data. */
export class KubernetesSource {
  readonly #o: KubernetesSourceOptions;
  readonly #services: Informer<ServiceView>;
  /** Slices filed by the Service they belong to (`namespace/serviceName`). */
  readonly #slices: Informer<SliceView, typeof SLICE_INDEXES>;
  /** ns/serviceName -> its zone data, rebuilt only when dirty. */
  readonly #data = new Map<string, ServiceData>();
  readonly #dirty = new Set<string>();
  readonly #held: HeldDrops;
  #scheduled = false;
  #started = false;

  constructor(options: KubernetesSourceOptions) {
    this.#o = options;
    this.#held = new HeldDrops(options.guard, options.log, (key) => this.#touch(key), options.onGuard);
    const common = { client: options.client, namespaces: options.namespaces, log: options.log, backoff: RECONNECT_BACKOFF, livenessMs: options.livenessMs };
    this.#services = new Informer({ ...common, kind: MANAGED_SERVICES, indexers: {}, changed: (key) => this.#touch(key) });
    this.#slices = new Informer({
      ...common,
      kind: MANAGED_SLICES,
      indexers: SLICE_INDEXES,
      changed: (_key, before, after) => {
        if (before !== undefined) this.#touch(serviceOf(before));
        if (after !== undefined) this.#touch(serviceOf(after));
      },
    });
  }

  /** Starts both watches; resolves once both have listed (the first snapshot is then built). */
  async start(): Promise<void> {
    await Promise.all([this.#services.start(), this.#slices.start()]);
    this.#started = true;
    this.#flush();
  }

  async stop(): Promise<void> {
    this.#held.stop();
    await Promise.all([this.#services.stop(), this.#slices.stop()]);
  }

  /** All of the data, as of now. */
  data(): ZoneData {
    return { services: [...this.#data.values()] };
  }

  /** Services whose endpoint drop is being held by the guard. */
  get held(): number {
    return this.#held.size;
  }

  /** True while both watches are connected (the data is current). */
  get connected(): boolean {
    return this.#services.connected && this.#slices.connected;
  }

  /** When the data was last known to be current (ms); now while connected. */
  get currentAsOf(): number {
    return Math.min(this.#services.lastConnected, this.#slices.lastConnected);
  }

  #touch(serviceKey: string): void {
    this.#dirty.add(serviceKey);
    if (!this.#started || this.#scheduled) return;
    // Coalesce a burst of watch events (a relist, a rollout) into one rebuild.
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const now = Date.now();
    const put: ServiceData[] = [];
    const drop: string[] = [];
    for (const key of this.#dirty) {
      const service = this.#services.store.get(key);
      const next = service === undefined ? undefined : serviceData(service, this.#slices.store.byIndex('service', key));
      const before = this.#data.get(key);
      // A Service whose key changed (its annotations were rewritten) is a new identity in the zone.
      if (before !== undefined && (next === undefined || serviceId(before) !== serviceId(next))) drop.push(serviceId(before));
      if (next === undefined) {
        // A deleted Service is an explicit decision: never held.
        this.#data.delete(key);
        this.#held.release(key);
        continue;
      }
      const publish = this.#held.decide(key, before, next, now);
      this.#data.set(key, publish);
      put.push(publish);
    }
    this.#dirty.clear();
    this.#o.onChange({ put, drop });
  }
}
