import dns2 from 'dns2';
import { parseTxt } from '../dubbo/metadata.ts';
import { serviceNames } from '../dubbo/naming.ts';
import { formatProviderUrl } from '../dubbo/provider-url.ts';
import { serviceKey } from '../dubbo/service-key.ts';
import type { HostPort } from '../config/parse.ts';

/** Options of `dubbo-dns lookup`. */
export interface LookupOptions {
  readonly group?: string | undefined;
  readonly version?: string | undefined;
  readonly namespace: string;
  readonly zone: string;
  readonly protocol?: string | undefined;
  readonly server: HostPort;
  readonly timeoutMs: number;
}

/** How a lookup ended; the CLI maps it to an exit code. */
export type LookupOutcome =
  | { readonly kind: 'found'; readonly urls: readonly string[] }
  | { readonly kind: 'no-providers'; readonly name: string }
  | { readonly kind: 'not-found'; readonly name: string };

interface Answer {
  readonly name: string;
  readonly type: number;
  readonly address?: string;
  readonly port?: number;
  readonly target?: string;
  readonly data?: string | string[];
}

interface Response {
  readonly header: { readonly rcode: number };
  readonly answers: readonly Answer[];
  readonly additionals: readonly Answer[];
}

const NXDOMAIN = 3;

/**
 * Resolves a key through a DNS server with dns2's client (UDP, retrying over TCP on TC) and rebuilds
 * each provider's URL from its SRV (address, port) and TXT (service and instance parameters).
 */
export async function lookupProviders(iface: string, options: LookupOptions): Promise<LookupOutcome> {
  const key = serviceKey(iface, options.group, options.version);
  const names = serviceNames(key, options.namespace, options.zone, options.protocol ?? 'dubbo');
  const resolve = dns2.UDPClient({
    dns: options.server.host,
    port: options.server.port,
    socketType: options.server.host.includes(':') ? 'udp6' : 'udp4',
    timeout: options.timeoutMs,
  });
  const ask = async (name: string, type: string): Promise<Response> =>
    (await resolve(name.replace(/\.$/, ''), type, dns2.Packet.CLASS.IN, { recursive: false })) as unknown as Response;

  const srvName = options.protocol === undefined ? names.service : names.protocolSrv;
  const [srv, txt] = await Promise.all([ask(srvName, 'SRV'), ask(names.service, 'TXT')]);
  if (txt.header.rcode === NXDOMAIN) return { kind: 'not-found', name: names.service };
  if (srv.header.rcode !== 0 && srv.header.rcode !== NXDOMAIN) throw new Error(`server answered rcode ${srv.header.rcode} for ${srvName} SRV`);
  const service = parseTxt(txtStrings(txt.answers));
  const protocol = options.protocol ?? service['protocol'] ?? 'dubbo';
  const records = srv.answers.filter((a) => a.type === dns2.Packet.TYPE.SRV && a.target !== undefined && a.port !== undefined);
  if (records.length === 0) return { kind: 'no-providers', name: srvName };

  const urls = await Promise.all(
    records.map(async (r) => {
      const target = r.target as string;
      const [address, instance] = await Promise.all([addressOf(target, srv.additionals, ask), ask(target, 'TXT')]);
      const params = { ...withoutIdentity(service), ...withoutIdentity(parseTxt(txtStrings(instance.answers))) };
      if (key.group !== '') params['group'] = key.group;
      if (key.version !== '') params['version'] = key.version;
      params['interface'] = key.interface;
      return formatProviderUrl(protocol, address, r.port as number, key.interface, params);
    }),
  );
  return { kind: 'found', urls: urls.sort() };
}

async function addressOf(target: string, additionals: readonly Answer[], ask: (name: string, type: string) => Promise<Response>): Promise<string> {
  const same = (a: Answer): boolean => a.name.toLowerCase().replace(/\.$/, '') === target.toLowerCase().replace(/\.$/, '');
  const glue = additionals.find((a) => same(a) && a.address !== undefined);
  if (glue?.address !== undefined) return glue.address;
  for (const type of ['A', 'AAAA']) {
    const res = await ask(target, type);
    const found = res.answers.find((a) => a.address !== undefined);
    if (found?.address !== undefined) return found.address;
  }
  throw new Error(`no address for SRV target ${target}`);
}

function txtStrings(answers: readonly Answer[]): string[] {
  return answers.flatMap((a) => (a.type === dns2.Packet.TYPE.TXT ? (Array.isArray(a.data) ? a.data : a.data === undefined ? [] : [a.data]) : []));
}

function withoutIdentity(params: Record<string, string>): Record<string, string> {
  const { txtvers: _v, protocol: _p, ...rest } = params;
  return rest;
}
