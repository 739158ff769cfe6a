import { KubeError, type KubeApi, type RequestInit } from '../../src/kube/rest.ts';

// A scripted stand-in for the API server, for unit tests only. Objects live in memory under their
// paths with resourceVersions: an update that carries a stale one gets 409 (optimistic
// concurrency); lists page with `limit`/`continue`; watches replay events after the
// resourceVersion asked for and follow changes. A test scripts what a real server or network does:
// expire resourceVersions (410 Gone), send bookmarks, end streams, fail or hang requests.

/** A raw object as the API serves it. */
export type Obj = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
};

/** A failure to inject: return an error to throw it, or 'hang' for a request that never answers. */
export type Failure = (method: string, path: string) => KubeError | 'hang' | undefined;

/** Network failure, as KubeClient reports it. */
export const networkError = (): KubeError => new KubeError(0, 'NetworkError', 'connect ECONNREFUSED');

interface Where {
  readonly prefix: string;
  readonly namespace: string | undefined;
  readonly resource: string;
  readonly name: string | undefined;
}

/** `/api/v1/namespaces/ns/pods/x`, `/api/v1/namespaces/ns/pods`, `/api/v1/pods`. */
function parse(path: string): Where {
  const ns = /^(.*)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/status)?$/.exec(path);
  if (ns !== null) return { prefix: ns[1]!, namespace: ns[2], resource: ns[3]!, name: ns[4] };
  const i = path.lastIndexOf('/');
  return { prefix: path.slice(0, i), namespace: undefined, resource: path.slice(i + 1), name: undefined };
}

function matches(selector: string | undefined, labels: Record<string, string> | undefined): boolean {
  if (selector === undefined || selector === '') return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels?.[k!] === v;
  });
}

interface Event {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly path: string;
  readonly object: Obj;
}

interface Watcher {
  readonly where: Where;
  readonly selector: string | undefined;
  readonly onEvent: (type: string, object: Record<string, unknown>) => void;
  end(error?: unknown): void;
}

/** An in-memory API server. */
export class FakeKube implements KubeApi {
  /** Every request, as `METHOD path` (watches as `WATCH path`). */
  readonly calls: string[] = [];
  /** Injected failures; undefined lets requests through. */
  fail: Failure | undefined;
  readonly #objects = new Map<string, Obj>();
  readonly #events: Event[] = [];
  readonly #watchers = new Set<Watcher>();
  #rv = 0;
  /** resourceVersions at or below this are gone (410). */
  #compacted = 0;
  #uid = 0;

  /** The object at `path` (a copy), if any. */
  get(path: string): Obj | undefined {
    const o = this.#objects.get(path);
    return o === undefined ? undefined : structuredClone(o);
  }

