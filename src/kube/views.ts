import type { ProviderUrl } from '../dubbo/provider-url.ts';

// Slim projections of the objects we watch (as CoreDNS `object/` does): the informer caches
// these, never whole objects, because memory is the scaling limit. Add a field only when a
// computation needs it, and say which.

/** A Pod, as far as declaring providers goes. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  /** For EndpointSlice targetRef. */
  readonly uid: string;
  /** For DubboService selectors and the dubbo-go label. */
  readonly labels: Readonly<Record<string, string>>;
  /** Pod IPs (status.podIPs), primary first. */
  readonly ips: readonly string[];
  /** The Ready condition. */
  readonly ready: boolean;
  /** deletionTimestamp is set. */
  readonly terminating: boolean;
  /** spec.hostname or the pod name: the endpoint label and slice hostname. */
  readonly hostname: string;
  readonly nodeName?: string | undefined;
  /** dubbo-go annotation, decoded once per change (undefined: none). */
  readonly dubboGo?: { readonly providers: readonly ProviderUrl[]; readonly error?: string | undefined; readonly skipped: readonly string[] } | undefined;
}

/** A DubboService resource: identity, generation and the spec (validated by the controller). */
export interface DubboServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly spec: unknown;
  /** Current conditions, so lastTransitionTime changes only when a status flips. */
  readonly conditions: readonly Condition[];
  readonly observedGeneration?: number | undefined;
  /** The status without timestamps (see project.ts statusDigest), to skip writes that change nothing. */
  readonly statusDigest: string;
}

/** metav1.Condition. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number | undefined;
}

/** A Service carrying our managed-by label. */
export interface ManagedServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly ownerUids: readonly string[];
}

/** An EndpointSlice carrying our managed-by label. */
export interface ManagedSliceView {
  readonly namespace: string;
  readonly name: string;
  readonly serviceName: string;
  readonly addressType: string;
  /** First address of each endpoint, for stable assignment. */
  readonly addresses: readonly string[];
  /** Port signature (name:port, sorted), for grouping. */
  readonly ports: string;
  readonly desiredHash: string | undefined;
}
