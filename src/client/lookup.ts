import type dnsPacket from 'dns-packet';
import { parseTxt } from '../dubbo/metadata.ts';
import type { ServiceKey } from '../dubbo/service-key.ts';
import { DnsQueryError } from './errors.ts';
import type { ServerPool } from './failover.ts';
import { buildProvider, sortProviders, type Provider } from './provider.ts';

// The questions one resolution asks (docs/records.md): the SRV of the service name (bare, or
// `_P._tcp` for a protocol) and the service TXT together; then, per SRV target, its address (from
// the additional section when the server sent it, else A, then AAAA) and its instance TXT.

/** The names one resolution asks about. */
export interface LookupNames {
  /** `S.N.Z`: service TXT; NXDOMAIN here means the service does not exist. */
  readonly service: string;
  /** The SRV owner: `S.N.Z` or `_P._tcp.S.N.Z`. */
  readonly srv: string;
}

/** How a lookup ended. `ttl` (seconds) is how long the outcome may be cached. */
export type LookupOutcome =
  | { readonly kind: 'found'; readonly providers: readonly Provider[]; readonly ttl: number }
  | { readonly kind: 'no-such-service'; readonly ttl: number }
  | { readonly kind: 'no-ready-provider'; readonly ttl: number };

/** Questions in flight at once for the per-provider part (addresses and instance TXT). */
const PARALLEL = 16;

/** Resolves one service through `pool`. DNS failures reject (DnsQueryError); "no" answers are outcomes. */
export async function lookupService(pool: ServerPool, key: ServiceKey, protocol: string | undefined, names: LookupNames, signal?: AbortSignal): Promise<LookupOutcome> {
  const [srv, txt] = await Promise.all([pool.ask(names.srv, 'SRV', signal), pool.ask(names.service, 'TXT', signal)]);
  if (txt.rcode === 'NXDOMAIN') return { kind: 'no-such-service', ttl: negativeTtl(txt) };
  const records = srv.answers.filter((a): a is dnsPacket.SrvAnswer => a.type === 'SRV' && sameName(a.name, names.srv));
  // NXDOMAIN for `_P._tcp.S.N.Z` while `S.N.Z` exists: the service has no ready provider on P.
  if (records.length === 0) return { kind: 'no-ready-provider', ttl: negativeTtl(srv) };

  const ttl = new MinTtl();
  for (const r of records) ttl.add(r);
  const txtRecords = txtOf(txt.answers, names.service, ttl);
  const service = parseTxt(txtRecords);
  const proto = protocol ?? service['protocol'] ?? 'dubbo';

  const providers = await mapLimit(records, PARALLEL, async (r) => {
    const [address, instance] = await Promise.all([addressOf(pool, r.data.target, srv.additionals, ttl, signal), pool.ask(r.data.target, 'TXT', signal)]);
    return buildProvider(key, proto, { port: r.data.port, weight: r.data.weight ?? 0, target: r.data.target }, address, service, parseTxt(txtOf(instance.answers, r.data.target, ttl)));
  });
  return { kind: 'found', providers: sortProviders(dedupe(providers)), ttl: ttl.value };
}

/** The smallest TTL seen: the resolution is only as fresh as its shortest-lived record. */
class MinTtl {
  #value = Infinity;
  add(record: dnsPacket.Answer): void {
    if ('ttl' in record && typeof record.ttl === 'number') this.#value = Math.min(this.#value, record.ttl);
  }
  get value(): number {
    return Number.isFinite(this.#value) ? this.#value : 0;
  }
}

/** RFC 2308 §5: a negative answer may be cached for the SOA's TTL, at most its MINIMUM field. */
function negativeTtl(reply: { readonly authorities: readonly dnsPacket.Answer[] }): number {
  const soa = reply.authorities.find((a): a is dnsPacket.SoaAnswer => a.type === 'SOA');
  if (soa === undefined) return 0;
  return Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}

/** The strings of every TXT record at `owner`, in order (one record's strings stay apart: RFC 6763 §6). */
function txtOf(answers: readonly dnsPacket.Answer[], owner: string, ttl: MinTtl): string[] {
  const out: string[] = [];
  for (const a of answers) {
    if (a.type !== 'TXT' || !sameName(a.name, owner)) continue;
    ttl.add(a);
    const data = Array.isArray(a.data) ? a.data : [a.data];
    for (const d of data) out.push(typeof d === 'string' ? d : Buffer.from(d).toString('utf8'));
  }
  return out;
}

async function addressOf(pool: ServerPool, target: string, additionals: readonly dnsPacket.Answer[], ttl: MinTtl, signal?: AbortSignal): Promise<string> {
  const isAddress = (a: dnsPacket.Answer): a is dnsPacket.StringAnswer => (a.type === 'A' || a.type === 'AAAA') && sameName(a.name, target);
  const glue = additionals.find(isAddress);
  if (glue !== undefined) {
    ttl.add(glue);
    return glue.data;
  }
  for (const type of ['A', 'AAAA'] as const) {
    const found = (await pool.ask(target, type, signal)).answers.find(isAddress);
    if (found !== undefined) {
      ttl.add(found);
      return found.data;
    }
  }
  // The zone changed between the SRV and this question: not an answer to build on.
  throw new DnsQueryError('EBADRESP', target, '', `SRV target ${target} has no A or AAAA record`);
}

/** One provider per address, port and protocol (a server may list a target twice). */
function dedupe(providers: readonly Provider[]): Provider[] {
  const seen = new Set<string>();
  return providers.filter((p) => {
    const id = `${p.address}|${p.port}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** `Promise.all(items.map(fn))` with at most `limit` calls pending. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
