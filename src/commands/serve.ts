import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { AddressFilter } from '../config/cidr.ts';
import type { HostPort } from '../config/parse.ts';
import { Notifier } from '../dns/notify.ts';
import type { KubeClient } from '../kube/rest.ts';
import type { NamespaceScope } from '../kube/scope.ts';
import { startHttp } from '../observability/http.ts';
import { lameduck } from '../observability/lameduck.ts';
import { registerBuildInfo, registerProcessMetrics, ZoneMetrics } from '../observability/metrics.ts';
import type { Answerers } from '../serving/answerers.ts';
import { localAnswerers } from '../serving/local.ts';
import { clusterAnswerers } from '../serving/primary.ts';
import { runWorker } from '../serving/worker.ts';
import type { GuardOptions } from '../source/deregistration-guard.ts';
import { fileSource, kubernetesSource, zooKeeperZoneSource, type SourceSink, type ZooKeeperSourceSettings, type ZoneSource } from '../source/zone-source.ts';

// `dubbo-dns serve`, wiring only: a source (registry file or cluster) feeds the answerers (this
// process, or a worker cluster); HTTP serves /metrics and /readyz; SIGTERM goes through lameduck.

/** Settings of `dubbo-dns serve`. */
export interface ServeOptions {
  /** File mode: the registry file. */
  readonly registry?: string | undefined;
  /** Kubernetes mode: the managed Services and EndpointSlices. */
  readonly kubernetes?:
    | { readonly client: KubeClient; readonly namespaces?: NamespaceScope; readonly snapshot?: string | undefined; readonly syncTimeoutMs: number; readonly livenessMs?: number | undefined; readonly guard?: GuardOptions | undefined }
    | undefined;
  /** ZooKeeper mode: the providers registered there. */
  readonly zookeeper?: Omit<ZooKeeperSourceSettings, 'onGuard'> | undefined;
  readonly zone: string;
  readonly listen: HostPort;
  readonly httpListen?: HostPort | undefined;
  readonly ttl: number;
  /** Published at the NS target as its A/AAAA (glue). */
  readonly nameserverAddress?: readonly string[] | undefined;
  readonly maxUdpSize: number;
  readonly tcpIdleTimeout: number;
  readonly maxTcpConnections: number;
  /** Who may transfer the zone (AXFR/IXFR over TCP); nobody when undefined. */
  readonly allowTransfer?: AddressFilter | undefined;
  /** Secondaries to NOTIFY when the serial rises. */
  readonly notify?: readonly HostPort[] | undefined;
  /** Processes answering queries; 1 answers in this process (docs/architecture.md: use every core). */
  readonly workers: number;
  /** On stop: report not ready at once, keep answering this long, then drain (CoreDNS `health { lameduck }`). */
  readonly lameduckMs?: number | undefined;
}

/** A running server. */
export interface RunningServe {
  readonly dnsPort: number;
  stop(): Promise<void>;
}

/**
 * Starts `serve` in the role this process has: single process, cluster primary, or worker.
 * `signal` abandons the start-up (SIGTERM while waiting for the API server): what was started is
 * stopped and this rejects with the abort reason.
 */
export async function serve(options: ServeOptions, log: Logger, signal?: AbortSignal): Promise<RunningServe> {
  const zone = { zone: options.zone, ttl: options.ttl, nameserverAddresses: options.nameserverAddress };
  if (cluster.isWorker) return runWorker({ ...options, ...zone }, log.child({ worker: cluster.worker?.id }));
  const registry = new Registry();
  const zoneMetrics = new ZoneMetrics(registry);
  const inCluster = options.workers > 1;
  // A cluster's process_* and nodejs_* metrics come from its workers (they answer the queries).
  if (inCluster) registerBuildInfo(registry);
  else registerProcessMetrics(registry);
  const sourceLog = log.child({ component: 'source' });
  const answerers: Answerers = inCluster
    ? clusterAnswerers({ ...zone, workers: options.workers, port: options.listen.port }, registry, zoneMetrics, log)
    : localAnswerers({ ...options, ...zone }, registry, zoneMetrics, log);
  const notifier = options.notify === undefined || options.notify.length === 0 ? undefined : new Notifier(options.notify, options.zone, log.child({ component: 'notify' }));
  const sink: SourceSink = {
    data(data, origin) {
      this.change({ full: data }, origin);
    },
    change(update, origin) {
      const accepted = answerers.accept(update, origin);
      if (accepted !== undefined) notifier?.notify(accepted.serial, accepted.soa);
    },
    rejected(err) {
      zoneMetrics.reloadFailures.inc();
      sourceLog.warn({ file: err.file, problems: err.problems }, 'registry file rejected; still serving the last good zone');
    },
  };
  const source = openSource(options, sink, log, zoneMetrics);
  zoneMetrics.trackFreshness(() => source.freshness());
  await source.start(signal);
  if (signal?.aborted === true) {
    await source.stop();
    signal.throwIfAborted();
  }
  const dnsPort = await answerers.start(() => source.freshness());
  const shutdown = lameduck(options.lameduckMs, log);
  const http =
    options.httpListen === undefined
      ? undefined
      : await startHttp(
          options.httpListen,
          async () => ({ text: await answerers.metrics(), contentType: registry.contentType }),
          shutdown.readiness(() => {
            const r = answerers.readiness();
            return { ready: r.ready, detail: `${r.detail}; ${source.describe()}` };
          }),
          log.child({ component: 'http' }),
        );
  const address = http?.address();
  log.info(
    { zone: options.zone, listen: `${options.listen.host}:${dnsPort}`, http: typeof address === 'object' && address !== null ? `${address.address}:${address.port}` : undefined, workers: options.workers },
    'dns server started',
  );
  return {
    dnsPort,
    async stop() {
      await shutdown.begin();
      await answerers.stop();
      await source.stop();
      await closeHttp(http);
      log.info('dns server stopped');
    },
  };
}

function openSource(options: ServeOptions, sink: SourceSink, log: Logger, metrics: ZoneMetrics): ZoneSource {
  if (options.kubernetes !== undefined) {
    return kubernetesSource({ ...options.kubernetes, onGuard: (_service, held) => metrics.guarded(held) }, sink, log.child({ component: 'kubernetes' }));
  }
  if (options.zookeeper !== undefined) {
    return zooKeeperZoneSource({ ...options.zookeeper, onGuard: (_service, held) => metrics.guarded(held) }, sink, log.child({ component: 'zookeeper' }));
  }
  if (options.registry !== undefined) return fileSource(options.registry, sink, log.child({ component: 'registry-file', file: options.registry }));
  throw new Error('serve needs --registry FILE, --kubernetes or --zookeeper');
}

function closeHttp(http: Server | undefined): Promise<void> {
  return new Promise((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
}
