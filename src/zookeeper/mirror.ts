import type { Client, Exception, Stat } from 'node-zookeeper-client';
import type { Logger } from 'pino';
import { ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
import { normalizeRoot, parseProviderNode, providersPath } from './provider-nodes.ts';


// A read-only mirror of the providers Dubbo registers in ZooKeeper (docs/zookeeper.md), through
// node-zookeeper-client: children watches on the root and on each `<interface>/providers`.
//
// What the mirror promises its user, the point of mirroring a registry that may go away:
// - while the connection is lost, the content stays as it was and no change is reported;
// - after every (re)connection, and after a session expiry with a new session, the whole tree is
//   read again, and only then are the differences reported (removals included) and the state
//   becomes 'synced';
// - a node that is not a usable provider is logged once and skipped; nothing else is disturbed.

/** Where the mirror is: reading for the first time, current, or holding the last content it read. */
/** node-zookeeper-client, loaded by the first start(). */
let zookeeper: typeof import('node-zookeeper-client');

export type MirrorState = 'connecting' | 'synced' | 'disconnected';

/** One provider node and what it says. */
export interface MirroredProvider {
  readonly path: string;
  readonly url: ProviderUrl;
}

/** How to reach the registry. */
export interface MirrorOptions {
  /** `host:port,host:port`. */
  readonly servers: string;
  /** The registry root, `/dubbo` by default. */
  readonly root?: string | undefined;
  /** `user:password` for ZooKeeper's digest scheme. */
  readonly auth?: string | undefined;
  /** The session timeout asked of the server (it bounds it to 2-20 ticks). */
  readonly sessionTimeoutMs?: number | undefined;
}

/** The providers of one interface as last read, with the zxid of the read (children's pzxid). */
interface Listing {
  readonly version: bigint;
  readonly nodes: ReadonlyMap<string, MirroredProvider>;
}

const EMPTY: Listing = { version: -1n, nodes: new Map() };
/** Reads in flight during a full read of the tree. */
const READ_CONCURRENCY = 32;
/** Retry delay after an unexpected read error (not a lost connection, which the state handles). */
const RETRY_MS = 1000;

function code(err: unknown): number | undefined {
  return typeof (err as Exception | undefined)?.getCode === 'function' ? (err as Exception).getCode() : undefined;
}

/** Registry data goes into logs clipped: a node name may be kilobytes long. */
function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function zxid(stat: Stat | undefined): bigint {
  return stat === undefined ? -1n : stat.pzxid.readBigInt64BE(0);
}

/** Mirrors `<root>/<interface>/providers/<provider URL>` nodes; see the module comment. */
export class ZooKeeperMirror {
  readonly #o: MirrorOptions;
  readonly #root: string;
  readonly #log: Logger;
  #client: Client | undefined;
  #state: MirrorState = 'connecting';
  #syncedAt = 0;
  #generation = 0;
  #stopped = false;
  readonly #listings = new Map<string, Listing>();
  /** interface -> node names already logged as unusable (logged once while they exist). */
  readonly #rejected = new Map<string, Set<string>>();
  /** One watcher function per path: the client keeps one registration per function. */
  readonly #watchers = new Map<string, () => void>();
  readonly #changeListeners: ((interfaces: readonly string[]) => void)[] = [];
  readonly #stateListeners: ((state: MirrorState) => void)[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Watches that fired while the tree was being read: relisted once the read is applied. */
  readonly #pending = new Set<string>();
  #pendingRoot = false;
  #firstSync: (() => void) | undefined;
  readonly #synced: Promise<void>;

  constructor(options: MirrorOptions, log: Logger) {
    this.#o = options;
    this.#root = normalizeRoot(options.root ?? '/dubbo');
    this.#log = log;
    this.#synced = new Promise((resolve) => (this.#firstSync = resolve));
  }

  /** Connects; resolves once the tree has been read the first time (never, while ZooKeeper is unreachable). */
  async start(): Promise<void> {
    // Loaded here, not at import: the other sources and commands never pay for the client.
    zookeeper ??= ((await import('node-zookeeper-client')) as { default: typeof import('node-zookeeper-client') }).default;
    if (this.#stopped) return;
    this.#connect();
    return this.#synced;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#client?.close();
    this.#client = undefined;
  }

  state(): MirrorState {
    return this.#state;
  }

  /** When the content was last known to be current (ms since epoch): now while synced. */
  get currentAsOf(): number {
    return this.#state === 'synced' ? Date.now() : this.#syncedAt;
  }

  /** Nodes skipped as unusable, among those present. */
  get rejected(): number {
    let n = 0;
    for (const names of this.#rejected.values()) n += names.size;
    return n;
  }

  /** Every provider of the mirror. */
  *providers(): Iterable<MirroredProvider> {
    for (const listing of this.#listings.values()) yield* listing.nodes.values();
  }

  /** The interfaces that have a listing (possibly empty). */
  interfaces(): Iterable<string> {
    return this.#listings.keys();
  }

  byInterface(iface: string): readonly MirroredProvider[] {
    return [...(this.#listings.get(iface)?.nodes.values() ?? [])];
  }

  /** Called with the interfaces whose providers changed. */
  onChange(listener: (interfaces: readonly string[]) => void): void {
    this.#changeListeners.push(listener);
  }

  onState(listener: (state: MirrorState) => void): void {
    this.#stateListeners.push(listener);
  }

  #setState(state: MirrorState): void {
    if (state === this.#state) return;
    if (this.#state === 'synced') this.#syncedAt = Date.now();
    this.#state = state;
    for (const l of this.#stateListeners) l(state);
  }

  #connect(): void {
    if (this.#stopped) return;
    const client = zookeeper.createClient(this.#o.servers, { sessionTimeout: this.#o.sessionTimeoutMs ?? 30_000, spinDelay: 1000, retries: 0 });
    if (this.#o.auth !== undefined) client.addAuthInfo('digest', Buffer.from(this.#o.auth));
    this.#client = client;
    this.#watchers.clear();
    client.on('state', (state) => {
      if (client !== this.#client) return;
      if (state === zookeeper.State.SYNC_CONNECTED || state === zookeeper.State.CONNECTED_READ_ONLY) {
        this.#log.info({ servers: this.#o.servers, root: this.#root, sessionTimeoutMs: client.getSessionTimeout() }, 'connected to ZooKeeper; reading the registry');
        void this.#resync(client);
      } else if (state === zookeeper.State.DISCONNECTED) {
        this.#log.warn({ servers: this.#o.servers }, 'ZooKeeper connection lost; keeping the last registry data');
        this.#generation++;
        this.#setState('disconnected');
      } else if (state === zookeeper.State.EXPIRED) {
        this.#log.warn({ servers: this.#o.servers }, 'ZooKeeper session expired; reconnecting with a new session');
        this.#generation++;
        this.#setState('disconnected');
        client.close();
        this.#connect();
      } else if (state === zookeeper.State.AUTH_FAILED) {
        this.#log.error({ servers: this.#o.servers }, 'ZooKeeper refused the credentials; retrying in 10 s');
        this.#generation++;
        this.#setState('disconnected');
        client.close();
        this.#later(() => this.#connect(), 10_000);
      }
    });
    client.connect();
  }

  #later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  /** Reads the whole tree; applies it only if no connection change happened meanwhile. */
  async #resync(client: Client): Promise<void> {
    const generation = ++this.#generation;
    // What fired before this read is covered by it; what fires during it is relisted after it.
    this.#pending.clear();
    this.#pendingRoot = false;
    let next: Map<string, Listing>;
    try {
      const interfaces = await this.#children(client, this.#root, this.#rootWatcher());
      next = new Map();
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < interfaces.length) {
          const iface = interfaces[i++]!;
          next.set(iface, await this.#readInterface(client, iface));
        }
      };
      await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, interfaces.length) }, worker));
    } catch (err) {
      if (generation === this.#generation) this.#readFailed(err, 'registry', () => void this.#resync(client));
      return;
    }
    if (generation !== this.#generation || client !== this.#client) return;
    const changed: string[] = [];
    for (const [iface, listing] of next) if (this.#put(iface, listing)) changed.push(iface);
    for (const iface of [...this.#listings.keys()]) {
      if (next.has(iface)) continue;
      this.#listings.delete(iface);
      this.#rejected.delete(iface);
      changed.push(iface);
    }
    const first = this.#firstSync !== undefined;
    this.#setState('synced');
    this.#log.info({ interfaces: next.size, providers: [...this.providers()].length, rejected: this.rejected, changed: changed.length }, first ? 'registry read' : 'registry read again after reconnecting');
    this.#emit(changed);
    this.#firstSync?.();
    this.#firstSync = undefined;
    if (this.#pendingRoot) void this.#relistRoot();
    for (const iface of this.#pending) void this.#relist(iface);
    this.#pending.clear();
    this.#pendingRoot = false;
  }

  /** Stores a listing unless an equal or newer one is there; true when the providers changed. */
  #put(iface: string, listing: Listing): boolean {
    const old = this.#listings.get(iface) ?? EMPTY;
    // A read of a missing directory (version -1) always applies: it cannot be older than a listing.
    if (listing.version !== -1n && old.version > listing.version) return false;
    this.#listings.set(iface, listing);
    if (old.nodes.size !== listing.nodes.size) return true;
    for (const name of listing.nodes.keys()) if (!old.nodes.has(name)) return true;
    return false;
  }

  #emit(changed: readonly string[]): void {
    if (changed.length === 0) return;
    for (const l of this.#changeListeners) l(changed);
  }

  #rootWatcher(): () => void {
    return this.#watcher(this.#root, () => void this.#relistRoot());
  }

  #watcher(path: string, fn: () => void): () => void {
    let w = this.#watchers.get(path);
    if (w === undefined) this.#watchers.set(path, (w = fn));
    return w;
  }

  async #relistRoot(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    if (this.#state !== 'synced') {
      this.#pendingRoot = true;
      return;
    }
    try {
      const interfaces = new Set(await this.#children(client, this.#root, this.#rootWatcher()));
      const gone = [...this.#listings.keys()].filter((iface) => !interfaces.has(iface));
      for (const iface of gone) {
        this.#listings.delete(iface);
        this.#rejected.delete(iface);
      }
      this.#emit(gone);
      for (const iface of interfaces) if (!this.#listings.has(iface)) void this.#relist(iface);
    } catch (err) {
      this.#readFailed(err, this.#root, () => void this.#relistRoot());
    }
  }

  async #relist(iface: string): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    if (this.#state !== 'synced') {
      this.#pending.add(iface);
      return;
    }
    try {
      const listing = await this.#readInterface(client, iface);
      if (client !== this.#client) return;
      if (this.#put(iface, listing)) this.#emit([iface]);
    } catch (err) {
      this.#readFailed(err, providersPath(this.#root, iface), () => void this.#relist(iface));
    }
  }

  /** A read failed: a lost connection is handled by the state events; anything else is retried. */
  #readFailed(err: unknown, what: string, retry: () => void): void {
    const c = code(err);
    if (c === zookeeper.Exception.CONNECTION_LOSS || c === zookeeper.Exception.SESSION_EXPIRED || this.#stopped) return;
    this.#log.warn({ path: what, err: String(err) }, 'ZooKeeper read failed; retrying');
    this.#later(retry, RETRY_MS);
  }

  /** The providers of one interface, with a watch on the directory (or on its creation). */
  async #readInterface(client: Client, iface: string): Promise<Listing> {
    const path = providersPath(this.#root, iface);
    const watcher = this.#watcher(path, () => void this.#relist(iface));
    let names: string[];
    let stat: Stat | undefined;
    try {
      [names, stat] = await this.#childrenWithStat(client, path, watcher);
    } catch (err) {
      if (code(err) !== zookeeper.Exception.NO_NODE) throw err;
      // Only consumers or configurators so far: notice when providers arrive.
      await new Promise<void>((resolve, reject) => client.exists(path, watcher, (e) => (e === null ? resolve() : reject(e))));
      return EMPTY;
    }
    const nodes = new Map<string, MirroredProvider>();
    const seenRejected = new Set<string>();
    const logged = this.#rejected.get(iface) ?? new Set<string>();
    for (const name of names) {
      try {
        nodes.set(name, { path: `${path}/${name}`, url: parseProviderNode(name) });
      } catch (err) {
        if (!(err instanceof ProviderUrlError)) throw err;
        seenRejected.add(name);
        if (!logged.has(name)) this.#log.warn({ interface: iface, node: clip(name), reason: clip(err.message) }, 'provider node skipped');
      }
    }
    if (seenRejected.size === 0) this.#rejected.delete(iface);
    else this.#rejected.set(iface, seenRejected);
    return { version: zxid(stat), nodes };
  }

  async #children(client: Client, path: string, watcher: () => void): Promise<string[]> {
    try {
      return (await this.#childrenWithStat(client, path, watcher))[0];
    } catch (err) {
      if (code(err) !== zookeeper.Exception.NO_NODE) throw err;
      // No registry yet: an empty one, and a watch on its creation.
      await new Promise<void>((resolve, reject) => client.exists(path, watcher, (e) => (e === null ? resolve() : reject(e))));
      return [];
    }
  }

  #childrenWithStat(client: Client, path: string, watcher: () => void): Promise<[string[], Stat]> {
    return new Promise((resolve, reject) => client.getChildren(path, watcher, (err, children, stat) => (err === null ? resolve([children, stat]) : reject(err))));
  }
}
