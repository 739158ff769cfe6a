import type { Lookup, Query, Snapshot } from '../model/types.ts';
import { QCLASS, QTYPE } from '../wire/codes.ts';

// Pure: a parsed question and a snapshot -> what kind of answer (CoreDNS's Success / NameError /
// NoData split). Only wire/respond.ts turns this into rcodes and bytes.

/**
 * Looks a question up in a snapshot. `zoneKey` is the apex in wire form; `index` is undefined until
 * the first snapshot is built.
 */
export function lookup(index: Snapshot | undefined, zoneKey: string, query: Query): Lookup {
  if (query.qclass !== QCLASS.IN && query.qclass !== QCLASS.ANY) return { kind: 'refused' };
  // The common case first: a name of the zone, found (and so in the zone) with one map lookup.
  const found = index !== undefined && query.plain ? index.names.get(query.key) : undefined;
  if (found === undefined && !inZone(query.key, zoneKey)) return { kind: 'refused' };
  if (index === undefined) return { kind: 'servfail' };
  switch (query.qtype) {
    case QTYPE.AXFR:
    case QTYPE.IXFR:
      return query.key === zoneKey ? { kind: 'transfer' } : { kind: 'refused' };
    case QTYPE.MAILA:
    case QTYPE.MAILB:
      return { kind: 'notimp' };
    case QTYPE.OPT:
      return { kind: 'formerr' }; // RFC 6891 §6.1.1: OPT is a pseudo-record, never a question
  }
  const node = found;
  if (node === undefined) return { kind: 'nxdomain' };
  const prepared = query.qtype === QTYPE.ANY ? node.any : node.types.get(query.qtype);
  return prepared === undefined ? { kind: 'nodata' } : { kind: 'answer', prepared };
}

/** True when wire-form `key` is the zone or below it, at a label boundary. */
export function inZone(key: string, zoneKey: string): boolean {
  if (key.length < zoneKey.length || !key.endsWith(zoneKey)) return false;
  const boundary = key.length - zoneKey.length;
  let offset = 0;
  while (offset < boundary) offset += key.charCodeAt(offset) + 1;
  return offset === boundary;
}
