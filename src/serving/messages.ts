import type { Freshness, ZoneData, ZoneDelta } from '../dns/index/zone-data.ts';
import type { ZoneStats } from '../dns/index/zone-index.ts';

// The worker cluster's protocol (node:cluster IPC): the primary reads the source, decides each
// change and its serial (ZoneVersions) and sends the change to every worker (the whole zone to a
// worker that starts); workers apply it, answer on the shared sockets, and say which serial they serve.

/** Primary -> worker. */
export type ToWorker =
  | { readonly type: 'zone'; readonly data: ZoneData; readonly serial: number }
  | { readonly type: 'delta'; readonly delta: ZoneDelta; readonly serial: number }
  | { readonly type: 'freshness'; readonly freshness: Freshness }
  | { readonly type: 'stop' };

/** Worker -> primary. */
export type ToPrimary =
  /** Listening for messages: anything sent before this would be lost. */
  | { readonly type: 'hello' }
  | { readonly type: 'installed'; readonly serial: number; readonly buildMs: number; readonly stats: ZoneStats; readonly skippedApplications: readonly string[] };
