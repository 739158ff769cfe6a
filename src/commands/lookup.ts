import { createResolver, NoReadyProviderError, NoSuchServiceError } from '../client/index.ts';
import type { HostPort } from '../config/parse.ts';

/** Options of `dubbo-dns lookup`. */
export interface LookupOptions {
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  readonly namespace: string;
  readonly zone: string;
  readonly protocol?: string | undefined;
  readonly server: HostPort;
  readonly timeoutMs: number;
}

/** How a lookup ended; the CLI maps it to an exit code. */
export type LookupOutcome =
  | { readonly kind: 'found'; readonly urls: readonly string[] }
  | { readonly kind: 'no-providers'; readonly name: string }
  | { readonly kind: 'not-found'; readonly name: string };

/** Resolves a key with the client library (`dubbo-dns/client`) and lists its provider URLs. */
export async function lookupProviders(iface: string, options: LookupOptions): Promise<LookupOutcome> {
  const { host, port } = options.server;
  const resolver = createResolver({
    server: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    zone: options.zone,
    namespace: options.namespace,
    timeoutMs: options.timeoutMs,
    tries: 1,
  });
  try {
    const { providers } = await resolver.resolve({ interface: iface, group: options.group, version: options.version, protocol: options.protocol });
    return { kind: 'found', urls: providers.map((p) => p.url).sort() };
  } catch (err) {
    if (err instanceof NoSuchServiceError) return { kind: 'not-found', name: err.hostname };
    if (err instanceof NoReadyProviderError) return { kind: 'no-providers', name: err.hostname };
    throw err;
  }
}
