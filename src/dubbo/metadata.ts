import type { ServiceKey } from './service-key.ts';

// docs/records.md: TXT metadata in RFC 6763 §6 form. Each string is `key=value` of at most 255 bytes,
// keys lowercase, `txtvers=1` first, first occurrence of a key wins.

/** RFC 1035 §3.3: a <character-string> holds at most 255 bytes. */
export const TXT_STRING_MAX = 255;
/** docs/records.md: a whole TXT record stays within this many bytes of RDATA. */
export const TXT_RECORD_MAX = 1300;

/** Keys never published: the provider's call password and anything that looks like a credential. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase();
  return k === 'token' || k.endsWith('.token') || k.includes('password') || k.includes('secret');
}

/** Dubbo's default provider `weight`, and the SRV weight field's range (RFC 2782). */
export const DEFAULT_WEIGHT = 100;

/** True for a weight an SRV record can carry: an integer 0-65535. */
export function isWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

/** The SRV weight of a provider from its Dubbo `weight` parameter; the default when absent or out of range. */
export function weightOf(params: Readonly<Record<string, string>>): number {
  const w = params['weight'] === undefined ? DEFAULT_WEIGHT : Number(params['weight']);
  return isWeight(w) ? w : DEFAULT_WEIGHT;
}

/**
 * The parameters every provider of a service has with the same value: the service-wide metadata.
 * With no provider, the declared ones.
 */
export function sharedParams(declared: Readonly<Record<string, string>>, providers: readonly { readonly params: Readonly<Record<string, string>> }[]): Record<string, string> {
  const first = providers[0];
  if (first === undefined) return { ...declared };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first.params)) {
    if (providers.every((e) => e.params[k] === v)) out[k] = v;
  }
  return out;
}

/** Parameters that describe one instance, so they never go into the service-wide record. */
const INSTANCE_ONLY = new Set(['weight', 'warmup', 'timestamp', 'pid', 'pod', 'zone', 'anyhost', 'bind.ip', 'bind.port', 'register.ip']);
/** The instance keys (docs/records.md); other instance parameters go in only when they differ from the service's. */
const INSTANCE_KEYS = ['application', 'weight', 'warmup', 'timestamp', 'release', 'dubbo', 'serialization', 'pod', 'zone'];
/** Keys that are never dropped for size, in the order they are written. */
const SERVICE_REQUIRED = ['txtvers', 'interface', 'group', 'version', 'protocol', 'application'];
/** Dropped first when a record is over TXT_RECORD_MAX: bulky and not needed to call the provider. */
const BULKY_FIRST = ['methods'];
/** Identity keys carried by the service record and never copied from parameters. */
const IDENTITY = new Set(['interface', 'group', 'version', 'protocol', 'txtvers']);

type Pair = readonly [key: string, value: string];

/** The service-wide TXT strings of one key. */
export function serviceTxt(key: ServiceKey, protocol: string, params: Readonly<Record<string, string>>): string[] {
  const pairs: Pair[] = [['txtvers', '1'], ['interface', key.interface]];
  if (key.group !== '') pairs.push(['group', key.group]);
  if (key.version !== '') pairs.push(['version', key.version]);
  pairs.push(['protocol', protocol]);
  for (const [k, v] of Object.entries(params)) {
    const lower = k.toLowerCase();
    if (IDENTITY.has(lower) || INSTANCE_ONLY.has(lower)) continue;
    pairs.push([lower, v]);
  }
  return encodePairs(pairs, SERVICE_REQUIRED);
}

/**
 * The TXT strings of one endpoint: the instance keys of docs/records.md, plus any parameter whose value differs
 * from the service-wide one, so a client can rebuild this provider's exact URL.
 */
