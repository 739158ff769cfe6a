import { serviceHash } from '../dubbo/naming.ts';
import { serviceKey, type ServiceKey } from '../dubbo/service-key.ts';
import * as L from './labels.ts';

// The one codec for what dubbo-dns writes into labels and annotations (labels.ts names them): the
// controller's plan encodes with it, and the projections that the controller and the DNS server
// cache decode with it, so both sides always agree. Decoding never throws: an annotation someone
// edited by hand is read as empty rather than breaking a reconcile or a zone build.

/** Labels of a key's managed Service. */
export function serviceLabels(key: ServiceKey): Record<string, string> {
  return { [L.MANAGED_BY_LABEL]: L.MANAGED_BY_VALUE, [L.SERVICE_HASH_LABEL]: serviceHash(key) };
}

/** Labels of a managed EndpointSlice of Service `serviceName`. */
export function sliceLabels(serviceName: string): Record<string, string> {
  return { [L.SLICE_SERVICE_LABEL]: serviceName, [L.SLICE_MANAGED_BY_LABEL]: L.SLICE_MANAGED_BY_VALUE, [L.MANAGED_BY_LABEL]: L.MANAGED_BY_VALUE };
}

/** The identity annotations of a key (the full key travels with its objects). */
export function identityAnnotations(key: ServiceKey): Record<string, string> {
  return { [L.INTERFACE_ANNOTATION]: key.interface, [L.GROUP_ANNOTATION]: key.group, [L.VERSION_ANNOTATION]: key.version };
}

/** The key that identity annotations name; undefined without the interface annotation. */
export function keyOf(annotations: Readonly<Record<string, string>> | undefined): ServiceKey | undefined {
  const iface = annotations?.[L.INTERFACE_ANNOTATION];
  return iface === undefined ? undefined : serviceKey(iface, annotations?.[L.GROUP_ANNOTATION], annotations?.[L.VERSION_ANNOTATION]);
}

/** Dubbo parameters as annotation text: a JSON object of strings, keys sorted so equal maps encode equally. */
export function encodeParams(params: Readonly<Record<string, string>>): string {
  return JSON.stringify(sortKeys(params));
}

/** The parameters in annotation text; non-string values are dropped, and text that is not a JSON object reads as none. */
export function decodeParams(text: string | undefined): Record<string, string> {
  return strings(decodeObject(text));
}

/** Per-endpoint parameters (by address) as the slice annotation's text. */
export function encodeEndpointParams(byAddress: Readonly<Record<string, Readonly<Record<string, string>>>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(byAddress).map(([address, params]) => [address, sortKeys(params)])));
}

/** The per-endpoint parameters of a slice annotation, by address. */
export function decodeEndpointParams(text: string | undefined): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [address, params] of Object.entries(decodeObject(text))) out[address] = strings(params);
  return out;
}

/** An EndpointSlice's port set as one comparable string (`name:port`, sorted). */
export function portSignature(ports: readonly { readonly name?: string | undefined; readonly port?: number | undefined }[]): string {
  return ports
    .map((p) => `${p.name ?? ''}:${p.port ?? 0}`)
    .sort()
    .join(',');
}

function decodeObject(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    return asObject(JSON.parse(text));
  } catch {
    return {};
  }
}

function asObject(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The string-valued entries of a JSON value that should be an object of strings. */
function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(asObject(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

function sortKeys(o: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
