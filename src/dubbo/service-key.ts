/** A Dubbo service key: what a consumer asks for. Empty strings stand for "absent". */
export interface ServiceKey {
  readonly interface: string;
  readonly group: string;
  readonly version: string;
}

/** Builds a key, turning undefined/null parts into the empty string. */
export function serviceKey(iface: string, group?: string | null, version?: string | null): ServiceKey {
  return { interface: iface, group: group ?? '', version: version ?? '' };
}

/** Dubbo's own spelling of a key: `group/interface:version`, parts omitted when empty. */
export function formatServiceKey(key: ServiceKey): string {
  let out = key.interface;
  if (key.group !== '') out = `${key.group}/${out}`;
  if (key.version !== '') out = `${out}:${key.version}`;
  return out;
}

/** A string that identifies a key exactly (NUL cannot occur in any part that came through a URL or YAML). */
export function serviceKeyId(key: ServiceKey): string {
  return `${key.interface}\u0000${key.group}\u0000${key.version}`;
}
