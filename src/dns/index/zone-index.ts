import { normalizeZone } from '../../dubbo/naming.ts';
import { QTYPE } from '../wire/codes.ts';
import { encodeRecord, nameToWire, suffixTable } from '../wire/encode.ts';
import { applicationName, applicationRecords, serviceApplications, type ServiceApplications } from './app-records.ts';
import { serviceRecords } from './records.ts';
import type { NameNode, Prepared, Rdata, RRset, Snapshot } from '../model/types.ts';
import { NO_BYTES, NO_ENDS, prepare } from '../wire/packed.ts';
import { ServiceSet } from './service-set.ts';
import { serviceId, type ServiceData, type ZoneData, type ZoneDelta } from './zone-data.ts';

// The zone's answers (docs/architecture.md): every answer precomputed as wire bytes per (name, type)
// in one table that each change patches in place (ZoneTable below), so one endpoint changing costs
// that service and the application names it feeds, never a pass over the zone. The services of a
// big change (a start, a relist) have their answers encoded when one of their names is first read
// (PendingAnswers), so the first answer never waits for the whole zone to be encoded.

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

/** One service's compiled names. */
interface Fragment {
  /** The DNS-SD instance name `S._dubbo._tcp.N.Z`, for the namespace's browse PTR. */
  readonly instance: string;
  /** Its names, with the empty non-terminals inside its own subtree (`_tcp.S.N.Z`); stand-ins while not encoded. */
  readonly nodes: ReadonlyMap<string, NameNode>;
  readonly records: number;
  readonly endpoints: number;
  /** The applications its providers belong to. */
  readonly applications: ServiceApplications;
  /** `namespace NUL label` of each of those applications: keys of the table's applications. */
  readonly appIds: readonly string[];
}

/** A service in the table. */
interface ServiceEntry {
  readonly service: ServiceData;
  readonly fragment: Fragment;
}

/** An application in the table: its member services and its compiled name. */
interface AppEntry {
  readonly namespace: string;
  readonly label: string;
  /** Service id -> service, for the services with a provider in this application. */
  readonly members: Map<string, ServiceData>;
  nodes: ReadonlyMap<string, NameNode>;
  records: number;
}

/** A namespace in the table: its services' DNS-SD instances and its application count. */
interface NamespaceEntry {
  /** Service id -> instance name. */
  readonly instances: Map<string, string>;
  applications: number;
}

/** The zone as answering sees it (a {@link ZoneTable}). */
export interface ZoneIndex extends Snapshot {
  /** Apex, lowercase, trailing dot. */
  readonly zone: string;
  /** Apex in wire form, lowercase (latin1 string), for suffix checks. */
  readonly zoneKey: string;
  readonly serial: number;
  readonly ttl: number;
  /** Lowercase wire-form name (latin1) -> node; includes empty non-terminals. */
  readonly names: ReadonlyMap<string, NameNode>;
  readonly stats: ZoneStats;
  /** Application names not published because they are not valid DNS labels (sorted); the server warns once per name. */
  readonly skippedApplications: readonly string[];
  /** The SOA record for a negative answer whose question has the apex at `apexOffset`. */
  negativeSoa(apexOffset: number): Buffer;
  /** When this version was installed (ms since epoch). */
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

/** Every answer of a service's records as wire bytes, by wire key of its owner names. */
function encodeAnswers(records: ReadonlyMap<string, RRset[]>, ttl: number): Map<string, NameNode> {
  const addressOf = (target: string): readonly RRset[] => (records.get(target) ?? []).filter((s) => s.type === 'A' || s.type === 'AAAA');
  return compact(compileNodes(records, ttl, addressOf));
}

/**
 * A change of more services than this (a start, a relist, a new registry file) leaves their
 * answers to be encoded on first use; a smaller one, the everyday change, encodes them at once, so
 * the first query after it costs no more than any other.
 */
const ENCODE_AT_ONCE_UP_TO = 64;

type Install = (nodes: ReadonlyMap<string, NameNode>, from: PendingAnswers) => void;

/**
 * A service's answers, encoded when one of its names is first asked. A table of 10k services
 * encodes ~800k records; doing it for all before answering anything made the first answer wait
 * seconds (CoreDNS builds answers per query). Until then each of its names is a stand-in whose
 * `types` and `any` encode the service; `install` then puts the encoded nodes in their place, so
 * later lookups read them directly.
 */
class PendingAnswers {
  readonly #service: ServiceData;
  readonly #zone: string;
  readonly #ttl: number;
  readonly #install: Install;
  #nodes: Map<string, NameNode> | undefined;

  constructor(service: ServiceData, zone: string, ttl: number, install: Install) {
    this.#service = service;
    this.#zone = zone;
    this.#ttl = ttl;
    this.#install = install;
  }

