import { ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
import { serviceKey } from '../dubbo/service-key.ts';

// Pure: the layout Dubbo 3 (Java and dubbo-go) writes into ZooKeeper for application-level
// registration ("service discovery"). Nothing here talks to ZooKeeper.
//
// - `/services/<application>/<host:port>`: one ephemeral node per instance, its data a Curator
//   ServiceInstance in JSON: `address`, `port`, and `payload.metadata`, where `dubbo.endpoints`
//   lists the instance's protocols and ports (`[{"port":20880,"protocol":"dubbo"}]`).
// - `<root>/mapping/<interface>`: the applications that serve the interface, comma-separated.
//
// What an instance does not say is which group and version each interface has: that is in the
// application's metadata, which by default only the provider process holds (its MetadataService).
// Interfaces found this way are published under the interface name alone.

/** Instance data longer than this is refused (Dubbo's are a few KiB). */
export const MAX_INSTANCE_DATA = 64 * 1024;

/** One instance of an application, as its node says. */
export interface AppInstance {
  readonly application: string;
  readonly host: string;
  /** The protocols it serves and their ports (at least one). */
  readonly endpoints: readonly { readonly protocol: string; readonly port: number }[];
}

const PROTOCOL = /^[a-z][a-z0-9+.-]*$/;
/** Application names as Dubbo accepts them in a path; anything else in a mapping is ignored. */
const APPLICATION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

function port(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * The instance a node `/services/<application>/<name>` describes; throws ProviderUrlError when it
 * describes none. Without `dubbo.endpoints` the instance's own port is taken, for `dubbo`.
 */
export function parseInstanceNode(application: string, name: string, data: Buffer | undefined): AppInstance {
  if (data === undefined || data.length === 0) throw new ProviderUrlError('instance node has no data');
  if (data.length > MAX_INSTANCE_DATA) throw new ProviderUrlError(`instance data is ${data.length} bytes, over ${MAX_INSTANCE_DATA}`);
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    throw new ProviderUrlError('instance data is not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new ProviderUrlError('instance data is not a JSON object');
  const instance = doc as { address?: unknown; port?: unknown; payload?: { metadata?: Record<string, unknown> } | null };
  const host = typeof instance.address === 'string' ? instance.address.replace(/^\[|\]$/g, '') : '';
  if (host === '') throw new ProviderUrlError(`instance ${name} has no address`);
  const metadata = instance.payload?.metadata ?? {};
  const endpoints: { protocol: string; port: number }[] = [];
  const listed = metadata['dubbo.endpoints'];
  if (typeof listed === 'string' && listed !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(listed);
    } catch {
      throw new ProviderUrlError('dubbo.endpoints is not JSON');
    }
    for (const e of Array.isArray(parsed) ? (parsed as { protocol?: unknown; port?: unknown }[]) : []) {
      const p = port(e?.port);
      const protocol = typeof e?.protocol === 'string' ? e.protocol.toLowerCase() : '';
      if (p !== undefined && PROTOCOL.test(protocol) && !endpoints.some((x) => x.protocol === protocol)) endpoints.push({ protocol, port: p });
    }
    if (endpoints.length === 0) throw new ProviderUrlError('dubbo.endpoints lists no usable protocol and port');
  } else {
    const p = port(instance.port);
    if (p === undefined) throw new ProviderUrlError(`instance ${name} has no usable port`);
    endpoints.push({ protocol: 'dubbo', port: p });
  }
  return { application, host, endpoints };
}

/** The applications a mapping node names (`app1,app2`); names that cannot be applications are dropped. */
export function parseMapping(data: Buffer | undefined): string[] {
  if (data === undefined) return [];
  const apps = data
    .toString('utf8')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => APPLICATION.test(a));
  return [...new Set(apps)].sort();
}

/** Whether a child of the root can be an application directory under `/services`. */
export function isApplicationName(name: string): boolean {
  return APPLICATION.test(name);
}

/** The providers of `iface` that the instances of its applications make: one per instance and protocol. */
export function instanceProviders(iface: string, instances: Iterable<AppInstance>): ProviderUrl[] {
  const out: ProviderUrl[] = [];
  for (const instance of instances) {
    for (const { protocol, port } of instance.endpoints) {
      out.push({ protocol, host: instance.host, port, key: serviceKey(iface), params: { application: instance.application, interface: iface } });
    }
  }
  return out;
}
