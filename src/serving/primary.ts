import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Freshness } from '../dns/index/zone-data.ts';
import { ZoneVersions } from '../dns/index/zone-holder.ts';
import type { ZoneSettings } from '../dns/index/zone-index.ts';
import type { ZoneMetrics } from '../observability/metrics.ts';
import { skippedApplicationsLogger, type Answerers } from './answerers.ts';
import type { ToPrimary, ToWorker } from './messages.ts';

/**
 * A cluster's primary: it decides each version and its serial and hands them to the workers, which
 * answer on the shared sockets (one SOA everywhere). /metrics sums the workers' query metrics.
 */
export function clusterAnswerers(options: ZoneSettings & { readonly workers: number; readonly port: number }, registry: Registry, zoneMetrics: ZoneMetrics, log: Logger): Answerers {
  const aggregator = new AggregatorRegistry();
  const sourceLog = log.child({ component: 'source' });
  const warnSkipped = skippedApplicationsLogger(sourceLog);
  const versions = new ZoneVersions();
  let serial: number | undefined;
  const installed = new Map<number, number>(); // worker id -> serial it serves
  let stopping = false;
  let counted: number | undefined; // the serial last counted as swapped in everywhere
  let freshnessTimer: NodeJS.Timeout | undefined;
  let onAllInstalled: () => void = () => undefined;
  const allInstalled = new Promise<void>((resolve) => (onAllInstalled = resolve));
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const send = (w: Worker, msg: ToWorker): void => void w.send(msg);

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (msg: ToPrimary) => {
      if (msg.type === 'hello' && serial !== undefined) send(worker, { type: 'zone', data: versions.data(), serial });
      if (msg.type !== 'installed') return;
      installed.set(worker.id, msg.serial);
      const everywhere = [...installed.values()].every((s) => s === msg.serial) && installed.size === workers().length;
      if (msg.serial !== serial || !everywhere) return;
      onAllInstalled();
      if (counted === msg.serial) return;
      counted = msg.serial;
      zoneMetrics.swapped({ serial: msg.serial, stats: msg.stats }, msg.buildMs);
      warnSkipped(msg.skippedApplications);
    });
    return worker;
  };

  return {
    accept(update, origin) {
      const next = versions.next(update);
      if (next === undefined) return undefined;
      const first = serial === undefined;
      serial = next.serial;
      sourceLog.info({ origin, serial, services: versions.services, changed: next.delta.put.length, removed: next.delta.drop.length }, first ? 'zone loaded' : 'zone reloaded');
      for (const w of workers()) send(w, { type: 'delta', delta: next.delta, serial });
      return { serial };
    },
    async start(freshness: () => Freshness) {
      // Workers answer with the Stale Answer EDE while the primary's data may be behind.
      let lastStale: boolean | undefined;
      freshnessTimer = setInterval(() => {
        const f = freshness();
        if (f.stale === lastStale && !f.stale) return;
        lastStale = f.stale;
        for (const w of workers()) send(w, { type: 'freshness', freshness: f });
      }, 1000);
      freshnessTimer.unref();
      cluster.on('exit', (worker, code, signal) => {
        installed.delete(worker.id);
        if (stopping) return;
        log.error({ worker: worker.id, code, signal }, 'worker exited; starting another');
        setTimeout(fork, 1000).unref();
      });
      // Each worker binds TCP and UDP; the start is done once every worker listens and has the zone.
      let listeners = 0;
      let dnsPort = options.port;
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
      if (serial !== undefined) await allInstalled;
      return dnsPort;
    },
    readiness() {
      const live = workers().length;
      const ready = serial !== undefined && installed.size >= live && live > 0;
      return { ready, detail: ready ? `zone serial ${serial} in ${live} workers` : `${installed.size}/${live} workers have a zone` };
    },
    async metrics() {
      return `${await registry.metrics()}\n${await aggregator.clusterMetrics()}`;
    },
    async stop() {
      stopping = true;
      clearInterval(freshnessTimer);
      const exits = workers().map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            send(w, { type: 'stop' });
            // A worker that cannot stop in time (stuck, or not started yet) is killed.
            setTimeout(() => w.kill('SIGKILL'), 10_000).unref();
          }),
      );
      await Promise.all(exits);
    },
  };
}
