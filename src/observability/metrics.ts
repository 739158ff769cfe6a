import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { knownType, rcodeName, typeName } from '../dns/wire/codes.ts';
import { VERSION } from './version.ts';
import { CountingHistogram } from './counting-histogram.ts';

// Two sets of metrics, because with `--workers N` they live in different processes: the zone's (kept
// by whoever reads the source) and the queries' (kept by each process that answers; a cluster's
// primary sums them with prom-client's AggregatorRegistry).

/**
 * The process's own metrics under their standard names (process_*, nodejs_*), so stock dashboards
 * work, and `dubbo_dns_build_info`, which says what runs. One call per registry served over HTTP.
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
}

/** `dubbo_dns_build_info{version,nodejs} 1`. */
export function registerBuildInfo(registry: Registry): void {
  new Gauge({
    name: 'dubbo_dns_build_info',
    help: 'Always 1; the labels say which dubbo-dns and which Node.js run.',
    labelNames: ['version', 'nodejs'] as const,
    registers: [registry],
  }).set({ version: VERSION, nodejs: process.version }, 1);
}

/** CoreDNS's request-duration buckets (plugin.TimeBuckets: 0.25 ms doubling to 8 s). */
const DURATION_BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);
/** CoreDNS's response-size buckets (plugin.SizeBuckets), in bytes. */
const SIZE_BUCKETS = [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16e3, 32e3, 48e3, 64e3];

/** Metrics of the zone and its source. */
export class ZoneMetrics {
  readonly serial: Gauge;
  readonly records: Gauge;
  readonly services: Gauge;
  readonly reloads: Counter;
  readonly reloadFailures: Counter;
  readonly buildSeconds: Histogram;
  readonly guardHolds: Counter;
  readonly guardHeld: Gauge;

  readonly #registry: Registry;

  constructor(registry: Registry) {
    this.#registry = registry;
    const registers = [registry];
    this.serial = new Gauge({ name: 'dubbo_dns_zone_serial', help: 'SOA serial of the zone being served.', registers });
    this.records = new Gauge({ name: 'dubbo_dns_zone_records', help: 'Resource records in the zone being served.', registers });
    this.services = new Gauge({ name: 'dubbo_dns_zone_services', help: 'Dubbo service keys in the zone being served.', registers });
    this.reloads = new Counter({ name: 'dubbo_dns_reloads_total', help: 'Zone snapshots swapped in.', registers });
    this.reloadFailures = new Counter({
      name: 'dubbo_dns_reload_failures_total',
      help: 'Source updates rejected (the last good zone kept serving).',
      registers,
    });
    this.buildSeconds = new Histogram({
      name: 'dubbo_dns_index_build_seconds',
      help: 'Time to build a zone snapshot.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.guardHolds = new Counter({
      name: 'dubbo_dns_guard_holds_total',
      help: 'Mass deregistrations held by the guard for its grace period.',
      registers,
    });
    this.guardHeld = new Gauge({ name: 'dubbo_dns_guard_held_services', help: 'Services whose endpoint drop is being held now.', registers });
  }

  /** Counts the guard starting or stopping to hold a service. */
  guarded(held: boolean): void {
    if (held) {
      this.guardHolds.inc();
      this.guardHeld.inc();
    } else this.guardHeld.dec();
  }

