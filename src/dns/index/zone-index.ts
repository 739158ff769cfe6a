import { createHash } from 'node:crypto';
import { normalizeZone } from '../../dubbo/naming.ts';
import { serviceKeyId } from '../../dubbo/service-key.ts';
import { QTYPE } from '../wire/codes.ts';
import { encodeRecord, nameToWire, suffixTable } from '../wire/encode.ts';
import { applicationName, applicationRecords, serviceApplications, type ServiceApplications } from './app-records.ts';
import { serviceRecords } from './records.ts';
import type { NameNode, Prepared, Rdata, RRset, Snapshot } from '../model/types.ts';
import { NO_BYTES, NO_ENDS, prepare } from '../wire/packed.ts';
import type { ServiceData, ZoneData } from './zone-data.ts';

// The zone as an immutable snapshot (docs/architecture.md): built off to the side, with every
// answer precomputed as wire bytes per (name, type), then swapped in whole by its holder. Queries
// read one reference and never see a half-built zone. A build reuses what did not change: the
// compiled names of unchanged services, the browse records of unchanged namespaces, and the name
// table itself (copied, then patched), so one endpoint changing costs one service, not the zone
// (plus the application-level names of its applications, app-records.ts).

/** Settings that shape every record. */
export interface ZoneSettings {
  /** Zone apex, any case, with or without trailing dot. */
  readonly zone: string;
  /** TTL of every record, and the negative TTL (SOA minimum). */
  readonly ttl: number;
  /** Addresses of this server, published at the NS target `ns.dns.Z` (glue for NS answers). */
  readonly nameserverAddresses?: readonly string[] | undefined;
}

/** Counters a snapshot carries for metrics and logs. */
export interface ZoneStats {
  readonly services: number;
  /** Application-level names published (`A.app.N.Z`). */
  readonly applications: number;
  readonly names: number;
  readonly records: number;
  readonly endpoints: number;
}

/** Per-service compiled names, reused by the next build when the service did not change. */
interface Fragment {
  readonly fingerprint: string;
  /** The DNS-SD instance name `S._dubbo._tcp.N.Z`, for the namespace's browse PTR. */
  readonly instance: string;
  /** Its names, with the empty non-terminals inside its own subtree (`_tcp.S.N.Z`). */
  readonly nodes: ReadonlyMap<string, NameNode>;
  readonly records: number;
  readonly endpoints: number;
  /** The applications its providers belong to, so a build can group services by application without reading endpoints. */
  readonly applications: ServiceApplications;
  /** `namespace NUL label` of each of those applications: the keys of `Carry.apps`. */
  readonly appIds: readonly string[];
}

/** One application's compiled name, reused while the services in it are unchanged. */
interface AppFragment {
  /** The fingerprints of its services, in order: equal lists mean the same records. */
  readonly fingerprints: readonly string[];
  readonly nodes: ReadonlyMap<string, NameNode>;
  readonly records: number;
}

/** What a build keeps for the next one besides the fragments. */
interface Carry {
  readonly fragments: ReadonlyMap<string, Fragment>;
  /** Namespace NUL application label -> its compiled name. */
  readonly apps: ReadonlyMap<string, AppFragment>;
  /** Namespace -> its browse node and the instance list it was built from. */
  readonly browse: ReadonlyMap<string, { readonly instances: string; readonly node: NameNode }>;
  /** Keys of the names owned by the zone level (apex, namespaces, browse), replaced every build. */
  readonly zoneKeys: readonly string[];
}

/** An immutable, fully compiled zone. */
export interface ZoneIndex extends Snapshot {
  /** Apex, lowercase, trailing dot. */
  readonly zone: string;
  /** Apex in wire form, lowercase (latin1 string), for suffix checks. */
  readonly zoneKey: string;
  readonly serial: number;
  readonly ttl: number;
  /** Lowercase wire-form name (latin1) -> node; includes empty non-terminals. */
  readonly names: ReadonlyMap<string, NameNode>;
  /** Content hash: equal for zones that answer the same (serial aside). See {@link zoneFingerprint}. */
  readonly fingerprint: string;
  readonly stats: ZoneStats;
  /** Application names not published because they are not valid DNS labels (sorted); the server warns once per name. */
  readonly skippedApplications: readonly string[];
  /** The SOA record for a negative answer whose question has the apex at `apexOffset`. */
  negativeSoa(apexOffset: number): Buffer;
  /** What the next incremental build reuses. */
  readonly carry: Carry;
  /** When this snapshot was built (ms since epoch). */
  readonly builtAt: number;
  /**
   * Every record of the zone for a transfer (RFC 5936): SOA first, then all others, then SOA
   * again, each compressed against the apex as the question name. Computed on demand.
   */
  transferRecords(): Generator<Buffer>;
}

