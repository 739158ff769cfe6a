import { createHash } from 'node:crypto';
import type { ServiceKey } from './service-key.ts';

// docs/naming.md: the service label S. Changing anything here renames every published name,
// so the algorithm is a contract, pinned by table tests including the worked example.

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const HASH_LENGTH = 10;
const PARTS_MAX = 52;
const PART_MAX = 16;

/** Lowercase RFC 4648 base32 without padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** The 10-character hash `h` of a service key. */
export function serviceHash(key: ServiceKey): string {
  const digest = createHash('sha256')
    .update(`dubbo\u0000${key.interface}\u0000${key.group}\u0000${key.version}`, 'utf8')
    .digest();
  return base32(digest).slice(0, HASH_LENGTH);
}

/** `slug(x)`: lowercase, runs outside [a-z0-9] become one `-`, no leading or trailing `-`. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The service label `S`: a DNS-1035 label of at most 63 characters, also the managed Service's name. */
export function serviceLabel(key: ServiceKey): string {
  const simpleName = key.interface.slice(key.interface.lastIndexOf('.') + 1);
  const parts = [slug(simpleName)];
  if (key.group !== '') parts.push(slug(key.group).slice(0, PART_MAX));
  if (key.version !== '') parts.push(`v${slug(key.version)}`.slice(0, PART_MAX));
  let joined = parts
    .filter((part) => part !== '')
    .join('-')
    .replace(/-{2,}/g, '-');
  if (joined === '') joined = 'd';
  else if (!/^[a-z]/.test(joined)) joined = `d-${joined}`;
  joined = joined.slice(0, PARTS_MAX).replace(/-+$/, '');
  return `${joined}-${serviceHash(key)}`;
}

/**
 * The endpoint label `E`: the hostname (pod name) when it is a usable DNS label, else the
 * address with `.` and `:` written as `-` (so `fd00::12` becomes `fd00--12`).
 */
export function endpointLabel(address: string, hostname?: string): string {
  if (hostname !== undefined && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(hostname.toLowerCase())) {
    return hostname.toLowerCase();
  }
  return addressLabel(address);
}

/** An address written as a DNS label. */
export function addressLabel(address: string): string {
  return address.toLowerCase().replace(/[.:]/g, '-');
}

/** A zone name normalised to lowercase with exactly one trailing dot. */
export function normalizeZone(zone: string): string {
  const trimmed = zone.trim().toLowerCase().replace(/\.+$/, '');
  return `${trimmed}.`;
}

/** Every DNS name published (docs/records.md) for one key in one namespace. */
export interface ServiceNames {
  readonly label: string;
  readonly hash: string;
  /** `S.N.Z`: A, AAAA, SRV, TXT. */
  readonly service: string;
  /** `_P._tcp.S.N.Z` for the given protocol. */
  readonly protocolSrv: string;
  /** `S._dubbo._tcp.N.Z`: the DNS-SD instance. */
  readonly instance: string;
  /** `_dubbo._tcp.N.Z`: the DNS-SD browse name. */
  readonly browse: string;
}

/** Computes the names of one key (absolute, with trailing dot). */
export function serviceNames(key: ServiceKey, namespace: string, zone: string, protocol = 'dubbo'): ServiceNames {
  const z = normalizeZone(zone);
  const label = serviceLabel(key);
  const service = `${label}.${namespace}.${z}`;
  return {
    label,
    hash: serviceHash(key),
    service,
    protocolSrv: `_${protocol}._tcp.${service}`,
    instance: `${label}._dubbo._tcp.${namespace}.${z}`,
    browse: `_dubbo._tcp.${namespace}.${z}`,
  };
}
