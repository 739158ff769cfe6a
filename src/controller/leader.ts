import type { Logger } from 'pino';
import { KubeError, type KubeClient } from '../kube/rest.ts';

// Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, simplified): the
// holder renews every retry period; others take over only after the lease has gone unrenewed for its
// whole duration; updates carry the resourceVersion read, so two candidates never both win.

/** Timings, in the spirit of client-go's defaults (15 s / 10 s / 2 s). */
export interface LeaderOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly log: Logger;
}

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
  #leader = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #lastRenew = 0;
  #onChange: (leader: boolean) => void = () => undefined;

  constructor(options: LeaderOptions) {
    this.#opts = options;
  }

  get isLeader(): boolean {
    // Past the renew deadline without a successful renewal we no longer assume leadership.
    return this.#leader && Date.now() - this.#lastRenew < this.#opts.renewDeadlineMs;
  }

  /** Starts campaigning; `onChange` is told when leadership is gained or lost. */
  start(onChange: (leader: boolean) => void): void {
    this.#onChange = onChange;
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const { log } = this.#opts;
    try {
      const ok = await this.#tryAcquireOrRenew();
      if (ok) this.#lastRenew = Date.now();
      if (ok !== this.#leader) {
        this.#leader = ok;
        log.info({ lease: `${this.#opts.namespace}/${this.#opts.name}`, identity: this.#opts.identity }, ok ? 'became leader' : 'lost leadership');
        this.#onChange(ok);
      }
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'lease request failed');
      if (this.#leader && !this.isLeader) {
        this.#leader = false;
        log.warn({ identity: this.#opts.identity }, 'lost leadership: could not renew before the deadline');
        this.#onChange(false);
      }
    }
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.#opts.retryPeriodMs * (this.#leader ? 1 : 1 + Math.random() * 0.2));
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity, leaseDurationSeconds } = this.#opts;
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
    const now = Date.now();
    let lease: Lease | undefined;
    try {
      lease = await client.request<Lease>('GET', `${path}/${name}`, { timeoutMs: this.#opts.renewDeadlineMs });
    } catch (err) {
      if (!(err instanceof KubeError) || err.status !== 404) throw err;
    }
    if (lease === undefined) {
      const created: Lease = {
        metadata: { name, namespace },
        spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
      };
      try {
        await client.request('POST', path, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...created } });
        return true;
      } catch (err) {
        if (err instanceof KubeError && err.status === 409) return false; // someone else created it first
        throw err;
      }
    }
    const spec = lease.spec;
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime === undefined ? 0 : Date.parse(spec.renewTime);
    const expired = now > renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    if (holder !== identity && holder !== '' && !expired) return false;
    const takeover = holder !== identity;
    const next: Lease = {
      metadata: lease.metadata,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: microTime(now),
        ...(takeover ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      await client.request('PUT', `${path}/${name}`, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...next }, timeoutMs: this.#opts.renewDeadlineMs });
      return true;
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return false; // lost the race
      throw err;
    }
  }

  /** Stops campaigning and, when leading, releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leader) return;
    this.#leader = false;
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
