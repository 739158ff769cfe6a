import { normalizeZone, serviceNames } from '../dubbo/naming.ts';
import { PROTOCOL_NAME } from '../dubbo/protocols.ts';
import { serviceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import { DnsQueryError, NoReadyProviderError, NoSuchServiceError } from './errors.ts';
import { ServerPool } from './failover.ts';
import { lookupService, type LookupNames } from './lookup.ts';
import type { Provider } from './provider.ts';
import { serverList } from './servers.ts';

// A resolver: a server pool, a cache of answers for their TTL, the last good answer of every key
// (served, marked stale, while DNS fails), and watches. All state belongs to one resolver object.

/** Settings of {@link createResolver}; every field is optional. */
export interface ResolverOptions {
  /** DNS servers, in order (`1.2.3.4`, `1.2.3.4:5353`, `[::1]:5353`); default: the system resolver's (`dns.getServers()`). */
  readonly servers?: readonly string[] | undefined;
  /** One DNS server; shorthand for `servers: [server]`. */
  readonly server?: string | undefined;
  /** The dubbo-dns zone; default `dubbo.internal.`. */
  readonly zone?: string | undefined;
  /** Namespace of the providers; default `default`. A query may name another. */
  readonly namespace?: string | undefined;
  /** How long to wait for one server's reply, per try; default 2000 ms. */
  readonly timeoutMs?: number | undefined;
  /** Rounds over the server list before a question fails; default 2. */
  readonly tries?: number | undefined;
  /** EDNS UDP payload size advertised (RFC 6891); 0: no EDNS, 512-byte UDP replies. Default 1232. */
  readonly udpPayloadSize?: number | undefined;
}

/** A Dubbo service key to resolve. */
export interface ServiceQuery {
  readonly interface: string;
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  /** Ask `_P._tcp.S.N.Z` for this protocol; default: the bare name `S.N.Z` (the service's own protocol). */
  readonly protocol?: string | undefined;
  /** Overrides the resolver's namespace for this query. */
  readonly namespace?: string | undefined;
}

/** The providers of a service. */
export interface Resolution {
  /** Ready providers, sorted by address then port; never empty. */
  readonly providers: readonly Provider[];
  /** True when DNS failed and this is the last good answer. */
  readonly stale: boolean;
  /** Seconds the answer may be cached: the smallest TTL among its records. */
  readonly ttl: number;
  /** The SRV name asked (`S.N.Z.` or `_P._tcp.S.N.Z.`). */
  readonly name: string;
}

/** What a watch listener receives: a resolution, or no providers with the reason. */
export interface WatchEvent extends Resolution {
  /** Set when the providers are gone: the service no longer exists, or has no ready provider. */
  readonly error?: NoSuchServiceError | NoReadyProviderError | undefined;
}

/** Options of {@link Resolver.watch}. */
export interface WatchOptions {
  /** Told about DNS failures while there is no answer to fall back on, and about listener exceptions. */
  readonly onError?: ((err: unknown) => void) | undefined;
}

/** Resolves Dubbo services through dubbo-dns. */
export interface Resolver {
  /**
   * The ready providers of a service. Rejects with NoSuchServiceError (`ENOTFOUND`),
   * NoReadyProviderError (`ENODATA`), or DnsQueryError when DNS fails and no earlier answer exists.
   */
  resolve(query: ServiceQuery, options?: { readonly signal?: AbortSignal | undefined }): Promise<Resolution>;
  /**
   * Re-resolves at the answers' TTL (at least every second) and calls `listener` with the first
   * outcome and then whenever the providers change. Returns a function that stops the watch and
   * resolves once its timer and sockets are gone.
   */
  watch(query: ServiceQuery, listener: (event: WatchEvent) => void, options?: WatchOptions): () => Promise<void>;
}

/** The floor of a watch's refresh interval, so a TTL of 0 does not spin. */
const MIN_REFRESH_MS = 1000;

const DEFAULTS = { zone: 'dubbo.internal.', namespace: 'default', timeoutMs: 2000, tries: 2, udpPayloadSize: 1232 } as const;

/** A query with its cache identity and DNS names. */
interface Prepared {
  readonly id: string;
  readonly key: ServiceKey;
  readonly protocol: string | undefined;
  readonly names: LookupNames;
}

type Negative = NoSuchServiceError | NoReadyProviderError;

/** What one round of questions ended with (DNS failures without a fallback reject instead). */
type Fetched = { readonly kind: 'found'; readonly resolution: Resolution } | { readonly kind: 'negative'; readonly error: Negative; readonly ttl: number };

interface CacheEntry {
  /** The last good answer (marked stale once DNS failed); kept past its expiry as the fallback. */
  good?: { readonly resolution: Resolution; readonly expiresAt: number };
  /** A "no" answer, cached for the SOA's negative TTL (RFC 2308). */
  negative?: { readonly error: Negative; readonly expiresAt: number };
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

class DnsResolver implements Resolver {
  readonly #pool: ServerPool;
  readonly #zone: string;
  readonly #namespace: string;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<Fetched>>();

  constructor(options: ResolverOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    const tries = options.tries ?? DEFAULTS.tries;
    const udpPayloadSize = options.udpPayloadSize ?? DEFAULTS.udpPayloadSize;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError(`timeoutMs must be a positive whole number of milliseconds, got ${timeoutMs}`);
    if (!Number.isInteger(tries) || tries < 1) throw new TypeError(`tries must be a positive whole number, got ${tries}`);
    if (!Number.isInteger(udpPayloadSize) || (udpPayloadSize !== 0 && (udpPayloadSize < 512 || udpPayloadSize > 65535))) {
      throw new TypeError(`udpPayloadSize must be 0 or 512-65535, got ${udpPayloadSize}`);
    }
    this.#zone = normalizeZone(options.zone ?? DEFAULTS.zone);
    this.#namespace = checkNamespace(options.namespace ?? DEFAULTS.namespace);
    this.#pool = new ServerPool(serverList(options), { timeoutMs, tries, udpPayloadSize });
  }

  async resolve(query: ServiceQuery, options: { readonly signal?: AbortSignal | undefined } = {}): Promise<Resolution> {
    const prepared = this.#prepare(query);
    const entry = this.#cache.get(prepared.id);
    const now = performance.now();
    if (entry?.good !== undefined && entry.good.expiresAt > now) return entry.good.resolution;
    if (entry?.negative !== undefined && entry.negative.expiresAt > now) throw entry.negative.error;
    // Callers asking the same key at once share one round of questions.
    let fetching = this.#inflight.get(prepared.id);
    if (fetching === undefined) {
      fetching = this.#fetch(prepared).finally(() => this.#inflight.delete(prepared.id));
      this.#inflight.set(prepared.id, fetching);
    }
    const fetched = await abortable(fetching, options.signal);
    if (fetched.kind === 'negative') throw fetched.error;
    return fetched.resolution;
  }

  watch(query: ServiceQuery, listener: (event: WatchEvent) => void, options: WatchOptions = {}): () => Promise<void> {
    const prepared = this.#prepare(query);
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let last: string | undefined;
    const emit = (event: WatchEvent): void => {
      try {
        listener(event);
      } catch (err) {
        options.onError?.(err);
      }
    };
    const round = async (): Promise<void> => {
      let delayMs = MIN_REFRESH_MS;
      try {
        const fetched = await this.#fetch(prepared, controller.signal);
        const event: WatchEvent =
          fetched.kind === 'found' ? fetched.resolution : { providers: [], stale: false, ttl: fetched.ttl, name: prepared.names.srv, error: fetched.error };
        delayMs = Math.max(MIN_REFRESH_MS, event.ttl * 1000);
        const signature = JSON.stringify(event.providers);
        if (signature !== last && !stopped) {
          last = signature;
          emit(event);
        }
      } catch (err) {
        if (stopped) return;
        options.onError?.(err);
      }
      if (!stopped) timer = setTimeout(() => void (running = round()), delayMs);
    };
    let running = round();
    return async () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
      await running;
    };
  }

  #prepare(query: ServiceQuery): Prepared {
    if (typeof query.interface !== 'string' || query.interface.trim() === '') throw new TypeError('query.interface must name a Java interface');
    const protocol = query.protocol;
    if (protocol !== undefined && !PROTOCOL_NAME.test(protocol)) throw new TypeError(`query.protocol ${JSON.stringify(protocol)} is not a protocol name like dubbo or tri`);
    const namespace = query.namespace === undefined ? this.#namespace : checkNamespace(query.namespace);
    const key = serviceKey(query.interface, query.group, query.version);
    const names = serviceNames(key, namespace, this.#zone, protocol ?? 'dubbo');
    return { id: `${namespace}\u0000${serviceKeyId(key)}\u0000${protocol ?? ''}`, key, protocol, names: { service: names.service, srv: protocol === undefined ? names.service : names.protocolSrv } };
  }

  /** One round of questions; updates the cache; falls back to the last good answer when DNS fails. */
  async #fetch(prepared: Prepared, signal?: AbortSignal): Promise<Fetched> {
    let outcome;
    try {
      outcome = await lookupService(this.#pool, prepared.key, prepared.protocol, prepared.names, signal);
    } catch (err) {
      const good = this.#cache.get(prepared.id)?.good;
      if (!(err instanceof DnsQueryError) || err.code === 'EABORTED' || good === undefined) throw err;
      // RFC 8767 (serve-stale): answer from the last good data, and hold that answer for a TTL so
      // callers do not each wait out the timeouts while DNS is down (a watch still asks at its TTL).
      const resolution: Resolution = { ...good.resolution, stale: true };
      this.#cache.set(prepared.id, { good: { resolution, expiresAt: performance.now() + Math.max(1, resolution.ttl) * 1000 } });
      return { kind: 'found', resolution };
    }
    const expiresAt = performance.now() + outcome.ttl * 1000;
    if (outcome.kind === 'found') {
      const resolution: Resolution = { providers: outcome.providers, stale: false, ttl: outcome.ttl, name: prepared.names.srv };
      this.#cache.set(prepared.id, { good: { resolution, expiresAt } });
      return { kind: 'found', resolution };
    }
    // A "no" from the server is the truth: the old providers are not a fallback any more.
    const error = outcome.kind === 'no-such-service' ? new NoSuchServiceError(prepared.names.service) : new NoReadyProviderError(prepared.names.srv);
    this.#cache.set(prepared.id, { negative: { error, expiresAt } });
    return { kind: 'negative', error, ttl: outcome.ttl };
  }
}

function checkNamespace(namespace: string): string {
  if (!LABEL.test(namespace)) throw new TypeError(`namespace ${JSON.stringify(namespace)} is not a Kubernetes namespace name`);
  return namespace;
}

/** `promise`, or a rejection as soon as `signal` aborts (the shared work goes on for others). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new DnsQueryError('EABORTED', '', '', 'aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DnsQueryError('EABORTED', '', '', 'aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Creates a resolver. Throws TypeError for unusable options (a bad server address, a bad namespace). */
export function createResolver(options: ResolverOptions = {}): Resolver {
  return new DnsResolver(options);
}
