import type { Logger } from 'pino';
import { systemClock, sleep, type Clock } from '../time/clock.ts';
import { KubeError, type KubeApi } from './rest.ts';
import { objectKey, type Store } from './store.ts';

// List + watch of one collection into a store of slim projections, for as long as it runs: a watch
// that ends is resumed from the last resourceVersion, an error restarts with capped, jittered
// backoff, and 410 Gone (or an expired resourceVersion) relists. A relist replaces the state only
// once it has completed, and reports the differences as changes (docs/architecture.md).
// resourceVersions are opaque: only passed back, never compared.

/** Told of every change the reflector makes to its store: previous/current undefined accordingly. */
export type ChangeHandler<V> = (key: string, previous: V | undefined, current: V | undefined) => void;

/** Options of a reflector. */
export interface ReflectorOptions<V extends { readonly namespace: string; readonly name: string }> {
  readonly client: Pick<KubeApi, 'request' | 'watch'>;
  /** Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/ns/services`. */
  readonly path: string;
  /** The one namespace the path lists; undefined for a cluster-wide path. */
  readonly namespace: string | undefined;
  readonly labelSelector?: string | undefined;
  /** Slim projection; undefined drops the object (as if it did not exist). */
  readonly project: (object: Record<string, unknown>) => V | undefined;
  /** Where the views go; other reflectors may fill other namespaces of it. */
  readonly store: Pick<Store<V>, 'get' | 'set' | 'delete' | 'keys'>;
  readonly changed: ChangeHandler<V>;
  readonly log: Logger;
  /** Page size of lists. */
  readonly pageSize?: number;
  /** Backoff bounds (ms). */
  readonly backoff?: { readonly initial: number; readonly max: number };
  /**
   * Longest time (ms) a dead API server may go unnoticed (default WATCH_LIVENESS_MS): a watch silent
   * for half of it is restarted, and a restart unanswered for the other half marks the store stale.
   */
  readonly livenessMs?: number;
  readonly clock?: Clock;
  /** Jitter factor source in [0, 1) (tests pin it). */
  readonly random?: () => number;
}

/** Default of ReflectorOptions.livenessMs: a frozen API server is noticed within a minute. */
export const WATCH_LIVENESS_MS = 60_000;

/**
 * The deadlines of one watch, from the liveness window. The server ends each watch after
 * `timeoutSeconds` (jittered, so that replicas do not restart in step), sending a bookmark just
 * before; a watch silent for `silenceMs` (a little more) therefore means no contact, not a quiet
 * collection. The restarted watch must answer within `answerMs`; a healthy server does so at once.
 */
export function watchDeadlines(livenessMs: number, random: number): { timeoutSeconds: number; silenceMs: number; answerMs: number } {
  const silenceMs = livenessMs / 2;
  return { timeoutSeconds: Math.max(1, Math.floor((silenceMs * (0.6 + 0.2 * random)) / 1000)), silenceMs, answerMs: livenessMs - silenceMs };
}

interface ObjectMeta {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
}

/** Keys a raw object by `namespace/name`. */
function keyOfObject(object: Record<string, unknown>): string {
  const m = (object as ObjectMeta).metadata;
  return objectKey(m?.namespace ?? '', m?.name ?? '');
}

/** A running list+watch. */
export class Reflector<V extends { readonly namespace: string; readonly name: string }> {
  readonly #opts: ReflectorOptions<V>;
  readonly #clock: Clock;
  #resourceVersion: string | undefined;
  #abort = new AbortController();
  #synced = false;
  #running: Promise<void> | undefined;
  #connected = false;
  #opened = false;
  #lastConnected = 0;
  /** The last word from the server: a list, a watch answered, an event (ms). */
  #lastContact = 0;

  constructor(options: ReflectorOptions<V>) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** True from a successful list until the next failure: the store follows the server. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The last moment the store was known to follow the server (ms); now while connected. */
  get lastConnected(): number {
    return this.#connected ? this.#clock.now() : this.#lastConnected;
  }

