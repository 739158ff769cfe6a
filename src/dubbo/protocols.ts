// The Dubbo protocols whose names dubbo-dns knows without being told: Dubbo's own RPC protocol,
// Triple (Dubbo 3's gRPC-compatible HTTP/2 protocol), plain gRPC, and REST. Any other protocol a
// provider declares is published all the same; these are the ones `dubbo-dns name` lists, and the
// order in which an application's ports are listed (docs/records.md, application names).

/** Known Dubbo protocols, in order of preference. */
export const DUBBO_PROTOCOLS: readonly string[] = Object.freeze(['dubbo', 'tri', 'grpc', 'rest']);

/** Orders protocols: the known ones first, in DUBBO_PROTOCOLS order, then the others by name. */
export function compareProtocols(a: string, b: string): number {
  const ra = DUBBO_PROTOCOLS.indexOf(a);
  const rb = DUBBO_PROTOCOLS.indexOf(b);
  if (ra !== rb) return (ra === -1 ? DUBBO_PROTOCOLS.length : ra) - (rb === -1 ? DUBBO_PROTOCOLS.length : rb);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A protocol name as it can appear in `_P._tcp`: an IANA service name (RFC 6335 §5.1), lowercase. */
export const PROTOCOL_NAME = /^[a-z]([-a-z0-9]{0,13}[a-z0-9])?$/;
