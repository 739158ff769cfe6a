import { parseProviderUrl, ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';

// Pure: the layout Dubbo (Java 2.7/3 and dubbo-go) writes into ZooKeeper for interface-level
// registration: `<root>/<interface>/providers/<URL-encoded provider URL>`, one ephemeral node per
// provider, its name the whole URL. Nothing here talks to ZooKeeper.

/** A provider node name longer than this is refused (Dubbo's are a few hundred bytes). */
export const MAX_NODE_NAME = 8192;

/** The registry root, normalised: leading slash, no trailing slash (`/` stays `/`). */
export function normalizeRoot(root: string): string {
  return `/${root.replace(/^\/+|\/+$/g, '')}`;
}

/** `<root>/<interface>/providers`. */
export function providersPath(root: string, iface: string): string {
  return `${root === '/' ? '' : root}/${iface}/providers`;
}

/**
 * The provider a node under `<root>/<interface>/providers` describes; throws ProviderUrlError when
 * it describes none. The URL's own interface wins over the directory's (Dubbo's rule).
 */
export function parseProviderNode(name: string): ProviderUrl {
  if (name.length > MAX_NODE_NAME) throw new ProviderUrlError(`provider node name is ${name.length} bytes, over ${MAX_NODE_NAME}`);
  const url = parseProviderUrl(name);
  const category = url.params['category'];
  if (category !== undefined && category !== 'providers') throw new ProviderUrlError(`category ${JSON.stringify(category)} is not providers`);
  if (url.params['enabled'] === 'false') throw new ProviderUrlError('provider is disabled (enabled=false)');
  return url;
}
