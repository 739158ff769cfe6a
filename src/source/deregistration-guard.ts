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
