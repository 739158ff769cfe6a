import type { Logger } from 'pino';
import { KubeError, type KubeClient } from './rest.ts';

// List + watch of one collection into a map of slim projections, for as long as it runs: a watch
// that ends is resumed from the last resourceVersion, an error restarts with capped, jittered
// backoff, and 410 Gone (or an expired resourceVersion) relists. A relist replaces the state only
// once it has completed, and reports the differences as changes (docs/architecture.md). resourceVersions are
// opaque: only passed back, never compared.

/** What a reflector tells its owner. */
export interface ReflectorHandler<V> {
  /** An object appeared, changed or went away (old/new undefined accordingly). */
  changed(key: string, previous: V | undefined, current: V | undefined): void;
  /** The first complete list has been applied (and again after every relist). */
  synced?(): void;
}

/** Options of a reflector. */
export interface ReflectorOptions<V> {
  readonly client: KubeClient;
  /** Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/ns/services`. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  /** Slim projection; undefined drops the object (as if it did not exist). */
  readonly project: (object: Record<string, unknown>) => V | undefined;
  readonly handler: ReflectorHandler<V>;
  readonly log: Logger;
  /** Page size of lists. */
  readonly pageSize?: number;
  /** Backoff bounds (ms). */
  readonly backoff?: { readonly initial: number; readonly max: number };
  /** Server-side watch timeout (s): the server closes the stream, we resume. */
  readonly watchTimeoutSeconds?: number;
}

interface ObjectMeta {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
}

/** Keys objects by `namespace/name`. */
export function objectKey(object: Record<string, unknown>): string {
  const m = (object as ObjectMeta).metadata;
  return `${m?.namespace ?? ''}/${m?.name ?? ''}`;
}

/** A running list+watch. */
export class Reflector<V> {
  readonly #opts: ReflectorOptions<V>;
  #items = new Map<string, V>();
  #resourceVersion: string | undefined;
  #abort = new AbortController();
  #synced = false;
  #running: Promise<void> | undefined;
  /** When the last list or watch event arrived (ms). */
  lastContact = 0;
  #connected = false;
  #opened = false;
  #lastConnected = 0;

  constructor(options: ReflectorOptions<V>) {
    this.#opts = options;
  }

  /** The current projections by key. Do not mutate. */
  get items(): ReadonlyMap<string, V> {
    return this.#items;
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  /** True from a successful list until the next failure: the cache follows the server. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The last moment the cache was known to follow the server (ms). */
  get lastConnected(): number {
    return this.#connected ? Date.now() : this.#lastConnected;
  }

  /**
   * Starts listing and watching; resolves once the first list completed, or rejects with an
   * AbortError when stopped before that (start-up must never outlive a shutdown).
   */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const handler = this.#opts.handler;
      const origSynced = handler.synced?.bind(handler);
      let first = true;
      const onSynced = (): void => {
        origSynced?.();
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
          this.#lastConnected = Date.now();
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
        const wait = Math.min(delay, backoff.max) * (0.5 + Math.random());
        log.warn({ path: this.#opts.path, err: (err as Error).message, retryInMs: Math.round(wait) }, 'list/watch failed; retrying');
        await sleep(wait, this.#abort.signal);
        delay = Math.min(delay * 2, backoff.max);
      }
    }
  }

  async #list(): Promise<void> {
    const { client, path, labelSelector, project, handler } = this.#opts;
    const next = new Map<string, V>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await client.request<{ items?: Record<string, unknown>[]; metadata?: { resourceVersion?: string; continue?: string } }>('GET', path, {
        query: { labelSelector, limit: this.#opts.pageSize ?? 500, continue: continueToken },
        signal: this.#abort.signal,
      });
      for (const item of page.items ?? []) {
        const view = project(item);
        if (view !== undefined) next.set(objectKey(item), view);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken !== undefined);
    this.lastContact = Date.now();
    this.#connected = true;
    // Swap only now that the list is complete, and tell the owner what differs.
    const previous = this.#items;
    this.#items = next;
    this.#resourceVersion = resourceVersion;
    this.#synced = true;
    for (const [key, view] of next) {
      const old = previous.get(key);
      if (old === undefined || !sameJson(old, view)) handler.changed(key, old, view);
    }
    for (const [key, old] of previous) if (!next.has(key)) handler.changed(key, old, undefined);
  }

  async #watch(): Promise<void> {
    const { client, path, labelSelector, project, handler } = this.#opts;
    await client.watch(
      path,
      { labelSelector, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds: this.#opts.watchTimeoutSeconds ?? 300 },
      (type, object) => {
        this.lastContact = Date.now();
        const rv = (object as ObjectMeta).metadata?.resourceVersion;
        if (type === 'ERROR') {
          const status = object as { code?: number; reason?: string; message?: string };
          throw new KubeError(status.code ?? 0, status.reason ?? 'WatchError', `watch ${path}: ${status.message ?? 'error event'}`);
        }
        if (rv !== undefined) this.#resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        const key = objectKey(object);
        const old = this.#items.get(key);
        if (type === 'DELETED') {
          if (old !== undefined) {
            this.#items.delete(key);
            handler.changed(key, old, undefined);
          }
          return;
        }
        const view = project(object);
        if (view === undefined) {
          if (old !== undefined) {
            this.#items.delete(key);
            handler.changed(key, old, undefined);
          }
          return;
        }
        this.#items.set(key, view);
        if (old === undefined || !sameJson(old, view)) handler.changed(key, old, view);
      },
      this.#abort.signal,
      () => {
        // The server accepted the watch from our resourceVersion: the cache follows it again.
        this.#connected = true;
        this.#opened = true;
        this.lastContact = Date.now();
      },
    );
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