/** The name the NS and SOA records point to: two labels, so it can never collide with `S.N.Z`. */
export function nameserverName(zone: string): string {
  return `ns.dns.${zone}`;
}

/** SOA timers: short, as the data changes by the second and secondaries get NOTIFY. */
const SOA_TIMERS = { refresh: 60, retry: 10, expire: 86400 } as const;

/** Wire key of a dotted name: lowercase wire form as a latin1 string. */
export function wireKey(name: string): string {
  return nameToWire(name.toLowerCase()).toString('latin1');
}

/** The next SOA serial: unix seconds when that is higher, else previous + 1 (RFC 1982 order). */
export function nextSerial(previous: number | undefined, nowMs = Date.now()): number {
  const seconds = Math.floor(nowMs / 1000) >>> 0;
  if (previous === undefined) return seconds;
  const bumped = (previous + 1) >>> 0;
  // RFC 1982: `seconds` is "greater" than previous when their difference is in (0, 2^31).
  const diff = (seconds - previous) >>> 0;
  return diff > 0 && diff < 0x80000000 ? seconds : bumped;
}

/** Compiles RRsets per owner into prepared answers, with SRV targets' addresses as additional. */
function compileNodes(sets: ReadonlyMap<string, RRset[]>, ttl: number, addressOf: (target: string) => readonly RRset[]): Map<string, NameNode> {
  const nodes = new Map<string, NameNode>();
  for (const [owner, rrsets] of sets) {
    const table = suffixTable(owner);
    const types = new Map<number, Prepared>();
    for (const set of rrsets) {
      const answers = set.records.map((r) => encodeRecord(owner, ttl, r, table));
      const additional: Buffer[] = [];
      if (set.type === 'SRV' || set.type === 'NS') {
        for (const r of set.records as Extract<Rdata, { type: 'SRV' | 'NS' }>[]) {
          for (const glue of addressOf(r.target)) for (const g of glue.records) additional.push(encodeRecord(glue.name, ttl, g, table));
        }
      }
      types.set(QTYPE[set.type], prepare(answers, additional));
    }
    nodes.set(wireKey(owner), { types, any: pickAny(types) });
  }
  return nodes;
}

/** RFC 8482 §4.2: answer ANY with one RRset; prefer the ones a Dubbo client would ask for. */
function pickAny(types: ReadonlyMap<number, Prepared>): Prepared | undefined {
  for (const t of [QTYPE.SOA, QTYPE.SRV, QTYPE.A, QTYPE.AAAA, QTYPE.PTR, QTYPE.TXT, QTYPE.NS]) {
    const p = types.get(t);
    if (p !== undefined) return p.additionalEnds.length === 0 ? p : { ...p, additionalBytes: NO_BYTES, additionalEnds: NO_ENDS };
  }
  return undefined;
}

const EMPTY: NameNode = { types: new Map(), any: undefined };

/**
 * Copies every answer of a group of names into one buffer of its own. Small buffers come from
 * Node's shared pool, where a few live bytes pin whole slabs full of build-time garbage (measured:
 * 49 MiB of answers held 309 MiB of slabs); one exact-size buffer per service frees with it.
 */
