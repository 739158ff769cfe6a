import { getServers } from 'node:dns';
import { isIP } from 'node:net';

// Where the client sends its questions. Server strings take the forms `dns.getServers()` returns
// and `dns.setServers()` accepts: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353` (port 53 when absent).

/** One DNS server to ask. */
export interface ServerAddress {
  /** An IPv4 or IPv6 address (no brackets). */
  readonly host: string;
  readonly port: number;
}

/** Parses one server string; throws a TypeError naming what is wrong. */
export function parseServer(text: string): ServerAddress {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const v4 = /^([^:[\]]+)(?::(\d+))?$/.exec(value);
  let host: string;
  let port = 53;
  if (bracketed !== null) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (v4 !== null) {
    host = v4[1]!;
    if (v4[2] !== undefined) port = Number(v4[2]);
  } else {
    host = value; // a bare IPv6 address, checked below
  }
  if (isIP(host) === 0) throw new TypeError(`DNS server ${JSON.stringify(text)}: want an IP address, optionally with a port (1.2.3.4:53, [::1]:53)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`DNS server ${JSON.stringify(text)}: port out of range 1-65535`);
  return { host, port };
}

/** The servers to ask: the given ones, else the system resolver's (`dns.getServers()`). */
export function serverList(options: { readonly servers?: readonly string[] | undefined; readonly server?: string | undefined }): ServerAddress[] {
  const given = options.servers ?? (options.server === undefined ? undefined : [options.server]);
  const list = (given ?? getServers()).map(parseServer);
  if (list.length === 0) throw new TypeError('no DNS server to ask: pass `servers`, or configure the system resolver');
  return list;
}

/** `host:port`, IPv6 in brackets: how servers appear in messages. */
export function formatServer(server: ServerAddress): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}
