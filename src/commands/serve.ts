import cluster, { type Worker } from 'node:cluster';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createHandler } from '../dns/handler.ts';
import type { ZoneData } from '../dns/index/zone-data.ts';
import { ZoneHolder } from '../dns/index/zone-holder.ts';
import { nextSerial } from '../dns/index/zone-index.ts';
import { DEFAULT_TCP_LIMITS, startDnsServer, type DnsServer } from '../dns/server.ts';
import { EDE, knownType, rcodeName, typeName } from '../dns/wire/codes.ts';
import { startHttp, type Readiness } from '../observability/http.ts';
import { QueryMetrics, registerBuildInfo, registerProcessMetrics, ZoneMetrics } from '../observability/metrics.ts';
import type { RegistryFileError } from '../source/registry-file.ts';
import { fileSource, kubernetesSource, type Freshness, type SourceSink, type ZoneSource } from '../source/zone-source.ts';
import type { KubeClient } from '../kube/rest.ts';
import type { NamespaceScope } from '../kube/scope.ts';
import type { HostPort } from '../config/parse.ts';
import type { AddressFilter } from '../config/cidr.ts';
import { Notifier } from '../dns/notify.ts';
import type { GuardOptions } from '../source/deregistration-guard.ts';

/** Settings of `dubbo-dns serve`. */
export interface ServeOptions {
  /** File mode: the registry file. */
  readonly registry?: string | undefined;
  /** Kubernetes mode: the managed Services and EndpointSlices. */
  readonly kubernetes?:
    | { readonly client: KubeClient; readonly namespaces?: NamespaceScope; readonly snapshot?: string | undefined; readonly syncTimeoutMs: number; readonly guard?: GuardOptions | undefined }
    | undefined;
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
  if (cluster.isWorker) return serveWorker(options, log.child({ worker: cluster.worker?.id }));
  if (options.workers > 1) return servePrimary(options, log, signal);
  return serveSingle(options, log, signal);
}

/** Starts a source; when `signal` aborted meanwhile, stops it again and throws. */
async function startSource(source: ZoneSource, signal: AbortSignal | undefined): Promise<void> {
  await source.start(signal);
  if (signal?.aborted !== true) return;
  await source.stop();
  signal.throwIfAborted();
}

/** Messages between a cluster's primary and its workers. */
type ToWorker =
  | { readonly type: 'zone'; readonly data: ZoneData; readonly serial: number }
  | { readonly type: 'freshness'; readonly freshness: Freshness }
  | { readonly type: 'stop' };
type ToPrimary =
  | { readonly type: 'hello' }
  | {
      readonly type: 'installed';
      readonly serial: number;
      readonly buildMs: number;
      readonly stats: { records: number; services: number; endpoints: number };
      readonly skippedApplications: readonly string[];
    };

/**
 * Warns once about each application name that cannot be published (not a DNS label), when it first
 * shows up in a build; again only if it goes away and comes back.
 */
function skippedApplicationsLogger(log: Logger): (skipped: readonly string[]) => void {
  let warned = new Set<string>();
  return (skipped) => {
    for (const application of skipped) {
      if (!warned.has(application)) log.warn({ application }, 'application name is not a DNS label: no application-level name (A.app.N.Z) published for it');
    }
    warned = new Set(skipped);
  };
}

function rejectedLogger(log: Logger, metrics: ZoneMetrics) {
  return (err: RegistryFileError): void => {
    metrics.reloadFailures.inc();
    log.warn({ file: err.file, problems: err.problems }, 'registry file rejected; still serving the last good zone');
  };
}

function createSource(options: ServeOptions, sink: SourceSink, log: Logger, metrics: ZoneMetrics): ZoneSource {
  if (options.kubernetes !== undefined) {
    return kubernetesSource({ ...options.kubernetes, onGuard: (_service, held) => metrics.guarded(held) }, sink, log.child({ component: 'kubernetes' }));
  }
  if (options.registry !== undefined) return fileSource(options.registry, sink, log.child({ component: 'registry-file', file: options.registry }));
  throw new Error('serve needs --registry FILE or --kubernetes');
}

/** RFC 8914 §4.4 Stale Answer, while the data may be behind. */
function staleEde(freshness: () => Freshness) {
  return () => {
    const f = freshness();
    return f.stale ? { code: EDE.STALE_ANSWER, text: `data as of ${new Date(f.asOf).toISOString()}` } : undefined;
  };
}

