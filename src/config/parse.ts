import { InvalidArgumentError } from 'commander';
import ipaddr from 'ipaddr.js';
import { PROTOCOL_NAME } from '../dubbo/protocols.ts';

// Flag value parsers. Each throws InvalidArgumentError with a message saying what is wrong, which
// commander prints next to the flag's name before exiting non-zero.

/** A `HOST:PORT` pair; IPv6 hosts in brackets (`[::1]:5353`). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:5353`). */
export function parseHostPort(value: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new InvalidArgumentError(`want HOST:PORT (IPv6 as [::1]:5353), got ${JSON.stringify(value)}`);
  }
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`port ${m[2]} is out of range 0-65535`);
  if (m[0].startsWith('[') && !ipaddr.IPv6.isValid(m[1])) throw new InvalidArgumentError(`${JSON.stringify(m[1])} is not an IPv6 address`);
  return { host: m[1], port };
}

/** Parses a whole number within [min, max]. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`want a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** Parses a DNS zone name (letters, digits, `-`, `_`, dots), returned lowercase with a trailing dot. */
export function parseZone(value: string): string {
  const z = value.trim().toLowerCase().replace(/\.+$/, '');
  const labels = z.split('.');
  if (z === '' || labels.some((l) => !/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l)) || z.length > 200) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a zone name like dubbo.internal.`);
  }
  return `${z}.`;
}

/** Parses a Kubernetes namespace name (a DNS-1123 label). */
/** `a,b,c`: a list of namespace names (commander argParser), without repeats. */
export function parseNamespaceList(value: string): string[] {
  const names = value.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new InvalidArgumentError(`${JSON.stringify(value)} has an empty namespace name`);
  return [...new Set(names.map(parseNamespace))];
}

/** A Kubernetes namespace name (commander argParser). */
export function parseNamespace(value: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a namespace name (lowercase letters, digits, '-')`);
  }
  return value;
}

/** Parses a Dubbo protocol name as `_P._tcp` uses it (`dubbo`, `tri`, ...). */
export function parseProtocol(value: string): string {
  if (!PROTOCOL_NAME.test(value)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a protocol name like dubbo or tri (lowercase letters, digits, '-')`);
  return value;
}
