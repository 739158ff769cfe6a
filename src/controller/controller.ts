import type { Logger } from 'pino';
import { serviceLabel } from '../dubbo/naming.ts';
import { formatServiceKey, serviceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import { DUBBO_SERVICE_INDEXES, POD_INDEXES, SERVICE_INDEXES, SLICE_INDEXES } from '../kube/indexes.ts';
import { Informer } from '../kube/informer.ts';
import { DUBBO_SERVICES, MANAGED_SLICES, PODS, SERVICES } from '../kube/kinds.ts';
import { statusDigest } from '../kube/project.ts';
import { KubeError, type KubeApi } from '../kube/rest.ts';
import type { NamespaceScope } from '../kube/scope.ts';
import { namespaceOf, objectKey } from '../kube/store.ts';
import type { DubboServiceView, PodView, ServiceView, SliceView } from '../kube/views.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import { planKey, type KeyOutcome, type KeyPlan } from '../plan/plan.ts';
import { selectorMatches } from '../contracts/dubbo-service.ts';
import type { Clock } from '../time/clock.ts';
import { EventRecorder, type InvolvedObject } from './events.ts';
import { Executor, NotLeaderError } from './executor.ts';
import { gatherKey, type ControllerStores } from './gather.ts';
import { LeaderElector } from './leader.ts';
import { KeyQueue, type Outcome } from './queue.ts';
import { RegisteredProviders, type RegistryMirror } from './registered.ts';
import { computeStatus, type KeyReport } from './status.ts';

// The reconciler (docs/architecture.md): stores of slim projections fed by list+watch, a queue of
// keys, and level-based reconciles: gather (read the stores) -> plan (pure) -> apply (the executor,
// which checks leadership before every write). Two kinds of work item, in the layer's one key format:
// `svc namespace/S` for the managed Service name S of a key, and `cr namespace/name` for the status
// of a DubboService.

/** Settings of the controller. */
export interface ControllerOptions {
  readonly client: KubeApi;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly leaderElection?: { readonly namespace: string; readonly name: string; readonly identity: string; readonly leaseDurationSeconds?: number } | undefined;
  readonly orphanRetentionMs: number;
  readonly resyncMs: number;
  readonly workers: number;
  /** How long a mute API server may go unnoticed by the watches (ms); see ReflectorOptions. */
  readonly livenessMs?: number | undefined;
  readonly log: Logger;
  readonly metrics?: (depth: () => number, managed: () => { services: number; slices: number }) => ControllerMetrics;
  readonly clock?: Clock;
  /** A registry (ZooKeeper) whose providers are published in `namespace`, beside the other sources. */
  readonly registry?: { readonly mirror: RegistryMirror; readonly namespace: string } | undefined;
}

/** How long a status write waits for more of its keys to settle. */
const STATUS_DELAY_MS = 300;
type ItemKind = 'svc' | 'cr';

/** Per-key retry backoff: 5 ms doubling to 5 minutes (client-go's controller default). */
const QUEUE_BACKOFF = { baseDelayMs: 5, maxDelayMs: 300_000 } as const;

const item = (kind: ItemKind, key: string): string => `${kind} ${key}`;

/** Runs the controller until stopped. */
export class Controller {
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #queue: KeyQueue;
  readonly #pods: Informer<PodView, typeof POD_INDEXES>;
  readonly #dubboServices: Informer<DubboServiceView, typeof DUBBO_SERVICE_INDEXES>;
  readonly #services: Informer<ServiceView, typeof SERVICE_INDEXES>;
  readonly #slices: Informer<SliceView, typeof SLICE_INDEXES>;
  readonly #stores: ControllerStores;
  /** `namespace/S` -> key id -> what its last reconcile found (for DubboService status). */
  readonly #reports = new Map<string, Map<string, KeyReport>>();
  readonly #events: EventRecorder;
  readonly #executor: Executor;
  readonly #leader: LeaderElector | undefined;
  readonly metrics: ControllerMetrics | undefined;
  #workers: Promise<void>[] = [];
  #resync: NodeJS.Timeout | undefined;
  #synced = false;
  readonly #registered: RegisteredProviders | undefined;
  /** `namespace/S/key` -> the disagreement last logged for it (logged once per change). */
  readonly #told = new Map<string, string>();

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#queue = new KeyQueue({ ...QUEUE_BACKOFF, clock: options.clock });
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
            clock: options.clock,
          });
    const common = { client: options.client, namespaces: options.namespaces, log: options.log.child({ component: 'reflector' }), livenessMs: options.livenessMs, clock: options.clock };
    this.#pods = new Informer({ ...common, kind: PODS, indexers: POD_INDEXES, changed: (_k, a, b) => this.#onPod(a, b) });
    this.#dubboServices = new Informer({ ...common, kind: DUBBO_SERVICES, indexers: DUBBO_SERVICE_INDEXES, changed: (k, a, b) => this.#onDubboService(k, a, b) });
    this.#services = new Informer({ ...common, kind: SERVICES, indexers: SERVICE_INDEXES, changed: (k, _a, b) => this.#onService(k, b) });
    this.#slices = new Informer({ ...common, kind: MANAGED_SLICES, indexers: SLICE_INDEXES, changed: (k, a, b) => this.#onSlice(k, a, b) });
    this.#stores = { pods: this.#pods.store, dubboServices: this.#dubboServices.store, services: this.#services.store, slices: this.#slices.store };
    this.metrics = options.metrics?.(
      () => this.#queue.depth,
      () => ({ services: this.#services.store.countByIndex('managed', 'managed'), slices: this.#slices.store.size }),
    );
    this.#events = new EventRecorder(options.client, options.log.child({ component: 'events' }), () => this.canWrite);
    const registry = options.registry;
    this.#registered =
      registry === undefined
        ? undefined
        : new RegisteredProviders(
            registry.mirror,
            registry.namespace,
            options.log.child({ component: 'zookeeper' }),
            (names) => {
              for (const name of names) this.#queue.add(item('svc', name));
            },
            (state) => {
              this.metrics?.registrySynced.set(state === 'synced' ? 1 : 0);
              if (state === 'synced') {
                this.#log.info({ namespace: registry.namespace }, 'ZooKeeper read: reconciling its namespace');
                if (this.#synced) this.#enqueueAll();
              } else if (state === 'disconnected') {
                this.#log.warn({ namespace: registry.namespace }, 'ZooKeeper unreachable: nothing in its namespace is written until it is read again in full');
              }
            },
          );
    this.#executor = new Executor({ client: options.client, mayWrite: () => this.canWrite, metrics: this.metrics });
  }

  /** True once every store has synced (readiness). */
  get synced(): boolean {
    return this.#synced;
  }

  /** Whether the registry is connected and fully read; undefined without a registry. */
  get registrySynced(): boolean | undefined {
    return this.#registered?.synced;
  }

  /** True when this replica may write (leader, or no election). */
  get canWrite(): boolean {
    return this.#leader === undefined || this.#leader.isLeader;
  }

  get #informers() {
    return [this.#dubboServices, this.#pods, this.#services, this.#slices] as const;
  }

  /**
   * Starts watching and reconciling; resolves when the stores have synced. When `signal` aborts
   * first (a shutdown during start-up), everything started is stopped and this rejects.
   */
  async start(signal?: AbortSignal): Promise<void> {
    let stopping: Promise<void> | undefined;
    const abort = (): void => void (stopping = this.stop());
    signal?.addEventListener('abort', abort, { once: true });
    // The registry may be down at start: its namespace waits for it, the rest does not.
    this.#registered?.mirror.start().catch((err: unknown) => this.#log.error({ err }, 'ZooKeeper mirror failed'));
    try {
      await Promise.all(this.#informers.map((i) => i.start()));
    } catch (err) {
      await stopping;
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
    signal?.throwIfAborted();
    this.#synced = true;
    this.#log.info({ dubboServices: this.#stores.dubboServices.size, pods: this.#stores.pods.size, services: this.metrics === undefined ? undefined : this.#stores.services.countByIndex('managed', 'managed') }, 'caches synced');
    for (let i = 0; i < this.#o.workers; i++) this.#workers.push(this.#work());
    this.#leader?.start((leader) => {
      this.metrics?.leader.set(leader ? 1 : 0);
      if (!leader) return;
      this.#enqueueAll();
      // Warnings about pods seen while another replica led were not ours to record then.
      for (const pod of this.#stores.pods.values()) this.#warnAnnotation(pod);
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
    await Promise.all(this.#informers.map((i) => i.stop()));
    await this.#registered?.mirror.stop();
  }

  // --- store handlers: enqueue the work items a change affects ------------------------------

  #onDubboService(key: string, before: DubboServiceView | undefined, after: DubboServiceView | undefined): void {
    // A status-only update (often our own write) changes nothing we reconcile from.
    if (before !== undefined && after !== undefined && before.generation === after.generation && before.uid === after.uid) return;
    if (after !== undefined) this.#queue.add(item('cr', key));
    for (const v of [before, after]) for (const name of v === undefined ? [] : DUBBO_SERVICE_INDEXES.declares(v)) this.#queue.add(item('svc', name));
  }

  #onPod(before: PodView | undefined, after: PodView | undefined): void {
    const p = (after ?? before)!;
    const affected = new Set<string>();
    for (const v of [before, after]) for (const name of v === undefined ? [] : POD_INDEXES.declares(v)) affected.add(name);
    // The DubboServices whose selector picked the pod before or picks it now.
    for (const crKey of this.#stores.dubboServices.keys(p.namespace)) {
      const cr = this.#stores.dubboServices.get(crKey);
      if (cr?.spec === undefined) continue;
      const selector = cr.spec.selector;
      if ((before !== undefined && selectorMatches(selector, before.labels)) || (after !== undefined && selectorMatches(selector, after.labels))) {
        for (const name of DUBBO_SERVICE_INDEXES.declares(cr)) affected.add(name);
      }
    }
    for (const name of affected) this.#queue.add(item('svc', name));
    const problem = after === undefined ? undefined : annotationProblem(after);
    if (after !== undefined && problem !== undefined && problem !== (before && annotationProblem(before))) {
      this.#log.warn({ pod: objectKey(p.namespace, p.name), error: problem }, 'dubbo-go annotation skipped');
      this.#warnAnnotation(after);
    }
  }

  #onService(key: string, after: ServiceView | undefined): void {
    if (this.#executor.isEcho('Service', key, after?.desiredHash)) return;
    this.#queue.add(item('svc', key));
  }

  #onSlice(key: string, before: SliceView | undefined, after: SliceView | undefined): void {
    if (this.#executor.isEcho('EndpointSlice', key, after?.desiredHash)) return;
    for (const v of [before, after]) if (v !== undefined) this.#queue.add(item('svc', objectKey(v.namespace, v.serviceName)));
  }

  /** A Warning Event on a pod whose dubbo-go annotation did not decode (the recorder drops repeats). */
  #warnAnnotation(pod: PodView): void {
    const problem = annotationProblem(pod);
    if (problem === undefined) return;
    void this.#events.record({ apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid }, 'Warning', 'InvalidDubboAnnotation', `dubbo.io/annotation: ${problem}`);
  }

  #enqueueAll(): void {
    for (const key of this.#stores.dubboServices.keys()) this.#queue.add(item('cr', key));
    for (const name of this.#stores.dubboServices.indexValues('declares')) this.#queue.add(item('svc', name));
    for (const name of this.#stores.pods.indexValues('declares')) this.#queue.add(item('svc', name));
    for (const s of this.#stores.services.byIndex('managed', 'managed')) this.#queue.add(item('svc', objectKey(s.namespace, s.name)));
    for (const name of this.#registered?.names() ?? []) this.#queue.add(item('svc', name));
  }

  // --- workers ---------------------------------------------------------------------------------

  async #work(): Promise<void> {
    for (;;) {
      const next = await this.#queue.next();
      if (next === undefined) return;
      const space = next.indexOf(' ');
      const kind = next.slice(0, space) as ItemKind;
      const key = next.slice(space + 1);
      const started = performance.now();
      let outcome: Outcome;
      try {
        if (!this.canWrite) outcome = { kind: 'done' }; // a follower keeps its stores warm; it reconciles all when it leads
        else outcome = kind === 'cr' ? await this.#reconcileStatus(key) : await this.#reconcileKey(key);
      } catch (err) {
        if (err instanceof NotLeaderError) {
          // Leadership ended mid-reconcile: the new leader reconciles everything when it starts.
          this.#queue.done(next, { kind: 'done' });
          continue;
        }
        // Transient errors (network, 5xx, 429, conflicts) back off per key; terminal ones (the API
        // server rejected what we sent) are recorded in status and tried again at the next resync.
        const terminal = err instanceof KubeError && !err.transient;
        this.#log.warn({ key: next, err: (err as Error).message, failures: this.#queue.failures(next) + 1, terminal }, 'reconcile failed');
        outcome = terminal ? { kind: 'requeueAfter', ms: this.#o.resyncMs } : { kind: 'retry', error: err };
      }
      this.metrics?.reconciles.inc({ kind, result: outcome.kind === 'retry' ? 'error' : outcome.kind });
      this.metrics?.duration.observe({ kind }, (performance.now() - started) / 1000);
      this.#queue.done(next, outcome);
    }
  }

  /** Reconciles the Service name S of `namespace/S`: gather -> plan -> apply. */
  async #reconcileKey(key: string): Promise<Outcome> {
    const registered = this.#registered !== undefined && namespaceOf(key) === this.#registered.namespace ? this.#registered : undefined;
    // While the registry is away (or not read yet) its namespace is left exactly as it is: no
    // write at all. Reading it again in full enqueues every name.
    if (registered?.synced === false) return { kind: 'done' };
    const world = gatherKey(this.#stores, key, (this.#o.clock ?? Date).now(), this.#o.orphanRetentionMs, registered?.providers(key));
    const plan = planKey(world);
    const log = this.#log.child({ namespace: world.namespace, service: world.name });
    let failure: unknown;
    try {
      await this.#executor.execute(plan.writes, world.service?.managed === true ? world.service.uid : undefined);
    } catch (err) {
      if (err instanceof NotLeaderError) throw err;
      failure = err;
    }
    this.#report(key, plan, failure);
    if (failure === undefined) this.#tell(world.namespace, world.name, plan, log);
    // Status waits a moment, so a change touching many of a resource's keys is written once.
    for (const o of plan.outcomes) for (const owner of o.owners) this.#queue.addAfter(item('cr', objectKey(world.namespace, owner.name)), STATUS_DELAY_MS);
    if (failure !== undefined) throw failure;
    return plan.requeueAfterMs === undefined ? { kind: 'done' } : { kind: 'requeueAfter', ms: plan.requeueAfterMs + 100 };
  }

  /** Remembers what each key's reconcile found, for its DubboServices' status. */
  #report(key: string, plan: KeyPlan, failure: unknown): void {
    const reports = new Map<string, KeyReport>();
    for (const o of plan.outcomes) {
      const base = { name: serviceLabel(o.key), interface: o.key.interface, group: o.key.group, version: o.key.version, endpoints: o.endpoints, readyEndpoints: o.readyEndpoints };
      if (o.kind === 'conflict') reports.set(serviceKeyId(o.key), { ...base, conflict: o.message });
      else reports.set(serviceKeyId(o.key), failure === undefined ? base : { ...base, error: (failure as Error).message });
    }
    if (reports.size === 0) this.#reports.delete(key);
    else this.#reports.set(key, reports);
  }

  /** Logs and Events for what a plan did. */
  #tell(namespace: string, name: string, plan: KeyPlan, log: Logger): void {
    for (const o of plan.outcomes) {
      const told = `${namespace}/${name}/${serviceKeyId(o.key)}`;
      const owners = o.owners.map((owner): InvolvedObject => ({ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', namespace, name: owner.name, uid: owner.uid }));
      if (o.kind === 'conflict') {
        log.warn({ key: formatServiceKey(o.key) }, `name conflict: ${o.message}`);
        for (const owner of owners) void this.#events.record(owner, 'Warning', 'NameConflict', `Service ${namespace}/${name} for ${formatServiceKey(o.key)}: ${o.message}`);
      } else if (o.disagreements !== undefined) {
        // The recorder drops a repeat of the same Event, so a steady disagreement is told once.
        const message = `${formatServiceKey(o.key)}: ${o.disagreements.join('; ')}; the DubboService's declaration is published`;
        for (const owner of owners) void this.#events.record(owner, 'Warning', 'RegistryDisagrees', message);
        if (this.#told.get(told) !== message) log.warn({ key: formatServiceKey(o.key), disagreements: o.disagreements }, 'ZooKeeper disagrees with the DubboService');
        this.#told.set(told, message);
      } else {
        this.#told.delete(told);
      }
      if (o.kind === 'published' && o.created && plan.writes.some((w) => w.kind === 'Service' && w.verb === 'apply')) {
        log.info({ key: formatServiceKey(o.key) }, 'created Service');
        for (const owner of owners) void this.#events.record(owner, 'Normal', 'ServiceCreated', `created Service ${name} for ${formatServiceKey(o.key)}`);
      }
    }
    if (plan.writes.length === 0) return;
    const count = (verb: string, kind: string): number => plan.writes.filter((w) => w.verb === verb && w.kind === kind).length;
    if (plan.pruned) log.info({ slices: count('delete', 'EndpointSlice') }, 'pruned');
    else log.info({ serviceWritten: count('apply', 'Service') > 0, slicesApplied: count('apply', 'EndpointSlice'), slicesDeleted: count('delete', 'EndpointSlice') }, 'applied');
  }

  /** Writes a DubboService's status when it says something new. */
  async #reconcileStatus(key: string): Promise<Outcome> {
    const cr = this.#stores.dubboServices.get(key);
    if (cr === undefined) return { kind: 'done' };
    const keys: ServiceKey[] = (cr.spec?.interfaces ?? []).map((i) => serviceKey(i.interface, i.group, i.version));
    const reports = keys.map((k) => this.#reports.get(objectKey(cr.namespace, serviceLabel(k)))?.get(serviceKeyId(k))).filter((r): r is KeyReport => r !== undefined);
    // Until every interface has been reconciled there is nothing true to say (a restart would
    // otherwise flip Ready to Unknown and back); each key reconcile enqueues the status again.
    if (cr.problems === undefined && reports.length < keys.length) return { kind: 'done' };
    const status = computeStatus(cr, cr.problems, keys.length, reports, new Date((this.#o.clock ?? Date).now()).toISOString());
    if (statusDigest(status) === cr.statusDigest) return { kind: 'done' };
    await this.#executor.applyStatus(cr.namespace, cr.name, status);
    if (cr.problems !== undefined) void this.#events.record({ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', namespace: cr.namespace, name: cr.name, uid: cr.uid }, 'Warning', 'InvalidSpec', cr.problems.join('; '));
    return { kind: 'done' };
  }
}

/** What is wrong with a pod's dubbo-go annotation, if anything. */
function annotationProblem(pod: PodView): string | undefined {
  return pod.dubboGo?.error ?? (pod.dubboGo !== undefined && pod.dubboGo.skipped.length > 0 ? pod.dubboGo.skipped.join('; ') : undefined);
}