function queryObserver(metrics: QueryMetrics) {
  // One labelled child per label set, looked up by number on the hot path. Label values come from a
  // bounded set: a packet must not be able to mint new time series.
  const children = new Map<number, { inc(): void }>();
  const durations = new Map<number, { observe(v: number): void }>();
  const sizes = { udp: metrics.responseSize.labels({ transport: 'udp' }), tcp: metrics.responseSize.labels({ transport: 'tcp' }) };
  const typeId = (qtype: number): number => (qtype === 0 || knownType(qtype) ? qtype : -1);
  const typeLabel = (type: number): string => (type === -1 ? 'OTHER' : typeName(type));
  const counter = (transport: 'udp' | 'tcp', type: number, rcode: number): { inc(): void } => {
    const id = (transport === 'udp' ? 0 : 1) + 2 * (rcode + 32 * (type + 1));
    let child = children.get(id);
    if (child === undefined) {
      child = metrics.queries.labels({ transport, qtype: typeLabel(type), rcode: rcodeName(rcode) });
      children.set(id, child);
    }
    return child;
  };
  const duration = (transport: 'udp' | 'tcp', type: number): { observe(v: number): void } => {
    const id = (transport === 'udp' ? 0 : 1) + 2 * (type + 1);
    let child = durations.get(id);
    if (child === undefined) {
      child = metrics.duration.labels({ transport, type: typeLabel(type) });
      durations.set(id, child);
    }
    return child;
  };
  return {
    answered(transport: 'udp' | 'tcp', qtype: number, rcode: number, truncated: boolean, bytes: number, seconds: number) {
      const type = typeId(qtype);
      counter(transport, type, rcode).inc();
      duration(transport, type).observe(seconds);
      sizes[transport].observe(bytes);
      if (truncated) metrics.truncated.inc();
    },
    dropped(transport: 'udp' | 'tcp') {
      metrics.dropped.inc({ transport });
    },
  };
}

async function startServing(options: ServeOptions, holder: ZoneHolder, metrics: QueryMetrics, freshness: () => Freshness, log: Logger): Promise<DnsServer> {
  const handle = createHandler(holder, { maxUdpSize: options.maxUdpSize, ede: staleEde(freshness), allowTransfer: options.allowTransfer }, queryObserver(metrics));
  return startDnsServer({
    host: options.listen.host,
    port: options.listen.port,
    handle,
    transfer: handle.transfer,
    log: log.child({ component: 'dns' }),
    tcp: { ...DEFAULT_TCP_LIMITS, idleTimeoutMs: options.tcpIdleTimeout, maxConnections: options.maxTcpConnections },
    onConnections: (n) => metrics.tcpConnections.set(n),
  });
}

async function maybeHttp(options: ServeOptions, metrics: () => Promise<{ text: string; contentType: string }>, readiness: () => Readiness, log: Logger): Promise<Server | undefined> {
  if (options.httpListen === undefined) return undefined;
  return startHttp(options.httpListen, metrics, readiness, log.child({ component: 'http' }));
}

function started(log: Logger, options: ServeOptions, zone: string, dnsPort: number, http: Server | undefined): void {
  const a = http?.address();
  log.info(
    { zone, listen: `${options.listen.host}:${dnsPort}`, http: typeof a === 'object' && a !== null ? `${a.address}:${a.port}` : undefined, workers: options.workers },
    'dns server started',
  );
}

/** One process: reads the source, holds the zone, answers queries. */
async function serveSingle(options: ServeOptions, log: Logger, signal: AbortSignal | undefined): Promise<RunningServe> {
  const registry = new Registry();
  const zoneMetrics = new ZoneMetrics(registry);
  const queryMetrics = new QueryMetrics(registry);
  registerProcessMetrics(registry);
  const holder = new ZoneHolder({ zone: options.zone, ttl: options.ttl, nameserverAddresses: options.nameserverAddress });
  const sourceLog = log.child({ component: 'source' });
  const notifier = options.notify === undefined || options.notify.length === 0 ? undefined : new Notifier(options.notify, holder.settings.zone, log.child({ component: 'notify' }));
  const warnSkipped = skippedApplicationsLogger(sourceLog);
  const source = createSource(
    options,
    {
      data(data, origin) {
        const first = holder.current === undefined;
        const result = holder.update(data);
        if (!result.changed) return;
        zoneMetrics.swapped(result.index, result.buildMs);
        notifier?.notify(result.index.serial, result.index.transferRecords().next().value);
        const { serial, stats } = result.index;
        sourceLog.info({ origin, serial, ...stats, buildMs: round(result.buildMs) }, first ? 'zone loaded' : 'zone reloaded');
        warnSkipped(result.index.skippedApplications);
      },
      rejected: rejectedLogger(sourceLog, zoneMetrics),
    },
    log,
    zoneMetrics,
  );
  zoneMetrics.trackFreshness(() => source.freshness());
  await startSource(source, signal);

  const dns = await startServing(options, holder, queryMetrics, () => source.freshness(), log);
  const shutdown = lameduck(options.lameduckMs, log);
  const http = await maybeHttp(
    options,
    async () => ({ text: await registry.metrics(), contentType: registry.contentType }),
    shutdown.readiness(() => {
      const index = holder.current;
      return index === undefined
        ? { ready: false, detail: `no zone yet (${source.describe()})` }
        : { ready: true, detail: `zone ${index.zone} serial ${index.serial}, ${index.stats.services} services; ${source.describe()}` };
    }),
    log,
  );
  started(log, options, holder.settings.zone, dns.udpPort, http);
  return {
    dnsPort: dns.udpPort,
    async stop() {
      await shutdown.begin();
      await dns.close();
      await source.stop();
      await closeHttp(http);
      log.info('dns server stopped');
    },
  };
}

