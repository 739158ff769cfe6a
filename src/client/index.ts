// `dubbo-dns/client`: find the providers of a Dubbo service through dubbo-dns, the way Node's
// `dns` module finds records (plain objects, errors with a `code`). See docs/consumers/node.md.

export { createResolver, type Resolution, type Resolver, type ResolverOptions, type ServiceQuery, type WatchEvent, type WatchOptions } from './resolver.ts';
export { pick } from './pick.ts';
export type { Provider } from './provider.ts';
export { DnsQueryError, DubboDnsError, NoReadyProviderError, NoSuchServiceError, type DnsFailureCode } from './errors.ts';
