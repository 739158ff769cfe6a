import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import { startAnswering, type AnsweringOptions } from '../dns/answering.ts';
import type { Freshness } from '../dns/index/zone-data.ts';
import { ZoneHolder } from '../dns/index/zone-holder.ts';
import type { ZoneSettings } from '../dns/index/zone-index.ts';
import type { DnsServer } from '../dns/server.ts';
import { QueryMetrics } from '../observability/metrics.ts';
import type { ToPrimary, ToWorker } from './messages.ts';

/** A running worker. */
export interface Worker {
  readonly dnsPort: number;
  stop(): Promise<void>;
}

/** Cluster worker: answers queries from the versions the primary sends. */
export async function runWorker(options: AnsweringOptions & ZoneSettings, log: Logger): Promise<Worker> {
  const registry = new Registry();
  // Constructing an AggregatorRegistry is what makes prom-client answer the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const metrics = new QueryMetrics(registry);
  collectDefaultMetrics({ register: registry });
  const holder = new ZoneHolder({ zone: options.zone, ttl: options.ttl, nameserverAddresses: options.nameserverAddresses });
  // Until the first zone arrives, in-zone questions get SERVFAIL (never NXDOMAIN).
  let freshness: Freshness = { stale: false, asOf: Date.now() };
  let dnsReady: Promise<DnsServer> | undefined;
  const stopAndExit = (): void => {
    void (dnsReady ?? Promise.resolve(undefined)).then((dns) => dns?.close()).then(() => process.exit(0));
  };
  // Messages are handled from the start: a stop sent while the sockets are still binding is kept.
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'zone' || msg.type === 'delta') {
      const result = holder.install(msg.type === 'zone' ? { full: msg.data } : { delta: msg.delta }, msg.serial);
      const { stats, skippedApplications } = result.index;
      process.send?.({ type: 'installed', serial: msg.serial, buildMs: result.buildMs, stats, skippedApplications } satisfies ToPrimary);
    } else if (msg.type === 'freshness') {
      freshness = msg.freshness;
    } else if (msg.type === 'stop') {
      stopAndExit();
    }
  });
  process.on('disconnect', stopAndExit);
  dnsReady = startAnswering(options, holder, metrics.observer(), () => freshness, log.child({ worker: cluster.worker?.id }));
  const dns = await dnsReady;
  process.send?.({ type: 'hello' } satisfies ToPrimary);
  return { dnsPort: dns.udpPort, stop: () => dns.close() };
}
