import type { Logger } from 'pino';
import type { Freshness, ZoneData, ZoneUpdate } from '../dns/index/zone-data.ts';
import type { KubeClient } from '../kube/rest.ts';
import { KubernetesSource } from './kubernetes-source.ts';
import type { GuardOptions } from './deregistration-guard.ts';
import type { RegistryFileError } from './registry-file.ts';
import { RegistryFileSource } from './registry-source.ts';
import { ZooKeeperSource } from './zookeeper-source.ts';
import type { MirrorOptions } from '../zookeeper/mirror.ts';
import { readSnapshot, SnapshotWriter } from './snapshot.ts';
import type { NamespaceScope } from '../kube/scope.ts';

// Where `serve` gets its zone data: a registry file, or the cluster (with the snapshot as the
// failover path). A file delivers whole ZoneData values; the cluster delivers what changed. The
// server does not know which source it has.

/** Where a version of the zone came from (logged with it). */
export type Origin = 'file' | 'kubernetes' | 'zookeeper' | 'snapshot';

/** What a source tells the server. */
export interface SourceSink {
  /** All of the source's data. */
  data(data: ZoneData, origin: Origin): void;
  /** An update: all of the source's data, or what changed since its last one. */
  change(update: ZoneUpdate, origin: Origin): void;
  rejected(error: RegistryFileError): void;
}

/** A running source of zone data. */
export interface ZoneSource {
  /**
   * Starts; resolves when the first data has been delivered, or the source gave up waiting for it,
   * or `signal` aborted (the caller then stops the source).
   */
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  freshness(): Freshness;
  /** For /readyz: what the source is doing. */
  describe(): string;
}

const ALWAYS_FRESH: Freshness = Object.freeze({ stale: false, asOf: 0 });

/** The registry file: never stale; a bad first version is fatal, later bad versions are rejected. */
export function fileSource(file: string, sink: SourceSink, log: Logger): ZoneSource {
  const source = new RegistryFileSource(file, { accepted: (d) => sink.data(d, 'file'), rejected: (e) => sink.rejected(e) }, log);
  return {
    async start() {
      sink.data(await source.load(), 'file');
      source.watch();
    },
    async stop() {
      source.close();
    },
    // A file is always current; one shared value, as this is asked on every query.
    freshness: () => ALWAYS_FRESH,
    describe: () => `registry file ${file}`,
  };
}

/** Options of the Kubernetes source. */
export interface KubernetesSourceSettings {
  readonly client: KubeClient;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly snapshot?: string | undefined;
  /** How long to wait for the first list before serving the snapshot instead. */
  readonly syncTimeoutMs: number;
  /** How long a silent API server may go unnoticed before the data is reported stale (ms). */
  readonly livenessMs?: number | undefined;
  readonly guard?: GuardOptions | undefined;
  readonly onGuard?: (service: string, held: boolean) => void;
}

/**
 * The cluster: managed Services and EndpointSlices. If the first list does not complete within the
 * sync timeout, the snapshot (if any) is served, marked stale, until the API server answers.
 */
export function kubernetesSource(settings: KubernetesSourceSettings, sink: SourceSink, log: Logger): ZoneSource {
  const writer = settings.snapshot === undefined ? undefined : new SnapshotWriter(settings.snapshot, 1000, log.child({ component: 'snapshot' }));
  let synced = false;
  let snapshotAsOf: number | undefined;
  const kube = new KubernetesSource({
    client: settings.client,
    namespaces: settings.namespaces,
    log,
    guard: settings.guard,
    onGuard: settings.onGuard,
    livenessMs: settings.livenessMs,
    onChange: (delta) => {
      // The first delivery replaces whatever was served before (a snapshot): whole data.
      sink.change(synced ? { delta } : { full: kube.data() }, 'kubernetes');
      synced = true;
      writer?.save(() => kube.data(), Date.now());
    },
  });
  return {
    async start(signal) {
      const started = kube.start();
      // A start-up abandoned by a shutdown ends in an AbortError: not a failure.
      started.catch((err: unknown) => (err instanceof DOMException && err.name === 'AbortError' ? undefined : log.error({ err }, 'kubernetes source failed')));
      const snap = await firstDataOrSnapshot(started, settings, 'API server', () => synced, log, signal);
      if (snap !== undefined) {
        snapshotAsOf = snap.asOf;
        sink.data(snap.data, 'snapshot');
      }
    },
    async stop() {
      await kube.stop();
      await writer?.flush();
    },
    freshness() {
      if (synced) return { stale: !kube.connected, asOf: kube.currentAsOf };
      return { stale: true, asOf: snapshotAsOf ?? 0 };
    },
    describe() {
      if (!synced) return snapshotAsOf === undefined ? 'waiting for the API server' : `serving the snapshot from ${new Date(snapshotAsOf).toISOString()}`;
      return kube.connected ? 'watching the API server' : `API server unreachable since ${new Date(kube.currentAsOf).toISOString()}; serving the last data`;
    },
  };
}

