import { lookup } from './answer/lookup.ts';
import type { ZoneHolder } from './index/zone-holder.ts';
import { RCODE, rcodeName, typeName } from './wire/codes.ts';
import { parseQuery } from './wire/parse-query.ts';
import { respond, respondBare, TCP_SIZE, udpLimit, type ResponseContext } from './wire/respond.ts';

/** The transport a message came over. */
export type Transport = 'udp' | 'tcp';

/** Observes each answered or dropped message (metrics). */
export interface HandlerObserver {
  answered(transport: Transport, qtype: number, rcode: number, truncated: boolean): void;
  dropped(transport: Transport): void;
}

/** Settings the handler needs beyond the zone. */
export interface HandlerOptions {
  readonly maxUdpSize: number;
  /** RFC 8914 EDE to attach while the data is stale (Kubernetes source); undefined when fresh. */
  readonly ede?: () => ResponseContext['ede'];
}

/**
 * Answers one DNS message: parse (hostile-input guards), look up in the current snapshot, build the
 * response. Returns undefined when the message deserves no answer. Never throws on bad input.
 */
export function createHandler(holder: ZoneHolder, options: HandlerOptions, observer: HandlerObserver) {
  return function handle(packet: Buffer, transport: Transport): Buffer | undefined {
    const parsed = parseQuery(packet);
    switch (parsed.kind) {
      case 'drop':
        observer.dropped(transport);
        return undefined;
      case 'formerr':
      case 'notimp':
        observer.answered(transport, 0, parsed.kind === 'formerr' ? RCODE.FORMERR : RCODE.NOTIMP, false);
        return respondBare(packet, parsed);
      case 'query': {
        const { query } = parsed;
        const index = holder.current;
        const result = lookup(index, holder.zoneKey, query);
        const ctx: ResponseContext = {
          limit: transport === 'udp' ? udpLimit(query, options.maxUdpSize) : TCP_SIZE,
          udpSize: options.maxUdpSize,
          ede: options.ede?.(),
        };
        const response = respond(packet, query, result, index, ctx);
        const truncated = (response[2]! & 0x02) !== 0;
        const rcode = (response[3]! & 0x0f) | (query.edns !== undefined && query.edns.version > 0 ? RCODE.BADVERS : 0);
        observer.answered(transport, query.qtype, rcode, truncated);
        return response;
      }
    }
  };
}

export { rcodeName, typeName };