  /** The encoded node of owner name `key` (encoding the service's answers the first time). */
  node(key: string): NameNode {
    if (this.#nodes === undefined) {
      // The records are computed again rather than kept from compileService: held for every
      // service not asked yet, they would take more memory than the encoded answers.
      this.#nodes = encodeAnswers(serviceRecords(this.#service, this.#zone).records, this.#ttl);
      this.#install(this.#nodes, this);
    }
    return this.#nodes.get(key) ?? EMPTY;
  }
}

/** A name of a service whose answers are not encoded yet: reading it encodes them. */
class StandIn implements NameNode {
  readonly pending: PendingAnswers;
  readonly #key: string;
  constructor(pending: PendingAnswers, key: string) {
    this.pending = pending;
    this.#key = key;
  }
  get types(): ReadonlyMap<number, Prepared> {
    return this.pending.node(this.#key).types;
  }
  get any(): Prepared | undefined {
    return this.pending.node(this.#key).any;
  }
}

/** A service's names and counts; its answers encoded now, or on first use when `defer` is given. */
function compileService(service: ServiceData, zone: string, ttl: number, defer: Install | undefined): Fragment {
  const { label, records } = serviceRecords(service, zone);
  let count = 0;
  for (const sets of records.values()) for (const s of sets) count += s.records.length;
  let nodes: Map<string, NameNode>;
  if (defer === undefined) nodes = encodeAnswers(records, ttl);
  else {
    const pending = new PendingAnswers(service, zone, ttl, defer);
    nodes = new Map();
    for (const owner of records.keys()) {
      const key = wireKey(owner);
      nodes.set(key, new StandIn(pending, key));
    }
  }
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
  return { instance, nodes, records: count, endpoints: service.endpoints.length, applications, appIds };
}

function compileApplication(app: AppEntry, zone: string, ttl: number): void {
  const services = [...app.members].sort(byId).map(([, service]) => service);
  const { rrsets, glue } = applicationRecords(app.label, app.namespace, zone, services);
  const owner = applicationName(app.label, app.namespace, zone);
  // An application whose providers are all unready still exists: NODATA, not NXDOMAIN.
  app.nodes = rrsets.length === 0 ? new Map([[wireKey(owner), EMPTY]]) : compact(compileNodes(new Map([[owner, [...rrsets]]]), ttl, (target) => glue.get(target) ?? []));
  app.records = rrsets.reduce((n, set) => n + set.records.length, 0);
}

function byId(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The zone, every answer precomputed as wire bytes per (name, type), patched in place by each
 * change: a change recompiles the services it names, the application names those services feed,
 * and, when services come or go, their namespace's browse PTR; the rest of the table is untouched.
 * Answering reads the table synchronously between changes (one thread; a change is applied in one
 * synchronous step, after everything new is compiled), so no query sees a half-applied change.
 */
export class ZoneTable implements ZoneIndex {
  readonly zone: string;
  readonly zoneKey: string;
  readonly ttl: number;
  readonly names = new Map<string, NameNode>();
  serial = 0;
  builtAt = 0;
  readonly #services = new Map<string, ServiceEntry>();
  readonly #apps = new Map<string, AppEntry>();
  readonly #namespaces = new Map<string, NamespaceEntry>();
  /** Unpublishable application name -> how many services name it. */
  readonly #skipped = new Map<string, number>();
  readonly #nsGlue: readonly RRset[];
  #soa: Rdata | undefined;
  #negatives = new Map<number, Buffer>();
  #soaRecord: { readonly serial: number; readonly record: Buffer } | undefined;
  #serviceRecords = 0;
  #endpoints = 0;
  #appRecords = 0;
  #browseRecords = 0;

  /** Puts a service's encoded answers in place of its stand-ins (those still in the table). */
  readonly #install = (nodes: ReadonlyMap<string, NameNode>, from: PendingAnswers): void => {
    for (const [key, node] of nodes) {
      const current = this.names.get(key);
      if (current instanceof StandIn && current.pending === from) this.names.set(key, node);
    }
  };

  constructor(settings: ZoneSettings) {
    this.zone = normalizeZone(settings.zone);
    this.zoneKey = wireKey(this.zone);
    this.ttl = settings.ttl;
    const nsName = nameserverName(this.zone);
    const glue: RRset[] = [];
    for (const type of ['A', 'AAAA'] as const) {
      const records = (settings.nameserverAddresses ?? []).filter((a) => a.includes(':') === (type === 'AAAA')).map((address): Rdata => ({ type, address }));
      if (records.length > 0) glue.push({ name: nsName, type, records });
    }
    this.#nsGlue = glue;
    if (glue.length > 0) for (const [key, node] of compileNodes(new Map([[nsName, glue]]), this.ttl, () => [])) this.names.set(key, node);
  }

  get stats(): ZoneStats {
    const glue = this.#nsGlue.reduce((n, set) => n + set.records.length, 0);
    return {
      services: this.#services.size,
      applications: this.#apps.size,
      names: this.names.size,
      records: this.#serviceRecords + this.#appRecords + this.#browseRecords + 2 + glue,
      endpoints: this.#endpoints,
    };
  }

  get skippedApplications(): readonly string[] {
    return [...this.#skipped.keys()].sort();
  }

  /** Applies a change (services it puts are new or different) and takes `serial`. */
  apply(delta: ZoneDelta, serial: number): void {
    // Compile first: whatever throws, throws before the table is touched.
    const defer = delta.put.length > ENCODE_AT_ONCE_UP_TO ? this.#install : undefined;
    const incoming = delta.put.map((service) => ({ id: serviceId(service), service, fragment: compileService(service, this.zone, this.ttl, defer) }));
    const apps = new Set<string>();
    const namespaces = new Set<string>();
    for (const id of delta.drop) {
      const old = this.#services.get(id);
      if (old === undefined) continue;
      this.#removeService(id, old, apps);
      this.#namespaces.get(old.service.namespace)?.instances.delete(id);
      namespaces.add(old.service.namespace);
    }
    for (const entry of incoming) {
      const old = this.#services.get(entry.id);
      if (old !== undefined) this.#removeService(entry.id, old, apps);
      this.#addService(entry.id, entry, apps);
      if (old === undefined) {
        const namespace = entry.service.namespace;
        let ns = this.#namespaces.get(namespace);
        if (ns === undefined) this.#namespaces.set(namespace, (ns = { instances: new Map(), applications: 0 }));
        ns.instances.set(entry.id, entry.fragment.instance);
        namespaces.add(namespace);
      }
    }
    for (const appId of apps) this.#refreshApplication(appId);
    for (const namespace of namespaces) this.#refreshNamespace(namespace);
    this.#setApex(serial);
  }

  #addService(id: string, entry: ServiceEntry, apps: Set<string>): void {
    const { fragment, service } = entry;
    this.#services.set(id, entry);
    for (const [key, node] of fragment.nodes) this.names.set(key, node);
    this.#serviceRecords += fragment.records;
    this.#endpoints += fragment.endpoints;
    for (let i = 0; i < fragment.appIds.length; i++) {
      const appId = fragment.appIds[i]!;
      let app = this.#apps.get(appId);
      if (app === undefined) {
        app = { namespace: service.namespace, label: fragment.applications.labels[i]!, members: new Map(), nodes: new Map(), records: 0 };
        this.#apps.set(appId, app);
      }
      app.members.set(id, service);
      apps.add(appId);
    }
    for (const name of fragment.applications.skipped) this.#skipped.set(name, (this.#skipped.get(name) ?? 0) + 1);
  }

  #removeService(id: string, entry: ServiceEntry, apps: Set<string>): void {
    const { fragment } = entry;
    this.#services.delete(id);
    for (const key of fragment.nodes.keys()) this.names.delete(key);
    this.#serviceRecords -= fragment.records;
    this.#endpoints -= fragment.endpoints;
    for (const appId of fragment.appIds) {
      this.#apps.get(appId)?.members.delete(id);
      apps.add(appId);
    }
    for (const name of fragment.applications.skipped) {
      const n = (this.#skipped.get(name) ?? 1) - 1;
      if (n === 0) this.#skipped.delete(name);
      else this.#skipped.set(name, n);
    }
  }

  /** Recompiles an application whose members changed, or removes it when it has none left. */
  #refreshApplication(appId: string): void {
    const app = this.#apps.get(appId);
    if (app === undefined) return;
    for (const key of app.nodes.keys()) this.names.delete(key);
    this.#appRecords -= app.records;
    const ns = this.#namespaces.get(app.namespace);
    if (app.members.size === 0) {
      this.#apps.delete(appId);
      if (ns !== undefined && --ns.applications === 0) this.names.delete(wireKey(`app.${app.namespace}.${this.zone}`));
      return;
    }
    const isNew = app.nodes.size === 0;
    compileApplication(app, this.zone, this.ttl);
    for (const [key, node] of app.nodes) this.names.set(key, node);
    this.#appRecords += app.records;
    if (isNew) {
      const entry = this.#namespaces.get(app.namespace);
      // The namespace exists: a member service was just added to it.
      if (entry !== undefined && entry.applications++ === 0) this.names.set(wireKey(`app.${app.namespace}.${this.zone}`), EMPTY);
    }
  }

  /**
   * A namespace whose services came or went: its DNS-SD browse PTR (RFC 6763 §4.1) and the empty
   * non-terminals `N.Z`, `_tcp.N.Z` (RFC 8020); all gone with its last service.
   */
  #refreshNamespace(namespace: string): void {
    const ns = this.#namespaces.get(namespace);
    const owner = `_dubbo._tcp.${namespace}.${this.zone}`;
    const keys = [wireKey(owner), wireKey(`_tcp.${namespace}.${this.zone}`), wireKey(`${namespace}.${this.zone}`)] as const;
    const before = this.names.get(keys[0])?.types.get(QTYPE.PTR)?.answerEnds.length ?? 0;
    this.#browseRecords -= before;
    if (ns === undefined || ns.instances.size === 0) {
      this.#namespaces.delete(namespace);
      for (const key of keys) this.names.delete(key);
      return;
    }
    const instances = [...ns.instances].sort(byId).map(([, instance]) => instance);
    const browse: RRset = { name: owner, type: 'PTR', records: instances.map((target) => ({ type: 'PTR', target })) };
    this.names.set(keys[0], compact(compileNodes(new Map([[owner, [browse]]]), this.ttl, () => [])).get(keys[0])!);
    this.names.set(keys[1], EMPTY);
    this.names.set(keys[2], EMPTY);
    this.#browseRecords += instances.length;
  }

