import { DESIRED_HASH_ANNOTATION, FIELD_MANAGER } from '../contracts/labels.ts';
import { DUBBO_API, MANAGED_SLICES, objectPath, SERVICES } from '../kube/kinds.ts';
import { KubeError, type KubeApi } from '../kube/rest.ts';
import { objectKey } from '../kube/store.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import { bindSlice, type Manifest } from '../plan/desired.ts';
import type { Write } from '../plan/plan.ts';

// Apply: sends a plan's writes in order. Leadership is checked before every single write, not only
// when a reconcile starts: it can end in between, and a replica that is not the leader any more
// must not write another byte. The executor also remembers the hash of what it applied, so the
// watch echo of our own write is not taken for a change.

/** A write was about to be sent after this replica stopped leading. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor() {
    super('not the leader any more');
  }
}

/** Options of the executor. */
export interface ExecutorOptions {
  readonly client: Pick<KubeApi, 'apply' | 'request'>;
  /** Asked before every write. */
  readonly mayWrite: () => boolean;
  readonly metrics?: ControllerMetrics | undefined;
}

/** What executing a plan did. */
export interface Executed {
  /** How many writes were sent. */
  readonly writes: number;
}

/** Sends writes to the API server. */
export class Executor {
  readonly #o: ExecutorOptions;
  /** `Kind/namespace/name` -> hash we last applied. */
  readonly #applied = new Map<string, string>();

  constructor(options: ExecutorOptions) {
    this.#o = options;
  }

  /** True when a watch event only shows what we just applied (it carries the hash we wrote). */
  isEcho(kind: 'Service' | 'EndpointSlice', key: string, hash: string | undefined): boolean {
    const object = `${kind}/${key}`;
    if (hash === undefined) {
      this.#applied.delete(object);
      return false;
    }
    return this.#applied.get(object) === hash;
  }

  /**
   * Sends `writes` in order. `serviceUid` is the uid of the key's Service when it exists; a slice
   * to bind takes the uid of the Service applied before it. Throws NotLeaderError as soon as this
   * replica may not write, KubeError when a write fails (the writes after it are not sent).
   */
  async execute(writes: readonly Write[], serviceUid: string | undefined): Promise<Executed> {
    let uid = serviceUid;
    let sent = 0;
    for (const w of writes) {
      this.#mayWrite();
      sent++;
      if (w.verb === 'delete') {
        await this.#delete(w.kind, w.namespace, w.name);
      } else if (w.kind === 'Service') {
        const applied = await this.#apply('Service', objectPath(SERVICES, w.manifest.metadata.namespace, w.manifest.metadata.name), w.manifest);
        uid = applied.metadata?.uid ?? uid;
      } else {
        if (w.bind && uid === undefined) throw new Error(`no uid for the Service of EndpointSlice ${w.manifest.metadata.namespace}/${w.manifest.metadata.name}`);
        const manifest = w.bind ? bindSlice(w.manifest, uid!) : w.manifest;
        await this.#apply('EndpointSlice', objectPath(MANAGED_SLICES, manifest.metadata.namespace, manifest.metadata.name), manifest);
      }
    }
    return { writes: sent };
  }

  /** Applies a DubboService's status subresource. */
  async applyStatus(namespace: string, name: string, status: unknown): Promise<void> {
    this.#mayWrite();
    this.#o.metrics?.writes.inc({ verb: 'apply', kind: 'DubboServiceStatus' });
    const path = `${DUBBO_API}/namespaces/${namespace}/dubboservices/${name}/status`;
    await this.#o.client.apply(path, { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace }, status }, FIELD_MANAGER);
  }

  #mayWrite(): void {
    if (!this.#o.mayWrite()) throw new NotLeaderError();
  }

  async #apply(kind: 'Service' | 'EndpointSlice', path: string, manifest: Manifest): Promise<{ metadata?: { uid?: string } }> {
    this.#o.metrics?.writes.inc({ verb: 'apply', kind });
    // Recorded before sending: the watch event of this write may arrive before the response.
    const object = `${kind}/${objectKey(manifest.metadata.namespace, manifest.metadata.name)}`;
    const before = this.#applied.get(object);
    const hash = manifest.metadata.annotations[DESIRED_HASH_ANNOTATION];
    if (hash !== undefined) this.#applied.set(object, hash);
    try {
      return await this.#o.client.apply<{ metadata?: { uid?: string } }>(path, manifest, FIELD_MANAGER);
    } catch (err) {
      if (before === undefined) this.#applied.delete(object);
      else this.#applied.set(object, before);
      throw err;
    }
  }

  async #delete(kind: 'Service' | 'EndpointSlice', namespace: string, name: string): Promise<void> {
    this.#o.metrics?.writes.inc({ verb: 'delete', kind });
    this.#applied.delete(`${kind}/${objectKey(namespace, name)}`);
    try {
      await this.#o.client.request('DELETE', objectPath(kind === 'Service' ? SERVICES : MANAGED_SLICES, namespace, name));
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
  }
}