function compact(nodes: ReadonlyMap<string, NameNode>): Map<string, NameNode> {
  let total = 0;
  for (const node of nodes.values()) for (const p of node.types.values()) total += p.answerBytes.length + p.additionalBytes.length;
  const arena = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  const put = (bytes: Buffer): Buffer => {
    if (bytes.length === 0) return NO_BYTES;
    bytes.copy(arena, offset);
    offset += bytes.length;
    return arena.subarray(offset - bytes.length, offset);
  };
  const out = new Map<string, NameNode>();
  for (const [key, node] of nodes) {
    if (node === EMPTY) {
      out.set(key, EMPTY);
      continue;
    }
    const types = new Map<number, Prepared>();
    for (const [type, p] of node.types) types.set(type, { answerBytes: put(p.answerBytes), answerEnds: p.answerEnds, additionalBytes: put(p.additionalBytes), additionalEnds: p.additionalEnds });
    out.set(key, { types, any: pickAny(types) });
  }
  return out;
}

function compileService(service: ServiceData, zone: string, ttl: number, fingerprint: string): Fragment {
  const { label, records } = serviceRecords(service, zone);
  const addressOf = (target: string): readonly RRset[] => (records.get(target) ?? []).filter((s) => s.type === 'A' || s.type === 'AAAA');
  let count = 0;
  for (const sets of records.values()) for (const s of sets) count += s.records.length;
  const nodes = compact(compileNodes(records, ttl, addressOf));
  // RFC 8020: names between an owner and `S.N.Z` exist (NODATA), e.g. `_tcp.S.N.Z`.
  const baseKey = wireKey(`${label}.${service.namespace}.${zone}`);
  for (const key of [...nodes.keys()]) {
    if (!key.endsWith(baseKey)) continue;
    let offset = 0;
    while (key.length - offset > baseKey.length) {
      offset += key.charCodeAt(offset) + 1;
      const ancestor = key.slice(offset);
      if (nodes.has(ancestor)) break;
      nodes.set(ancestor, EMPTY);
    }
  }
  const instance = `${label}._dubbo._tcp.${service.namespace}.${zone}`;
  const applications = serviceApplications(service);
  const appIds = applications.labels.map((l) => `${service.namespace}\u0000${l}`);
  return { fingerprint, instance, nodes, records: count, endpoints: service.endpoints.length, applications, appIds };
}

/** The members of one application in this build. */
interface AppMembers {
  readonly namespace: string;
  readonly label: string;
  readonly services: ServiceData[];
  readonly fingerprints: string[];
}

