import { lookup } from './answer/lookup.ts';
import type { ZoneHolder } from './index/zone-holder.ts';
import type { Freshness } from './index/zone-data.ts';
import { EDE, QTYPE, RCODE } from './wire/codes.ts';
import { soaOnly, transferMessages } from './wire/transfer.ts';
import { parseQuery } from './wire/parse-query.ts';
import { respond, respondBare, TCP_SIZE, udpLimit, type ResponseContext } from './wire/respond.ts';

/** The transport a message came over. */
export type Transport = 'udp' | 'tcp';

/** Observes each answered or dropped message (metrics). */
export interface HandlerObserver {
  /** One reply: `bytes` long, built in `seconds` from the message's arrival in the handler. */
  answered(transport: Transport, qtype: number, rcode: number, truncated: boolean, bytes: number, seconds: number): void;
  dropped(transport: Transport): void;
}

/** Settings the handler needs beyond the zone. */
export interface HandlerOptions {
  readonly maxUdpSize: number;
  /** Whether a client address may transfer the zone (`--allow-transfer`); none by default. */
  readonly allowTransfer?: (address: string) => boolean;
  /** How current the data is: while stale, EDNS answers carry the RFC 8914 Stale Answer EDE. */
  readonly freshness?: () => Freshness;
}

/**
 * Answers one DNS message: parse (hostile-input guards), look up in the current snapshot, build the
 * response. Returns undefined when the message deserves no answer. Never throws on bad input.
 */
export function createHandler(holder: ZoneHolder, options: HandlerOptions, observer: HandlerObserver) {
  const handle = function handle(packet: Buffer, transport: Transport, peer = ''): Buffer | undefined {
    const start = performance.now();
    const parsed = parseQuery(packet);
    switch (parsed.kind) {
      case 'drop':
        observer.dropped(transport);
        return undefined;
      case 'formerr':
      case 'notimp':
        const bare = respondBare(packet, parsed);
        observer.answered(transport, 0, parsed.kind === 'formerr' ? RCODE.FORMERR : RCODE.NOTIMP, false, bare.length, (performance.now() - start) / 1000);
        return bare;
      case 'query': {
        const { query } = parsed;
        const index = holder.current;
        const result = lookup(index, holder.zoneKey, query);
        // AXFR needs TCP (RFC 5936 §4.2, see `transfer`); an IXFR over UDP gets the SOA alone,
        // telling the client to come back over TCP (RFC 1995 §2).
        if (result.kind === 'transfer' && index !== undefined && transport === 'udp' && query.qtype === QTYPE.IXFR && options.allowTransfer?.(peer) === true) {
          const soa = soaOnly(packet, query, index);
          observer.answered(transport, query.qtype, RCODE.NOERROR, false, soa.length, (performance.now() - start) / 1000);
          return soa;
        }
        const ctx: ResponseContext = {
          limit: transport === 'udp' ? udpLimit(query, options.maxUdpSize) : TCP_SIZE,
          udpSize: options.maxUdpSize,
          ede: staleAnswer(options.freshness?.()),
        };
        const response = respond(packet, query, result, index, ctx);
        const truncated = (response[2]! & 0x02) !== 0;
        const rcode = (response[3]! & 0x0f) | (query.edns !== undefined && query.edns.version > 0 ? RCODE.BADVERS : 0);
        observer.answered(transport, query.qtype, rcode, truncated, response.length, (performance.now() - start) / 1000);
        return response;
      }
    }
  };
  /** A zone transfer over TCP for an allowed client, as several messages; undefined when the message is not one. */
  const transfer = (packet: Buffer, peer: string): Buffer[] | undefined => {
    const parsed = parseQuery(packet);
    if (parsed.kind !== 'query' || (parsed.query.qtype !== QTYPE.AXFR && parsed.query.qtype !== QTYPE.IXFR)) return undefined;
    const index = holder.current;
    if (index === undefined || lookup(index, holder.zoneKey, parsed.query).kind !== 'transfer' || options.allowTransfer?.(peer) !== true) return undefined;
    if (parsed.query.edns !== undefined && parsed.query.edns.version > 0) return undefined;
    const start = performance.now();
    const messages = transferMessages(packet, parsed.query, index);
    observer.answered('tcp', parsed.query.qtype, RCODE.NOERROR, false, messages.reduce((n, m) => n + m.length, 0), (performance.now() - start) / 1000);
    return messages;
  };
  return Object.assign(handle, { transfer });
}

/** RFC 8914 §4.4 Stale Answer, while the data may be behind. */
function staleAnswer(freshness: Freshness | undefined): ResponseContext['ede'] {
  if (freshness?.stale !== true) return undefined;
  return { code: EDE.STALE_ANSWER, text: `data as of ${new Date(freshness.asOf).toISOString()}` };
}

/** The handler: answers one message; `transfer` answers an allowed AXFR/IXFR over TCP. */
export type Handler = ReturnType<typeof createHandler>;

