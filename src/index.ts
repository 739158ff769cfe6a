// The package's main entry (`import ... from 'dubbo-dns'`): the naming contract and the Dubbo
// provider-URL helpers, for tools that compute dubbo-dns names without a server. DNS clients use
// `dubbo-dns/client`.
export { serviceHash, serviceLabel, serviceNames, endpointLabel, normalizeZone, type ServiceNames } from './dubbo/naming.ts';
export { serviceKey, formatServiceKey, type ServiceKey } from './dubbo/service-key.ts';
export { parseProviderUrl, formatProviderUrl, ProviderUrlError, type ProviderUrl } from './dubbo/provider-url.ts';
export { parseTxt } from './dubbo/metadata.ts';
export { VERSION } from './observability/version.ts';