  /** Exposes how old the data is: 0 while it follows its source, else seconds since it last did. */
  trackFreshness(freshness: () => { stale: boolean; asOf: number }): void {
    new Gauge({
      name: 'dubbo_dns_data_age_seconds',
      help: 'Age of the zone data: 0 while it follows its source, else seconds since it was last known current.',
      registers: [this.#registry],
      collect() {
        const f = freshness();
        this.set(f.stale ? Math.max(0, (Date.now() - f.asOf) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'dubbo_dns_data_stale',
      help: '1 while answers come from data that may be behind (API server unreachable or snapshot).',
      registers: [this.#registry],
      collect() {
        this.set(freshness().stale ? 1 : 0);
      },
    });
  }

  /** Records a snapshot that was swapped in. */
  swapped(index: { serial: number; stats: { records: number; services: number } }, buildMs: number): void {
    this.reloads.inc();
    this.buildSeconds.observe(buildMs / 1000);
    this.serial.set(index.serial);
    this.records.set(index.stats.records);
    this.services.set(index.stats.services);
  }
}

/**
 * Metrics of answering queries. Each process that answers has them; with `--workers N` the primary
 * sums them over its workers.
 */
export class QueryMetrics {
  readonly queries: Counter<'transport' | 'qtype' | 'rcode'>;
  /** Shaped like CoreDNS's coredns_dns_request_duration_seconds: time from a parsed message to its reply. */
  readonly duration: CountingHistogram;
  /** Shaped like CoreDNS's coredns_dns_response_size_bytes. */
  readonly responseSize: CountingHistogram;
  /** Queries counted on the hot path since the last scrape, by label set; moved into `queries` on scrape. */
  readonly #pending = new Map<number, { readonly labels: Readonly<Record<'transport' | 'qtype' | 'rcode', string>>; n: number }>();
  readonly dropped: Counter<'transport'>;
  readonly truncated: Counter;
  readonly tcpConnections: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const pending = this.#pending;
    this.queries = new Counter({
      name: 'dubbo_dns_queries_total',
      help: 'DNS queries answered, by transport, query type and response code.',
      labelNames: ['transport', 'qtype', 'rcode'] as const,
      registers,
      collect() {
        for (const p of pending.values()) {
          if (p.n === 0) continue;
          this.inc(p.labels, p.n);
          p.n = 0;
        }
      },
    });
    this.dropped = new Counter({
      name: 'dubbo_dns_dropped_packets_total',
      help: 'Packets dropped without an answer (too short, or not a query).',
      labelNames: ['transport'] as const,
      registers,
    });
    this.truncated = new Counter({
      name: 'dubbo_dns_truncated_responses_total',
      help: 'UDP responses sent with TC=1 because the answer did not fit.',
      registers,
    });
    this.tcpConnections = new Gauge({ name: 'dubbo_dns_tcp_connections', help: 'Open TCP connections.', registers });
    this.duration = new CountingHistogram({
      name: 'dubbo_dns_request_duration_seconds',
      help: 'Time to answer a query, by transport and query type.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.responseSize = new CountingHistogram({
      name: 'dubbo_dns_response_size_bytes',
      help: 'Size of the responses sent, by transport.',
      buckets: SIZE_BUCKETS,
      registers,
    });
  }

  /** What the DNS handler reports each answer to (dns/handler.ts HandlerObserver), counted here. */
  observer(): {
    answered(transport: 'udp' | 'tcp', qtype: number, rcode: number, truncated: boolean, bytes: number, seconds: number): void;
    dropped(transport: 'udp' | 'tcp'): void;
    tcpConnections(open: number): void;
  } {
    // One counting cell per label set, looked up by number on the hot path. Label values come from a
    // bounded set: a packet must not be able to mint new time series.
    const durations = new Map<number, (seconds: number) => void>();
    const sizes = { udp: this.responseSize.labels({ transport: 'udp' }), tcp: this.responseSize.labels({ transport: 'tcp' }) };
    const typeId = (qtype: number): number => (qtype === 0 || knownType(qtype) ? qtype : -1);
    const typeLabel = (type: number): string => (type === -1 ? 'OTHER' : typeName(type));
    const count = (transport: 'udp' | 'tcp', type: number, rcode: number): void => {
      const id = (transport === 'udp' ? 0 : 1) + 2 * (rcode + 32 * (type + 1));
      let cell = this.#pending.get(id);
      if (cell === undefined) {
        cell = { labels: { transport, qtype: typeLabel(type), rcode: rcodeName(rcode) }, n: 0 };
        this.#pending.set(id, cell);
      }
      cell.n++;
    };
    const duration = (transport: 'udp' | 'tcp', type: number): ((seconds: number) => void) => {
      const id = (transport === 'udp' ? 0 : 1) + 2 * (type + 1);
      let observe = durations.get(id);
      if (observe === undefined) {
        observe = this.duration.labels({ transport, type: typeLabel(type) });
        durations.set(id, observe);
      }
      return observe;
    };
    return {
      answered: (transport, qtype, rcode, truncated, bytes, seconds) => {
        const type = typeId(qtype);
        count(transport, type, rcode);
        duration(transport, type)(seconds);
        sizes[transport](bytes);
        if (truncated) this.truncated.inc();
      },
      dropped: (transport) => {
        this.dropped.inc({ transport });
      },
      tcpConnections: (open) => this.tcpConnections.set(open),
    };
  }
}
