import { selectorMatches, type LabelSelector } from '../contracts/dubbo-service.ts';
import { serviceLabel } from '../dubbo/naming.ts';
import { serviceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import { labelIndexValue, type DUBBO_SERVICE_INDEXES, type POD_INDEXES, type SERVICE_INDEXES, type SLICE_INDEXES } from '../kube/indexes.ts';
import { namespaceOf, type Store } from '../kube/store.ts';
import type { DubboServiceView, PodView, ServiceView, SliceView } from '../kube/views.ts';
import type { KeyWorld } from '../plan/plan.ts';
import { declareKey, type CrDeclaration, type PodDeclaration, type RegisteredDeclaration } from '../source/declared.ts';

// Gather: the stores' view of one Service name `namespace/S`, as the plain value the plan takes.
// Reads only the stores (no API calls), through their indexes.

/** The controller's stores. */
export interface ControllerStores {
  readonly pods: Store<PodView, typeof POD_INDEXES>;
  readonly dubboServices: Store<DubboServiceView, typeof DUBBO_SERVICE_INDEXES>;
  readonly services: Store<ServiceView, typeof SERVICE_INDEXES>;
  readonly slices: Store<SliceView, typeof SLICE_INDEXES>;
}

/** Everything the plan of `namespace/S` depends on, read from the stores (and the registry's providers of S, if any). */
export function gatherKey(stores: ControllerStores, key: string, now: number, retentionMs: number, registered: readonly RegisteredDeclaration[] = []): KeyWorld {
  const namespace = namespaceOf(key);
  const name = key.slice(namespace.length + 1);
  const byKey = new Map<string, { key: ServiceKey; crs: CrDeclaration[]; annotated: PodDeclaration[]; registered: RegisteredDeclaration[] }>();
  const entry = (k: ServiceKey) => {
    const id = serviceKeyId(k);
    let e = byKey.get(id);
    if (e === undefined) byKey.set(id, (e = { key: k, crs: [], annotated: [], registered: [] }));
    return e;
  };
  for (const cr of stores.dubboServices.byIndex('declares', key)) {
    const spec = cr.spec;
    if (spec === undefined) continue;
    const pods = selectPods(stores.pods, namespace, spec.selector);
    for (const iface of spec.interfaces) {
      const k = serviceKey(iface.interface, iface.group, iface.version);
      if (serviceLabel(k) === name) entry(k).crs.push({ cr: { name: cr.name, uid: cr.uid, spec }, iface, pods });
    }
  }
  for (const pod of stores.pods.byIndex('declares', key)) {
    for (const url of pod.dubboGo?.providers ?? []) if (serviceLabel(url.key) === name) entry(url.key).annotated.push({ pod, url });
  }
  for (const r of registered) if (serviceLabel(r.key) === name) entry(r.key).registered.push(r);
  const declared = [...byKey.values()].flatMap((e) => declareKey(namespace, e.key, e.crs, e.annotated, e.registered) ?? []);
  return { namespace, name, declared, service: stores.services.get(key), slices: stores.slices.byIndex('service', key), now, retentionMs };
}

/**
 * The pods of a namespace that a selector picks. Candidates come from the label index: the
 * smallest set among the `matchLabels` pairs, else the union of an `In` expression's values; only
 * a selector of nothing but Exists/NotIn/DoesNotExist scans the namespace.
 */
export function selectPods(pods: Store<PodView, typeof POD_INDEXES>, namespace: string, selector: LabelSelector): PodView[] {
  let candidates: Iterable<PodView> | undefined;
  let smallest = Number.POSITIVE_INFINITY;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    const n = pods.countByIndex('label', labelIndexValue(namespace, k, v));
    if (n < smallest) {
      smallest = n;
      candidates = pods.byIndex('label', labelIndexValue(namespace, k, v));
    }
  }
  if (candidates === undefined) {
    const inExpression = selector.matchExpressions?.find((e) => e.operator === 'In');
    if (inExpression !== undefined) candidates = (inExpression.values ?? []).flatMap((v) => pods.byIndex('label', labelIndexValue(namespace, inExpression.key, v)));
  }
  candidates ??= [...pods.keys(namespace)].map((k) => pods.get(k)!);
  const out: PodView[] = [];
  for (const pod of candidates) if (selectorMatches(selector, pod.labels)) out.push(pod);
  return out;
}