/**
 * Cluster primary: reads the registry, chooses the serial, and hands each version to the workers,
 * which answer on the shared sockets. Serves /metrics (summed over workers) and /readyz.
 */
async function servePrimary(options: ServeOptions, log: Logger, signal: AbortSignal | undefined): Promise<RunningServe> {
  const registry = new Registry();
  const zoneMetrics = new ZoneMetrics(registry);
  // process_* and nodejs_* come from the workers, summed (they answer the queries); the primary adds what runs.
  registerBuildInfo(registry);
  const aggregator = new AggregatorRegistry();
  const sourceLog = log.child({ component: 'source' });
  let zone: { data: ZoneData; serial: number; hash: string } | undefined;
  const installed = new Map<number, number>(); // worker id -> serial it serves
  let stopping = false;
  let counted: number | undefined; // the serial last counted as swapped in everywhere
  const warnSkipped = skippedApplicationsLogger(sourceLog);
  const notifier = options.notify === undefined || options.notify.length === 0 ? undefined : new Notifier(options.notify, options.zone, log.child({ component: 'notify' }));

  const broadcast = (): void => {
    if (zone === undefined) return;
    for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'zone', data: zone.data, serial: zone.serial } satisfies ToWorker);
  };
  const accept = (data: ZoneData, origin: string): void => {
    const hash = createHash('sha256').update(JSON.stringify(data)).digest('hex');
    if (zone?.hash === hash) return;
    const first = zone === undefined;
    zone = { data, serial: nextSerial(zone?.serial), hash };
    sourceLog.info({ origin, serial: zone.serial, services: data.services.length }, first ? 'zone loaded' : 'zone reloaded');
    broadcast();
    notifier?.notify(zone.serial);
  };
  const source = createSource(options, { data: accept, rejected: rejectedLogger(sourceLog, zoneMetrics) }, log, zoneMetrics);
  zoneMetrics.trackFreshness(() => source.freshness());
  await startSource(source, signal);
  // Workers answer with the Stale Answer EDE while the primary's data may be behind.
  let lastStale: boolean | undefined;
  const freshnessTimer = setInterval(() => {
    const freshness = source.freshness();
    if (freshness.stale === lastStale && !freshness.stale) return;
    lastStale = freshness.stale;
    for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'freshness', freshness } satisfies ToWorker);
  }, 1000);
  freshnessTimer.unref();

  let onAllInstalled: () => void = () => undefined;
  const allInstalled = new Promise<void>((resolve) => (onAllInstalled = resolve));
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (msg: ToPrimary) => {
      // A worker says hello once it listens for messages; anything sent before that would be lost.
      if (msg.type === 'hello' && zone !== undefined) worker.send({ type: 'zone', data: zone.data, serial: zone.serial } satisfies ToWorker);
      if (msg.type !== 'installed') return;
      installed.set(worker.id, msg.serial);
      const everywhere = [...installed.values()].every((s) => s === msg.serial) && installed.size === Object.keys(cluster.workers ?? {}).length;
      if (msg.serial === zone?.serial && everywhere) onAllInstalled();
      if (msg.serial === zone?.serial && everywhere && counted !== msg.serial) {
        counted = msg.serial;
        zoneMetrics.swapped({ serial: msg.serial, stats: msg.stats }, msg.buildMs);
        warnSkipped(msg.skippedApplications);
      }
    });
    return worker;
  };
  cluster.on('exit', (worker, code, signal) => {
    installed.delete(worker.id);
    if (stopping) return;
    log.error({ worker: worker.id, code, signal }, 'worker exited; starting another');
    setTimeout(fork, 1000).unref();
  });
  // Each worker binds TCP and UDP; "started" is logged once every worker listens and has the zone.
  let listeners = 0;
  let dnsPort = options.listen.port;
  const allListening = new Promise<void>((resolve) => {
    const onListening = (_w: Worker, address: { port: number }): void => {
      dnsPort = address.port;
      if (++listeners >= 2 * options.workers) {
        cluster.off('listening', onListening);
        resolve();
      }
    };
    cluster.on('listening', onListening);
  });
  for (let i = 0; i < options.workers; i++) fork();
  await allListening;
  if (zone !== undefined) await allInstalled;

  const shutdown = lameduck(options.lameduckMs, log);
  const http = await maybeHttp(
    options,
    async () => {
      const workers = await aggregator.clusterMetrics();
      return { text: `${await registry.metrics()}\n${workers}`, contentType: registry.contentType };
    },
    shutdown.readiness(() => {
      const live = Object.keys(cluster.workers ?? {}).length;
      const ready = zone !== undefined && installed.size >= live && live > 0;
      return { ready, detail: `${ready ? `zone serial ${zone?.serial} in ${live} workers` : `${installed.size}/${live} workers have a zone`}; ${source.describe()}` };
    }),
    log,
  );
  started(log, options, options.zone, dnsPort, http);
  return {
    dnsPort,
    async stop() {
      await shutdown.begin();
      stopping = true;
      clearInterval(freshnessTimer);
      const exits = Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w === undefined || w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.send({ type: 'stop' } satisfies ToWorker);
            // A worker that cannot stop in time (stuck, or not started yet) is killed.
            setTimeout(() => w.kill('SIGKILL'), 10_000).unref();
          }),
      );
      await Promise.all(exits);
      await source.stop();
      await closeHttp(http);
      log.info('dns server stopped');
    },
  };
}

