import { serviceLabel } from '../../dubbo/naming.ts';
import { compareProtocols } from '../../dubbo/protocols.ts';
import type { Rdata, RRset } from '../model/types.ts';
import { endpointLabels } from './records.ts';
import type { EndpointData, ServiceData } from './zone-data.ts';

// Pure: application-level names (docs/records.md, `A.app.N.Z`), what Dubbo 3's application-level
// discovery asks for. Dubbo Java's `dns` service discovery resolves `addressPrefix + application +
// addressSuffix`: A/AAAA give the instances, and the port of the FIRST SRV record is used for every
// instance (it then asks each instance's MetadataService there, over `dubbo` by default). So the
// SRV records of an application are ordered by protocol (dubbo, tri, grpc, rest, then others by
// name), then port, then address: the first one is the `dubbo` port whenever the application has one.

/** RFC 1123 §2.1 host label, lowercase: what an application name must be to be published. */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The label an application is published under (its name, lowercased), or undefined when it is not a valid DNS label. */
export function applicationLabel(application: string): string | undefined {
  const label = application.toLowerCase();
  return LABEL.test(label) ? label : undefined;
}

/** `A.app.N.Z` (zone normalised, trailing dot). */
export function applicationName(label: string, namespace: string, zone: string): string {
  return `${label}.app.${namespace}.${zone}`;
}

/** The applications a service's providers belong to. */
export interface ServiceApplications {
  /** Labels of the applications, sorted, without duplicates. */
  readonly labels: readonly string[];
  /** Application names that are not valid DNS labels (not published), sorted, without duplicates. */
  readonly skipped: readonly string[];
}

const NONE: ServiceApplications = Object.freeze({ labels: Object.freeze([]), skipped: Object.freeze([]) });

/** The application of one endpoint: its own `application` parameter, else the service's. */
function applicationOf(service: ServiceData, endpoint: EndpointData | undefined): string | undefined {
  const name = endpoint?.params['application'] ?? service.params['application'];
  return name === undefined || name === '' ? undefined : name;
}

/**
 * The applications one service contributes to: every endpoint's (ready or not, so an application
 * whose providers are all unready still exists, with no records), or the service's own when it has
 * no endpoint.
 */
export function serviceApplications(service: ServiceData): ServiceApplications {
  const names = new Set<string>();
  if (service.endpoints.length === 0) {
    const own = applicationOf(service, undefined);
    if (own !== undefined) names.add(own);
  }
  for (const e of service.endpoints) {
    const name = applicationOf(service, e);
    if (name !== undefined) names.add(name);
  }
  if (names.size === 0) return NONE;
  const labels = new Set<string>();
  const skipped: string[] = [];
  for (const name of names) {
    const label = applicationLabel(name);
    if (label === undefined) skipped.push(name);
    else labels.add(label);
  }
  return { labels: [...labels].sort(), skipped: skipped.sort() };
}

/** The records of one application and, for the additional section, its SRV targets' addresses. */
export interface ApplicationRecords {
  /** A, AAAA and SRV at `A.app.N.Z` (RRsets with records only). */
  readonly rrsets: readonly RRset[];
  /** SRV target -> its A or AAAA RRset. */
  readonly glue: ReadonlyMap<string, readonly RRset[]>;
}

/**
 * The records of application `label` in `namespace`, from the services that may have providers in
 * it (in a stable order: the first service naming an address and port gives its weight and
 * target). Ready endpoints only; addresses deduplicated; one SRV per address and port, its target
 * the endpoint's own name `E.S.N.Z`.
 */
export function applicationRecords(label: string, namespace: string, zone: string, services: readonly ServiceData[]): ApplicationRecords {
  const owner = applicationName(label, namespace, zone);
  const srv = new Map<string, { protocol: string; port: number; weight: number; address: string; target: string }>();
  const addresses = new Set<string>();
  for (const service of services) {
    const ready = service.endpoints.filter((e) => e.ready);
    const mine = ready.filter((e) => {
      const name = applicationOf(service, e);
      return name !== undefined && applicationLabel(name) === label;
    });
    if (mine.length === 0) continue;
    const labelOf = endpointLabels(ready);
    const base = `${serviceLabel(service.key)}.${namespace}.${zone}`;
    for (const e of mine) {
      addresses.add(e.address);
      const id = `${e.address}|${e.port}`;
      if (!srv.has(id)) srv.set(id, { protocol: e.protocol, port: e.port, weight: e.weight, address: e.address, target: `${labelOf.get(e.address)}.${base}` });
    }
  }
  const family = (address: string): 'A' | 'AAAA' => (address.includes(':') ? 'AAAA' : 'A');
  const sorted = [...addresses].sort();
  const records = [...srv.values()].sort((a, b) => compareProtocols(a.protocol, b.protocol) || a.port - b.port || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const rrsets: RRset[] = [];
  for (const type of ['A', 'AAAA'] as const) {
    const list: Rdata[] = sorted.filter((a) => family(a) === type).map((address) => ({ type, address }));
    if (list.length > 0) rrsets.push({ name: owner, type, records: list });
  }
  if (records.length > 0) rrsets.push({ name: owner, type: 'SRV', records: records.map((r): Rdata => ({ type: 'SRV', priority: 0, weight: r.weight, port: r.port, target: r.target })) });
  const glue = new Map<string, RRset[]>();
  for (const r of records) if (!glue.has(r.target)) glue.set(r.target, [{ name: r.target, type: family(r.address), records: [{ type: family(r.address), address: r.address }] }]);
  return { rrsets, glue };
}
