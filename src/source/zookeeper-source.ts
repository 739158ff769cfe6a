import type { Logger } from 'pino';
import { serviceId, type ServiceData, type ZoneData, type ZoneDelta } from '../dns/index/zone-data.ts';
import { ZooKeeperMirror, type MirrorOptions } from '../zookeeper/mirror.ts';
import { HeldDrops, type GuardOptions } from './deregistration-guard.ts';
import { providerServices } from './provider-services.ts';

// The DNS server's ZooKeeper source (docs/zookeeper.md): the mirror's providers, one service per
// key in one namespace, through the mass-deregistration guard. The mirror freezes while ZooKeeper
// is away, so nothing published changes until it has reconnected and read the registry again.

/** Options of the ZooKeeper source. */
export interface ZooKeeperSourceOptions extends MirrorOptions {
  /** The namespace the services are published in (`S.N.Z`). */
  readonly namespace: string;
  readonly guard?: GuardOptions | undefined;
  readonly onGuard?: (service: string, held: boolean) => void;
  /** Called with what changed since the last call. */
  readonly onChange: (delta: ZoneDelta) => void;
}

/** The registry's providers as zone data. */
export class ZooKeeperSource {
  readonly mirror: ZooKeeperMirror;
  readonly #o: ZooKeeperSourceOptions;
  readonly #log: Logger;
  /** serviceId -> what is published. */
  readonly #data = new Map<string, ServiceData>();
  /** interface directory -> the services its providers make up (published ids). */
  readonly #byInterface = new Map<string, Set<string>>();
  /** serviceId -> the interface directory it comes from (to look again when a held drop's grace ends). */
  readonly #interfaceOf = new Map<string, string>();
  readonly #held: HeldDrops;

  constructor(options: ZooKeeperSourceOptions, log: Logger) {
    this.#o = options;
    this.#log = log;
    this.mirror = new ZooKeeperMirror(options, log);
    this.#held = new HeldDrops(options.guard, log, (id) => this.#recheck(id), options.onGuard);
    this.mirror.onChange((interfaces) => this.#changed(interfaces));
  }

  /** Resolves once the registry has been read the first time. */
  start(): Promise<void> {
    return this.mirror.start();
  }

  async stop(): Promise<void> {
    this.#held.stop();
    await this.mirror.stop();
  }

  /** All of the data, as of now. */
  data(): ZoneData {
    return { services: [...this.#data.values()] };
  }

  #recheck(id: string): void {
    const iface = this.#interfaceOf.get(id);
    if (iface !== undefined) this.#changed([iface]);
  }

  #changed(interfaces: readonly string[]): void {
    const now = Date.now();
    const put: ServiceData[] = [];
    const drop: string[] = [];
    for (const iface of interfaces) {
      const before = this.#byInterface.get(iface) ?? new Set<string>();
      const after = new Set<string>();
      const next = providerServices(
        this.#o.namespace,
        this.mirror.byInterface(iface).map((p) => p.url),
        (url, reason) => this.#log.warn({ interface: iface, provider: `${url.protocol}://${url.host}:${url.port}`, reason }, 'provider skipped'),
      );
      for (const service of next) {
        const id = serviceId(service);
        const publish = this.#held.decide(id, this.#data.get(id), service, now);
        this.#data.set(id, publish);
        this.#interfaceOf.set(id, iface);
        after.add(id);
        put.push(publish);
      }
      // A key whose providers are all gone (their sessions ended) is a drop to zero: the guard may hold it.
      for (const id of before) {
        if (after.has(id)) continue;
        const published = this.#data.get(id);
        if (published === undefined) continue;
        const publish = this.#held.decide(id, published, { ...published, endpoints: [] }, now);
        if (publish.endpoints.length > 0) {
          after.add(id);
          continue;
        }
        this.#held.release(id);
        this.#data.delete(id);
        this.#interfaceOf.delete(id);
        drop.push(id);
      }
      if (after.size === 0) this.#byInterface.delete(iface);
      else this.#byInterface.set(iface, after);
    }
    if (put.length > 0 || drop.length > 0) this.#o.onChange({ put, drop });
  }
}
