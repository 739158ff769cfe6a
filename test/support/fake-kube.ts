import { KubeError, type KubeApi, type RequestInit } from '../../src/kube/rest.ts';

// A scripted stand-in for the API server, for unit tests only: objects in memory with
// resourceVersions (an update that carries a stale one gets 409, as optimistic concurrency wants),
// and a hook that makes requests fail the way a network or a server does.

type Obj = Record<string, unknown> & { metadata?: { name?: string; namespace?: string; resourceVersion?: string } };

/** A failure to inject: return an error to throw it, or 'hang' for a request that never answers. */
export type Failure = (method: string, path: string) => KubeError | 'hang' | undefined;

/** Network failure, as KubeClient reports it. */
export const networkError = (): KubeError => new KubeError(0, 'NetworkError', 'connect ECONNREFUSED');

/** An in-memory API server holding objects by path. */
export class FakeKube implements KubeApi {
  /** Every request, as `METHOD path`. */
  readonly calls: string[] = [];
  /** Injected failures; undefined lets requests through. */
  fail: Failure | undefined;
  readonly #objects = new Map<string, Obj>();
  #rv = 0;

  /** The object at `path` (a copy), if any. */
  get(path: string): Obj | undefined {
    const o = this.#objects.get(path);
    return o === undefined ? undefined : structuredClone(o);
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
        if (o === undefined) throw new KubeError(404, 'NotFound', `${path} not found`);
        return structuredClone(o) as T;
      }
      case 'POST': {
        const at = `${path}/${body?.metadata?.name ?? ''}`;
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
        if (!this.#objects.delete(path)) throw new KubeError(404, 'NotFound', `${path} not found`);
        return undefined as T;
      }
      default:
        throw new KubeError(405, 'MethodNotAllowed', method);
    }
  }

  async apply<T = unknown>(path: string, manifest: unknown): Promise<T> {
    this.calls.push(`APPLY ${path}`);
    const failure = this.fail?.('APPLY', path);
    if (failure === 'hang') return new Promise<T>(() => undefined);
    if (failure !== undefined) throw failure;
    return this.#store(path, structuredClone(manifest) as Obj) as T;
  }

  watch(): Promise<void> {
    throw new Error('FakeKube.watch: not scripted in this test');
  }

  #store(path: string, o: Obj): Obj {
    const stored = { ...o, metadata: { ...o.metadata, resourceVersion: String(++this.#rv) } };
    this.#objects.set(path, stored);
    return structuredClone(stored);
  }
}
