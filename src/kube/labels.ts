// Labels and annotations dubbo-dns writes and reads (docs/naming.md, docs/crd.md). These are contracts: the DNS
// server's Kubernetes source and other tools select and decode objects by them.

/** On managed Services (and slices): who manages the object. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'dubbo-dns';
/** On managed Services: the key's hash `h`, so a name can be checked against its key. */
export const SERVICE_HASH_LABEL = 'dubbo-dns.io/service-hash';
/** On managed EndpointSlices (the EndpointSlice API's own convention). */
export const SLICE_SERVICE_LABEL = 'kubernetes.io/service-name';
export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
// The obvious value would be `dubbo-dns.io/controller`, but a label value cannot contain '/': the API server
// rejects it. The EndpointSlice convention is a domain-like controller name, hence this.
export const SLICE_MANAGED_BY_VALUE = 'controller.dubbo-dns.io';

/** The full identity of the key (the hash alone is never trusted). */
export const INTERFACE_ANNOTATION = 'dubbo-dns.io/interface';
export const GROUP_ANNOTATION = 'dubbo-dns.io/group';
export const VERSION_ANNOTATION = 'dubbo-dns.io/version';
/** The protocol the bare-name SRV describes. */
export const PROTOCOL_ANNOTATION = 'dubbo-dns.io/protocol';
/** Service-wide Dubbo parameters, JSON object of strings. */
export const METADATA_ANNOTATION = 'dubbo-dns.io/metadata';
/** On slices: per-endpoint Dubbo parameters, JSON object address -> {param: value}. */
export const ENDPOINTS_ANNOTATION = 'dubbo-dns.io/endpoints';
/** Hash of what we last applied; equal hash means nothing to write (restarts make no writes). */
export const DESIRED_HASH_ANNOTATION = 'dubbo-dns.io/desired-hash';
/** When a key lost its last declaration; the empty Service is kept for the retention period. */
export const ORPHANED_SINCE_ANNOTATION = 'dubbo-dns.io/orphaned-since';

/** Server-side apply field manager. */
export const FIELD_MANAGER = 'dubbo-dns';
