import type { ManagedServiceView, ManagedSliceView } from '../kube/views.ts';
import * as L from '../kube/labels.ts';
import type { DeclaredService } from '../source/declared.ts';
import { desiredService, desiredSlices, hashOf, type Manifest } from './desired.ts';
import { formatServiceKey, type ServiceKey } from '../dubbo/service-key.ts';

// Pure: what we own for a key, and what is declared -> the changes to make. Never touches what we
// do not own: a name held by a foreign object or another key is a conflict.

/** Everything the plan of one key depends on. */
export interface KeyState {
  readonly namespace: string;
  readonly key: ServiceKey;
  readonly declared: DeclaredService | undefined;
  /** Our Service with the key's name, when it exists. */
  readonly service: ManagedServiceView | undefined;
  /** Our slices labelled with the key's Service name. */
  readonly slices: readonly ManagedSliceView[];
  /** Set when the name is taken: by an object we do not manage, or by a Service of another key. */
  readonly taken: { readonly by: 'foreign' } | { readonly by: 'other-key'; readonly key: ServiceKey } | undefined;
  readonly now: number;
  /** How long a key whose declarations all vanished keeps its empty Service. */
  readonly retentionMs: number;
}

/** The changes for one key. */
export type KeyPlan =
  | { readonly kind: 'conflict'; readonly message: string }
  | { readonly kind: 'delete'; readonly service: string; readonly slices: readonly string[] }
  | {
      readonly kind: 'apply';
      /** The Service to apply; undefined when what exists already matches. */
      readonly service: Manifest | undefined;
      readonly serviceName: string;
      /** Slices to apply and delete, once the Service's uid is known. */
      readonly slices: (serviceUid: string) => { readonly apply: readonly Manifest[]; readonly delete: readonly string[] };
      /** Check again then (the end of an orphan's retention). */
      readonly requeueAfterMs: number | undefined;
    }
  | { readonly kind: 'noop' };

/** Plans one key. */
export function planKey(state: KeyState): KeyPlan {
  if (state.taken !== undefined) {
    const holder = state.taken.by === 'foreign' ? 'a Service that dubbo-dns does not manage' : `the Service of ${formatServiceKey(state.taken.key)}`;
    return { kind: 'conflict', message: `name is already used by ${holder}; nothing was changed` };
  }
  const { declared, service } = state;
  if (declared === undefined) {
    if (service === undefined) return state.slices.length === 0 ? { kind: 'noop' } : { kind: 'delete', service: '', slices: state.slices.map((s) => s.name) };
    // Declared by DubboServices that no longer declare it: an explicit removal, pruned now.
    if (service.ownerUids.length > 0) return deleteAll(service, state.slices);
    // Declared only by pod annotations, all gone (a rollout, a crash): keep the empty Service for
    // the retention period so names do not flap to NXDOMAIN, then prune.
    const since = service.annotations[L.ORPHANED_SINCE_ANNOTATION];
    const sinceMs = since === undefined ? Number.NaN : Date.parse(since);
    if (!Number.isNaN(sinceMs) && state.now - sinceMs >= state.retentionMs) return deleteAll(service, state.slices);
    const orphanedSince = Number.isNaN(sinceMs) ? new Date(state.now).toISOString() : (since as string);
    const empty: DeclaredService = {
      namespace: state.namespace,
      key: state.key,
      protocol: service.annotations[L.PROTOCOL_ANNOTATION] ?? 'dubbo',
      params: safeJson(service.annotations[L.METADATA_ANNOTATION]),
      endpoints: [],
      owners: [],
    };
    return applyPlan(state, empty, orphanedSince, Math.max(0, (Number.isNaN(sinceMs) ? state.now : sinceMs) + state.retentionMs - state.now));
  }
  return applyPlan(state, declared, undefined, undefined);
}

function applyPlan(state: KeyState, declared: DeclaredService, orphanedSince: string | undefined, requeueAfterMs: number | undefined): KeyPlan {
  const manifest = desiredService(declared, orphanedSince);
  const unchanged = state.service !== undefined && state.service.annotations[L.DESIRED_HASH_ANNOTATION] === hashOf(manifest);
  return {
    kind: 'apply',
    service: unchanged ? undefined : manifest,
    serviceName: manifest.metadata.name,
    requeueAfterMs,
    slices(serviceUid) {
      const desired = desiredSlices(declared, serviceUid, state.slices);
      const current = new Map(state.slices.map((s) => [s.name, s]));
      const apply = desired.filter((m) => current.get(m.metadata.name)?.desiredHash !== hashOf(m));
      const keep = new Set(desired.map((m) => m.metadata.name));
      return { apply, delete: state.slices.filter((s) => !keep.has(s.name)).map((s) => s.name) };
    },
  };
}

function deleteAll(service: ManagedServiceView, slices: readonly ManagedSliceView[]): KeyPlan {
  return { kind: 'delete', service: service.name, slices: slices.map((s) => s.name) };
}

function safeJson(text: string | undefined): Record<string, string> {
  try {
    const v = JSON.parse(text ?? '{}') as unknown;
    return typeof v === 'object' && v !== null ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}
