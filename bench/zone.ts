// Deterministic benchmark zone (DESIGN §12): N Dubbo services × 3-10 endpoints, written as
//   (a) a registry file (DESIGN §8) for dubbo-dns,
//   (b) an RFC 1035 zone file with exactly the same records, for CoreDNS (`file`) and Knot,
//   (c) a dnsperf query file (SRV, TXT, A/AAAA, _P._tcp SRV, 10% NXDOMAIN), shuffled.
// (b) is produced from the product's own record builder (parseRegistry -> serviceRecords), so the
// peers serve what dubbo-dns serves, not a re-implementation of DESIGN §5.
//
// CLI: node bench/zone.ts --services 1000 [--endpoints 3-10] [--seed 1] [--queries 100000] --out DIR

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRegistry } from '../src/source/registry-file.ts';
import { serviceRecords } from '../src/dns/index/records.ts';
import type { Rdata, RRset } from '../src/dns/model/types.ts';
import { applicationName, applicationRecords, serviceApplications } from '../src/dns/index/app-records.ts';
import { serviceKeyId } from '../src/dubbo/service-key.ts';
import { nameserverName } from '../src/dns/index/zone-index.ts';
import { normalizeZone } from '../src/dubbo/naming.ts';
import type { ZoneData } from '../src/dns/index/zone-data.ts';

export const ZONE = 'dubbo.internal.';
export const NAMESPACE = 'bench';
export const TTL = 5;
/** A fixed serial: dubbo-dns picks its own (unix seconds); the serial is never compared. */
const ZONE_FILE_SERIAL = 2024010101;

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of the generator. */
export interface ZoneSpec {
  readonly services: number;
  readonly minEndpoints: number;
  readonly maxEndpoints: number;
  readonly seed: number;
  /** Lines in the dnsperf query file (dnsperf loops over it). */
  readonly queries: number;
  /**
   * Services per application. Default: 50 applications per domain, so applications grow with the
   * zone (about services / 800 each); a number keeps them that size at every zone size.
   */
  readonly servicesPerApplication?: number;
}

/** The registry model, as written to YAML (DESIGN §8). Kept so callers can edit and re-emit it. */
export interface RegistryEndpoint {
  address: string;
  hostname?: string;
  weight?: number;
  ready?: boolean;
  metadata?: Record<string, string>;
}
export interface RegistryService {
  interface: string;
  group?: string;
  version?: string;
  protocol: string;
  port: number;
  metadata: Record<string, string>;
  endpoints: RegistryEndpoint[];
}
export interface Registry {
  namespace: string;
  services: RegistryService[];
}