  /**
   * Starts listing and watching; resolves once the first list completed, or rejects with an
   * AbortError when stopped before that (start-up must never outlive a shutdown).
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let first = true;
      const onSynced = (): void => {
        if (first) {
          first = false;
          resolve();
        }
      };
      this.#running = this.#loop(onSynced).then(() => {
        if (first) reject(new DOMException(`list of ${this.#opts.path} stopped before it completed`, 'AbortError'));
      });
    });
  }

  /** Stops the watch; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #loop(onSynced: () => void): Promise<void> {
    const { log } = this.#opts;
    const backoff = this.#opts.backoff ?? { initial: 200, max: 10_000 };
    const random = this.#opts.random ?? Math.random;
    let delay = backoff.initial;
    let needList = true;
    while (!this.#abort.signal.aborted) {
      try {
        if (needList) {
          await this.#list();
          needList = false;
          delay = backoff.initial;
          onSynced();
        }
        await this.#watch();
        delay = backoff.initial; // a watch that ran and ended cleanly is resumed at once
      } catch (err) {
        if (this.#abort.signal.aborted) break;
        if (this.#connected) {
          this.#connected = false;
          // A mute server was last known to be there at its last word, not when we gave up on it.
          this.#lastConnected = err instanceof KubeError && err.reason === 'Timeout' ? this.#lastContact : this.#clock.now();
        }
        const gone = err instanceof KubeError && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
        if (gone) {
          log.info({ path: this.#opts.path }, 'resourceVersion expired; relisting');
          needList = true;
          continue;
        }
        // A watch that opened since the last failure means the server was back: start over small.
        if (this.#opened) delay = backoff.initial;
        this.#opened = false;
        const wait = Math.min(delay, backoff.max) * (0.5 + random());
        log.warn({ path: this.#opts.path, err: (err as Error).message, retryInMs: Math.round(wait) }, 'list/watch failed; retrying');
        await sleep(this.#clock, wait, this.#abort.signal);
        delay = Math.min(delay * 2, backoff.max);
      }
    }
  }

  async #list(): Promise<void> {
    const { client, path, labelSelector, project, store, changed, namespace } = this.#opts;
    const next = new Map<string, V>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await client.request<{ items?: Record<string, unknown>[]; metadata?: { resourceVersion?: string; continue?: string } }>('GET', path, {
        query: { labelSelector, limit: this.#opts.pageSize ?? 500, continue: continueToken },
        signal: this.#abort.signal,
        // A page silent this long comes from a dead server (the same bound as a watch's answer).
        timeoutMs: watchDeadlines(this.#opts.livenessMs ?? WATCH_LIVENESS_MS, 0).answerMs,
      });
      for (const item of page.items ?? []) {
        const view = project(item);
        if (view !== undefined) next.set(keyOfObject(item), view);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken !== undefined);
    this.#connected = true;
    this.#lastContact = this.#clock.now();
    this.#resourceVersion = resourceVersion;
    this.#synced = true;
    // Apply only now that the list is complete, and tell the owner what differs.
    for (const key of [...store.keys(namespace)]) {
      if (next.has(key)) continue;
      const old = store.delete(key);
      changed(key, old, undefined);
    }
    for (const [key, view] of next) {
      const old = store.get(key);
      if (old !== undefined && sameJson(old, view)) continue;
      store.set(view);
      changed(key, old, view);
    }
  }

  async #watch(): Promise<void> {
    const { client, path, labelSelector, log } = this.#opts;
    const { timeoutSeconds, silenceMs, answerMs } = watchDeadlines(this.#opts.livenessMs ?? WATCH_LIVENESS_MS, (this.#opts.random ?? Math.random)());
    // One deadline at a time: first for the response, then for silence between events. A frozen
    // server keeps the connection open and mute, so only a deadline notices it.
    const watchAbort = new AbortController();
    const stopWatch = (): void => watchAbort.abort();
    this.#abort.signal.addEventListener('abort', stopWatch, { once: true });
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    let expired: (outcome: 'unanswered' | 'silent') => void = () => undefined;
    const deadline = new Promise<'unanswered' | 'silent'>((resolve) => (expired = resolve));
    const arm = (ms: number, outcome: 'unanswered' | 'silent'): void => {
      this.#clock.clearTimeout(timer);
      timer = this.#clock.setTimeout(() => {
        watchAbort.abort();
        expired(outcome);
      }, ms);
    };
    arm(answerMs, 'unanswered');
    const streamed = client.watch(
      path,
      { labelSelector, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (type, object) => {
        arm(silenceMs, 'silent');
        this.#lastContact = this.#clock.now();
        this.#event(type, object);
      },
      watchAbort.signal,
      () => {
        arm(silenceMs, 'silent');
        this.#lastContact = this.#clock.now();
        // The server accepted the watch from our resourceVersion: the store follows it again.
        this.#connected = true;
        this.#opened = true;
      },
    );
    try {
      const outcome = await Promise.race([streamed.then(() => 'ended' as const), deadline]);
      if (outcome === 'unanswered') throw new KubeError(0, 'Timeout', `watch ${path}: no response within ${answerMs} ms`);
      if (outcome === 'silent') log.info({ path, silentMs: silenceMs }, 'watch silent past its deadline; restarting it');
      else log.debug({ path, timeoutSeconds }, 'watch ended by the server; resuming');
    } finally {
      this.#clock.clearTimeout(timer);
      this.#abort.signal.removeEventListener('abort', stopWatch);
      watchAbort.abort();
      streamed.catch(() => undefined);
    }
  }

  /** Applies one watch event to the store (throws on an ERROR event: the watch ends). */
  #event(type: string, object: Record<string, unknown>): void {
    const { path, project, store, changed } = this.#opts;
    const rv = (object as ObjectMeta).metadata?.resourceVersion;
    if (type === 'ERROR') {
      const status = object as { code?: number; reason?: string; message?: string };
      throw new KubeError(status.code ?? 0, status.reason ?? 'WatchError', `watch ${path}: ${status.message ?? 'error event'}`);
    }
    if (rv !== undefined) this.#resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const key = keyOfObject(object);
    const view = type === 'DELETED' ? undefined : project(object);
    if (view === undefined) {
      const old = store.delete(key);
      if (old !== undefined) changed(key, old, undefined);
      return;
    }
    const old = store.get(key);
    if (old !== undefined && sameJson(old, view)) return;
    store.set(view);
    changed(key, old, view);
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
