// The labels and annotations dubbo-dns writes on the objects it manages (docs/crd.md). They are
// contracts: the DNS server's Kubernetes source, other replicas and other tools select and decode
// objects by them, so a rename here is a breaking change. annotations.ts encodes and decodes them.

/** On managed Services and EndpointSlices: who manages the object (the Kubernetes recommended label). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'dubbo-dns';
/** On managed Services: the key's hash `h` (docs/naming.md), for people and tools selecting by key. */
export const SERVICE_HASH_LABEL = 'dubbo-dns.io/service-hash';
/** On managed EndpointSlices: the Service they belong to (the EndpointSlice API's own label). */
export const SLICE_SERVICE_LABEL = 'kubernetes.io/service-name';
/** On managed EndpointSlices: the controller that manages them (the EndpointSlice API's own label). */
export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
// A label value cannot contain '/', so not `dubbo-dns.io/controller`: like the built-in
// `endpointslice-controller.k8s.io`, the value is a domain-like controller name.
export const SLICE_MANAGED_BY_VALUE = 'controller.dubbo-dns.io';

/** Label selectors of the objects dubbo-dns manages. */
export const MANAGED_SERVICE_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
export const MANAGED_SLICE_SELECTOR = `${SLICE_MANAGED_BY_LABEL}=${SLICE_MANAGED_BY_VALUE}`;

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
