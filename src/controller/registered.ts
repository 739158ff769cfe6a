import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { serviceLabel } from '../dubbo/naming.ts';
import { ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
import { objectKey } from '../kube/store.ts';
import type { RegisteredDeclaration } from '../source/declared.ts';
import { providerEndpoint } from '../source/provider-services.ts';
import type { MirrorState } from '../zookeeper/mirror.ts';

// Providers registered in a registry (ZooKeeper), filed by the Service name `namespace/S` they
// declare, for the controller's gather. One namespace per registry. The mirror freezes while the
// registry is away, so what is filed here changes only after a complete read.

/** What the controller needs of a registry mirror (ZooKeeperMirror is one). */
export interface RegistryMirror {
  state(): MirrorState;
  interfaces(): Iterable<string>;
  byInterface(iface: string): readonly { readonly url: ProviderUrl }[];
  onChange(listener: (interfaces: readonly string[]) => void): void;
  onState(listener: (state: MirrorState) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The mirror's providers by Service name; tells which names a change touches. */
export class RegisteredProviders {
  readonly namespace: string;
  readonly mirror: RegistryMirror;
  /** `namespace/S` -> interface directory -> its providers declaring S. */
  readonly #byName = new Map<string, Map<string, RegisteredDeclaration[]>>();
  /** interface directory -> the names its providers declare. */
  readonly #namesOf = new Map<string, Set<string>>();
  /** interface directory -> its providers logged as unpublishable, so a steady one is told once. */
  readonly #told = new Map<string, Set<string>>();
  readonly #log: Logger;

  /** `changed(names)`: names whose providers changed; `synced(state)`: the mirror's state changed. */
  constructor(mirror: RegistryMirror, namespace: string, log: Logger, changed: (names: Iterable<string>) => void, synced: (state: MirrorState) => void) {
    this.mirror = mirror;
    this.namespace = namespace;
    this.#log = log;
    mirror.onChange((interfaces) => changed(this.#refile(interfaces)));
    mirror.onState(synced);
  }

  /** True while the registry is connected and fully read: only then may its keys be written. */
  get synced(): boolean {
    return this.mirror.state() === 'synced';
  }

  /** The registered providers declaring `namespace/S`. */
  providers(name: string): RegisteredDeclaration[] {
    return [...(this.#byName.get(name)?.values() ?? [])].flat();
  }

  /** Every name with registered providers. */
  names(): Iterable<string> {
    return this.#byName.keys();
  }

  #refile(interfaces: readonly string[]): Set<string> {
    const touched = new Set<string>();
    for (const iface of interfaces) {
      for (const name of this.#namesOf.get(iface) ?? []) {
        touched.add(name);
        const files = this.#byName.get(name);
        files?.delete(iface);
        if (files?.size === 0) this.#byName.delete(name);
      }
      const names = new Set<string>();
      const toldBefore = this.#told.get(iface);
      const told = new Set<string>();
      for (const { url } of this.mirror.byInterface(iface)) {
        const endpoint = publishable(url);
        if (typeof endpoint === 'string') {
          const address = `${url.host}:${url.port}`;
          if (toldBefore?.has(address) !== true) this.#log.warn({ namespace: this.namespace, interface: iface, address, reason: endpoint }, 'registered provider not published');
          told.add(address);
          continue;
        }
        const name = objectKey(this.namespace, serviceLabel(url.key));
        names.add(name);
        touched.add(name);
        let files = this.#byName.get(name);
        if (files === undefined) this.#byName.set(name, (files = new Map()));
        let list = files.get(iface);
        if (list === undefined) files.set(iface, (list = []));
        list.push({ key: url.key, endpoint });
      }
      if (told.size === 0) this.#told.delete(iface);
      else this.#told.set(iface, told);
      if (names.size === 0) this.#namesOf.delete(iface);
      else this.#namesOf.set(iface, names);
    }
    return touched;
  }
}

/**
 * A registered provider as an endpoint, by the rule every provider-URL source follows
 * (providerEndpoint: an IP address, a valid weight, no credentials), or why it cannot be one.
 */
function publishable(url: ProviderUrl): RegisteredDeclaration['endpoint'] | string {
  try {
    const endpoint = providerEndpoint(url);
    return refusedByEndpointSlices(endpoint.address) ?? endpoint;
  } catch (err) {
    if (err instanceof ProviderUrlError) return err.message;
    throw err;
  }
}

/**
 * Why an EndpointSlice cannot hold this IP address (the API server refuses loopback, unspecified
 * and link-local endpoints), or undefined when it can. A provider that registered such an address
 * is reachable only on its own machine anyway.
 */
export function refusedByEndpointSlices(address: string): string | undefined {
  const range = ipaddr.process(address).range();
  return range === 'loopback' || range === 'unspecified' || range === 'linkLocal' ? `a ${range} address, which an EndpointSlice cannot hold` : undefined;
}