/** Cluster worker: answers queries from the zone the primary sends. */
async function serveWorker(options: ServeOptions, log: Logger): Promise<RunningServe> {
  const registry = new Registry();
  // Constructing an AggregatorRegistry is what makes prom-client answer the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const metrics = new QueryMetrics(registry);
  collectDefaultMetrics({ register: registry });
  const holder = new ZoneHolder({ zone: options.zone, ttl: options.ttl, nameserverAddresses: options.nameserverAddress });
  // Until the first zone arrives, in-zone questions get SERVFAIL (never NXDOMAIN).
  let freshness: Freshness = { stale: false, asOf: Date.now() };
  let dnsReady: Promise<DnsServer> | undefined;
  const stopAndExit = (): void => {
    void (dnsReady ?? Promise.resolve(undefined)).then((dns) => dns?.close()).then(() => process.exit(0));
  };
  // Messages are handled from the start: a stop sent while the sockets are still binding is kept.
  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'zone') {
      const result = holder.install(msg.data, msg.serial);
      const { stats, skippedApplications } = result.index;
      process.send?.({ type: 'installed', serial: msg.serial, buildMs: result.changed ? result.buildMs : 0, stats, skippedApplications } satisfies ToPrimary);
    } else if (msg.type === 'freshness') {
      freshness = msg.freshness;
    } else if (msg.type === 'stop') {
      stopAndExit();
    }
  });
  process.on('disconnect', stopAndExit);
  dnsReady = startServing(options, holder, metrics, () => freshness, log);
  const dns = await dnsReady;
  process.send?.({ type: 'hello' } satisfies ToPrimary);
  return { dnsPort: dns.udpPort, stop: () => dns.close() };
}

/**
 * Lameduck shutdown: once stopping starts, /readyz says 503 for good while DNS keeps answering for
 * `ms`, so load balancers and kube-proxy take this replica out before its sockets close.
 */
function lameduck(ms: number | undefined, log: Logger) {
  let since: number | undefined;
  return {
    /** `readiness`, but never ready once stopping has begun. */
    readiness(readiness: () => Readiness): () => Readiness {
      return () => (since === undefined ? readiness() : { ready: false, detail: `shutting down: answering for ${Math.max(0, Math.ceil(((since + (ms ?? 0)) - Date.now()) / 1000))} s more` });
    },
    /** Turns unready, then waits out the lameduck period. */
    async begin(): Promise<void> {
      since = Date.now();
      if (ms === undefined || ms <= 0) return;
      log.info({ lameduckMs: ms }, 'lameduck: not ready, still answering');
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
  };
}

function closeHttp(http: Server | undefined): Promise<void> {
  return new Promise((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
