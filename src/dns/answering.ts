import type { Logger } from 'pino';
import type { AddressFilter } from '../config/cidr.ts';
import type { HostPort } from '../config/parse.ts';
import { createHandler, type HandlerObserver } from './handler.ts';
import type { Freshness } from './index/zone-data.ts';
import type { ZoneHolder } from './index/zone-holder.ts';
import { DEFAULT_TCP_LIMITS, startDnsServer, type DnsServer } from './server.ts';

/** What answering needs to know, whatever process answers. */
export interface AnsweringOptions {
  readonly listen: HostPort;
  readonly maxUdpSize: number;
  readonly tcpIdleTimeout: number;
  readonly maxTcpConnections: number;
  /** Who may transfer the zone (AXFR/IXFR over TCP); nobody when undefined. */
  readonly allowTransfer?: AddressFilter | undefined;
}

/** Answers queries from `holder`'s snapshots on UDP and TCP; every answer is told to `observer`. */
export function startAnswering(options: AnsweringOptions, holder: ZoneHolder, observer: HandlerObserver & { tcpConnections?(n: number): void }, freshness: () => Freshness, log: Logger): Promise<DnsServer> {
  const handle = createHandler(holder, { maxUdpSize: options.maxUdpSize, freshness, allowTransfer: options.allowTransfer }, observer);
  return startDnsServer({
    host: options.listen.host,
    port: options.listen.port,
    handle,
    transfer: handle.transfer,
    log: log.child({ component: 'dns' }),
    tcp: { ...DEFAULT_TCP_LIMITS, idleTimeoutMs: options.tcpIdleTimeout, maxConnections: options.maxTcpConnections },
    onConnections: (n) => observer.tcpConnections?.(n),
  });
}
