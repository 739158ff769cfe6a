import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { registerProcessMetrics } from './metrics.ts';

/** The controller's Prometheus metrics. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'dubbo_dns_controller_reconciles_total',
    help: 'Reconciles by kind (service key or DubboService status) and result.',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'dubbo_dns_controller_reconcile_duration_seconds',
    help: 'Time to reconcile one key.',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'dubbo_dns_controller_api_writes_total',
    help: 'Write requests sent to the API server, by verb and kind.',
    labelNames: ['verb', 'kind'] as const,
    registers: [this.registry],
  });
  readonly queueDepth: Gauge;
  readonly managed: Gauge<'kind'>;
  readonly leader = new Gauge({ name: 'dubbo_dns_controller_leader', help: '1 while this replica holds the lease.', registers: [this.registry] });
  readonly registrySynced = new Gauge({
    name: 'dubbo_dns_controller_registry_synced',
    help: '1 while the ZooKeeper registry (--zookeeper) is connected and fully read; its namespace is written only then.',
    registers: [this.registry],
  });

  constructor(depth: () => number, managed: () => { services: number; slices: number }) {
    this.queueDepth = new Gauge({
      name: 'dubbo_dns_controller_queue_depth',
      help: 'Keys waiting or being reconciled.',
      registers: [this.registry],
      collect() {
        this.set(depth());
      },
    });
    this.managed = new Gauge({
      name: 'dubbo_dns_controller_managed_objects',
      help: 'Objects carrying our managed-by label, by kind.',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      collect() {
        const m = managed();
        this.set({ kind: 'Service' }, m.services);
        this.set({ kind: 'EndpointSlice' }, m.slices);
      },
    });
    registerProcessMetrics(this.registry);
  }
}
