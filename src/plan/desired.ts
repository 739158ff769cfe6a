import { createHash } from 'node:crypto';
import { encodeEndpointParams, encodeParams, identityAnnotations, portSignature, serviceLabels, sliceLabels } from '../contracts/annotations.ts';
import * as L from '../contracts/labels.ts';
import { base32, serviceLabel } from '../dubbo/naming.ts';
import type { SliceView } from '../kube/views.ts';
import type { DeclaredEndpoint, DeclaredService } from '../source/declared.ts';

// Pure: a declared key -> the Service and EndpointSlices it should have (docs/crd.md).

/** EndpointSlice API limit we keep to (the endpointslice controller's default, too). */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** A manifest to server-side apply; `metadata.annotations[desired-hash]` is set by {@link withHash}. */
export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string>; ownerReferences?: OwnerReference[] };
  [field: string]: unknown;
};

/** metav1.OwnerReference. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Stamps a manifest with the hash of its content, so an unchanged object is never written again. */
export function withHash(manifest: Manifest): Manifest {
  const { annotations } = manifest.metadata;
  delete annotations[L.DESIRED_HASH_ANNOTATION];
  const hash = createHash('sha256').update(JSON.stringify(manifest)).digest('hex').slice(0, 16);
  annotations[L.DESIRED_HASH_ANNOTATION] = hash;
  return manifest;
}

/** The hash a manifest carries. */
export function hashOf(manifest: Manifest): string {
  return manifest.metadata.annotations[L.DESIRED_HASH_ANNOTATION] ?? '';
}

/** The managed Service: headless, no selector, one port per protocol named after it. */
export function desiredService(svc: DeclaredService, orphanedSince?: string): Manifest {
  const labels = serviceLabels(svc.key);
  const annotations = identityAnnotations(svc.key);
  annotations[L.PROTOCOL_ANNOTATION] = svc.protocol;
  annotations[L.METADATA_ANNOTATION] = encodeParams(svc.params);
  if (orphanedSince !== undefined) annotations[L.ORPHANED_SINCE_ANNOTATION] = orphanedSince;
  // One Service port per protocol: the port most endpoints use (ties: the lowest).
  const counts = new Map<string, Map<number, number>>();
  for (const e of svc.endpoints) for (const p of e.ports) counts.set(p.protocol, (counts.get(p.protocol) ?? new Map()).set(p.port, (counts.get(p.protocol)?.get(p.port) ?? 0) + 1));
  const ports = [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([protocol, byPort]) => {
      const port = [...byPort].sort(([pa, ca], [pb, cb]) => cb - ca || pa - pb)[0]?.[0] ?? 0;
      return { name: protocol, protocol: 'TCP', port, targetPort: port };
    });
  const manifest: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceLabel(svc.key), namespace: svc.namespace, labels, annotations },
    spec: { clusterIP: 'None', ports, publishNotReadyAddresses: false },
  };
  if (svc.owners.length > 0) {
    manifest.metadata.ownerReferences = svc.owners.map((o) => ({ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', name: o.name, uid: o.uid }));
  }
  return withHash(manifest);
}

/** A slice group: endpoints sharing an address type and a port set (EndpointSlice invariant). */
function groupOf(e: Pick<DeclaredEndpoint, 'addressType' | 'ports'>): string {
  return `${e.addressType}|${portSignature(e.ports.map((p) => ({ name: p.protocol, port: p.port })))}`;
}

function sliceGroupOf(s: SliceView): string {
  return `${s.addressType}|${portSignature(s.ports)}`;
}

/**
 * The key's EndpointSlices, at most 100 endpoints each, not yet bound to their Service (see
 * {@link bindSlice}). Assignment is stable: an endpoint stays in the slice that has it, new ones
 * fill slices with room, so one pod changing rewrites one slice.
 */
export function desiredSlices(svc: DeclaredService, current: readonly SliceView[]): Manifest[] {
  const name = serviceLabel(svc.key);
  const groups = new Map<string, DeclaredEndpoint[]>();
  for (const e of svc.endpoints) groups.set(groupOf(e), [...(groups.get(groupOf(e)) ?? []), e]);
  const usedNames = new Set<string>();
  const out: Manifest[] = [];
  for (const [group, endpoints] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const existing = current.filter((s) => sliceGroupOf(s) === group).sort((a, b) => (a.name < b.name ? -1 : 1));
    const members = new Map<string, DeclaredEndpoint[]>(existing.map((s) => [s.name, []]));
    const placed = new Set<string>();
    for (const s of existing) {
      const here = new Set(s.endpoints.map((e) => e.address));
      for (const e of endpoints) {
        if (!placed.has(e.address) && here.has(e.address) && (members.get(s.name)?.length ?? 0) < MAX_ENDPOINTS_PER_SLICE) {
          members.get(s.name)?.push(e);
          placed.add(e.address);
        }
      }
    }
    const tag = base32(createHash('sha256').update(group).digest()).slice(0, 5);
    for (const e of endpoints) {
      if (placed.has(e.address)) continue;
      let target = [...members].find(([, list]) => list.length < MAX_ENDPOINTS_PER_SLICE)?.[0];
      if (target === undefined) {
        let i = 0;
        while (members.has(`${name}-${tag}-${i}`) || usedNames.has(`${name}-${tag}-${i}`)) i++;
        target = `${name}-${tag}-${i}`;
        members.set(target, []);
      }
      members.get(target)?.push(e);
      placed.add(e.address);
    }
    for (const [sliceName, list] of members) {
      usedNames.add(sliceName);
      if (list.length > 0) out.push(sliceManifest(svc, name, sliceName, list));
    }
  }
  return out;
}

/**
 * A slice owned by its Service (the owner reference that garbage-collects it with the Service),
 * stamped with its hash. The uid is part of what is hashed: a slice of a re-created Service is
 * written again, with the new owner.
 */
export function bindSlice(slice: Manifest, serviceUid: string): Manifest {
  const serviceName = slice.metadata.labels[L.SLICE_SERVICE_LABEL] ?? '';
  const ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name: serviceName, uid: serviceUid, controller: true, blockOwnerDeletion: true }];
  return withHash({ ...slice, metadata: { ...slice.metadata, annotations: { ...slice.metadata.annotations }, ownerReferences } });
}

function sliceManifest(svc: DeclaredService, serviceName: string, name: string, endpoints: DeclaredEndpoint[]): Manifest {
  const first = endpoints[0]!;
  const params: Record<string, Readonly<Record<string, string>>> = {};
  for (const e of endpoints) params[e.address] = e.params;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: svc.namespace, labels: sliceLabels(serviceName), annotations: { [L.ENDPOINTS_ANNOTATION]: encodeEndpointParams(params) } },
    addressType: first.addressType,
    endpoints: [...endpoints]
      .sort((a, b) => (a.address < b.address ? -1 : 1))
      .map((e) => ({
        addresses: [e.address],
        conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
        ...(e.hostname === undefined ? {} : { hostname: e.hostname }),
        ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
        // A provider registered in ZooKeeper has no pod behind it.
        ...(e.podName === undefined ? {} : { targetRef: { kind: 'Pod', namespace: svc.namespace, name: e.podName, uid: e.podUid } }),
      })),
    ports: first.ports.map((p) => ({ name: p.protocol, protocol: 'TCP', port: p.port })),
  };
}