export function instanceTxt(params: Readonly<Record<string, string>>, shared: Readonly<Record<string, string>>): string[] {
  const pairs: Pair[] = [['txtvers', '1']];
  const lowered = new Map<string, string>();
  for (const [k, v] of Object.entries(params)) if (!lowered.has(k.toLowerCase())) lowered.set(k.toLowerCase(), v);
  for (const k of INSTANCE_KEYS) {
    const v = lowered.get(k);
    if (v !== undefined) pairs.push([k, v]);
  }
  const sharedLower = new Map(Object.entries(shared).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [k, v] of lowered) {
    if (IDENTITY.has(k) || INSTANCE_KEYS.includes(k)) continue;
    if (sharedLower.get(k) !== v) pairs.push([k, v]);
  }
  return encodePairs(pairs, ['txtvers']);
}

/**
 * Turns pairs into TXT strings: drops secrets and repeated keys, splits a pair that is over 255
 * bytes into `key=…`, `key.2=…`, … (each a valid RFC 6763 pair; `parseTxt` joins them back), and
 * keeps the record within TXT_RECORD_MAX by dropping optional keys, bulkiest first.
 */
function encodePairs(pairs: readonly Pair[], required: readonly string[]): string[] {
  const seen = new Set<string>();
  const groups: { key: string; strings: string[]; size: number }[] = [];
  for (const [rawKey, value] of pairs) {
    const key = rawKey.toLowerCase();
    if (key === '' || key.includes('=') || seen.has(key) || isSecretKey(key)) continue;
    seen.add(key);
    const strings = splitPair(key, value);
    groups.push({ key, strings, size: strings.reduce((n, s) => n + 1 + Buffer.byteLength(s), 0) });
  }
  let total = groups.reduce((n, g) => n + g.size, 0);
  if (total > TXT_RECORD_MAX) {
    const optional = groups
      .filter((g) => !required.includes(g.key))
      .sort((a, b) => rank(b) - rank(a) || b.size - a.size);
    const dropped = new Set<string>();
    for (const g of optional) {
      if (total <= TXT_RECORD_MAX) break;
      dropped.add(g.key);
      total -= g.size;
    }
    return groups.filter((g) => !dropped.has(g.key)).flatMap((g) => g.strings);
  }
  return groups.flatMap((g) => g.strings);
}

function rank(group: { key: string }): number {
  return BULKY_FIRST.includes(group.key) ? 1 : 0;
}

function splitPair(key: string, value: string): string[] {
  const whole = `${key}=${value}`;
  if (Buffer.byteLength(whole) <= TXT_STRING_MAX) return [whole];
  const out: string[] = [];
  let rest = value;
  for (let part = 1; rest.length > 0 || out.length === 0; part++) {
    const prefix = part === 1 ? `${key}=` : `${key}.${part}=`;
    const room = TXT_STRING_MAX - Buffer.byteLength(prefix);
    const chunk = takeBytes(rest, room);
    if (chunk === '') break; // a key so long that no value byte fits: nothing sensible to publish
    out.push(prefix + chunk);
    rest = rest.slice(chunk.length);
  }
  return out;
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `bytes`, never splitting a character. */
function takeBytes(text: string, bytes: number): string {
  let used = 0;
  let end = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (used + size > bytes) break;
    used += size;
    end += ch.length;
  }
  return text.slice(0, end);
}

/**
 * Reads TXT strings back into parameters: RFC 6763 §6.4 (first occurrence wins, a string without
 * `=` is a boolean key), joining the `key.2=`, `key.3=` continuations that `serviceTxt` writes.
 */
export function parseTxt(strings: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const continued = new Map<string, string[]>();
  for (const s of strings) {
    const eq = s.indexOf('=');
    const key = (eq === -1 ? s : s.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : s.slice(eq + 1);
    if (key === '') continue;
    const cont = /^(.+)\.(\d+)$/.exec(key);
    if (cont !== null && cont[1] !== undefined && cont[1] in out && Number(cont[2]) >= 2) {
      const parts = continued.get(cont[1]) ?? [];
      parts[Number(cont[2]) - 2] = value;
      continued.set(cont[1], parts);
      continue;
    }
    if (!(key in out)) out[key] = value;
  }
  for (const [key, parts] of continued) out[key] = (out[key] ?? '') + parts.join('');
  return out;
}