function compileApplication(app: AppMembers, zone: string, ttl: number): AppFragment {
  const { rrsets, glue } = applicationRecords(app.label, app.namespace, zone, app.services);
  const owner = applicationName(app.label, app.namespace, zone);
  // An application whose providers are all unready still exists: NODATA, not NXDOMAIN.
  const nodes = rrsets.length === 0 ? new Map([[wireKey(owner), EMPTY]]) : compact(compileNodes(new Map([[owner, [...rrsets]]]), ttl, (target) => glue.get(target) ?? []));
  return { fingerprints: app.fingerprints, nodes, records: rrsets.reduce((n, set) => n + set.records.length, 0) };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Service data are immutable, so each object's fingerprint is computed once (sources reuse objects of unchanged services). */
const fingerprints = new WeakMap<ServiceData, string>();
function fingerprintOf(service: ServiceData): string {
  let f = fingerprints.get(service);
  if (f === undefined) {
    f = createHash('sha256').update(JSON.stringify(service)).digest('base64');
    fingerprints.set(service, f);
  }
  return f;
}

function fragmentId(service: ServiceData): string {
  return `${service.namespace}\u0000${serviceKeyId(service.key)}`;
}

/** The services a zone is built from, sorted, without duplicates (a second copy would shadow the first). */
function distinctServices(data: ZoneData): { id: string; service: ServiceData }[] {
  const sorted = data.services.map((service) => ({ id: fragmentId(service), service })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.filter((x, i) => i === 0 || sorted[i - 1]?.id !== x.id);
}

/** What a zone built from `data` would answer, as a hash: equal hashes, no rebuild. */
export function zoneFingerprint(data: ZoneData, settings: ZoneSettings): string {
  const hash = createHash('sha256').update(`${normalizeZone(settings.zone)}\u0000${settings.ttl}\u0000`);
  for (const { service } of distinctServices(data)) hash.update(fingerprintOf(service)).update('\u0000');
  return hash.digest('hex');
}

/**
 * Builds a snapshot from zone data. `previous` lends what did not change, so one endpoint changing
 * recompiles one service, not the zone.
 */
export function buildZoneIndex(data: ZoneData, settings: ZoneSettings, serial: number, previous?: ZoneIndex): ZoneIndex {
  const zone = normalizeZone(settings.zone);
  const { ttl } = settings;
  const carry = previous !== undefined && previous.zone === zone && previous.ttl === ttl ? previous.carry : undefined;

  const services = distinctServices(data);
  const fragments = new Map<string, Fragment>();
  const names = carry === undefined || previous === undefined ? new Map<string, NameNode>() : new Map(previous.names);
  const zoneHash = createHash('sha256').update(`${zone}\u0000${ttl}\u0000`);
  let recordCount = 0;
  let endpoints = 0;

  // 1. Services: reuse unchanged fragments; patch the copied name table for the others. On the way,
  // group them by application (`A.app.N.Z`) from what each fragment recorded, without reading endpoints.
  const members = new Map<string, AppMembers>();
  const skipped = new Set<string>();
  for (const { id, service } of services) {
    const fingerprint = fingerprintOf(service);
    zoneHash.update(fingerprint).update('\u0000');
    const prior = carry?.fragments.get(id);
    const fragment = prior !== undefined && prior.fingerprint === fingerprint ? prior : compileService(service, zone, ttl, fingerprint);
    fragments.set(id, fragment);
    recordCount += fragment.records;
    endpoints += fragment.endpoints;
    const { appIds, applications } = fragment;
    for (let i = 0; i < appIds.length; i++) {
      const appId = appIds[i]!;
      let app = members.get(appId);
      if (app === undefined) {
        app = { namespace: service.namespace, label: applications.labels[i]!, services: [], fingerprints: [] };
        members.set(appId, app);
      }
      app.services.push(service);
      app.fingerprints.push(fingerprint);
    }
    for (const name of applications.skipped) skipped.add(name);
  }
  // 1b. Applications: recompiled only when one of their services changed.
  const apps = new Map<string, AppFragment>();
  for (const [appId, app] of members) {
    const prior = carry?.apps.get(appId);
    const compiled = prior !== undefined && sameList(prior.fingerprints, app.fingerprints) ? prior : compileApplication(app, zone, ttl);
    apps.set(appId, compiled);
    recordCount += compiled.records;
  }

  if (carry !== undefined) {
    for (const [id, old] of carry.fragments) if (fragments.get(id) !== old) for (const key of old.nodes.keys()) names.delete(key);
    for (const [id, old] of carry.apps) if (apps.get(id) !== old) for (const key of old.nodes.keys()) names.delete(key);
    for (const key of carry.zoneKeys) names.delete(key);
  }
  for (const [id, fragment] of fragments) if (carry?.fragments.get(id) !== fragment) for (const [key, node] of fragment.nodes) names.set(key, node);
  for (const [id, app] of apps) if (carry?.apps.get(id) !== app) for (const [key, node] of app.nodes) names.set(key, node);

  // 2. Zone level: apex SOA/NS, and per namespace the DNS-SD browse PTR (RFC 6763 §4.1) and the
  // empty non-terminals `N.Z`, `_tcp.N.Z` (RFC 8020).
  const byNamespace = new Map<string, string[]>();
  for (const { service } of services) {
    const list = byNamespace.get(service.namespace) ?? [];
    list.push(fragments.get(fragmentId(service))!.instance);
    byNamespace.set(service.namespace, list);
  }
  const zoneKeys: string[] = [];
  const setZoneNode = (key: string, node: NameNode): void => {
    if (!names.has(key)) zoneKeys.push(key);
    names.set(key, node);
  };
  const browse = new Map<string, { instances: string; node: NameNode }>();
  for (const [namespace, instances] of byNamespace) {
    const owner = `_dubbo._tcp.${namespace}.${zone}`;
    const joined = instances.join('\u0000');
    const prior = carry?.browse.get(namespace);
    const node =
      prior !== undefined && prior.instances === joined
        ? prior.node
        : compact(compileNodes(new Map([[owner, [{ name: owner, type: 'PTR', records: instances.map((target) => ({ type: 'PTR', target })) } as RRset]]]), ttl, () => [])).get(wireKey(owner))!;
    browse.set(namespace, { instances: joined, node });
    setZoneNode(wireKey(owner), node);
    setZoneNode(wireKey(`_tcp.${namespace}.${zone}`), EMPTY);
    setZoneNode(wireKey(`${namespace}.${zone}`), EMPTY);
    recordCount += instances.length;
  }
  // RFC 8020: `app.N.Z` exists (NODATA) above the application names.
  for (const app of members.values()) setZoneNode(wireKey(`app.${app.namespace}.${zone}`), EMPTY);
  const soa: Rdata = { type: 'SOA', mname: nameserverName(zone), rname: `hostmaster.${zone}`, serial, ...SOA_TIMERS, minimum: ttl };
  const apexSets = new Map<string, RRset[]>([
    [
      zone,
      [
        { name: zone, type: 'SOA', records: [soa] },
        { name: zone, type: 'NS', records: [{ type: 'NS', target: nameserverName(zone) }] },
      ],
    ],
  ]);
  recordCount += 2;
  const nsName = nameserverName(zone);
  const nsAddresses = (settings.nameserverAddresses ?? []).map((address): Rdata => ({ type: address.includes(':') ? 'AAAA' : 'A', address }));
  for (const type of ['A', 'AAAA'] as const) {
    const records = nsAddresses.filter((r) => r.type === type);
    if (records.length > 0) apexSets.set(nsName, [...(apexSets.get(nsName) ?? []), { name: nsName, type, records }]);
    recordCount += records.length;
  }
  const nsGlue = apexSets.get(nsName) ?? [];
  for (const [key, node] of compileNodes(apexSets, ttl, (target) => (target === nsName ? nsGlue : []))) {
    zoneKeys.push(key);
    names.set(key, node);
  }
  for (const name of [nameserverName(zone), `dns.${zone}`]) if (!names.has(wireKey(name))) setZoneNode(wireKey(name), EMPTY);

  // The negative-answer SOA depends only on where the apex sits in the question: cache by offset.
  const negatives = new Map<number, Buffer>();
  const negativeSoa = (apexOffset: number): Buffer => {
    let rr = negatives.get(apexOffset);
    if (rr === undefined) {
      rr = encodeRecord(zone, ttl, soa, suffixTableAt(zone, apexOffset));
      negatives.set(apexOffset, rr);
    }
    return rr;
  };

  return {
    zone,
    zoneKey: wireKey(zone),
    serial,
    ttl,
    names,
    fingerprint: zoneHash.digest('hex'),
    stats: { services: fragments.size, applications: apps.size, names: names.size, records: recordCount, endpoints },
    skippedApplications: [...skipped].sort(),
    negativeSoa,
    carry: { fragments, apps, browse, zoneKeys },
    builtAt: Date.now(),
    *transferRecords() {
      const table = suffixTable(zone);
      const encode = function* (sets: Iterable<RRset>): Generator<Buffer> {
        for (const set of sets) for (const r of set.records) yield encodeRecord(set.name, ttl, r, table);
      };
      const soaRecord = encodeRecord(zone, ttl, soa, table);
      yield soaRecord;
      yield encodeRecord(zone, ttl, { type: 'NS', target: nameserverName(zone) }, table);
      yield* encode(nsGlue);
      for (const [namespace, instances] of byNamespace) {
        const owner = `_dubbo._tcp.${namespace}.${zone}`;
        yield* encode([{ name: owner, type: 'PTR', records: instances.map((target) => ({ type: 'PTR', target })) }]);
      }
      for (const { service } of services) for (const sets of serviceRecords(service, zone).records.values()) yield* encode(sets);
      for (const app of members.values()) yield* encode(applicationRecords(app.label, app.namespace, zone, app.services).rrsets);
      yield soaRecord;
    },
  };
}

/** Compression table for a question whose apex starts at `apexOffset`: only the apex's suffixes. */
function suffixTableAt(zone: string, apexOffset: number): Map<string, number> {
  const table = new Map<string, number>();
  const labels = zone.replace(/\.$/, '').split('.');
  let offset = apexOffset;
  for (let i = 0; i < labels.length; i++) {
    table.set(labels.slice(i).join('.'), offset);
    offset += 1 + (labels[i]?.length ?? 0);
  }
  return table;
}
