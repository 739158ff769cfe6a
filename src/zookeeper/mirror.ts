import type { Client, Exception, Stat } from 'node-zookeeper-client';
import type { Logger } from 'pino';
import { ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
import { instanceProviders, isApplicationName, parseInstanceNode, parseMapping, parseMetadataNode, type AppInstance, type MetadataService } from './instance-nodes.ts';
import { normalizeRoot, parseProviderNode, providersPath } from './provider-nodes.ts';

// A read-only mirror of the providers Dubbo registers in ZooKeeper (docs/zookeeper.md), through
// node-zookeeper-client: children watches on the root and on each `<interface>/providers`
// (interface-level registration), and on `/services/<application>` and `<root>/mapping` with data
// watches on their nodes (Dubbo 3's application-level registration).
//
// What the mirror promises its user, the point of mirroring a registry that may go away:
// - while the connection is lost, the content stays as it was and no change is reported;
// - after every (re)connection, and after a session expiry with a new session, the whole tree is
//   read again, and only then are the differences reported (removals included) and the state
//   becomes 'synced';
// - a node that is not a usable provider is logged once and skipped; nothing else is disturbed.

/** node-zookeeper-client, loaded by the first start(). */
let zookeeper: typeof import('node-zookeeper-client');

/** Where the mirror is: reading for the first time, current, or holding the last content it read. */
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
  /** Where application-level instances are, `/services` by default (Dubbo's default). */
  readonly servicesRoot?: string | undefined;
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

/** The instances of one application as last read (children's pzxid as the version). */
interface AppListing {
  readonly version: bigint;
  readonly instances: ReadonlyMap<string, { readonly path: string; readonly instance: AppInstance }>;
  /** Which of its revisions' metadata was found, so metadata arriving later counts as a change. */
  readonly metadata: string;
}

/** A mapping node `<root>/mapping/<interface>`: the applications serving the interface. */
interface Mapping {
  readonly version: bigint;
  readonly apps: readonly string[];
}
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

/** The zxid of a node's last data change. */
function mzxid(stat: Stat | undefined): bigint {
  return stat === undefined ? -1n : stat.mzxid.readBigInt64BE(0);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
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
  readonly #servicesRoot: string;
  readonly #listings = new Map<string, Listing>();
  /** application -> its instances (application-level registration). */
  readonly #apps = new Map<string, AppListing>();
  /** interface -> the applications its mapping node names. */
  readonly #mappings = new Map<string, Mapping>();
  /** `application/revision` -> its metadata's services, or 'missing' (not in ZooKeeper, or unusable). */
  readonly #metadata = new Map<string, readonly MetadataService[] | 'missing'>();
  /** interface (or `/services/<application>`) -> node names already logged as unusable (logged once while they exist). */
  readonly #rejected = new Map<string, Set<string>>();
  /** One watcher function per path: the client keeps one registration per function. */
  readonly #watchers = new Map<string, () => void>();
  readonly #changeListeners: ((interfaces: readonly string[]) => void)[] = [];
  readonly #stateListeners: ((state: MirrorState) => void)[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Watches that fired while the tree was being read, by path: read again once the read is applied. */
  readonly #pending = new Map<string, () => void>();
  #firstSync: (() => void) | undefined;
  readonly #synced: Promise<void>;

  constructor(options: MirrorOptions, log: Logger) {
    this.#o = options;
    this.#root = normalizeRoot(options.root ?? '/dubbo');
    this.#servicesRoot = normalizeRoot(options.servicesRoot ?? '/services');
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
    for (const iface of this.interfaces()) yield* this.byInterface(iface);
  }

  /** The interfaces that have a listing or a mapping (possibly without providers). */
  interfaces(): Iterable<string> {
    return new Set([...this.#listings.keys(), ...this.#mappings.keys()]);
  }

  /**
   * The providers of an interface: its provider nodes, then what the instances of its
   * applications serve. An instance address and protocol that a provider node already gives is
   * not repeated (a Dubbo 3 provider in `register-mode: all` writes both; the node says more).
   */
  byInterface(iface: string): readonly MirroredProvider[] {
    const nodes = [...(this.#listings.get(iface)?.nodes.values() ?? [])];
    const apps = this.#mappings.get(iface)?.apps ?? [];
    if (apps.length === 0) return nodes;
    const given = new Set(nodes.map(({ url }) => `${url.protocol}://${url.host}:${url.port}`));
    for (const app of apps) {
      for (const { path, instance } of this.#apps.get(app)?.instances.values() ?? []) {
        const metadata = instance.revision === undefined ? undefined : this.#metadata.get(`${app}/${instance.revision}`);
        for (const url of instanceProviders(iface, instance, metadata === 'missing' ? undefined : metadata)) {
          if (!given.has(`${url.protocol}://${url.host}:${url.port}`)) nodes.push({ path, url });
        }
      }
    }
    return nodes;
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
    // What fired before this read is covered by it; what fires during it is read again after it.
    this.#pending.clear();
    let listings: Map<string, Listing>;
    let mappings: Map<string, Mapping>;
    let apps: Map<string, AppListing>;
    try {
      [listings, mappings, apps] = await Promise.all([this.#readInterfaces(client), this.#readMappings(client), this.#readApps(client)]);
    } catch (err) {
      if (generation === this.#generation) this.#readFailed(err, 'registry', () => void this.#resync(client));
      return;
    }
    if (generation !== this.#generation || client !== this.#client) return;
    const changed = new Set<string>();
    for (const [iface, listing] of listings) if (this.#put(iface, listing)) changed.add(iface);
    for (const iface of [...this.#listings.keys()]) {
      if (listings.has(iface)) continue;
      this.#listings.delete(iface);
      this.#rejected.delete(iface);
      changed.add(iface);
    }
    for (const [iface, mapping] of mappings) if (this.#putMapping(iface, mapping)) changed.add(iface);
    for (const iface of [...this.#mappings.keys()]) {
      if (mappings.has(iface)) continue;
      this.#mappings.delete(iface);
      changed.add(iface);
    }
    for (const [app, listing] of apps) if (this.#putApp(app, listing)) for (const iface of this.#interfacesOf(app)) changed.add(iface);
    for (const app of [...this.#apps.keys()]) if (!apps.has(app)) for (const iface of this.#dropApp(app)) changed.add(iface);
    const first = this.#firstSync !== undefined;
    this.#setState('synced');
    this.#log.info(
      { interfaces: listings.size, mapped: mappings.size, applications: apps.size, providers: [...this.providers()].length, rejected: this.rejected, changed: changed.size },
      first ? 'registry read' : 'registry read again after reconnecting',
    );
    this.#emit([...changed]);
    this.#firstSync?.();
    this.#firstSync = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const read of pending) read();
  }

  /** Runs `n` reads at a time over `items`. */
  async #pool<T>(items: readonly T[], read: (item: T) => Promise<void>): Promise<void> {
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < items.length) await read(items[i++]!);
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, items.length) }, worker));
  }

  /** Every `<root>/<interface>/providers` listing. */
  async #readInterfaces(client: Client): Promise<Map<string, Listing>> {
    const interfaces = await this.#children(client, this.#root, this.#rootWatcher());
    const next = new Map<string, Listing>();
    await this.#pool(interfaces, async (iface) => void next.set(iface, await this.#readInterface(client, iface)));
    return next;
  }

  /** Every `<root>/mapping/<interface>` node. */
  async #readMappings(client: Client): Promise<Map<string, Mapping>> {
    const names = await this.#children(client, this.#mappingRoot, this.#mappingRootWatcher());
    const next = new Map<string, Mapping>();
    await this.#pool(names, async (iface) => {
      const mapping = await this.#readMapping(client, iface);
      if (mapping !== undefined) next.set(iface, mapping);
    });
    return next;
  }

  /** Every `/services/<application>` and its instances. */
  async #readApps(client: Client): Promise<Map<string, AppListing>> {
    const names = (await this.#children(client, this.#servicesRoot, this.#servicesRootWatcher())).filter(isApplicationName);
    const next = new Map<string, AppListing>();
    await this.#pool(names, async (app) => void next.set(app, await this.#readApp(client, app)));
    return next;
  }

  get #mappingRoot(): string {
    return `${this.#root === '/' ? '' : this.#root}/mapping`;
  }

  #appPath(app: string): string {
    return `${this.#servicesRoot === '/' ? '' : this.#servicesRoot}/${app}`;
  }

  /** Forgets an application that is gone (its instances, logged rejects, metadata); returns the interfaces it served. */
  #dropApp(app: string): string[] {
    this.#apps.delete(app);
    this.#rejected.delete(this.#appPath(app));
    for (const key of [...this.#metadata.keys()]) if (key.startsWith(`${app}/`)) this.#metadata.delete(key);
    return this.#interfacesOf(app);
  }

  /** The interfaces whose mapping names `app`. */
  #interfacesOf(app: string): string[] {
    const out: string[] = [];
    for (const [iface, mapping] of this.#mappings) if (mapping.apps.includes(app)) out.push(iface);
    return out;
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

  #putMapping(iface: string, mapping: Mapping): boolean {
    const old = this.#mappings.get(iface);
    if (old !== undefined && old.version > mapping.version) return false;
    this.#mappings.set(iface, mapping);
    return old === undefined || !sameList(old.apps, mapping.apps);
  }

  #putApp(app: string, listing: AppListing): boolean {
    const old = this.#apps.get(app);
    if (old !== undefined && listing.version !== -1n && old.version > listing.version) return false;
    this.#apps.set(app, listing);
    if (old === undefined) return listing.instances.size > 0;
    if (old.instances.size !== listing.instances.size || old.metadata !== listing.metadata) return true;
    for (const [name, { instance }] of listing.instances) {
      const before = old.instances.get(name)?.instance;
      if (before === undefined || JSON.stringify(before) !== JSON.stringify(instance)) return true;
    }
    return false;
  }

  #emit(changed: readonly string[]): void {
    if (changed.length === 0) return;
    for (const l of this.#changeListeners) l(changed);
  }

  #rootWatcher(): () => void {
    return this.#watcher(this.#root, () => this.#whenSynced(this.#root, () => void this.#relistRoot()));
  }

  #mappingRootWatcher(): () => void {
    const path = this.#mappingRoot;
    return this.#watcher(path, () => this.#whenSynced(path, () => void this.#relistMappings()));
  }

  #servicesRootWatcher(): () => void {
    const path = this.#servicesRoot;
    return this.#watcher(path, () => this.#whenSynced(path, () => void this.#relistApps()));
  }

  #watcher(path: string, fn: () => void): () => void {
    let w = this.#watchers.get(path);
    if (w === undefined) this.#watchers.set(path, (w = fn));
    return w;
  }

  /** Runs `read` now while synced; otherwise keeps it for after the full read in progress. */
  #whenSynced(path: string, read: () => void): void {
    if (this.#state === 'synced') read();
    else this.#pending.set(path, read);
  }

  /**
   * Reads part of the tree again after a watch fired: `read` runs with the current client; a failure
   * other than a lost connection is logged and the same read retried.
   */
  async #reread(path: string, read: (client: Client) => Promise<void>): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    try {
      await read(client);
    } catch (err) {
      this.#readFailed(err, path, () => void this.#reread(path, read));
    }
  }

  #relistRoot(): Promise<void> {
    return this.#reread(this.#root, async (client) => {
      const interfaces = new Set(await this.#children(client, this.#root, this.#rootWatcher()));
      const gone = [...this.#listings.keys()].filter((iface) => !interfaces.has(iface));
      for (const iface of gone) {
        this.#listings.delete(iface);
        this.#rejected.delete(iface);
      }
      this.#emit(gone);
      for (const iface of interfaces) if (!this.#listings.has(iface)) void this.#relist(iface);
    });
  }

  #relist(iface: string): Promise<void> {
    return this.#reread(providersPath(this.#root, iface), async (client) => {
      const listing = await this.#readInterface(client, iface);
      if (client === this.#client && this.#put(iface, listing)) this.#emit([iface]);
    });
  }

  #relistMappings(): Promise<void> {
    return this.#reread(this.#mappingRoot, async (client) => {
      const names = new Set(await this.#children(client, this.#mappingRoot, this.#mappingRootWatcher()));
      const gone = [...this.#mappings.keys()].filter((iface) => !names.has(iface));
      for (const iface of gone) this.#mappings.delete(iface);
      this.#emit(gone);
      for (const iface of names) if (!this.#mappings.has(iface)) void this.#relistMapping(iface);
    });
  }

  #relistMapping(iface: string): Promise<void> {
    return this.#reread(`${this.#mappingRoot}/${iface}`, async (client) => {
      const mapping = await this.#readMapping(client, iface);
      if (client !== this.#client) return;
      const changed = mapping === undefined ? this.#mappings.delete(iface) : this.#putMapping(iface, mapping);
      if (changed) this.#emit([iface]);
    });
  }

  #relistApps(): Promise<void> {
    return this.#reread(this.#servicesRoot, async (client) => {
      const names = new Set((await this.#children(client, this.#servicesRoot, this.#servicesRootWatcher())).filter(isApplicationName));
      const changed = new Set<string>();
      for (const app of [...this.#apps.keys()]) if (!names.has(app)) for (const iface of this.#dropApp(app)) changed.add(iface);
      this.#emit([...changed]);
      for (const app of names) if (!this.#apps.has(app)) void this.#relistApp(app);
    });
  }

  #relistApp(app: string): Promise<void> {
    return this.#reread(this.#appPath(app), async (client) => {
      const listing = await this.#readApp(client, app);
      if (client === this.#client && this.#putApp(app, listing)) this.#emit(this.#interfacesOf(app));
    });
  }

  /** One mapping node, with a watch on its data; undefined when it is gone. */
  async #readMapping(client: Client, iface: string): Promise<Mapping | undefined> {
    const path = `${this.#mappingRoot}/${iface}`;
    const watcher = this.#watcher(path, () => this.#whenSynced(path, () => void this.#relistMapping(iface)));
    const read = await this.#dataIfThere(client, path, watcher);
    return read === undefined ? undefined : { version: mzxid(read[1]), apps: parseMapping(read[0]) };
  }

  /** The instances of one application, with watches on the directory and on each instance's data. */
  async #readApp(client: Client, app: string): Promise<AppListing> {
    const path = this.#appPath(app);
    const relist = (): void => this.#whenSynced(path, () => void this.#relistApp(app));
    // Gone since it was listed: empty, with a watch on its coming back.
    const listed = await this.#childrenOrWatchCreation(client, path, this.#watcher(path, relist));
    if (listed === undefined) return { version: -1n, instances: new Map(), metadata: '' };
    const [names, stat] = listed;
    // The version also covers the instances' data, so an older read never replaces a newer one.
    let version = zxid(stat);
    const instances = new Map<string, { path: string; instance: AppInstance }>();
    const skips = this.#skips(path, (node, reason) => this.#log.warn({ application: app, node, reason }, 'instance node skipped'));
    await this.#pool(names, async (name) => {
      const instancePath = `${path}/${name}`;
      const read = await this.#dataIfThere(client, instancePath, this.#watcher(instancePath, relist));
      if (read === undefined) return; // gone between the listing and the read
      const m = mzxid(read[1]);
      if (m > version) version = m;
      skips.attempt(name, () => instances.set(name, { path: instancePath, instance: parseInstanceNode(app, name, read[0]) }));
    });
    skips.done();
    // The metadata of each revision the instances name (a revision's content never changes, so it
    // is read once), and nothing kept for revisions no instance names any more.
    const revisions = new Set([...instances.values()].flatMap(({ instance }) => (instance.revision === undefined ? [] : [instance.revision])));
    for (const key of [...this.#metadata.keys()]) if (key.startsWith(`${app}/`) && !revisions.has(key.slice(app.length + 1))) this.#metadata.delete(key);
    await this.#pool([...revisions].filter((r) => !this.#metadata.has(`${app}/${r}`)), async (revision) => {
      this.#metadata.set(`${app}/${revision}`, await this.#readMetadata(client, app, revision, relist));
    });
    const metadata = [...revisions]
      .sort()
      .map((r) => `${r}:${this.#metadata.get(`${app}/${r}`) === 'missing' ? '-' : '+'}`)
      .join(',');
    return { version, instances: new Map([...instances].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), metadata };
  }

  /**
   * An application's metadata for one revision, where Dubbo Java (`<root>/metadata/<app>/<rev>`) or
   * dubbo-go (`<root>/<app>/<rev>`) puts it. Not there yet: 'missing', with watches that read the
   * application again when it appears.
   */
  async #readMetadata(client: Client, app: string, revision: string, relist: () => void): Promise<readonly MetadataService[] | 'missing'> {
    const base = this.#root === '/' ? '' : this.#root;
    const paths = [`${base}/metadata/${app}/${revision}`, `${base}/${app}/${revision}`];
    for (const path of paths) {
      const read = await this.#dataIfThere(client, path, undefined);
      if (read === undefined) continue;
      try {
        return parseMetadataNode(read[0]);
      } catch (err) {
        if (!(err instanceof ProviderUrlError)) throw err;
        this.#log.warn({ application: app, node: clip(path), reason: clip(err.message) }, 'metadata node skipped');
        return 'missing';
      }
    }
    const appeared = (): void => {
      this.#metadata.delete(`${app}/${revision}`);
      relist();
    };
    // Written between the reads and these checks: read again, as a creation watch would never fire.
    for (const path of paths) if (await this.#exists(client, path, this.#watcher(path, appeared))) return this.#readMetadata(client, app, revision, relist);
    return 'missing';
  }

  #data(client: Client, path: string, watcher: (() => void) | undefined): Promise<[Buffer | undefined, Stat]> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | Exception | null, data: Buffer | null | undefined, stat: Stat): void => (err === null ? resolve([data ?? undefined, stat]) : reject(err));
      if (watcher === undefined) client.getData(path, done);
      else client.getData(path, watcher, done);
    });
  }

  /** {@link #data}, or undefined when the node does not exist. */
  async #dataIfThere(client: Client, path: string, watcher: (() => void) | undefined): Promise<[Buffer | undefined, Stat] | undefined> {
    try {
      return await this.#data(client, path, watcher);
    } catch (err) {
      if (code(err) === zookeeper.Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  /**
   * Unusable nodes under `key` (an interface, or an application's path), each logged once while it
   * exists: `attempt` runs a parse and logs a ProviderUrlError through `say` unless logged before;
   * `done` keeps what this read skipped, so one that left and comes back is logged again.
   */
  #skips(key: string, say: (node: string, reason: string) => void): { attempt(name: string, parse: () => void): void; done(): void } {
    const logged = this.#rejected.get(key);
    const seen = new Set<string>();
    return {
      attempt(name, parse) {
        try {
          parse();
        } catch (err) {
          if (!(err instanceof ProviderUrlError)) throw err;
          seen.add(name);
          if (logged?.has(name) !== true) say(clip(name), clip(err.message));
        }
      },
      done: () => {
        if (seen.size === 0) this.#rejected.delete(key);
        else this.#rejected.set(key, seen);
      },
    };
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
    const watcher = this.#watcher(path, () => this.#whenSynced(path, () => void this.#relist(iface)));
    // Not there: only consumers or configurators so far; the watch notices when providers arrive.
    const listed = await this.#childrenOrWatchCreation(client, path, watcher);
    if (listed === undefined) return EMPTY;
    const [names, stat] = listed;
    const nodes = new Map<string, MirroredProvider>();
    const skips = this.#skips(iface, (node, reason) => this.#log.warn({ interface: iface, node, reason }, 'provider node skipped'));
    for (const name of names) skips.attempt(name, () => nodes.set(name, { path: `${path}/${name}`, url: parseProviderNode(name) }));
    skips.done();
    return { version: zxid(stat), nodes };
  }

  /** The children of `path`, watched; none while it does not exist (a registry not made yet), with a watch on its creation. */
  async #children(client: Client, path: string, watcher: () => void): Promise<string[]> {
    return (await this.#childrenOrWatchCreation(client, path, watcher))?.[0] ?? [];
  }

  /**
   * The children of `path` with a child watch, or undefined with a watch on its creation when it
   * does not exist. A path made between the listing and the existence check (a provider's mkdirp
   * racing this read) is listed again: an existence watch on a node that is there would only see
   * its data change, never its children, and the children would be missed until a reconnect.
   */
  async #childrenOrWatchCreation(client: Client, path: string, watcher: () => void): Promise<[string[], Stat] | undefined> {
    for (;;) {
      try {
        return await this.#childrenWithStat(client, path, watcher);
      } catch (err) {
        if (code(err) !== zookeeper.Exception.NO_NODE) throw err;
      }
      if (!(await this.#exists(client, path, watcher))) return undefined;
    }
  }

  /** Whether `path` exists, leaving `watcher` on it (on its creation when it does not). */
  #exists(client: Client, path: string, watcher: () => void): Promise<boolean> {
    return new Promise((resolve, reject) => client.exists(path, watcher, (e, stat) => (e === null ? resolve(stat != null) : reject(e))));
  }

  #childrenWithStat(client: Client, path: string, watcher: () => void): Promise<[string[], Stat]> {
    return new Promise((resolve, reject) => client.getChildren(path, watcher, (err, children, stat) => (err === null ? resolve([children, stat]) : reject(err))));
  }
}