const DOMAINS = ['order', 'payment', 'user', 'inventory', 'shipping', 'catalog', 'cart', 'review', 'search', 'notify', 'account', 'coupon', 'risk', 'report', 'gateway', 'price'];
const VERBS = ['Query', 'Command', 'Admin', 'Sync', 'Event', 'Read', 'Write', ''];
const GROUPS = ['gray', 'canary', 'blue', 'prod'];
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Builds the registry model: deterministic for a given spec. */
export function generateRegistry(spec: ZoneSpec): Registry {
  const rnd = prng(spec.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const word = (n: number): string => Array.from({ length: n }, () => pick([...ALNUM])).join('');
  let v4 = 0;
  let v6 = 0;
  const services: RegistryService[] = [];
  for (let i = 0; i < spec.services; i++) {
    const domain = pick(DOMAINS);
    const cap = domain[0]!.toUpperCase() + domain.slice(1);
    const iface = `com.example.${domain}.api.${cap}${pick(VERBS)}Service${i}`;
    const r = rnd();
    const group = r < 0.4 ? undefined : pick(GROUPS);
    const version = rnd() < 0.3 ? undefined : rnd() < 0.5 ? `1.0.${int(0, 9)}` : `2.${int(0, 9)}.0`;
    const tri = rnd() < 0.2;
    const application = spec.servicesPerApplication === undefined ? `${domain}-app-${i % 50}` : `app-${Math.floor(i / spec.servicesPerApplication)}`;
    const metadata: Record<string, string> = {
      application,
      serialization: pick(['hessian2', 'fastjson2', 'protobuf']),
      timeout: String(pick([1000, 3000, 5000])),
      retries: String(int(0, 3)),
      release: '3.3.0',
    };
    const endpoints: RegistryEndpoint[] = [];
    const count = int(spec.minEndpoints, spec.maxEndpoints);
    const hostnames = new Set<string>();
    for (let j = 0; j < count; j++) {
      let address: string;
      if (rnd() < 0.1) {
        v6++;
        address = `fd00::${(v6 >> 16).toString(16)}:${(v6 & 0xffff).toString(16)}`;
      } else {
        v4++;
        address = `10.${(v4 >> 16) & 255}.${(v4 >> 8) & 255}.${v4 & 255}`;
      }
      const e: RegistryEndpoint = { address };
      if (rnd() < 0.8) {
        let h = `${domain}-${word(5)}`;
        while (hostnames.has(h)) h = `${domain}-${word(5)}`;
        hostnames.add(h);
        e.hostname = h;
      }
      if (rnd() < 0.2) e.weight = pick([50, 200, 300]);
      if (rnd() < 0.03) e.ready = false;
      e.metadata = { timestamp: String(1700000000000 + int(0, 99999999)) };
      endpoints.push(e);
    }
    const s: RegistryService = { interface: iface, protocol: tri ? 'tri' : 'dubbo', port: tri ? 50051 : 20880, metadata, endpoints };
    if (group !== undefined) s.group = group;
    if (version !== undefined) s.version = version;
    services.push(s);
  }
  return { namespace: NAMESPACE, services };
}

/** YAML text of the registry: block style per service, one flow mapping per endpoint (fast to emit). */
export function registryYaml(reg: Registry): string {
  const q = (s: string): string => JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
  const map = (m: Record<string, string>): string =>
    `{ ${Object.entries(m)
      .map(([k, v]) => `${k}: ${q(v)}`)
      .join(', ')} }`;
  const out: string[] = [`# generated by bench/zone.ts`, `namespace: ${reg.namespace}`, 'services:'];
  for (const s of reg.services) {
    out.push(`  - interface: ${s.interface}`);
    if (s.group !== undefined) out.push(`    group: ${q(s.group)}`);
    if (s.version !== undefined) out.push(`    version: ${q(s.version)}`);
    out.push(`    protocol: ${s.protocol}`, `    port: ${s.port}`, `    metadata: ${map(s.metadata)}`, '    endpoints:');
    for (const e of s.endpoints) {
      const parts = [`address: ${q(e.address)}`];
      if (e.hostname !== undefined) parts.push(`hostname: ${e.hostname}`);
      if (e.weight !== undefined) parts.push(`weight: ${e.weight}`);
      if (e.ready !== undefined) parts.push(`ready: ${e.ready}`);
      if (e.metadata !== undefined) parts.push(`metadata: ${map(e.metadata)}`);
      out.push(`      - { ${parts.join(', ')} }`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** RFC 1035 §5.1 character-string: quoted, `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
function characterString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x20 || byte > 0x7e) out += `\\${String(byte).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

function rdataText(r: Rdata): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return r.address;
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'TXT':
      return (r.strings.length === 0 ? [''] : r.strings).map(characterString).join(' ');
    case 'PTR':
    case 'NS':
      return r.target;
    case 'SOA':
      return `${r.mname} ${r.rname} ${r.serial} ${r.refresh} ${r.retry} ${r.expire} ${r.minimum}`;
  }
}

/** Per service: the names the query file draws from (all from the record builder's output). */
export interface ServiceNamesForQueries {
  readonly base: string;
  readonly protocolSrv: string | undefined;
  /** Endpoint owner names with the address type they hold. */
  readonly endpoints: readonly { name: string; type: 'A' | 'AAAA' }[];
}

/** Zone file text plus the names that exist, from the product's record builder. */
export function zoneFileFromData(data: ZoneData, zoneName = ZONE, ttl = TTL): { text: string; names: ServiceNamesForQueries[]; records: number; owners: number } {
  const zone = normalizeZone(zoneName);
  const ns = nameserverName(zone);
  const lines: string[] = [`$ORIGIN ${zone}`, `$TTL ${ttl}`];
  const rr = (owner: string, r: Rdata): string => `${owner} ${ttl} IN ${r.type} ${rdataText(r)}`;
  lines.push(rr(zone, { type: 'SOA', mname: ns, rname: `hostmaster.${zone}`, serial: ZONE_FILE_SERIAL, refresh: 60, retry: 10, expire: 86400, minimum: ttl }));
  lines.push(rr(zone, { type: 'NS', target: ns }));
  let records = 2;
  const owners = new Set<string>([zone]);
  const browse = new Map<string, string[]>();
  const names: ServiceNamesForQueries[] = [];
  const seenServices = new Set<string>();
  for (const service of data.services) {
    const { label, records: sets } = serviceRecords(service, zone);
    const base = `${label}.${service.namespace}.${zone}`;
    if (seenServices.has(base)) continue; // the index keeps the first copy of a key too
    seenServices.add(base);
    const list = browse.get(service.namespace) ?? [];
    list.push(`${label}._dubbo._tcp.${service.namespace}.${zone}`);
    browse.set(service.namespace, list);
    const endpoints: { name: string; type: 'A' | 'AAAA' }[] = [];
    let protocolSrv: string | undefined;
    for (const [owner, rrsets] of sets) {
      owners.add(owner);
      for (const set of rrsets as RRset[]) {
        for (const r of set.records) {
          lines.push(rr(owner, r));
          records++;
        }
        if (owner !== base && owner.endsWith(`.${base}`) && !owner.startsWith('_') && (set.type === 'A' || set.type === 'AAAA')) {
          endpoints.push({ name: owner, type: set.type });
        }
      }
      if (owner === `_${service.protocol}._tcp.${base}`) protocolSrv = owner;
    }
    names.push({ base, protocolSrv, endpoints });
  }
  for (const [namespace, instances] of browse) {
    const owner = `_dubbo._tcp.${namespace}.${zone}`;
    owners.add(owner);
    for (const target of instances) {
      lines.push(rr(owner, { type: 'PTR', target }));
      records++;
    }
  }
  // Application names (A.app.N.Z), with the index's member order (services sorted by key).
  const apps = new Map<string, { namespace: string; label: string; services: ZoneData['services'][number][] }>();
  const sorted = [...data.services].sort((a, b) => {
    const x = `${a.namespace}\u0000${serviceKeyId(a.key)}`;
    const y = `${b.namespace}\u0000${serviceKeyId(b.key)}`;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (const service of sorted) {
    for (const label of serviceApplications(service).labels) {
      const id = `${service.namespace}\u0000${label}`;
      const app = apps.get(id) ?? { namespace: service.namespace, label, services: [] };
      app.services.push(service);
      apps.set(id, app);
    }
  }
  for (const app of apps.values()) {
    owners.add(applicationName(app.label, app.namespace, zone));
    for (const set of applicationRecords(app.label, app.namespace, zone, app.services).rrsets) {
      for (const r of set.records) {
        lines.push(rr(set.name, r));
        records++;
      }
    }
  }
  return { text: `${lines.join('\n')}\n`, names, records, owners: owners.size };
}

/**
 * The dnsperf query list, shuffled: 25% SRV at S, 15% TXT at S, 15% A at S, 20% A/AAAA at an
 * endpoint, 15% SRV at _P._tcp.S, 10% names that do not exist (half directly under the namespace,
 * half under an existing service name).
 */
export function queryLines(names: readonly ServiceNamesForQueries[], count: number, seed: number, zoneName = ZONE): string[] {
  const zone = normalizeZone(zoneName);
  const rnd = prng(seed ^ 0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const word = (n: number): string => Array.from({ length: n }, () => pick([...ALNUM])).join('');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = pick(names);
    const r = rnd();
    if (r < 0.25) out.push(`${s.base} SRV`);
    else if (r < 0.4) out.push(`${s.base} TXT`);
    else if (r < 0.55) out.push(`${s.base} A`);
    else if (r < 0.75 && s.endpoints.length > 0) {
      const e = pick(s.endpoints);
      out.push(`${e.name} ${e.type}`);
    } else if (r < 0.9) out.push(`${s.protocolSrv ?? s.base} SRV`);
    // NXDOMAIN: labels with a `zz-` prefix that the generator never produces.
    else if (rnd() < 0.5) out.push(`zz-${word(8)}.${NAMESPACE}.${zone} ${pick(['SRV', 'A', 'TXT'])}`);
    else out.push(`zz-${word(6)}.${s.base} ${pick(['A', 'TXT'])}`);
  }
  // Fisher-Yates: the mix above is already random per line; shuffle anyway so no run of types lines up.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Paths and facts of a generated benchmark zone. */
export interface GeneratedZone {
  readonly dir: string;
  readonly registryFile: string;
  readonly zoneFile: string;
  readonly queryFile: string;
  readonly registry: Registry;
  readonly data: ZoneData;
  readonly services: number;
  readonly endpoints: number;
  readonly records: number;
  readonly owners: number;
  readonly names: readonly ServiceNamesForQueries[];
}

/** Writes registry.yaml, dubbo.internal.zone and queries.txt into `dir`. */
export function writeZone(spec: ZoneSpec, dir: string): GeneratedZone {
  mkdirSync(dir, { recursive: true });
  const registry = generateRegistry(spec);
  const yaml = registryYaml(registry);
  // Parse the text we wrote, exactly as the server will: the zone file follows the server's reading.
  const data = parseRegistry(yaml, 'registry.yaml');
  const zone = zoneFileFromData(data);
  const registryFile = join(dir, 'registry.yaml');
  const zoneFile = join(dir, 'dubbo.internal.zone');
  const queryFile = join(dir, 'queries.txt');
  writeFileSync(registryFile, yaml);
  writeFileSync(zoneFile, zone.text);
  writeFileSync(queryFile, `${queryLines(zone.names, spec.queries, spec.seed).join('\n')}\n`);
  const endpoints = data.services.reduce((n, s) => n + s.endpoints.length, 0);
  return { dir, registryFile, zoneFile, queryFile, registry, data, services: data.services.length, endpoints, records: zone.records, owners: zone.owners, names: zone.names };
}

/** Parses `3-10` or `10` into a range. */
export function parseRange(text: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (m === null) throw new Error(`bad range ${JSON.stringify(text)} (want N or MIN-MAX)`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo < 1 || hi < lo) throw new Error(`bad range ${text}`);
  return [lo, hi];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      services: { type: 'string', default: '1000' },
      endpoints: { type: 'string', default: '3-10' },
      seed: { type: 'string', default: '1' },
      queries: { type: 'string', default: '100000' },
      out: { type: 'string', default: 'bench-zone' },
    },
  });
  const [minEndpoints, maxEndpoints] = parseRange(values.endpoints);
  const z = writeZone(
    { services: Number(values.services), minEndpoints, maxEndpoints, seed: Number(values.seed), queries: Number(values.queries) },
    resolve(values.out),
  );
  process.stdout.write(
    `wrote ${z.registryFile}, ${z.zoneFile}, ${z.queryFile}: ${z.services} services, ${z.endpoints} endpoints, ${z.records} records, ${z.owners} owner names\n`,
  );
}
