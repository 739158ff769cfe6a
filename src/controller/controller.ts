import type { Logger } from 'pino';
import { serviceLabel } from '../dubbo/naming.ts';
import { formatServiceKey, serviceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import * as L from '../kube/labels.ts';
import { projectDubboService, projectManagedService, projectManagedSlice, projectPod, statusDigest } from '../kube/project.ts';
import { Reflector } from '../kube/reflector.ts';
import { KubeError, type KubeClient } from '../kube/rest.ts';
import type { DubboServiceView, ManagedServiceView, ManagedSliceView, PodView } from '../kube/views.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import { planKey } from '../plan/plan.ts';
import { declareKey, type CrDeclaration, type PodDeclaration } from '../source/declared.ts';
import { selectorMatches, validateDubboServiceSpec, type DubboServiceSpec } from '../source/dubbo-service.ts';
import { EventRecorder, type InvolvedObject } from './events.ts';
import { collectionPaths, type NamespaceScope } from '../kube/scope.ts';
import { LeaderElector } from './leader.ts';
import { KeyQueue, type Outcome } from './queue.ts';
import { computeStatus, type KeyReport } from './status.ts';

// The reconciler (docs/architecture.md): caches of slim projections fed by list+watch, a queue of keys, and
// level-based reconciles that read the caches, plan, and apply. Service keys and DubboService
// statuses are the two kinds of key.

/** Settings of the controller. */
export interface ControllerOptions {
  readonly client: KubeClient;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly leaderElection?: { readonly namespace: string; readonly name: string; readonly identity: string; readonly leaseDurationSeconds?: number } | undefined;
  readonly orphanRetentionMs: number;
  readonly resyncMs: number;
  readonly workers: number;
  readonly log: Logger;
  readonly metrics?: (depth: () => number, managed: () => { services: number; slices: number }) => ControllerMetrics;
}

const SEP = '\u0000';
const CRD_PATH = '/apis/dubbo-dns.io/v1alpha1';
/** How long a status write waits for more of its keys to settle. */
const STATUS_DELAY_MS = 300;

interface CrEntry {
  readonly view: DubboServiceView;
  readonly spec: DubboServiceSpec | undefined;
  readonly problems: readonly string[] | undefined;
  /** Key ids this resource declares. */
  readonly keys: readonly string[];
}

/** Runs the controller until stopped. */
export class Controller {
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #queue = new KeyQueue();
  readonly #crs = new Map<string, Map<string, CrEntry>>(); // ns -> name -> entry
  readonly #pods = new Map<string, Map<string, PodView>>(); // ns -> name -> pod
  readonly #annotated = new Map<string, Set<string>>(); // ns|keyId -> pod names
  readonly #selected = new Map<string, Set<string>>(); // ns/crName -> names of the pods its selector picks
  readonly #declaredBy = new Map<string, Set<string>>(); // ns|keyId -> names of the DubboServices declaring it
  /** Hash we last applied per object (ns/name), to tell our own writes' echoes from real changes. */
  readonly #applied = new Map<string, string>();
  readonly #keysById = new Map<string, ServiceKey>();
  readonly #services = new Map<string, ManagedServiceView>(); // ns/name
  readonly #slices = new Map<string, Map<string, ManagedSliceView>>(); // ns/service -> slice name -> view
  readonly #reports = new Map<string, KeyReport>(); // ns|keyId
  readonly #events: EventRecorder;
  readonly #reflectors: Reflector<unknown>[] = [];
  readonly #leader: LeaderElector | undefined;
  readonly metrics: ControllerMetrics | undefined;
  #workers: Promise<void>[] = [];
  #resync: NodeJS.Timeout | undefined;
  #synced = false;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#events = new EventRecorder(options.client, options.log.child({ component: 'events' }), () => this.canWrite);
    const le = options.leaderElection;
    this.#leader =
      le === undefined
        ? undefined
        : new LeaderElector({
            client: options.client,
            namespace: le.namespace,
            name: le.name,
            identity: le.identity,
            leaseDurationSeconds: le.leaseDurationSeconds ?? 15,
            renewDeadlineMs: ((le.leaseDurationSeconds ?? 15) * 1000 * 2) / 3,
            retryPeriodMs: Math.max(500, ((le.leaseDurationSeconds ?? 15) * 1000) / 7.5),
            log: options.log.child({ component: 'leader' }),
          });
    let slices = 0;
    this.metrics = options.metrics?.(
      () => this.#queue.depth,
      () => {
        slices = 0;
        for (const m of this.#slices.values()) slices += m.size;
        return { services: this.#services.size, slices };
      },
    );
  }

  /** True once every cache has synced (readiness). */
  get synced(): boolean {
    return this.#synced;
  }

  /** True when this replica may write (leader, or no election). */
  get canWrite(): boolean {
    return this.#leader === undefined || this.#leader.isLeader;
  }

  /**
   * Starts watching and reconciling; resolves when the caches have synced. When `signal` aborts
   * first (a shutdown during start-up), everything started is stopped and this rejects.
   */
  async start(signal?: AbortSignal): Promise<void> {
    const { client, namespaces } = this.#o;
    const log = this.#log.child({ component: 'reflector' });
    // One reflector per collection path: a single cluster-wide one, or one per watched namespace.
    const make = <V>(prefix: string, resource: string, labelSelector: string | undefined, project: (o: Record<string, unknown>) => V | undefined, changed: (key: string, a: V | undefined, b: V | undefined) => void): Reflector<V>[] =>
      collectionPaths(prefix, resource, namespaces).map((path) => {
        const r = new Reflector<V>({ client, path, labelSelector, project, handler: { changed }, log });
        this.#reflectors.push(r as Reflector<unknown>);
        return r;
      });
    const count = <V>(rs: Reflector<V>[]): number => rs.reduce((n, r) => n + r.items.size, 0);
    const crs = make(CRD_PATH, 'dubboservices', undefined, projectDubboService, (k, a, b) => this.#onDubboService(k, a, b));
    const pods = make('/api/v1', 'pods', undefined, projectPod, (k, a, b) => this.#onPod(k, a, b));
    make('/api/v1', 'services', `${L.MANAGED_BY_LABEL}=${L.MANAGED_BY_VALUE}`, projectManagedService, (k, a, b) => this.#onService(k, a, b));
    make('/apis/discovery.k8s.io/v1', 'endpointslices', `${L.SLICE_MANAGED_BY_LABEL}=${L.SLICE_MANAGED_BY_VALUE}`, projectManagedSlice, (k, a, b) => this.#onSlice(k, a, b));
    let stopping: Promise<void> | undefined;
    const abort = (): void => void (stopping = this.stop());
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await Promise.all(this.#reflectors.map((r) => r.start()));
    } catch (err) {
      await stopping;
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    signal?.throwIfAborted();
    this.#synced = true;
    this.#log.info({ dubboServices: count(crs), pods: count(pods), services: this.#services.size }, 'caches synced');
    for (let i = 0; i < this.#o.workers; i++) this.#workers.push(this.#work());
    this.#leader?.start((leader) => {
      this.metrics?.leader.set(leader ? 1 : 0);
      if (!leader) return;
      this.#enqueueAll();
      // Warnings about pods seen while another replica led were not ours to record then.
      for (const pods of this.#pods.values()) for (const pod of pods.values()) this.#warnAnnotation(pod);
    });
    if (this.#leader === undefined) this.metrics?.leader.set(1);
    this.#resync = setInterval(() => this.#enqueueAll(), this.#o.resyncMs);
    this.#resync.unref();
  }

  /** Stops: no new reconciles, in-flight ones finish, the lease is released, watches end. */
  async stop(): Promise<void> {
    clearInterval(this.#resync);
    this.#queue.close();
    await Promise.all(this.#workers);
    await this.#leader?.stop();
    await Promise.all(this.#reflectors.map((r) => r.stop()));
  }

  // --- cache handlers: keep the indexes, enqueue affected keys -------------------------------

  #onDubboService(_key: string, before: DubboServiceView | undefined, after: DubboServiceView | undefined): void {
    const v = (after ?? before)!;
    const byName = this.#crs.get(v.namespace) ?? new Map<string, CrEntry>();
    this.#crs.set(v.namespace, byName);
    const old = byName.get(v.name);
    const crKey = `${v.namespace}/${v.name}`;
    if (after === undefined) {
      byName.delete(v.name);
      this.#selected.delete(crKey);
    } else {
      // A status-only update (often our own write) changes nothing we reconcile from.
      if (old !== undefined && old.view.generation === after.generation && old.view.uid === after.uid) {
        byName.set(v.name, { ...old, view: after });
        return;
      }
      const checked = validateDubboServiceSpec(after.spec);
      const spec = checked.ok ? checked.spec : undefined;
      const keys = (spec?.interfaces ?? []).map((i) => this.#keyId(serviceKey(i.interface, i.group, i.version)));
      byName.set(v.name, { view: after, spec, problems: checked.ok ? undefined : checked.problems, keys });
      const selected = new Set<string>();
      if (spec !== undefined) for (const pod of this.#pods.get(v.namespace)?.values() ?? []) if (selectorMatches(spec.selector, pod.labels)) selected.add(pod.name);
      this.#selected.set(crKey, selected);
      this.#queue.add(`cr${SEP}${v.namespace}${SEP}${v.name}`);
    }
    for (const id of old?.keys ?? []) this.#declaredBy.get(`${v.namespace}|${id}`)?.delete(v.name);
    for (const id of byName.get(v.name)?.keys ?? []) {
      const set = this.#declaredBy.get(`${v.namespace}|${id}`) ?? new Set<string>();
      set.add(v.name);
      this.#declaredBy.set(`${v.namespace}|${id}`, set);
    }
    for (const id of new Set([...(old?.keys ?? []), ...(byName.get(v.name)?.keys ?? [])])) this.#enqueueKey(v.namespace, id);
  }

  #onPod(_key: string, before: PodView | undefined, after: PodView | undefined): void {
    const p = (after ?? before)!;
    const pods = this.#pods.get(p.namespace) ?? new Map<string, PodView>();
    this.#pods.set(p.namespace, pods);
    if (after === undefined) pods.delete(p.name);
    else pods.set(p.name, after);
    const affected = new Set<string>();
    for (const entry of this.#crs.get(p.namespace)?.values() ?? []) {
      if (entry.spec === undefined) continue;
      const selected = this.#selected.get(`${p.namespace}/${entry.view.name}`);
      const was = selected?.has(p.name) === true;
      const is = after !== undefined && selectorMatches(entry.spec.selector, after.labels);
      if (is) selected?.add(p.name);
      else selected?.delete(p.name);
      if (was || is) for (const id of entry.keys) affected.add(id);
    }
    for (const url of before?.dubboGo?.providers ?? []) {
      const id = this.#keyId(url.key);
      this.#annotated.get(`${p.namespace}|${id}`)?.delete(p.name);
      affected.add(id);
    }
    for (const url of after?.dubboGo?.providers ?? []) {
      const id = this.#keyId(url.key);
      const set = this.#annotated.get(`${p.namespace}|${id}`) ?? new Set<string>();
      set.add(p.name);
      this.#annotated.set(`${p.namespace}|${id}`, set);
      affected.add(id);
    }
    for (const id of affected) this.#enqueueKey(p.namespace, id);
    if (after !== undefined && annotationProblem(after) !== undefined && annotationProblem(after) !== (before && annotationProblem(before))) {
      this.#log.warn({ pod: `${p.namespace}/${p.name}`, error: annotationProblem(after) }, 'dubbo-go annotation skipped');
      this.#warnAnnotation(after);
    }
  }

  /** A Warning Event on a pod whose dubbo-go annotation did not decode (the recorder drops repeats). */
  #warnAnnotation(pod: PodView): void {
    const problem = annotationProblem(pod);
    if (problem === undefined || !this.canWrite) return;
    void this.#events.record({ apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid }, 'Warning', 'InvalidDubboAnnotation', `dubbo.io/annotation: ${problem}`);
  }

  #onService(key: string, before: ManagedServiceView | undefined, after: ManagedServiceView | undefined): void {
    if (after === undefined) this.#services.delete(key);
    else this.#services.set(key, after);
    if (this.#isEcho(`Service/${key}`, after?.annotations[L.DESIRED_HASH_ANNOTATION])) return;
    const v = (after ?? before)!;
    const id = identityOf(v);
    if (id !== undefined) this.#enqueueKey(v.namespace, this.#keyId(id));
  }

  #onSlice(_key: string, before: ManagedSliceView | undefined, after: ManagedSliceView | undefined): void {
    const v = (after ?? before)!;
    const group = `${v.namespace}/${v.serviceName}`;
    const slices = this.#slices.get(group) ?? new Map<string, ManagedSliceView>();
    if (after === undefined) slices.delete(v.name);
    else slices.set(v.name, after);
    if (slices.size === 0) this.#slices.delete(group);
    else this.#slices.set(group, slices);
    if (this.#isEcho(`EndpointSlice/${v.namespace}/${v.name}`, after?.desiredHash)) return;
    const svc = this.#services.get(group);
    const id = svc === undefined ? undefined : identityOf(svc);
    if (id !== undefined) this.#enqueueKey(v.namespace, this.#keyId(id));
  }

  /** True when an event only shows what we just applied (its hash is the one we wrote). */
  #isEcho(object: string, hash: string | undefined): boolean {
    if (hash === undefined) {
      this.#applied.delete(object);
      return false;
    }
    return this.#applied.get(object) === hash;
  }

  #keyId(key: ServiceKey): string {
    const id = serviceKeyId(key);
    if (!this.#keysById.has(id)) this.#keysById.set(id, key);
    return id;
  }

  #enqueueKey(namespace: string, id: string): void {
    this.#queue.add(`svc${SEP}${namespace}${SEP}${id}`);
  }

  #enqueueAll(): void {
    for (const [ns, byName] of this.#crs) {
      for (const [name, entry] of byName) {
        this.#queue.add(`cr${SEP}${ns}${SEP}${name}`);
        for (const id of entry.keys) this.#enqueueKey(ns, id);
      }
    }
    for (const k of this.#annotated.keys()) {
      const [ns, id] = splitOnce(k, '|');
      this.#enqueueKey(ns, id);
    }
    for (const svc of this.#services.values()) {
      const id = identityOf(svc);
      if (id !== undefined) this.#enqueueKey(svc.namespace, this.#keyId(id));
    }
  }

  // --- workers ---------------------------------------------------------------------------------

  async #work(): Promise<void> {
    for (;;) {
      const item = await this.#queue.next();
      if (item === undefined) return;
      const [kind, rest] = splitOnce(item, SEP);
      const started = performance.now();
      let outcome: Outcome;
      try {
        if (!this.canWrite) outcome = { kind: 'done' }; // a follower keeps caches warm; it reconciles all when it leads
        else outcome = kind === 'cr' ? await this.#reconcileStatus(rest) : await this.#reconcileKey(rest);
      } catch (err) {
        if (err instanceof NotLeaderError) {
          // Leadership ended mid-reconcile: the new leader reconciles everything when it starts.
          this.#queue.done(item, { kind: 'done' });
          continue;
        }
        // Transient errors (network, 5xx, 429, conflicts) back off per key; terminal ones (the API
        // server rejected what we sent) are recorded in status and tried again at the next resync.
        const terminal = err instanceof KubeError && !err.transient;
        this.#log.warn({ key: item.replaceAll(SEP, ' '), err: (err as Error).message, failures: this.#queue.failures(item) + 1, terminal }, 'reconcile failed');
        outcome = terminal ? { kind: 'requeueAfter', ms: this.#o.resyncMs } : { kind: 'retry', error: err };
      }
      this.metrics?.reconciles.inc({ kind, result: outcome.kind === 'retry' ? 'error' : outcome.kind });
      this.metrics?.duration.observe({ kind }, (performance.now() - started) / 1000);
      this.#queue.done(item, outcome);
    }
  }

  /** Reconciles one service key in one namespace. */
  async #reconcileKey(rest: string): Promise<Outcome> {
    const [namespace, id] = splitOnce(rest, SEP);
    const key = this.#keysById.get(id);
    if (key === undefined) return { kind: 'done' };
    const log = this.#log.child({ namespace, key: formatServiceKey(key) });
    const name = serviceLabel(key);
    const declared = this.#declare(namespace, id, key);
    let service = this.#services.get(`${namespace}/${name}`);
    let taken: Parameters<typeof planKey>[0]['taken'];
    if (service !== undefined) {
      const other = identityOf(service);
      if (other !== undefined && serviceKeyId(other) !== id) taken = { by: 'other-key', key: other };
    } else if (declared !== undefined) {
      // Not in our cache: a foreign Service may hold the name. Look before we write.
      try {
        const existing = await this.#o.client.request<Record<string, unknown>>('GET', `/api/v1/namespaces/${namespace}/services/${name}`);
        const view = projectManagedService(existing);
        const other = view === undefined ? undefined : identityOf(view);
        if (view === undefined) taken = { by: 'foreign' };
        else if (other !== undefined && serviceKeyId(other) !== id) taken = { by: 'other-key', key: other };
        else service = view;
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 404)) throw err;
      }
    }
    const slices = [...(this.#slices.get(`${namespace}/${name}`)?.values() ?? [])];
    const plan = planKey({ namespace, key, declared, service: taken === undefined ? service : undefined, slices: taken === undefined ? slices : [], taken, now: Date.now(), retentionMs: this.#o.orphanRetentionMs });
    const report: KeyReport = {
      name,
      interface: key.interface,
      group: key.group,
      version: key.version,
      endpoints: declared?.endpoints.length ?? 0,
      readyEndpoints: declared?.endpoints.filter((e) => e.ready).length ?? 0,
    };
    const reportKey = `${namespace}|${id}`;
    const owners = this.#owners(namespace, id);
    let outcome: Outcome = { kind: 'done' };
    try {
      switch (plan.kind) {
        case 'noop':
          break;
        case 'conflict':
          this.#reports.set(reportKey, { ...report, conflict: plan.message });
          log.warn({ service: name }, `name conflict: ${plan.message}`);
          for (const o of owners) void this.#events.record(o, 'Warning', 'NameConflict', `Service ${namespace}/${name} for ${formatServiceKey(key)}: ${plan.message}`);
          break;
        case 'delete':
          // The Service goes first: readers (the DNS server) then see a key removed, never a key
          // whose endpoints all vanished (which their mass-deregistration guard would hold).
          if (plan.service !== '') await this.#delete(`/api/v1/namespaces/${namespace}/services/${plan.service}`, 'Service');
          for (const s of plan.slices) await this.#delete(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${s}`, 'EndpointSlice');
          this.#reports.delete(reportKey);
          log.info({ service: plan.service, slices: plan.slices.length }, 'pruned');
          break;
        case 'apply': {
          let uid = service?.uid;
          if (plan.service !== undefined) {
            const applied = await this.#apply(`/api/v1/namespaces/${namespace}/services/${name}`, plan.service, 'Service');
            uid = applied.metadata?.uid ?? uid;
            if (service === undefined) {
              log.info({ service: name }, 'created Service');
              for (const o of owners) void this.#events.record(o, 'Normal', 'ServiceCreated', `created Service ${name} for ${formatServiceKey(key)}`);
            }
          }
          if (uid === undefined) throw new Error(`no uid for Service ${namespace}/${name}`);
          const changes = plan.slices(uid);
          for (const m of changes.apply) await this.#apply(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${m.metadata.name}`, m, 'EndpointSlice');
          for (const s of changes.delete) await this.#delete(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${s}`, 'EndpointSlice');
          if (plan.service !== undefined || changes.apply.length > 0 || changes.delete.length > 0) {
            log.info({ service: name, serviceWritten: plan.service !== undefined, slicesApplied: changes.apply.length, slicesDeleted: changes.delete.length }, 'applied');
          }
          this.#reports.set(reportKey, report);
          if (plan.requeueAfterMs !== undefined) outcome = { kind: 'requeueAfter', ms: plan.requeueAfterMs + 100 };
          break;
        }
      }
    } catch (err) {
      if (err instanceof NotLeaderError) throw err;
      this.#reports.set(reportKey, { ...report, error: (err as Error).message });
      for (const o of owners) this.#queue.addAfter(`cr${SEP}${o.namespace}${SEP}${o.name}`, STATUS_DELAY_MS);
      throw err;
    }
    // Status waits a moment, so a change touching many of a resource's keys is written once.
    for (const o of owners) this.#queue.addAfter(`cr${SEP}${o.namespace}${SEP}${o.name}`, STATUS_DELAY_MS);
    return outcome;
  }

  /** Writes a DubboService's status when it says something new. */
  async #reconcileStatus(rest: string): Promise<Outcome> {
    const [namespace, name] = splitOnce(rest, SEP);
    const entry = this.#crs.get(namespace)?.get(name);
    if (entry === undefined) return { kind: 'done' };
    const reports = entry.keys.map((id) => this.#reports.get(`${namespace}|${id}`)).filter((r): r is KeyReport => r !== undefined);
    // Until every interface has been reconciled there is nothing true to say (a restart would
    // otherwise flip Ready to Unknown and back); each key reconcile enqueues the status again.
    if (entry.problems === undefined && reports.length < entry.keys.length) return { kind: 'done' };
    const status = computeStatus(entry.view, entry.problems, entry.keys.length, reports, new Date().toISOString());
    if (statusDigest(status) === entry.view.statusDigest) return { kind: 'done' };
    const object: InvolvedObject = { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', namespace, name, uid: entry.view.uid };
    await this.#apply(`${CRD_PATH}/namespaces/${namespace}/dubboservices/${name}/status`, { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace }, status }, 'DubboServiceStatus');
    if (entry.problems !== undefined) void this.#events.record(object, 'Warning', 'InvalidSpec', entry.problems.join('; '));
    return { kind: 'done' };
  }

  /** The declarations of a key in a namespace, from the caches. */
  #declare(namespace: string, id: string, key: ServiceKey) {
    const crs: CrDeclaration[] = [];
    const pods = this.#pods.get(namespace);
    for (const name of this.#declaredBy.get(`${namespace}|${id}`) ?? []) {
      const entry = this.#crs.get(namespace)?.get(name);
      const spec = entry?.spec;
      if (entry === undefined || spec === undefined) continue;
      const iface = spec.interfaces.find((i) => serviceKeyId(serviceKey(i.interface, i.group, i.version)) === id);
      if (iface === undefined) continue;
      const selected: PodView[] = [];
      for (const podName of this.#selected.get(`${namespace}/${name}`) ?? []) {
        const pod = pods?.get(podName);
        if (pod !== undefined) selected.push(pod);
      }
      crs.push({ cr: { name: entry.view.name, uid: entry.view.uid, spec }, iface, pods: selected });
    }
    const annotated: PodDeclaration[] = [];
    for (const podName of this.#annotated.get(`${namespace}|${id}`) ?? []) {
      const pod = this.#pods.get(namespace)?.get(podName);
      for (const url of pod?.dubboGo?.providers ?? []) if (pod !== undefined && serviceKeyId(url.key) === id) annotated.push({ pod, url });
    }
    return declareKey(namespace, key, crs, annotated);
  }

  #owners(namespace: string, id: string): InvolvedObject[] {
    const out: InvolvedObject[] = [];
    for (const name of this.#declaredBy.get(`${namespace}|${id}`) ?? []) {
      const entry = this.#crs.get(namespace)?.get(name);
      if (entry !== undefined) out.push({ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', namespace, name, uid: entry.view.uid });
    }
    return out;
  }

  /** Leadership is checked before every write, not only when a reconcile starts: it can end in between. */
  #mayWrite(): void {
    if (!this.canWrite) throw new NotLeaderError();
  }

  async #apply(path: string, manifest: unknown, kind: string): Promise<{ metadata?: { uid?: string } }> {
    this.#mayWrite();
    this.metrics?.writes.inc({ verb: 'apply', kind });
    // Recorded before sending: the watch event of this write may arrive before the response.
    const m = (manifest as { metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> } }).metadata;
    const hash = m?.annotations?.[L.DESIRED_HASH_ANNOTATION];
    const object = `${kind}/${m?.namespace}/${m?.name}`;
    const before = this.#applied.get(object);
    if (hash !== undefined) this.#applied.set(object, hash);
    try {
      return await this.#o.client.apply<{ metadata?: { uid?: string } }>(path, manifest, L.FIELD_MANAGER);
    } catch (err) {
      if (before === undefined) this.#applied.delete(object);
      else this.#applied.set(object, before);
      throw err;
    }
  }

  async #delete(path: string, kind: string): Promise<void> {
    this.#mayWrite();
    this.metrics?.writes.inc({ verb: 'delete', kind });
    this.#applied.delete(`${kind}/${path.split('/').slice(-3, -2)[0]}/${path.split('/').pop()}`);
    try {
      await this.#o.client.request('DELETE', path);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
  }
}

/** A write was about to be sent after this replica stopped leading. */
class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor() {
    super('not the leader any more');
  }
}

/** What is wrong with a pod's dubbo-go annotation, if anything. */
function annotationProblem(pod: PodView): string | undefined {
  return pod.dubboGo?.error ?? (pod.dubboGo !== undefined && pod.dubboGo.skipped.length > 0 ? pod.dubboGo.skipped.join('; ') : undefined);
}

/** The key a managed Service says it belongs to. */
function identityOf(v: ManagedServiceView): ServiceKey | undefined {
  const iface = v.annotations[L.INTERFACE_ANNOTATION];
  if (iface === undefined) return undefined;
  return serviceKey(iface, v.annotations[L.GROUP_ANNOTATION], v.annotations[L.VERSION_ANNOTATION]);
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}
