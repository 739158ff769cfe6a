import ipaddr from 'ipaddr.js';
import type { EndpointData, ServiceData } from '../dns/index/zone-data.ts';
import { DEFAULT_WEIGHT, isSecretKey, isWeight, sharedParams } from '../dubbo/metadata.ts';
import { ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
import { serviceKeyId } from '../dubbo/service-key.ts';

// Pure: raw Dubbo provider URLs (a registry file's `providers`, ZooKeeper's provider nodes) -> the
// zone data of their keys. One rule for every source that reads provider URLs.

/** The parameters a provider URL may publish: credentials (`token`, passwords, secrets) removed. */
export function publishableParams(params: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (!isSecretKey(k)) out[k] = v;
  return out;
}

/** One provider as an endpoint of its key; throws ProviderUrlError when it cannot be published. */
export function providerEndpoint(url: ProviderUrl): EndpointData {
  if (!ipaddr.isValid(url.host)) throw new ProviderUrlError(`host ${JSON.stringify(url.host)} is not an IP address`);
  const weight = url.params['weight'] === undefined ? DEFAULT_WEIGHT : Number(url.params['weight']);
  if (!isWeight(weight)) throw new ProviderUrlError(`weight ${JSON.stringify(url.params['weight'])} must be an integer 0-65535`);
  // RFC 5952 text form for IPv6, dotted quad for IPv4 (an IPv4-mapped IPv6 address stays IPv6).
  return { address: ipaddr.parse(url.host).toString(), port: url.port, protocol: url.protocol, ready: true, weight, params: publishableParams(url.params) };
}

/**
 * The services of `namespace` that a set of providers make up, one per key, endpoints in address
 * order; the protocol of a key is its first provider's. Providers that cannot be published are
 * left out and reported to `reject`.
 */
export function providerServices(namespace: string, providers: Iterable<ProviderUrl>, reject: (url: ProviderUrl, reason: string) => void = () => {}): ServiceData[] {
  const byKey = new Map<string, { url: ProviderUrl; endpoints: EndpointData[] }>();
  for (const url of providers) {
    let endpoint: EndpointData;
    try {
      endpoint = providerEndpoint(url);
    } catch (err) {
      if (err instanceof ProviderUrlError) {
        reject(url, err.message);
        continue;
      }
      throw err;
    }
    const id = serviceKeyId(url.key);
    const entry = byKey.get(id) ?? { url, endpoints: [] };
    byKey.set(id, entry);
    entry.endpoints.push(endpoint);
  }
  const out: ServiceData[] = [];
  for (const { url, endpoints } of byKey.values()) {
    endpoints.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0)));
    out.push({ namespace, key: url.key, protocol: url.protocol, params: sharedParams({}, endpoints), endpoints });
  }
  return out;
}
