import type { Logger } from 'pino';
import type { Readiness } from './http.ts';

/**
 * Lameduck shutdown (CoreDNS `health { lameduck }`): once stopping starts, /readyz says 503 for good
 * while DNS keeps answering for `ms`, so load balancers and kube-proxy take this replica out before
 * its sockets close.
 */
export function lameduck(ms: number | undefined, log: Logger) {
  let since: number | undefined;
  return {
    /** `readiness`, but never ready once stopping has begun. */
    readiness(readiness: () => Readiness): () => Readiness {
      return () => (since === undefined ? readiness() : { ready: false, detail: `shutting down: answering for ${Math.max(0, Math.ceil((since + (ms ?? 0) - Date.now()) / 1000))} s more` });
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
