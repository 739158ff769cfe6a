import { serviceLabel } from '../dubbo/naming.ts';
import { serviceKey } from '../dubbo/service-key.ts';
import { objectKey } from './store.ts';
import type { DubboServiceView, PodView, ServiceView, SliceView } from './views.ts';

// The indexes of each store, declared in one place (client-go Indexers): pure functions from a view
// to the values it is filed under, all in the layer's one key format `namespace/name`. A key's
// managed Service is named S (docs/naming.md), so `namespace/S` is at once the key of that
// Service, the value slices are filed under, and the value declarations are filed under.

/** Pods: by the Service names their dubbo-go annotation declares, and by label (for selectors). */
export const POD_INDEXES = {
  declares: (p: PodView): string[] => (p.dubboGo?.providers ?? []).map((u) => objectKey(p.namespace, serviceLabel(u.key))),
  label: (p: PodView): string[] => Object.entries(p.labels).map(([k, v]) => labelIndexValue(p.namespace, k, v)),
} as const;

/** The `label` index value of a label `k=v` in a namespace. */
export function labelIndexValue(namespace: string, k: string, v: string): string {
  return objectKey(namespace, `${k}=${v}`);
}

/** DubboServices: by the Service names their (valid) spec declares. */
export const DUBBO_SERVICE_INDEXES = {
  declares: (d: DubboServiceView): string[] => (d.spec?.interfaces ?? []).map((i) => objectKey(d.namespace, serviceLabel(serviceKey(i.interface, i.group, i.version)))),
} as const;

/** Services: the managed ones (a count for metrics). */
export const SERVICE_INDEXES = {
  managed: (s: ServiceView): string[] => (s.managed ? ['managed'] : []),
} as const;

/** EndpointSlices: by the Service they belong to. */
export const SLICE_INDEXES = {
  service: (s: SliceView): string[] => [objectKey(s.namespace, s.serviceName)],
} as const;
