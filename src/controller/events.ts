import type { Logger } from 'pino';
import type { KubeApi } from '../kube/rest.ts';

/** The object an Event is about. */
export interface InvolvedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Records core/v1 Events, dropping repeats of the same event within a window (a small spam filter). */
export class EventRecorder {
  readonly #client: Pick<KubeApi, 'request'>;
  readonly #log: Logger;
  readonly #component: string;
  readonly #recent = new Map<string, number>();
  readonly #windowMs: number;
  readonly #mayWrite: () => boolean;

  /** `mayWrite` is asked before each Event is sent (only the leader writes). */
  constructor(client: Pick<KubeApi, 'request'>, log: Logger, mayWrite: () => boolean = () => true, component = 'dubbo-dns-controller', windowMs = 10 * 60_000) {
    this.#client = client;
    this.#mayWrite = mayWrite;
    this.#log = log;
    this.#component = component;
    this.#windowMs = windowMs;
  }

  /** Records an event; failures are logged, never thrown (an Event is never worth a failed reconcile). */
  async record(object: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (!this.#mayWrite()) return;
    const id = `${object.uid}|${type}|${reason}|${message}`;
    const now = Date.now();
    const last = this.#recent.get(id);
    if (last !== undefined && now - last < this.#windowMs) return;
    this.#recent.set(id, now);
    if (this.#recent.size > 10_000) for (const [k, t] of this.#recent) if (now - t >= this.#windowMs) this.#recent.delete(k);
    const time = new Date(now).toISOString();
    try {
      await this.#client.request('POST', `/api/v1/namespaces/${object.namespace}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${object.name}.`, namespace: object.namespace },
          involvedObject: object,
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.#component },
          reportingComponent: this.#component,
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
        },
      });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, object: `${object.namespace}/${object.name}`, reason }, 'could not record event');
    }
  }
}
