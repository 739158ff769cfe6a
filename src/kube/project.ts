import { decodeDubboGoAnnotation, DUBBO_GO_ANNOTATION } from '../source/dubbo-go-annotation.ts';
import { portSignature } from '../plan/desired.ts';
import * as L from './labels.ts';
import type { Condition, DubboServiceView, ManagedServiceView, ManagedSliceView, PodView } from './views.ts';

// Raw API objects -> the slim views the caches keep (see views.ts for why each field is there).

type Obj = Record<string, unknown>;
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  ownerReferences?: { uid?: string; kind?: string }[];
}

function meta(o: Obj): Meta {
  return (o['metadata'] ?? {}) as Meta;
}

/** Pod -> PodView; the dubbo-go annotation is decoded here, once per change. */
export function projectPod(o: Obj): PodView {
  const m = meta(o);
  const spec = (o['spec'] ?? {}) as { hostname?: string; nodeName?: string };
  const status = (o['status'] ?? {}) as { podIP?: string; podIPs?: { ip?: string }[]; conditions?: { type?: string; status?: string }[]; phase?: string };
  const ips = (status.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  if (ips.length === 0 && status.podIP) ips.push(status.podIP);
  const ready = status.phase !== 'Succeeded' && status.phase !== 'Failed' && (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  const raw = m.annotations?.[DUBBO_GO_ANNOTATION];
  let dubboGo: PodView['dubboGo'];
  if (raw !== undefined) {
    try {
      const decoded = decodeDubboGoAnnotation(raw);
      dubboGo = { providers: decoded.providers, skipped: decoded.skipped };
    } catch (err) {
      dubboGo = { providers: [], skipped: [], error: (err as Error).message };
    }
  }
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    labels: m.labels ?? {},
    ips,
    ready,
    terminating: m.deletionTimestamp !== undefined,
    hostname: spec.hostname ?? m.name ?? '',
    nodeName: spec.nodeName,
    dubboGo,
  };
}

/** DubboService -> DubboServiceView. */
export function projectDubboService(o: Obj): DubboServiceView {
  const m = meta(o);
  const status = (o['status'] ?? {}) as { conditions?: Condition[]; observedGeneration?: number };
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    generation: m.generation ?? 0,
    spec: o['spec'],
    conditions: status.conditions ?? [],
    observedGeneration: status.observedGeneration,
    statusDigest: statusDigest(o['status']),
  };
}

/** What a status says, without timestamps: equal digests mean there is nothing to write. */
export function statusDigest(status: unknown): string {
  const s = (status ?? {}) as { conditions?: Condition[] } & Record<string, unknown>;
  const conditions = (s.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, observedGeneration: c.observedGeneration }));
  conditions.sort((a, b) => (a.type < b.type ? -1 : 1));
  // The API server returns keys in its own order: compare by meaning, not by spelling.
  return canonicalJson({ ...s, conditions });
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** Managed Service -> view. */
export function projectManagedService(o: Obj): ManagedServiceView | undefined {
  const m = meta(o);
  if (m.labels?.[L.MANAGED_BY_LABEL] !== L.MANAGED_BY_VALUE) return undefined;
  const keep = [L.INTERFACE_ANNOTATION, L.GROUP_ANNOTATION, L.VERSION_ANNOTATION, L.PROTOCOL_ANNOTATION, L.METADATA_ANNOTATION, L.DESIRED_HASH_ANNOTATION, L.ORPHANED_SINCE_ANNOTATION];
  const annotations: Record<string, string> = {};
  for (const k of keep) {
    const v = m.annotations?.[k];
    if (v !== undefined) annotations[k] = v;
  }
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    annotations,
    ownerUids: (m.ownerReferences ?? []).filter((r) => r.kind === 'DubboService').map((r) => r.uid ?? ''),
  };
}

/** Managed EndpointSlice -> view. */
export function projectManagedSlice(o: Obj): ManagedSliceView | undefined {
  const m = meta(o);
  if (m.labels?.[L.SLICE_MANAGED_BY_LABEL] !== L.SLICE_MANAGED_BY_VALUE) return undefined;
  const endpoints = (o['endpoints'] ?? []) as { addresses?: string[] }[];
  const ports = (o['ports'] ?? []) as { name?: string; port?: number }[];
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    serviceName: m.labels?.[L.SLICE_SERVICE_LABEL] ?? '',
    addressType: typeof o['addressType'] === 'string' ? o['addressType'] : '',
    addresses: endpoints.map((e) => e.addresses?.[0] ?? '').filter((a) => a !== ''),
    ports: portSignature(ports),
    desiredHash: m.annotations?.[L.DESIRED_HASH_ANNOTATION],
  };
}
