import { PROVIDER_PROTOCOL, ProviderUrlError, type ProviderUrl } from '../dubbo/provider-url.ts';
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
// application's metadata. With `metadata-type: remote` the provider writes it into ZooKeeper too,
// one node per revision (`<root>/metadata/<application>/<revision>` from Dubbo Java,
// `<root>/<application>/<revision>` from dubbo-go), and the instance names its revision; then each
// interface is published under its full key with the metadata's parameters. By default only the
// provider process holds it (its MetadataService), and the interface is published under its name
// alone.

/** Instance data longer than this is refused (Dubbo's are a few KiB). */
export const MAX_INSTANCE_DATA = 64 * 1024;

/** One instance of an application, as its node says. */
export interface AppInstance {
  readonly application: string;
  readonly host: string;
  /** The protocols it serves and their ports (at least one). */
  readonly endpoints: readonly { readonly protocol: string; readonly port: number }[];
  /** The revision of its metadata, when the metadata is in ZooKeeper (`metadata-type: remote`). */
  readonly revision?: string;
}

/** One service of an application's metadata (MetadataInfo). */
export interface MetadataService {
  readonly iface: string;
  readonly group?: string;
  readonly version?: string;
  readonly protocol: string;
  readonly port?: number;
  readonly params: Readonly<Record<string, string>>;
}

/** Metadata nodes longer than this are refused (an application with hundreds of services is a few hundred KiB). */
export const MAX_METADATA_DATA = 1024 * 1024;
/** Revisions as Dubbo writes them (a hex digest); anything else is not looked up. */
const REVISION = /^[A-Za-z0-9._-]{1,256}$/;

/** Application names as Dubbo accepts them in a path; anything else in a mapping is ignored. */
const APPLICATION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** A node's data as JSON, at most `max` bytes; throws ProviderUrlError naming `what` otherwise. */
function jsonData(data: Buffer | undefined, what: string, max: number): unknown {
  if (data === undefined || data.length === 0) throw new ProviderUrlError(`${what} node has no data`);
  if (data.length > max) throw new ProviderUrlError(`${what} node holds ${data.length} bytes, over ${max}`);
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch {
    throw new ProviderUrlError(`${what} node is not JSON`);
  }
}

function port(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * The instance a node `/services/<application>/<name>` describes; throws ProviderUrlError when it
 * describes none. Without `dubbo.endpoints` the instance's own port is taken, for `dubbo`.
 */
export function parseInstanceNode(application: string, name: string, data: Buffer | undefined): AppInstance {
  const doc = jsonData(data, 'instance', MAX_INSTANCE_DATA);
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
      if (p !== undefined && PROVIDER_PROTOCOL.test(protocol) && !endpoints.some((x) => x.protocol === protocol)) endpoints.push({ protocol, port: p });
    }
    if (endpoints.length === 0) throw new ProviderUrlError('dubbo.endpoints lists no usable protocol and port');
  } else {
    const p = port(instance.port);
    if (p === undefined) throw new ProviderUrlError(`instance ${name} has no usable port`);
    endpoints.push({ protocol: 'dubbo', port: p });
  }
  const revision = metadata['dubbo.metadata.revision'];
  const remote = metadata['dubbo.metadata.storage-type'] === 'remote' && typeof revision === 'string' && REVISION.test(revision);
  return { application, host, endpoints, ...(remote ? { revision } : {}) };
}

/**
 * The services of an application's metadata node (Dubbo's MetadataInfo in JSON:
 * `{"app", "revision", "services": {"<key>": {"name", "group", "version", "protocol", "port", "params"}}}`);
 * throws ProviderUrlError when it is not one. Entries without a usable name or protocol are left out.
 */
export function parseMetadataNode(data: Buffer | undefined): MetadataService[] {
  const doc = jsonData(data, 'metadata', MAX_METADATA_DATA);
  const services = (doc as { services?: unknown } | null)?.services;
  if (typeof services !== 'object' || services === null) throw new ProviderUrlError('metadata has no services');
  const out: MetadataService[] = [];
  for (const entry of Object.values(services as Record<string, unknown>)) {
    const e = entry as { name?: unknown; group?: unknown; version?: unknown; protocol?: unknown; port?: unknown; params?: unknown } | null;
    const protocol = typeof e?.protocol === 'string' ? e.protocol.toLowerCase() : '';
    if (typeof e?.name !== 'string' || e.name === '' || !PROVIDER_PROTOCOL.test(protocol)) continue;
    const params: Record<string, string> = {};
    if (typeof e.params === 'object' && e.params !== null) {
      for (const [k, v] of Object.entries(e.params as Record<string, unknown>)) if (typeof v === 'string') params[k] = v;
    }
    const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    const group = text(e.group);
    const version = text(e.version);
    const p = port(e.port);
    out.push({ iface: e.name, protocol, params, ...(group === undefined ? {} : { group }), ...(version === undefined ? {} : { version }), ...(p === undefined ? {} : { port: p }) });
  }
  return out;
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

/**
 * The providers of `iface` that one instance makes. With its metadata: one per service of the
 * metadata naming `iface` (its group, version, protocol and parameters; the port the instance
 * lists for that protocol). Without: one per protocol the instance lists, under the interface alone.
 */
export function instanceProviders(iface: string, instance: AppInstance, metadata: readonly MetadataService[] | undefined): ProviderUrl[] {
  const out: ProviderUrl[] = [];
  if (metadata !== undefined) {
    for (const m of metadata) {
      if (m.iface !== iface) continue;
      const port = instance.endpoints.find((e) => e.protocol === m.protocol)?.port ?? m.port;
      if (port === undefined) continue;
      const params = { ...m.params, application: m.params['application'] ?? instance.application, interface: iface, ...(m.group === undefined ? {} : { group: m.group }), ...(m.version === undefined ? {} : { version: m.version }) };
      out.push({ protocol: m.protocol, host: instance.host, port, key: serviceKey(iface, m.group, m.version), params });
    }
    return out;
  }
  for (const { protocol, port } of instance.endpoints) {
    out.push({ protocol, host: instance.host, port, key: serviceKey(iface), params: { application: instance.application, interface: iface } });
  }
  return out;
}
