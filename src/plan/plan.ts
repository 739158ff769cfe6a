import { decodeParams } from '../contracts/annotations.ts';
import { formatServiceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import type { ServiceView, SliceView } from '../kube/views.ts';
import type { DeclaredService } from '../source/declared.ts';
import { bindSlice, desiredService, desiredSlices, hashOf, type Manifest } from './desired.ts';

// Pure: the world of one Service name (what is declared for it, what exists) -> the writes that make
// the world match, in order, and what to report. Never touches what we do not own: a name held by
// a Service we do not manage, or by another key's Service, is a conflict and nothing is written.

/** Everything the plan of one Service name `S` in one namespace depends on. */
export interface KeyWorld {
  readonly namespace: string;
  /** The Service name S. */
  readonly name: string;
  /** One entry per key declared under S (more than one only when two keys' names collide). */
  readonly declared: readonly DeclaredService[];
  /** The Service named S, when one exists: ours (with its key) or not. */
  readonly service: ServiceView | undefined;
  /** Our slices labelled with S. */
  readonly slices: readonly SliceView[];
  readonly now: number;
  /** How long a key whose declarations all vanished keeps its empty Service. */
  readonly retentionMs: number;
}

/** One write, in the order the plan lists them. */
export type Write =
  | { readonly verb: 'apply'; readonly kind: 'Service'; readonly manifest: Manifest }
  /** `bind`: the slice is owned by the Service applied earlier in the same plan (uid known only then). */
  | { readonly verb: 'apply'; readonly kind: 'EndpointSlice'; readonly manifest: Manifest; readonly bind: boolean }
  | { readonly verb: 'delete'; readonly kind: 'Service' | 'EndpointSlice'; readonly namespace: string; readonly name: string };

/** What planning found for one declared key. */
export type KeyOutcome =
  | {
      readonly kind: 'published';
      readonly key: ServiceKey;
      readonly endpoints: number;
      readonly readyEndpoints: number;
      readonly owners: DeclaredService['owners'];
      readonly created: boolean;
      /** Where the registry disagreed with the DubboServices (theirs was published). */
      readonly disagreements?: readonly string[] | undefined;
    }
  | { readonly kind: 'conflict'; readonly key: ServiceKey; readonly message: string; readonly owners: DeclaredService['owners']; readonly endpoints: number; readonly readyEndpoints: number };

/** The plan of one Service name. */
export interface KeyPlan {
  readonly writes: readonly Write[];
  readonly outcomes: readonly KeyOutcome[];
  /** Look again then (the end of an orphan's retention). */
  readonly requeueAfterMs: number | undefined;
  /** Set when the plan prunes the key (for the log). */
  readonly pruned: boolean;
}

/** Plans one Service name. */
export function planKey(world: KeyWorld): KeyPlan {
  const { service } = world;
  const declared = [...world.declared].sort((a, b) => (serviceKeyId(a.key) < serviceKeyId(b.key) ? -1 : 1));
  if (service !== undefined && !service.managed) {
    return conflicts(declared, 'a Service that dubbo-dns does not manage');
  }
  // The key that holds the name: the existing Service's, else the first declared one.
  const holderKey = service?.key ?? declared[0]?.key;
  const holder = holderKey === undefined ? undefined : declared.find((d) => serviceKeyId(d.key) === serviceKeyId(holderKey));
  const others = declared.filter((d) => d !== holder);
  const lost = conflicts(others, holderKey === undefined ? 'another key' : `the Service of ${formatServiceKey(holderKey)}`).outcomes;
  if (holder !== undefined) return { ...applyKey(world, holder, undefined, undefined), outcomes: [published(holder, service === undefined), ...lost] };
  if (service === undefined) {
    // Nothing declares the name and no Service has it: slices left over are ours to remove.
    return { writes: world.slices.map((s) => del('EndpointSlice', s)), outcomes: lost, requeueAfterMs: undefined, pruned: world.slices.length > 0 };
  }
  if (holderKey === undefined) return { writes: [], outcomes: lost, requeueAfterMs: undefined, pruned: false }; // ours, but without an identity: leave it be
  // Declared by DubboServices that no longer declare it: an explicit removal, pruned now.
  if (service.ownerUids.length > 0) return pruneAll(world, service, lost);
  // Declared only by pod annotations, all gone (a rollout, a crash): keep the empty Service for
  // the retention period so names do not flap to NXDOMAIN, then prune.
  const sinceMs = service.orphanedSince === undefined ? Number.NaN : Date.parse(service.orphanedSince);
  if (!Number.isNaN(sinceMs) && world.now - sinceMs >= world.retentionMs) return pruneAll(world, service, lost);
  const orphanedSince = Number.isNaN(sinceMs) ? new Date(world.now).toISOString() : (service.orphanedSince as string);
  const empty: DeclaredService = { namespace: world.namespace, key: holderKey, protocol: service.protocol, params: decodeParams(service.params), endpoints: [], owners: [] };
  const remaining = Math.max(0, (Number.isNaN(sinceMs) ? world.now : sinceMs) + world.retentionMs - world.now);
  return { ...applyKey(world, empty, orphanedSince, remaining), outcomes: lost };
}

/** The writes that make one key's Service and slices match its declaration. */
function applyKey(world: KeyWorld, declared: DeclaredService, orphanedSince: string | undefined, requeueAfterMs: number | undefined): Omit<KeyPlan, 'outcomes'> {
  const writes: Write[] = [];
  const manifest = desiredService(declared, orphanedSince);
  const uid = world.service?.uid;
  if (world.service?.desiredHash !== hashOf(manifest)) writes.push({ verb: 'apply', kind: 'Service', manifest });
  const current = new Map(world.slices.map((s) => [s.name, s]));
  const desired = desiredSlices(declared, world.slices);
  for (const slice of desired) {
    // Without the Service's uid (it is created by this plan) every slice is written, bound on the way.
    if (uid === undefined) writes.push({ verb: 'apply', kind: 'EndpointSlice', manifest: slice, bind: true });
    else {
      const bound = bindSlice(slice, uid);
      if (current.get(bound.metadata.name)?.desiredHash !== hashOf(bound)) writes.push({ verb: 'apply', kind: 'EndpointSlice', manifest: bound, bind: false });
    }
  }
  const keep = new Set(desired.map((m) => m.metadata.name));
  for (const s of world.slices) if (!keep.has(s.name)) writes.push(del('EndpointSlice', s));
  return { writes, requeueAfterMs, pruned: false };
}

/** The Service goes first: readers (the DNS server) then see a key removed, never a key whose endpoints all vanished (which their mass-deregistration guard would hold). */
function pruneAll(world: KeyWorld, service: ServiceView, outcomes: readonly KeyOutcome[]): KeyPlan {
  return { writes: [del('Service', service), ...world.slices.map((s) => del('EndpointSlice', s))], outcomes, requeueAfterMs: undefined, pruned: true };
}

function conflicts(declared: readonly DeclaredService[], holder: string): KeyPlan {
  const outcomes = declared.map((d): KeyOutcome => ({ kind: 'conflict', key: d.key, message: `name is already used by ${holder}; nothing was changed`, owners: d.owners, ...counts(d) }));
  return { writes: [], outcomes, requeueAfterMs: undefined, pruned: false };
}

function published(d: DeclaredService, created: boolean): KeyOutcome {
  return { kind: 'published', key: d.key, owners: d.owners, created, ...counts(d), ...(d.disagreements === undefined ? {} : { disagreements: d.disagreements }) };
}

function counts(d: DeclaredService): { endpoints: number; readyEndpoints: number } {
  return { endpoints: d.endpoints.length, readyEndpoints: d.endpoints.filter((e) => e.ready).length };
}

function del(kind: 'Service' | 'EndpointSlice', o: { readonly namespace: string; readonly name: string }): Write {
  return { verb: 'delete', kind, namespace: o.namespace, name: o.name };
}
