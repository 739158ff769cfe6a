import ipaddr from 'ipaddr.js';
import { keyOf } from '../contracts/annotations.ts';
import { validateDubboServiceSpec } from '../contracts/dubbo-service.ts';
import * as L from '../contracts/labels.ts';
import { decodeDubboGoAnnotation, DUBBO_GO_ANNOTATION } from '../dubbo/dubbo-go-annotation.ts';
import type { Condition, DubboServiceView, PodView, ServiceView, SliceEndpoint, SliceView } from './views.ts';

// Raw API objects -> the slim views the stores keep (views.ts says why each field is there). Every
// decoding happens here, once per change of an object.

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

/** Pod -> PodView; the dubbo-go annotation is decoded here. */
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

/** DubboService -> DubboServiceView; the spec is validated here. */
export function projectDubboService(o: Obj): DubboServiceView {
  const m = meta(o);
  const status = (o['status'] ?? {}) as { conditions?: Condition[] };
  const checked = validateDubboServiceSpec(o['spec']);
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    generation: m.generation ?? 0,
    spec: checked.ok ? checked.spec : undefined,
    problems: checked.ok ? undefined : checked.problems,
    conditions: status.conditions ?? [],
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

/** Service -> view: a managed one in full, any other by name only. */
export function projectService(o: Obj): ServiceView {
  const m = meta(o);
  const a = m.annotations ?? {};
  const managed = m.labels?.[L.MANAGED_BY_LABEL] === L.MANAGED_BY_VALUE;
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    uid: m.uid ?? '',
    managed,
    key: managed ? keyOf(a) : undefined,
    protocol: managed ? (a[L.PROTOCOL_ANNOTATION] ?? 'dubbo') : '',
    params: managed ? a[L.METADATA_ANNOTATION] : undefined,
    desiredHash: managed ? a[L.DESIRED_HASH_ANNOTATION] : undefined,
    orphanedSince: managed ? a[L.ORPHANED_SINCE_ANNOTATION] : undefined,
    ownerUids: managed ? (m.ownerReferences ?? []).filter((r) => r.kind === 'DubboService').map((r) => r.uid ?? '') : [],
  };
}

/** Managed EndpointSlice -> view; undefined for any other slice. */
export function projectSlice(o: Obj): SliceView | undefined {
  const m = meta(o);
  const serviceName = m.labels?.[L.SLICE_SERVICE_LABEL];
  if (serviceName === undefined || m.labels?.[L.SLICE_MANAGED_BY_LABEL] !== L.SLICE_MANAGED_BY_VALUE) return undefined;
  const ports = ((o['ports'] ?? []) as { name?: unknown; port?: unknown }[])
    .filter((p) => typeof p.name === 'string' && typeof p.port === 'number')
    .map((p) => ({ name: p.name as string, port: p.port as number }));
  const endpoints: SliceEndpoint[] = [];
  for (const e of (o['endpoints'] ?? []) as { addresses?: string[]; conditions?: { ready?: boolean | null }; hostname?: string }[]) {
    const address = e.addresses?.[0];
    if (address === undefined || !ipaddr.isValid(address)) continue;
    // EndpointSlice API: a nil `ready` means ready.
    endpoints.push({ address: ipaddr.parse(address).toString(), ready: e.conditions?.ready !== false, hostname: e.hostname });
  }
  return {
    namespace: m.namespace ?? '',
    name: m.name ?? '',
    serviceName,
    addressType: typeof o['addressType'] === 'string' ? o['addressType'] : '',
    ports,
    endpoints,
    endpointParams: m.annotations?.[L.ENDPOINTS_ANNOTATION],
    desiredHash: m.annotations?.[L.DESIRED_HASH_ANNOTATION],
  };
}