  /** Paths of the objects under a collection path (sorted). */
  paths(collection: string): string[] {
    const where = parse(collection);
    return [...this.#objects.keys()].filter((p) => this.#inCollection(p, where)).sort();
  }

  /** Creates or replaces an object as another client would (watchers see it). */
  put(path: string, object: Obj): Obj {
    return this.#store(path, object);
  }

  /** Deletes an object as another client would. */
  remove(path: string): void {
    const old = this.#objects.get(path);
    if (old === undefined) return;
    this.#objects.delete(path);
    this.#emit({ rv: ++this.#rv, type: 'DELETED', path, object: { ...old, metadata: { ...old.metadata, resourceVersion: String(this.#rv) } } });
  }

  /** Every resourceVersion so far expires (etcd compaction): a watch started from one gets 410 Gone. */
  expire(): void {
    this.#compacted = this.#rv;
  }

  /** An ERROR event with 410 Gone on every open watch (the server's cache lost our place). */
  gone(): void {
    for (const w of [...this.#watchers]) w.onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
  }

  /** A BOOKMARK on every open watch, carrying the current resourceVersion. */
  bookmark(): void {
    for (const w of [...this.#watchers]) w.onEvent('BOOKMARK', { metadata: { resourceVersion: String(this.#rv) } });
  }

  /** Ends every open watch: cleanly (the server's timeout) or with an error (the network). */
  endWatches(error?: unknown): void {
    for (const w of [...this.#watchers]) w.end(error);
  }

  /** Open watches. */
  get watching(): number {
    return this.#watchers.size;
  }

  async request<T = unknown>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    this.calls.push(`${method} ${path}`);
    const failure = this.fail?.(method, path);
    if (failure === 'hang') return new Promise<T>(() => undefined);
    if (failure !== undefined) throw failure;
    const body = structuredClone(init.body) as Obj | undefined;
    switch (method) {
      case 'GET': {
        const o = this.#objects.get(path);
        if (o !== undefined) return structuredClone(o) as T;
        const where = parse(path);
        if (where.name !== undefined) throw new KubeError(404, 'NotFound', `${path} not found`);
        return this.#list(where, init.query) as T;
      }
      case 'POST': {
        const generated = (body?.metadata as { generateName?: string } | undefined)?.generateName;
        const at = `${path}/${body?.metadata?.name ?? `${generated ?? ''}${++this.#uid}`}`;
        if (this.#objects.has(at)) throw new KubeError(409, 'AlreadyExists', `${at} exists`);
        return this.#store(at, body ?? {}) as T;
      }
      case 'PUT': {
        const current = this.#objects.get(path);
        if (current === undefined) throw new KubeError(404, 'NotFound', `${path} not found`);
        if (body?.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw new KubeError(409, 'Conflict', `${path}: the object has been modified`);
        return this.#store(path, body ?? {}) as T;
      }
      case 'DELETE': {
        if (!this.#objects.has(path)) throw new KubeError(404, 'NotFound', `${path} not found`);
        this.remove(path);
        return undefined as T;
      }
      default:
        throw new KubeError(405, 'MethodNotAllowed', method);
    }
  }

  /** Server-side apply, simplified: the manifest replaces the object (status applies merge into it). */
  async apply<T = unknown>(path: string, manifest: unknown): Promise<T> {
    this.calls.push(`APPLY ${path}`);
    const failure = this.fail?.('APPLY', path);
    if (failure === 'hang') return new Promise<T>(() => undefined);
    if (failure !== undefined) throw failure;
    const m = structuredClone(manifest) as Obj;
    if (path.endsWith('/status')) {
      const at = path.slice(0, -'/status'.length);
      const current = this.#objects.get(at);
      if (current === undefined) throw new KubeError(404, 'NotFound', `${at} not found`);
      return this.#store(at, { ...current, status: m['status'] }) as T;
    }
    return this.#store(path, m) as T;
  }

  watch(path: string, query: RequestInit['query'], onEvent: (type: string, object: Record<string, unknown>) => void, signal: AbortSignal, onOpen?: () => void): Promise<void> {
    this.calls.push(`WATCH ${path}`);
    const failure = this.fail?.('WATCH', path);
    if (failure === 'hang') return new Promise(() => undefined);
    if (failure !== undefined) return Promise.reject(failure);
    const from = Number(query?.['resourceVersion'] ?? this.#rv);
    if (from < this.#compacted) return Promise.reject(new KubeError(410, 'Expired', `too old resource version: ${from}`));
    return new Promise<void>((resolve, reject) => {
      const watcher: Watcher = {
        where: parse(path),
        selector: query?.['labelSelector'] as string | undefined,
        onEvent: (type, object) => {
          try {
            onEvent(type, object);
          } catch (err) {
            watcher.end(err);
          }
        },
        end: (error) => {
          if (!this.#watchers.delete(watcher)) return;
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      signal.addEventListener('abort', () => watcher.end(), { once: true });
      if (signal.aborted) return resolve();
      this.#watchers.add(watcher);
      onOpen?.();
      for (const e of this.#events) if (e.rv > from) this.#deliver(watcher, e);
    });
  }

  #inCollection(path: string, where: Where): boolean {
    const p = parse(path);
    return p.prefix === where.prefix && p.resource === where.resource && (where.namespace === undefined || p.namespace === where.namespace);
  }

  #list(where: Where, query: RequestInit['query']): Obj {
    const selector = query?.['labelSelector'] as string | undefined;
    const all = [...this.#objects.entries()]
      .filter(([p, o]) => this.#inCollection(p, where) && matches(selector, o.metadata?.labels))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, o]) => structuredClone(o));
    const limit = Number(query?.['limit'] ?? all.length) || all.length;
    const start = Number(query?.['continue'] ?? 0);
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? String(start + limit) : undefined;
    return { items, metadata: { resourceVersion: String(this.#rv), ...(next === undefined ? {} : { continue: next }) } };
  }

  #store(path: string, o: Obj): Obj {
    const existed = this.#objects.get(path);
    const where = parse(path);
    const uid = existed?.metadata?.uid ?? o.metadata?.uid ?? `uid-${++this.#uid}`;
    const stored: Obj = { ...o, metadata: { ...o.metadata, name: where.name, namespace: where.namespace, uid, resourceVersion: String(++this.#rv) } };
    this.#objects.set(path, stored);
    this.#emit({ rv: this.#rv, type: existed === undefined ? 'ADDED' : 'MODIFIED', path, object: stored });
    return structuredClone(stored);
  }

  #emit(e: Event): void {
    this.#events.push(e);
    for (const w of [...this.#watchers]) this.#deliver(w, e);
  }

  #deliver(w: Watcher, e: Event): void {
    if (!this.#inCollection(e.path, w.where) || !matches(w.selector, e.object.metadata?.labels)) return;
    w.onEvent(e.type, structuredClone(e.object));
  }
}
