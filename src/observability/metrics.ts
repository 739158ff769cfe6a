import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The DNS server's Prometheus metrics, on a registry of its own. */
export class DnsMetrics {
  readonly registry = new Registry();
  readonly queries = new Counter({
    name: 'dubbo_dns_queries_total',
    help: 'DNS queries answered, by transport, query type and response code.',
    labelNames: ['transport', 'qtype', 'rcode'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'dubbo_dns_dropped_packets_total',
    help: 'Packets dropped without an answer (too short, or not a query).',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });
  readonly truncated = new Counter({
    name: 'dubbo_dns_truncated_responses_total',
    help: 'UDP responses sent with TC=1 because the answer did not fit.',
    registers: [this.registry],
  });
  readonly serial = new Gauge({ name: 'dubbo_dns_zone_serial', help: 'SOA serial of the zone being served.', registers: [this.registry] });
  readonly records = new Gauge({ name: 'dubbo_dns_zone_records', help: 'Resource records in the zone being served.', registers: [this.registry] });
  readonly services = new Gauge({ name: 'dubbo_dns_zone_services', help: 'Dubbo service keys in the zone being served.', registers: [this.registry] });
  readonly reloads = new Counter({ name: 'dubbo_dns_reloads_total', help: 'Zone snapshots swapped in.', registers: [this.registry] });
  readonly reloadFailures = new Counter({
    name: 'dubbo_dns_reload_failures_total',
    help: 'Source updates rejected (the last good zone kept serving).',
    registers: [this.registry],
  });
  readonly buildSeconds = new Histogram({
    name: 'dubbo_dns_index_build_seconds',
    help: 'Time to build a zone snapshot.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly tcpConnections = new Gauge({ name: 'dubbo_dns_tcp_connections', help: 'Open TCP connections.', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'dubbo_dns_' });
  }
}
