import { serviceKey, type ServiceKey } from './service-key.ts';

/** One Dubbo provider, as a provider URL describes it. */
export interface ProviderUrl {
  readonly protocol: string;
  /** The address without brackets (IPv4, IPv6, or a host name). */
  readonly host: string;
  readonly port: number;
  readonly key: ServiceKey;
  /** Every URL parameter, decoded; the first occurrence of a key wins. */
  readonly params: Readonly<Record<string, string>>;
}

/** A provider URL that cannot be used, with the reason. */
export class ProviderUrlError extends Error {
  override readonly name = 'ProviderUrlError';
}

/** A provider's protocol as a URL scheme carries it (lowercase). */
export const PROVIDER_PROTOCOL = /^[a-z][a-z0-9+.-]*$/;

/**
 * Parses `proto://host:port/path?params` as ZooKeeper and dubbo-go store it. A URL that is
 * percent-encoded whole (as in a registry path, `dubbo%3A%2F%2F...`) is decoded once first.
 * The `interface` parameter, when present, overrides the path (Dubbo's own rule).
 */
export function parseProviderUrl(text: string): ProviderUrl {
  let raw = text.trim();
  if (!raw.includes('://') && /^[a-z][a-z0-9+.-]*%3a%2f%2f/i.test(raw)) {
    try {
      raw = decodeURIComponent(raw);
    } catch {
      throw new ProviderUrlError(`provider URL is not valid percent-encoding: ${JSON.stringify(text)}`);
    }
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ProviderUrlError(`not a provider URL (want proto://host:port/interface?params): ${JSON.stringify(text)}`);
  }
  const protocol = url.protocol.replace(/:$/, '').toLowerCase();
  if (!PROVIDER_PROTOCOL.test(protocol)) throw new ProviderUrlError(`bad protocol ${JSON.stringify(protocol)} in ${text}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new ProviderUrlError(`provider URL has no host: ${text}`);
  if (url.port === '') throw new ProviderUrlError(`provider URL has no port: ${text}`);
  const port = Number(url.port);
  if (port < 1 || port > 65535) throw new ProviderUrlError(`port ${port} out of range 1-65535 in ${text}`);

  const params: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    if (!(name in params)) params[name] = value;
  }
  let path: string;
  try {
    path = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
  } catch {
    throw new ProviderUrlError(`provider URL path is not valid percent-encoding: ${text}`);
  }
  const iface = params['interface'] ?? path;
  if (iface === '') throw new ProviderUrlError(`provider URL names no interface (path or interface=): ${text}`);
  return { protocol, host, port, key: serviceKey(iface, params['group'], params['version']), params };
}

/**
 * Rebuilds a provider URL `P://address:port/I?key=value&...` (IPv6 in brackets, parameters
 * sorted so the output is stable).
 */
export function formatProviderUrl(protocol: string, address: string, port: number, iface: string, params: Readonly<Record<string, string>>): string {
  const host = address.includes(':') ? `[${address}]` : address;
  const query = new URLSearchParams(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))).toString();
  return `${protocol}://${host}:${port}/${iface}${query === '' ? '' : `?${query}`}`;
}
