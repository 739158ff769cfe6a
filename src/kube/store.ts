// One store per kind of object, with its indexes declared next to it, the way client-go's
// Indexers are: an index is a pure function from a view to the values it is filed under, and the
// store keeps every index in step with every change. Objects are keyed `namespace/name` (objectKey):
// the one key format of the Kubernetes layer, used for index values too.

/** The key of an object (or of anything named within a namespace): `namespace/name`. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The namespace part of an object key. */
export function namespaceOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

/** Index functions by index name: each returns the values a view is filed under. */
export type Indexers<V> = Readonly<Record<string, (view: V) => readonly string[]>>;

/** Views of one kind, by object key, with declared indexes. Views are immutable: replace, never mutate. */
export class Store<V extends { readonly namespace: string; readonly name: string }, I extends Indexers<V> = Indexers<V>> {
  readonly #indexers: I;
  readonly #items = new Map<string, V>();
  /** namespace -> keys of the objects in it (relists per namespace, selector scans). */
  readonly #byNamespace = new Map<string, Set<string>>();
  readonly #indexes = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: I) {
    this.#indexers = indexers;
    for (const name of Object.keys(indexers)) this.#indexes.set(name, new Map());
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: string): V | undefined {
    return this.#items.get(key);
  }

  values(): IterableIterator<V> {
    return this.#items.values();
  }

  /** Keys of the objects in `namespace`, or of all objects. */
  keys(namespace?: string): Iterable<string> {
    if (namespace === undefined) return this.#items.keys();
    return this.#byNamespace.get(namespace) ?? [];
  }

  /** The objects filed under `value` in index `index`. */
  byIndex(index: keyof I & string, value: string): V[] {
    const out: V[] = [];
    for (const key of this.#indexes.get(index)?.get(value) ?? []) {
      const v = this.#items.get(key);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  /** How many objects are filed under `value` in index `index`. */
  countByIndex(index: keyof I & string, value: string): number {
    return this.#indexes.get(index)?.get(value)?.size ?? 0;
  }

  /** Every value of an index that has at least one object. */
  indexValues(index: keyof I & string): IterableIterator<string> {
    return (this.#indexes.get(index) ?? new Map<string, Set<string>>()).keys();
  }

  /** Stores `view` (replacing what was there); returns the previous view. */
  set(view: V): V | undefined {
    const key = objectKey(view.namespace, view.name);
    const previous = this.#items.get(key);
    if (previous !== undefined) this.#unindex(key, previous);
    this.#items.set(key, view);
    let ns = this.#byNamespace.get(view.namespace);
    if (ns === undefined) this.#byNamespace.set(view.namespace, (ns = new Set()));
    ns.add(key);
    for (const [name, fn] of Object.entries(this.#indexers)) {
      const index = this.#indexes.get(name)!;
      for (const value of fn(view)) {
        let keys = index.get(value);
        if (keys === undefined) index.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
    return previous;
  }

  /** Removes the object at `key`; returns what was there. */
  delete(key: string): V | undefined {
    const previous = this.#items.get(key);
    if (previous === undefined) return undefined;
    this.#unindex(key, previous);
    this.#items.delete(key);
    const ns = this.#byNamespace.get(previous.namespace);
    ns?.delete(key);
    if (ns?.size === 0) this.#byNamespace.delete(previous.namespace);
    return previous;
  }

  #unindex(key: string, view: V): void {
    for (const [name, fn] of Object.entries(this.#indexers)) {
      const index = this.#indexes.get(name)!;
      for (const value of fn(view)) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }
}
