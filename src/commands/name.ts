import { serviceNames } from '../dubbo/naming.ts';
import { formatServiceKey, serviceKey } from '../dubbo/service-key.ts';

/** Options of `dubbo-dns name`. */
export interface NameOptions {
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  readonly namespace: string;
  readonly zone: string;
  readonly protocol: string;
  readonly json: boolean;
}

/** The text `dubbo-dns name` prints: every name (docs/records.md) of one key. */
export function formatNames(iface: string, options: NameOptions): string {
  const key = serviceKey(iface, options.group, options.version);
  const names = serviceNames(key, options.namespace, options.zone, options.protocol);
  const rows = {
    key: formatServiceKey(key),
    label: names.label,
    hash: names.hash,
    service: names.service,
    srv: names.protocolSrv,
    instance: names.instance,
    browse: names.browse,
  };
  if (options.json) return `${JSON.stringify(rows, null, 2)}\n`;
  return Object.entries(rows)
    .map(([k, v]) => `${k.padEnd(9)}${v}`)
    .join('\n')
    .concat('\n');
}
