import type { Freshness, ZoneUpdate } from '../dns/index/zone-data.ts';
import type { Logger } from 'pino';
import type { Readiness } from '../observability/http.ts';

// Who answers queries with the zone: this process (local.ts), or a cluster of worker processes on
// shared sockets (primary.ts, worker.ts). `serve` wires a source to one of them; both decide what
// is a change and which serial it gets the same way (ZoneVersions).

/** A version that was taken: its serial and the SOA to NOTIFY with (when known here). */
export interface Accepted {
  readonly serial: number;
  readonly soa?: Buffer | undefined;
}

/** The processes that answer. */
export interface Answerers {
  /** Takes a source's update; undefined when the zone answers exactly as before. */
  accept(update: ZoneUpdate, origin: string): Accepted | undefined;
  /** Starts answering; resolves with the DNS port once every answerer listens (and has the zone, if there is one). */
  start(freshness: () => Freshness): Promise<number>;
  /** For /readyz. */
  readiness(): Readiness;
  /** Prometheus text of the answering processes. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Warns once about each application name that cannot be published (not a DNS label), when it first
 * shows up in a build; again only if it goes away and comes back.
 */
export function skippedApplicationsLogger(log: Logger): (skipped: readonly string[]) => void {
  let warned = new Set<string>();
  return (skipped) => {
    for (const application of skipped) {
      if (!warned.has(application)) log.warn({ application }, 'application name is not a DNS label: no application-level name (A.app.N.Z) published for it');
    }
    warned = new Set(skipped);
  };
}
