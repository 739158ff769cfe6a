import type { Logger } from 'pino';
import { KubeError, type KubeApi } from '../kube/rest.ts';
import { systemClock, type Clock, type Timer } from '../time/clock.ts';

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// - Expiry is judged by when *this* replica last saw the Lease record change, on its own clock,
//   never by comparing its clock with the holder's `renewTime`: with clocks skewed by minutes, two
//   replicas would otherwise both believe they lead. A newcomer therefore waits one full lease
//   duration before taking over a lease that stopped changing.
// - Updates carry the resourceVersion read, so two candidates never both win.
// - A leader that has not renewed within the renew deadline (shorter than the lease duration) stops
//   leading at once, before any other replica may take over; `isLeader` is asked before every write.

/** Timings, in the spirit of client-go's defaults (15 s / 10 s / 2 s). */
export interface LeaderOptions {
  readonly client: Pick<KubeApi, 'request'>;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  /** A leader that could not renew for this long steps down; must be below the lease duration. */
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
  readonly clock?: Clock;
}

/** The Lease fields we read and write. */
interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Campaigns for the lease; `isLeader` says whether we may write right now. */
export class LeaderElector {
  readonly #opts: LeaderOptions;
  readonly #clock: Clock;
  #leader = false;
  #stopped = false;
  #timer: Timer | undefined;
  /** Fires at the renew deadline: a leader that has not renewed by then steps down. */
  #deadline: Timer | undefined;
  /** When the last successful renewal was *sent* (local clock): leadership counts from there. */
  #renewedAt = 0;
  /** The record as last seen, its holder, and when it was first seen like that (local clock). */
  #observed: { readonly record: string; readonly holder: string; readonly at: number } | undefined;
  #onChange: (leader: boolean) => void = () => undefined;

  constructor(options: LeaderOptions) {
    if (options.renewDeadlineMs >= options.leaseDurationSeconds * 1000) throw new Error('the renew deadline must be shorter than the lease duration');
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** True while this replica leads and its last renewal is within the renew deadline. */
  get isLeader(): boolean {
    return this.#leader && this.#clock.now() - this.#renewedAt < this.#opts.renewDeadlineMs;
  }

  /** Starts campaigning; `onChange` is told when leadership is gained or lost. */
  start(onChange: (leader: boolean) => void): void {
    this.#onChange = onChange;
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const { log } = this.#opts;
    const sentAt = this.#clock.now();
    let held: boolean;
    try {
      held = await this.#tryAcquireOrRenew(sentAt);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'lease request failed');
      held = false;
    }
    if (this.#stopped) return;
    if (held) {
      this.#renewedAt = sentAt;
      this.#armDeadline();
      this.#set(true, 'became leader');
    } else if (this.#leader && (this.#holderIsOther() || !this.isLeader)) {
      this.#set(false, this.#holderIsOther() ? 'lost leadership: another replica holds the lease' : 'lost leadership: could not renew before the deadline');
    }
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), this.#opts.retryPeriodMs * (this.#leader ? 1 : 1 + Math.random() * 0.2));
  }

  #set(leader: boolean, message: string): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    if (!leader) this.#clock.clearTimeout(this.#deadline);
    const { log, namespace, name, identity } = this.#opts;
    (leader ? log.info.bind(log) : log.warn.bind(log))({ lease: `${namespace}/${name}`, identity }, message);
    this.#onChange(leader);
  }

  /** Steps down at the renew deadline unless a renewal moves it first. */
  #armDeadline(): void {
    this.#clock.clearTimeout(this.#deadline);
    const at = this.#renewedAt + this.#opts.renewDeadlineMs;
    this.#deadline = this.#clock.setTimeout(() => {
      if (this.#leader && !this.isLeader) this.#set(false, 'lost leadership: could not renew before the deadline');
    }, Math.max(0, at - this.#clock.now()));
  }

  #holderIsOther(): boolean {
    if (this.#observed === undefined) return false;
    const holder = this.#observed.holder;
    return holder !== '' && holder !== this.#opts.identity;
  }

  /** Remembers the record; the observation time moves only when the record changed. */
  #observe(spec: Lease['spec']): void {
    const record = JSON.stringify(spec);
    if (this.#observed?.record !== record) this.#observed = { record, holder: spec.holderIdentity ?? '', at: this.#clock.now() };
  }

  async #tryAcquireOrRenew(now: number): Promise<boolean> {
    const { client, namespace, name, identity, leaseDurationSeconds } = this.#opts;
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    let lease: Lease | undefined;
    try {
      lease = await client.request<Lease>('GET', `${path}/${name}`, { timeoutMs: this.#opts.renewDeadlineMs });
    } catch (err) {
      if (!(err instanceof KubeError) || err.status !== 404) throw err;
    }
    if (lease === undefined) {
      const spec: Lease['spec'] = { holderIdentity: identity, leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      try {
        await client.request('POST', path, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec }, timeoutMs: this.#opts.renewDeadlineMs });
      } catch (err) {
        if (err instanceof KubeError && err.status === 409) return false; // someone else created it first
        throw err;
      }
      this.#observe(spec);
      return true;
    }
    const spec = lease.spec;
    this.#observe(spec);
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const valid = this.#observed !== undefined && this.#clock.now() < this.#observed.at + durationMs;
    if (holder !== '' && holder !== identity && valid) return false;
    const takeover = holder !== identity;
    const next: Lease['spec'] = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      // renewTime is for people reading the Lease; no replica's decision depends on it.
      renewTime: microTime(now),
      ...(takeover ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await client.request('PUT', `${path}/${name}`, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: lease.metadata, spec: next }, timeoutMs: this.#opts.renewDeadlineMs });
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return false; // lost the race
      throw err;
    }
    this.#observe(next);
    return true;
  }

  /** Stops campaigning and, when leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#deadline);
    const leading = this.isLeader;
    this.#leader = false;
    if (!leading) return;
    const { client, namespace, name, identity } = this.#opts;
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;
    try {
      const lease = await client.request<Lease>('GET', path);
      if (lease.spec.holderIdentity !== identity) return;
      await client.request('PUT', path, {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: lease.metadata, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
      this.#opts.log.info({ identity }, 'released the lease');
    } catch (err) {
      this.#opts.log.warn({ err: (err as Error).message }, 'could not release the lease');
    }
  }
}
