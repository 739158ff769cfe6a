import type { Logger } from 'pino';
import type { Clock } from '../time/clock.ts';
import type { Kind } from './kinds.ts';
import { Reflector, type ChangeHandler } from './reflector.ts';
import type { KubeApi } from './rest.ts';
import { collectionPaths, type NamespaceScope } from './scope.ts';
import { Store, type Indexers } from './store.ts';

// One kind, watched in a scope (all namespaces, or a list of them), into one store: the store with
// its indexes, and the reflectors that fill it (one per collection path).

/** Options of an informer. */
export interface InformerOptions<V extends { readonly namespace: string; readonly name: string }, I extends Indexers<V>> {
  readonly client: Pick<KubeApi, 'request' | 'watch'>;
  readonly kind: Kind<V>;
  readonly namespaces: NamespaceScope;
  readonly indexers: I;
  /** Told of every change, after the store (and its indexes) took it. */
  readonly changed: ChangeHandler<V>;
  readonly log: Logger;
  readonly backoff?: { readonly initial: number; readonly max: number };
  /** See ReflectorOptions.livenessMs. */
  readonly livenessMs?: number | undefined;
  readonly clock?: Clock;
}

/** A store of one kind, kept in step with the API server. */
export class Informer<V extends { readonly namespace: string; readonly name: string }, I extends Indexers<V> = Indexers<V>> {
  readonly store: Store<V, I>;
  readonly #reflectors: Reflector<V>[];

  constructor(o: InformerOptions<V, I>) {
    this.store = new Store<V, I>(o.indexers);
    const paths = collectionPaths(o.kind.prefix, o.kind.resource, o.namespaces);
    this.#reflectors = paths.map(
      (path, i) =>
        new Reflector<V>({
          client: o.client,
          path,
          namespace: o.namespaces?.[i],
          labelSelector: o.kind.labelSelector,
          project: o.kind.project,
          store: this.store,
          changed: o.changed,
          log: o.log,
          backoff: o.backoff,
          livenessMs: o.livenessMs,
          clock: o.clock,
        }),
    );
  }

  /** Starts every reflector; resolves once each has listed (rejects if stopped first). */
  async start(): Promise<void> {
    await Promise.all(this.#reflectors.map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#reflectors.map((r) => r.stop()));
  }

  /** True while every reflector follows the server. */
  get connected(): boolean {
    return this.#reflectors.every((r) => r.connected);
  }

  /** When the store was last known to follow the server in full (ms). */
  get lastConnected(): number {
    return Math.min(...this.#reflectors.map((r) => r.lastConnected));
  }
}
