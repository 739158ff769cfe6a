import { serviceNames } from '../dubbo/naming.ts';
import { DUBBO_PROTOCOLS } from '../dubbo/protocols.ts';
import { formatServiceKey, serviceKey } from '../dubbo/service-key.ts';

/** Options of `dubbo-dns name`. */
export interface NameOptions {
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  readonly namespace: string;
  readonly zone: string;
  /** Only this protocol's `_P._tcp` name; undefined: every protocol in DUBBO_PROTOCOLS. */
  readonly protocol?: string | undefined;
  readonly json: boolean;
}

/**
 * The text `dubbo-dns name` prints: every name (docs/records.md) of one key. `srv` maps each protocol to
 * its `_P._tcp` name; in text, one `srv` row per protocol.
 */
export function formatNames(iface: string, options: NameOptions): string {
  const key = serviceKey(iface, options.group, options.version);
  const names = serviceNames(key, options.namespace, options.zone);
  const protocols = options.protocol === undefined ? DUBBO_PROTOCOLS : [options.protocol];
  const srv = Object.fromEntries(protocols.map((p) => [p, serviceNames(key, options.namespace, options.zone, p).protocolSrv]));
  const rows = {
    key: formatServiceKey(key),
    label: names.label,
    hash: names.hash,
    service: names.service,
    srv,
    instance: names.instance,
    browse: names.browse,
  };
  if (options.json) return `${JSON.stringify(rows, null, 2)}\n`;
  return Object.entries(rows)
    .flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : Object.values(v).map((name) => [k, name])))
    .map(([k, v]) => `${k!.padEnd(9)}${v}`)
    .join('\n')
    .concat('\n');
}