  /** The apex SOA (with `serial`) and NS, and the names under `dns.Z` that always exist. */
  #setApex(serial: number): void {
    this.serial = serial;
    this.builtAt = Date.now();
    const zone = this.zone;
    const nsName = nameserverName(zone);
    this.#soa = { type: 'SOA', mname: nsName, rname: `hostmaster.${zone}`, serial, ...SOA_TIMERS, minimum: this.ttl };
    const apex = new Map<string, RRset[]>([
      [
        zone,
        [
          { name: zone, type: 'SOA', records: [this.#soa] },
          { name: zone, type: 'NS', records: [{ type: 'NS', target: nsName }] },
        ],
      ],
    ]);
    for (const [key, node] of compileNodes(apex, this.ttl, (target) => (target === nsName ? this.#nsGlue : []))) this.names.set(key, node);
    // A namespace named `dns` shares `dns.Z`; whichever leaves last, the name stays.
    for (const name of [nsName, `dns.${zone}`]) if (!this.names.has(wireKey(name))) this.names.set(wireKey(name), EMPTY);
    this.#negatives = new Map();
  }

  negativeSoa(apexOffset: number): Buffer {
    // It depends only on where the apex sits in the question: cached by offset.
    let rr = this.#negatives.get(apexOffset);
    if (rr === undefined) {
      rr = encodeRecord(this.zone, this.ttl, this.#soa!, suffixTableAt(this.zone, apexOffset));
      this.#negatives.set(apexOffset, rr);
    }
    return rr;
  }

  soaRecord(): Buffer {
    if (this.#soaRecord?.serial !== this.serial) this.#soaRecord = { serial: this.serial, record: encodeRecord(this.zone, this.ttl, this.#soa!, suffixTable(this.zone)) };
    return this.#soaRecord.record;
  }

  *transferRecords(): Generator<Buffer> {
    const { zone, ttl } = this;
    const table = suffixTable(zone);
    const encode = function* (sets: Iterable<RRset>): Generator<Buffer> {
      for (const set of sets) for (const r of set.records) yield encodeRecord(set.name, ttl, r, table);
    };
    // Read everything now: a change applied while a consumer iterates must not mix two versions.
    const soaRecord = this.soaRecord();
    const services = [...this.#services].sort(byId).map(([, e]) => e.service);
    const namespaces = [...this.#namespaces].sort(byId).map(([namespace, ns]) => ({ namespace, instances: [...ns.instances].sort(byId).map(([, i]) => i) }));
    const apps = [...this.#apps.values()].map((app) => ({ label: app.label, namespace: app.namespace, services: [...app.members].sort(byId).map(([, s]) => s) }));
    const glue = this.#nsGlue;
    yield soaRecord;
    yield encodeRecord(zone, ttl, { type: 'NS', target: nameserverName(zone) }, table);
    yield* encode(glue);
    for (const { namespace, instances } of namespaces) {
      const owner = `_dubbo._tcp.${namespace}.${zone}`;
      yield* encode([{ name: owner, type: 'PTR', records: instances.map((target) => ({ type: 'PTR', target })) }]);
    }
    for (const service of services) for (const sets of serviceRecords(service, zone).records.values()) yield* encode(sets);
    for (const app of apps) yield* encode(applicationRecords(app.label, app.namespace, zone, app.services).rrsets);
    yield soaRecord;
  }
}

/** A zone built from scratch from whole data (tests, benches, and the first version of a source). */
export function buildZoneIndex(data: ZoneData, settings: ZoneSettings, serial: number): ZoneTable {
  const table = new ZoneTable(settings);
  table.apply(new ServiceSet().apply({ full: data }), serial);
  return table;
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
