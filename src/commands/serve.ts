import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createHandler } from '../dns/handler.ts';
import { ZoneHolder } from '../dns/index/zone-holder.ts';
import { startDnsServer } from '../dns/server.ts';
import { typeName, rcodeName } from '../dns/wire/codes.ts';
import { startHttp } from '../observability/http.ts';
import { DnsMetrics } from '../observability/metrics.ts';
import { parseRegistry, RegistryFileError } from '../source/registry-file.ts';
import { watchFile } from '../source/watch-file.ts';
import type { HostPort } from '../config/parse.ts';

/** Settings of `dubbo-dns serve`. */
export interface ServeOptions {
  readonly registry: string;
  readonly zone: string;
  readonly listen: HostPort;
  readonly httpListen?: HostPort | undefined;
  readonly ttl: number;
  readonly maxUdpSize: number;
}

/** A running server, for tests and for the signal handlers. */
export interface RunningServe {
  readonly dnsPort: number;
  readonly httpPort: number | undefined;
  readonly holder: ZoneHolder;
  /** Re-reads the registry file now (the watcher calls this). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the DNS server on a registry file. Rejects when the first load fails (nothing to serve). */
export async function serve(options: ServeOptions, log: Logger): Promise<RunningServe> {
  const metrics = new DnsMetrics();
  const holder = new ZoneHolder({ zone: options.zone, ttl: options.ttl });
  const source = log.child({ component: 'registry-file', file: options.registry });
  let lastHash = '';

  const reload = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(options.registry, 'utf8');
    } catch (err) {
      metrics.reloadFailures.inc();
      source.warn({ err: (err as Error).message }, 'registry file unreadable; still serving the last good zone');
      if (holder.current === undefined) throw new RegistryFileError(options.registry, [{ line: 0, column: 0, field: '', message: `cannot read: ${(err as Error).message}` }]);
      return;
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === lastHash) return;
    try {
      const data = parseRegistry(text, options.registry);
      const result = holder.update(data);
      lastHash = hash;
      if (!result.changed) return;
      const { stats, serial } = result.index;
      metrics.reloads.inc();
      metrics.buildSeconds.observe(result.buildMs / 1000);
      metrics.serial.set(serial);
      metrics.records.set(stats.records);
      metrics.services.set(stats.services);
      source.info({ serial, services: stats.services, endpoints: stats.endpoints, records: stats.records, buildMs: Math.round(result.buildMs * 10) / 10 }, result.previous === undefined ? 'zone loaded' : 'zone reloaded');
    } catch (err) {
      if (!(err instanceof RegistryFileError)) throw err;
      metrics.reloadFailures.inc();
      if (holder.current === undefined) throw err;
      lastHash = hash;
      source.warn({ problems: err.problems }, 'registry file rejected; still serving the last good zone');
    }
  };

  await reload();
  const handle = createHandler(
    holder,
    { maxUdpSize: options.maxUdpSize },
    {
      answered(transport, qtype, rcode, truncated) {
        metrics.queries.inc({ transport, qtype: typeName(qtype), rcode: rcodeName(rcode) });
        if (truncated) metrics.truncated.inc();
      },
      dropped(transport) {
        metrics.dropped.inc({ transport });
      },
    },
  );
  const dnsLog = log.child({ component: 'dns' });
  const dns = await startDnsServer({ host: options.listen.host, port: options.listen.port, handle, log: dnsLog, onConnections: (n) => metrics.tcpConnections.set(n) });
  let http: Server | undefined;
  if (options.httpListen !== undefined) {
    http = await startHttp(
      options.httpListen,
      metrics.registry,
      () => {
        const index = holder.current;
        return index === undefined
          ? { ready: false, detail: 'no zone loaded yet' }
          : { ready: true, detail: `zone ${index.zone} serial ${index.serial}, ${index.stats.services} services` };
      },
      log.child({ component: 'http' }),
    );
  }
  const watcher = watchFile(options.registry, () => {
    reload().catch((err: unknown) => source.error({ err }, 'reload failed'));
  });
  const httpAddress = http?.address();
  log.info(
    { zone: holder.settings.zone, listen: `${options.listen.host}:${dns.udpPort}`, http: typeof httpAddress === 'object' && httpAddress !== null ? `${httpAddress.address}:${httpAddress.port}` : undefined },
    'dns server started',
  );
  return {
    dnsPort: dns.udpPort,
    httpPort: typeof httpAddress === 'object' && httpAddress !== null ? httpAddress.port : undefined,
    holder,
    reload,
    async stop() {
      watcher.close();
      await dns.close();
      await new Promise<void>((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
      log.info('dns server stopped');
    },
  };
}
