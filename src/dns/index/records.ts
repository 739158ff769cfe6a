import { endpointLabel, addressLabel, serviceLabel } from '../../dubbo/naming.ts';
import { instanceTxt, serviceTxt } from '../../dubbo/metadata.ts';
import type { Rdata, RecordType, RRset } from '../model/types.ts';
import type { EndpointData, ServiceData } from './zone-data.ts';

// Pure: zone data -> the records of docs/records.md, as readable values (no wire bytes here), so the
// naming and record rules are tested without a codec.

/** The records one service key contributes, by owner name (absolute, lowercase, trailing dot). */
export type ServiceRecords = Map<string, RRset[]>;

/** What the SRV owners need to know to add their targets' addresses to the additional section. */
export interface ServiceRecordSet {
  readonly label: string;
  readonly records: ServiceRecords;
}

/**
 * The endpoint label `E` of each ready address of one service: the hostname when it is unique in
 * the service, else the address form. SRV targets are `E.S.N.Z`.
 */
export function endpointLabels(ready: readonly EndpointData[]): Map<string, string> {
  const labelOf = new Map<string, string>();
  const taken = new Map<string, string>();
  for (const e of ready) {
    if (labelOf.has(e.address)) continue;
    let l = endpointLabel(e.address, e.hostname);
    const owner = taken.get(l);
    if (owner !== undefined && owner !== e.address) l = addressLabel(e.address);
    taken.set(l, e.address);
    labelOf.set(e.address, l);
  }
  return labelOf;
}

/** Builds the records of one service in zone `zone` (normalised, trailing dot). */
export function serviceRecords(service: ServiceData, zone: string): ServiceRecordSet {
  const label = serviceLabel(service.key);
  const base = `${label}.${service.namespace}.${zone}`;
  const ready = service.endpoints.filter((e) => e.ready);
  const out: ServiceRecords = new Map();
  const add = (name: string, type: RecordType, records: Rdata[]): void => {
    if (records.length === 0) return;
    const sets = out.get(name) ?? [];
    sets.push({ name, type, records });
    out.set(name, sets);
  };

  const labelOf = endpointLabels(ready);
  const target = (address: string): string => `${labelOf.get(address)}.${base}`;
  const srv = (endpoints: typeof ready): Rdata[] =>
    endpoints.map((e) => ({ type: 'SRV', priority: 0, weight: e.weight, port: e.port, target: target(e.address) }));
  const unique = (family: 'A' | 'AAAA'): Rdata[] => {
    const seen = new Set<string>();
    const records: Rdata[] = [];
    for (const e of ready) {
      if ((e.address.includes(':') ? 'AAAA' : 'A') !== family || seen.has(e.address)) continue;
      seen.add(e.address);
      records.push({ type: family, address: e.address });
    }
    return records;
  };

  const txt: Rdata[] = [{ type: 'TXT', strings: serviceTxt(service.key, service.protocol, service.params) }];
  const primary = ready.filter((e) => e.protocol === service.protocol);
  add(base, 'A', unique('A'));
  add(base, 'AAAA', unique('AAAA'));
  add(base, 'SRV', srv(primary));
  add(base, 'TXT', txt);
  for (const protocol of new Set(ready.map((e) => e.protocol))) {
    add(`_${protocol}._tcp.${base}`, 'SRV', srv(ready.filter((e) => e.protocol === protocol)));
  }
  // RFC 6763 §4: the DNS-SD instance carries the same SRV and TXT as the bare name.
  const instance = `${label}._dubbo._tcp.${service.namespace}.${zone}`;
  add(instance, 'SRV', srv(primary));
  add(instance, 'TXT', txt);
  for (const [address, l] of labelOf) {
    const name = `${l}.${base}`;
    add(name, address.includes(':') ? 'AAAA' : 'A', [{ type: address.includes(':') ? 'AAAA' : 'A', address }]);
    const own = ready.find((e) => e.address === address);
    if (own !== undefined) add(name, 'TXT', [{ type: 'TXT', strings: instanceTxt(own.params, service.params) }]);
  }
  return { label, records: out };
}
