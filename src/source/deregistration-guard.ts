import type { Logger } from 'pino';
import type { ServiceData } from '../dns/index/zone-data.ts';

// The mass-deregistration guard (like a registry's self-preservation mode): a change that would take
// a service from some ready endpoints to none, or remove more than a share of them at once, is held
// for a grace period, and the last published endpoints keep being answered. Failure modes this
// covers: a controller bug or a bad rollout that empties slices, a node failure that marks every pod
// unready at once. What it costs: during the grace period, clients may be sent to endpoints that are
// really gone (they fail over to the others, as with any stale DNS answer). A deleted Service is
// never held: deleting it is an explicit decision.

/** Settings of the guard. */
export interface GuardOptions {
  /** How long a suspicious drop is held before it is believed (0 turns the guard off). */
  readonly graceMs: number;
  /** A drop of more than this share of ready endpoints at once is held (0..1). */
  readonly maxDropShare: number;
}

/** What to publish for one service. */
export interface GuardDecision {
  readonly publish: ServiceData;
  /** Set while a drop is held: when it started. */
  readonly heldSince: number | undefined;
  /** When to look again (the end of the grace period). */
  readonly releaseAt: number | undefined;
}

function readyAddresses(s: ServiceData | undefined): number {
  if (s === undefined) return 0;
  return new Set(s.endpoints.filter((e) => e.ready).map((e) => e.address)).size;
}

/** Decides between the published data and the new data of one service. Pure. */
export function guardDecision(published: ServiceData | undefined, next: ServiceData, heldSince: number | undefined, now: number, options: GuardOptions): GuardDecision {
  const before = readyAddresses(published);
  const after = readyAddresses(next);
  const suspicious = options.graceMs > 0 && published !== undefined && before > 0 && (after === 0 || (before - after) / before > options.maxDropShare);
  if (!suspicious) return { publish: next, heldSince: undefined, releaseAt: undefined };
  const since = heldSince ?? now;
  if (now - since >= options.graceMs) return { publish: next, heldSince: undefined, releaseAt: undefined };
  return { publish: published, heldSince: since, releaseAt: since + options.graceMs };
}

/**
 * The guard's bookkeeping for a source: which services' drops are held, since when, and a timer to
 * look again when a grace period ends. The decision itself is {@link guardDecision}.
 */
export class HeldDrops {
  readonly #options: GuardOptions | undefined;
  readonly #log: Logger;
  readonly #onGuard: ((service: string, held: boolean) => void) | undefined;
  readonly #recheck: (service: string) => void;
  readonly #since = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();

  /** `recheck(service)` is called when a held drop's grace period ends. Off when `options` is undefined. */
  constructor(options: GuardOptions | undefined, log: Logger, recheck: (service: string) => void, onGuard?: (service: string, held: boolean) => void) {
    this.#options = options;
    this.#log = log;
    this.#recheck = recheck;
    this.#onGuard = onGuard;
  }

  /** How many services' drops are held. */
  get size(): number {
    return this.#since.size;
  }

  /** What to publish for `service` (named for logs) now that its data is `next`. */
  decide(service: string, published: ServiceData | undefined, next: ServiceData, now: number): ServiceData {
    if (this.#options === undefined) return next;
    const decision = guardDecision(published, next, this.#since.get(service), now, this.#options);
    if (decision.heldSince === undefined) {
      this.release(service);
      return decision.publish;
    }
    if (!this.#since.has(service)) {
      this.#log.warn({ service, graceMs: this.#options.graceMs }, 'holding a mass deregistration for the grace period');
      this.#onGuard?.(service, true);
    }
    this.#since.set(service, decision.heldSince);
    clearTimeout(this.#timers.get(service));
    const timer = setTimeout(() => this.#recheck(service), Math.max(0, (decision.releaseAt ?? now) - now) + 5);
    timer.unref();
    this.#timers.set(service, timer);
    return decision.publish;
  }

  /** Forgets a held drop (the change was believed, or the service went away on purpose). */
  release(service: string): void {
    if (!this.#since.delete(service)) return;
    clearTimeout(this.#timers.get(service));
    this.#timers.delete(service);
    this.#log.info({ service }, 'guard released');
    this.#onGuard?.(service, false);
  }

  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
