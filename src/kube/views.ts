import type { DubboServiceSpec } from '../contracts/dubbo-service.ts';
import type { ProviderUrl } from '../dubbo/provider-url.ts';
import type { ServiceKey } from '../dubbo/service-key.ts';

// Slim projections of the objects we watch (as CoreDNS `object/` does): the stores keep these,
// never whole objects, because memory is the scaling limit. The controller and the DNS server share
// them. Add a field only when a computation needs it, and say which.

/** A Pod, as far as declaring providers goes. */
export interface PodView {
  readonly namespace: string;
  readonly name: string;
  /** For EndpointSlice targetRef. */
  readonly uid: string;
  /** For DubboService selectors. */
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

/** A DubboService resource: identity, generation, the spec validated once per change, and what its status says. */
export interface DubboServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  /** The validated spec with defaults; undefined when it has problems. */
  readonly spec: DubboServiceSpec | undefined;
  /** Every problem of an invalid spec, each naming its field. */
  readonly problems: readonly string[] | undefined;
  /** Current conditions, so lastTransitionTime changes only when a status flips. */
  readonly conditions: readonly Condition[];
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

/**
 * A Service. The controller watches every Service, so a name held by a Service we do not manage is
 * seen as a conflict without asking the API server; such a one keeps only its name (`managed`
 * false). The DNS server watches only managed ones.
 */
export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  /** Owner of the key's EndpointSlices. */
  readonly uid: string;
  readonly managed: boolean;
  /** The key it belongs to (identity annotations); undefined unless managed. */
  readonly key: ServiceKey | undefined;
  /** The protocol of the bare-name SRV (DNS). */
  readonly protocol: string;
  /** Service-wide Dubbo parameters as annotation text, decoded where needed (DNS, orphans). */
  readonly params: string | undefined;
  /** What we last applied: an equal hash means nothing to write. */
  readonly desiredHash: string | undefined;
  /** When its key lost its last declaration (orphan retention). */
  readonly orphanedSince: string | undefined;
  /** Owner references to DubboServices: a key they declared is pruned at once when they stop. */
  readonly ownerUids: readonly string[];
}

/** One endpoint of a managed EndpointSlice. */
export interface SliceEndpoint {
  /** First address, canonical text form (the one address we write). */
  readonly address: string;
  /** The ready condition (nil reads as ready, as the EndpointSlice API says). */
  readonly ready: boolean;
  /** The endpoint label in DNS. */
  readonly hostname: string | undefined;
}

/** An EndpointSlice carrying our managed-by label. */
export interface SliceView {
  readonly namespace: string;
  readonly name: string;
  /** The Service it belongs to (kubernetes.io/service-name). */
  readonly serviceName: string;
  readonly addressType: string;
  /** Ports by protocol name: SRV ports (DNS), and the slice group (controller). */
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  /** For SRV/A answers, and for keeping an endpoint in the slice that has it. */
  readonly endpoints: readonly SliceEndpoint[];
  /** Per-endpoint Dubbo parameters as annotation text, decoded where needed (DNS TXT and weights). */
  readonly endpointParams: string | undefined;
  readonly desiredHash: string | undefined;
}