/** Options of the ZooKeeper source. */
export interface ZooKeeperSourceSettings extends MirrorOptions {
  readonly namespace: string;
  readonly snapshot?: string | undefined;
  /** How long to wait for the first read of the registry before serving the snapshot instead. */
  readonly syncTimeoutMs: number;
  readonly guard?: GuardOptions | undefined;
  readonly onGuard?: (service: string, held: boolean) => void;
}

/**
 * The registry itself: providers registered in ZooKeeper. While ZooKeeper is away the last data is
 * served, stale; if the first read does not complete within the sync timeout, the snapshot (if any).
 */
export function zooKeeperZoneSource(settings: ZooKeeperSourceSettings, sink: SourceSink, log: Logger): ZoneSource {
  const writer = settings.snapshot === undefined ? undefined : new SnapshotWriter(settings.snapshot, 1000, log.child({ component: 'snapshot' }));
  let synced = false;
  let snapshotAsOf: number | undefined;
  const deliver = (update: ZoneUpdate): void => {
    sink.change(update, 'zookeeper');
    synced = true;
    writer?.save(() => zk.data(), Date.now());
  };
  const zk = new ZooKeeperSource(
    {
      ...settings,
      // The first delivery replaces whatever was served before (a snapshot): whole data.
      onChange: (delta) => deliver(synced ? { delta } : { full: zk.data() }),
    },
    log,
  );
  return {
    async start(signal) {
      // An empty registry changes nothing, yet it is the first data: deliver it.
      const started = zk.start().then(() => (synced ? undefined : deliver({ full: zk.data() })));
      const snap = await firstDataOrSnapshot(started, settings, 'ZooKeeper', () => synced, log, signal);
      if (snap !== undefined) {
        snapshotAsOf = snap.asOf;
        sink.data(snap.data, 'snapshot');
      }
    },
    async stop() {
      await zk.stop();
      await writer?.flush();
    },
    freshness() {
      if (synced) return { stale: zk.mirror.state() !== 'synced', asOf: zk.mirror.currentAsOf };
      return { stale: true, asOf: snapshotAsOf ?? 0 };
    },
    describe() {
      if (!synced) return snapshotAsOf === undefined ? 'waiting for ZooKeeper' : `serving the snapshot from ${new Date(snapshotAsOf).toISOString()}`;
      if (zk.mirror.state() === 'synced') return `mirroring ZooKeeper ${settings.servers}`;
      return `ZooKeeper unreachable since ${new Date(zk.mirror.currentAsOf).toISOString()}; serving the last data`;
    },
  };
}

/**
 * Waits for a source's first data (`started`) for at most `syncTimeoutMs`; past that, reads the
 * snapshot file and returns it, unless the source has delivered meanwhile (`synced()`). Logs why
 * nothing is served when there is no snapshot. Undefined when there is nothing to serve from it.
 */
export async function firstDataOrSnapshot(
  started: Promise<void>,
  settings: { readonly syncTimeoutMs: number; readonly snapshot?: string | undefined },
  what: string,
  synced: () => boolean,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<{ readonly data: ZoneData; readonly asOf: number } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timedOut = await Promise.race([
    started.then(
      () => false,
      () => false,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), settings.syncTimeoutMs))),
    new Promise<boolean>((r) => {
      onAbort = () => r(false);
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
  clearTimeout(timer);
  if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted === true || !timedOut) return undefined;
  if (settings.snapshot === undefined) {
    log.warn({ waitedMs: settings.syncTimeoutMs }, `${what} not reachable and no --snapshot: answering SERVFAIL until it is`);
    return undefined;
  }
  try {
    const snap = await readSnapshot(settings.snapshot);
    if (snap === undefined) {
      log.warn({ file: settings.snapshot }, `${what} not reachable and no snapshot yet: answering SERVFAIL until it is`);
      return undefined;
    }
    if (synced()) return undefined;
    log.warn({ file: settings.snapshot, asOf: new Date(snap.asOf).toISOString(), services: snap.data.services.length }, `${what} not reachable: serving the snapshot`);
    return snap;
  } catch (err) {
    log.error({ file: settings.snapshot, err: (err as Error).message }, 'snapshot unusable');
    return undefined;
  }
}
