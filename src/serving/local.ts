import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { startAnswering, type AnsweringOptions } from '../dns/answering.ts';
import { ZoneHolder } from '../dns/index/zone-holder.ts';
import type { ZoneSettings } from '../dns/index/zone-index.ts';
import type { DnsServer } from '../dns/server.ts';
import { QueryMetrics, type ZoneMetrics } from '../observability/metrics.ts';
import { skippedApplicationsLogger, type Answerers } from './answerers.ts';

/** This process answers: it holds the zone and swaps each version in. */
export function localAnswerers(options: AnsweringOptions & ZoneSettings, registry: Registry, zoneMetrics: ZoneMetrics, log: Logger): Answerers {
  const queryMetrics = new QueryMetrics(registry);
  const holder = new ZoneHolder({ zone: options.zone, ttl: options.ttl, nameserverAddresses: options.nameserverAddresses });
  const sourceLog = log.child({ component: 'source' });
  const warnSkipped = skippedApplicationsLogger(sourceLog);
  let dns: DnsServer | undefined;
  return {
    accept(update, origin) {
      const first = holder.current === undefined;
      const result = holder.update(update);
      if (!result.changed) return undefined;
      zoneMetrics.swapped(result.index, result.buildMs);
      const { serial, stats } = result.index;
      sourceLog.info({ origin, serial, ...stats, buildMs: Math.round(result.buildMs * 10) / 10 }, first ? 'zone loaded' : 'zone reloaded');
      warnSkipped(result.index.skippedApplications);
      return { serial, soa: result.index.soaRecord() };
    },
    async start(freshness) {
      dns = await startAnswering(options, holder, queryMetrics.observer(), freshness, log);
      return dns.udpPort;
    },
    readiness() {
      const index = holder.current;
      return index === undefined ? { ready: false, detail: 'no zone yet' } : { ready: true, detail: `zone ${index.zone} serial ${index.serial}, ${index.stats.services} services` };
    },
    metrics: () => registry.metrics(),
    stop: async () => dns?.close(),
  };
}
