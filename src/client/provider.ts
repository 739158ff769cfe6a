import { addressLabel } from '../dubbo/naming.ts';
import { formatProviderUrl } from '../dubbo/provider-url.ts';
import type { ServiceKey } from '../dubbo/service-key.ts';

// Pure: what one SRV record, its target's address and the two TXT records (service and instance,
// docs/records.md) say about one provider, as the plain object the client hands out.

/** One ready provider of a service, in the shape of Node's `dns.resolveSrv` results plus Dubbo's view. */
export interface Provider {
  /** IPv4 or IPv6 address. */
  readonly address: string;
  readonly port: number;
  /** SRV weight (Dubbo `weight`, default 100). */
  readonly weight: number;
  /** Dubbo protocol (`dubbo`, `tri`, ...). */
  readonly protocol: string;
  /** The endpoint's host name (pod name) when it published one. */
  readonly hostname?: string;
  /** The Dubbo provider URL `protocol://address:port/interface?params`, parameters sorted. */
  readonly url: string;
  /** The URL's parameters: service metadata, overridden by the instance's own. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** TXT keys that describe the record, not a URL parameter. */
const NOT_PARAMETERS = new Set(['txtvers', 'protocol']);

/** Builds one provider. `target` is the SRV target `E.S.N.Z`; `E` is the hostname unless it spells the address. */
export function buildProvider(
  key: ServiceKey,
  protocol: string,
  srv: { readonly port: number; readonly weight: number; readonly target: string },
  address: string,
  service: Readonly<Record<string, string>>,
  instance: Readonly<Record<string, string>>,
): Provider {
  const metadata: Record<string, string> = {};
  for (const params of [service, instance]) for (const [k, v] of Object.entries(params)) if (!NOT_PARAMETERS.has(k)) metadata[k] = v;
  metadata['interface'] = key.interface;
  if (key.group !== '') metadata['group'] = key.group;
  else delete metadata['group'];
  if (key.version !== '') metadata['version'] = key.version;
  else delete metadata['version'];
  const sorted = Object.fromEntries(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const label = srv.target.toLowerCase().split('.')[0] ?? '';
  const provider: Provider = {
    address,
    port: srv.port,
    weight: srv.weight,
    protocol,
    ...(label === '' || label === addressLabel(address) ? {} : { hostname: label }),
    url: formatProviderUrl(protocol, address, srv.port, key.interface, sorted),
    metadata: sorted,
  };
  return provider;
}

/** Providers in a stable order (address, then port), so equal sets compare equal. */
export function sortProviders(providers: readonly Provider[]): Provider[] {
  return [...providers].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}
