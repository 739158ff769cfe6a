import { serviceKeyId, type ServiceKey } from '../../dubbo/service-key.ts';

// The one input of the zone index, whatever the source (registry file or Kubernetes): docs/architecture.md
// "one index, two sources". Plain data, so both sources and the tests can build it.

/** One provider instance of a key. */
export interface EndpointData {
  /** IPv4 or IPv6 address in canonical text form. */
  readonly address: string;
  readonly port: number;
  readonly protocol: string;
  /** Pod name or declared hostname; becomes the endpoint label when it is a valid DNS label. */
  readonly hostname?: string | undefined;
  readonly ready: boolean;
  /** SRV weight: Dubbo `weight`, default 100. */
  readonly weight: number;
  /** This provider's Dubbo parameters (service-wide ones included). */
  readonly params: Readonly<Record<string, string>>;
}

/** One Dubbo service key published in one namespace. */
export interface ServiceData {
  readonly namespace: string;
  readonly key: ServiceKey;
  /** The protocol the bare-name SRV describes (docs/records.md); others get only `_P._tcp` names. */
  readonly protocol: string;
  /** Service-wide parameters (what every provider shares, or what was declared for the service). */
  readonly params: Readonly<Record<string, string>>;
  readonly endpoints: readonly EndpointData[];
}

/** Everything a zone is built from. */
export interface ZoneData {
  readonly services: readonly ServiceData[];
}

/**
 * What changed since a source's last delivery: services added or replaced (matched by namespace
 * and key) and services gone. A source that knows what changed sends this, so the zone's cost of a
 * change is the changed services, not the zone.
 */
export interface ZoneDelta {
  readonly put: readonly ServiceData[];
  /** {@link serviceId}s of the services gone (applied before `put`). */
  readonly drop: readonly string[];
}

/** What a source delivers: all of its data, or what changed since its last delivery. */
export type ZoneUpdate = { readonly full: ZoneData } | { readonly delta: ZoneDelta };

/** A service's identity in a zone: its namespace and key. */
export function serviceId(service: { readonly namespace: string; readonly key: ServiceKey }): string {
  return `${service.namespace}\u0000${serviceKeyId(service.key)}`;
}

/** How current a source's data is. */
export interface Freshness {
  /** True when the data may be behind the truth (API server unreachable, or read from a snapshot). */
  readonly stale: boolean;
  /** When the data was last known to be current (ms since epoch). */
  readonly asOf: number;
}
