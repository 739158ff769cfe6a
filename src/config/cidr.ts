import { InvalidArgumentError } from 'commander';
import ipaddr from 'ipaddr.js';

/** A parsed `--allow-transfer` list: address -> allowed. */
export type AddressFilter = (address: string) => boolean;

/** Parses `CIDR,CIDR,...` (a bare address means that one address). */
export function parseCidrList(value: string): AddressFilter {
  const ranges = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return s.includes('/') ? ipaddr.parseCIDR(s) : ([ipaddr.parse(s), ipaddr.parse(s).kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number]);
      } catch {
        throw new InvalidArgumentError(`${JSON.stringify(s)} is not an address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
      }
    });
  return (address) => {
    if (!ipaddr.isValid(address)) return false;
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    return ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match([net, bits] as never));
  };
}

/** Parses `HOST:PORT,HOST:PORT`. */
export function parseHostPortList(parse: (v: string) => { host: string; port: number }): (value: string) => { host: string; port: number }[] {
  return (value) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(parse);
}

/** Parses `IP,IP,...` into canonical addresses. */
export function parseAddressList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      if (!ipaddr.isValid(s)) throw new InvalidArgumentError(`${JSON.stringify(s)} is not an IPv4 or IPv6 address`);
      return ipaddr.parse(s).toString();
    });
}
