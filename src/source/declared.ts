import ipaddr from 'ipaddr.js';
import { DEFAULT_WEIGHT, isSecretKey, sharedParams, weightOf } from '../dubbo/metadata.ts';
import type { EndpointData } from '../dns/index/zone-data.ts';
import type { ProviderUrl } from '../dubbo/provider-url.ts';
import type { ServiceKey } from '../dubbo/service-key.ts';
import type { PodView } from '../kube/views.ts';
import type { DubboServiceSpec, InterfaceSpec } from '../contracts/dubbo-service.ts';

// Pure: the declarations of one service key in one namespace (DubboService interfaces with the pods
// they select, and dubbo-go pod annotations) -> the providers that key has.

/** One provider address of a key: an EndpointSlice endpoint. */
export interface DeclaredEndpoint {
  readonly address: string;
  readonly addressType: 'IPv4' | 'IPv6';
  /** The ports this address serves for the key, by protocol, sorted by protocol. */
  readonly ports: readonly { readonly protocol: string; readonly port: number }[];
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** The pod's hostname; none for a provider registered in ZooKeeper. */
  readonly hostname?: string | undefined;
  readonly nodeName?: string | undefined;
  /** The pod behind the address; none for a provider registered in ZooKeeper. */
  readonly podName?: string | undefined;
  readonly podUid?: string | undefined;
  readonly weight: number;
  readonly params: Readonly<Record<string, string>>;
}

/** Everything declared for one key in one namespace. */
export interface DeclaredService {
  readonly namespace: string;
  readonly key: ServiceKey;
  /** Protocol of the bare-name SRV: the first declaring interface's, else the first annotation's. */
  readonly protocol: string;
  readonly params: Readonly<Record<string, string>>;
  readonly endpoints: readonly DeclaredEndpoint[];
  /** DubboServices declaring the key (owner references). */
  readonly owners: readonly { readonly name: string; readonly uid: string }[];
  /** Where the registry disagrees with the DubboServices (their declaration won), for an Event. */
  readonly disagreements?: readonly string[];
}

/** A DubboService interface declaring the key, with the pods its selector picks. */
export interface CrDeclaration {
  readonly cr: { readonly name: string; readonly uid: string; readonly spec: DubboServiceSpec };
  readonly iface: InterfaceSpec;
  readonly pods: readonly PodView[];
}

/** A dubbo-go pod annotation entry for the key. */
export interface PodDeclaration {
  readonly pod: PodView;
  readonly url: ProviderUrl;
}

/** A provider of the key registered in ZooKeeper, already made an endpoint (source/provider-services.ts). */
export interface RegisteredDeclaration {
  readonly key: ServiceKey;
  readonly endpoint: EndpointData;
}

/**
 * Merges a key's declarations; undefined when nothing declares it. DubboServices come first, then
 * pod annotations, then the registry: an address already declared keeps its metadata and ports,
 * and a registry provider that gives the same address and protocol another port is a disagreement
 * (reported, not published).
 */
export function declareKey(namespace: string, key: ServiceKey, crs: readonly CrDeclaration[], annotated: readonly PodDeclaration[], registered: readonly RegisteredDeclaration[] = []): DeclaredService | undefined {
  if (crs.length === 0 && annotated.length === 0 && registered.length === 0) return undefined;
  const byAddress = new Map<string, { endpoint: Omit<DeclaredEndpoint, 'ports'>; ports: Map<string, number> }>();
  const add = (pod: PodView, protocol: string, port: number, weight: number, allParams: Record<string, string>, publishNotReady: boolean): void => {
    // Never carry the provider's call password (or any credential) into objects others can read.
    const params = withoutSecrets(allParams);
    for (const ip of pod.ips) {
      if (!ipaddr.isValid(ip)) continue;
      const parsed = ipaddr.parse(ip);
      const address = parsed.toString();
      let entry = byAddress.get(address);
      if (entry === undefined) {
        // EndpointSlice conditions (KEP-1672): a terminating pod is not ready, but may still serve.
        const ready = !pod.terminating && (pod.ready || publishNotReady);
        entry = {
          endpoint: {
            address,
            addressType: parsed.kind() === 'ipv6' ? 'IPv6' : 'IPv4',
            ready,
            serving: pod.ready || publishNotReady,
            terminating: pod.terminating,
            hostname: pod.hostname,
            nodeName: pod.nodeName,
            podName: pod.name,
            podUid: pod.uid,
            weight,
            params,
          },
          ports: new Map(),
        };
        byAddress.set(address, entry);
      }
      if (!entry.ports.has(protocol)) entry.ports.set(protocol, port);
    }
  };

  const declaredParams: Record<string, string> = {};
  for (const { cr, iface, pods } of crs) {
    const port = cr.spec.ports.find((p) => p.name === iface.protocol)?.port;
    if (port === undefined) continue;
    const params: Record<string, string> = { ...(cr.spec.application === undefined ? {} : { application: cr.spec.application }), ...iface.metadata };
    if (cr.spec.weight !== DEFAULT_WEIGHT) params['weight'] = String(cr.spec.weight);
    Object.assign(declaredParams, withoutSecrets(params));
    for (const pod of [...pods].sort(byName)) add(pod, iface.protocol, port, cr.spec.weight, params, cr.spec.publishNotReadyAddresses);
  }
  for (const { pod, url } of [...annotated].sort((a, b) => byName(a.pod, b.pod))) {
    add(pod, url.protocol, url.port, weightOf(url.params), { ...url.params }, false);
  }
  const disagreements: string[] = [];
  for (const { endpoint: e } of [...registered].sort((a, b) => byAddressPort(a.endpoint, b.endpoint))) {
    const entry = byAddress.get(e.address);
    if (entry === undefined) {
      const endpoint = { address: e.address, addressType: e.address.includes(':') ? 'IPv6' : 'IPv4', ready: e.ready, serving: e.ready, terminating: false, weight: e.weight, params: e.params } as const;
      byAddress.set(e.address, { endpoint, ports: new Map([[e.protocol, e.port]]) });
      continue;
    }
    const declaredPort = entry.ports.get(e.protocol);
    if (declaredPort === undefined) entry.ports.set(e.protocol, e.port);
    else if (declaredPort !== e.port) disagreements.push(`ZooKeeper registers ${e.protocol}://${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}, declared with port ${declaredPort}`);
  }
  delete declaredParams['weight'];

  const endpoints: DeclaredEndpoint[] = [...byAddress.values()]
    .map(({ endpoint, ports }) => ({
      ...endpoint,
      ports: [...ports].map(([protocol, port]) => ({ protocol, port })).sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0)),
    }))
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const protocol = crs[0]?.iface.protocol ?? annotated[0]?.url.protocol ?? registered[0]?.endpoint.protocol ?? 'dubbo';
  const params = sharedParams(declaredParams, endpoints);
  const owners = [...new Map(crs.map(({ cr }) => [cr.uid, { name: cr.name, uid: cr.uid }])).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return { namespace, key, protocol, params, endpoints, owners, ...(disagreements.length === 0 ? {} : { disagreements }) };
}

function byAddressPort(a: EndpointData, b: EndpointData): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}

function withoutSecrets(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !isSecretKey(k)));
}

function byName(a: PodView, b: PodView): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
