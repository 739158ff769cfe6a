import { createHash } from 'node:crypto';
import { normalizeZone } from '../../dubbo/naming.ts';
import { serviceKeyId } from '../../dubbo/service-key.ts';
import { QTYPE } from '../wire/codes.ts';
import { encodeRecord, nameToWire, suffixTable } from '../wire/encode.ts';
import { serviceRecords, type Rdata, type RRset } from './records.ts';
import type { ServiceData, ZoneData } from './zone-data.ts';

// The zone as an immutable snapshot (DESIGN §3, STYLE habit 8): built off to the side, with every
// answer precomputed as wire bytes per (name, type), then swapped in whole by its holder. Queries
// read one reference and never see a half-built zone.

/** A precomputed answer for one (name, type). */
export interface Prepared {
  /** Answer records, each position-independent (see wire/encode.ts): views into `answerBytes`. */
  readonly answers: readonly Buffer[];
  readonly answerBytes: Buffer;
  /** Additional records (SRV targets' addresses), sent only when they fit. */
  readonly additional: readonly Buffer[];
  readonly additionalBytes: Buffer;
}

/** Packs records into one buffer, keeping a view per record. */
export function prepare(answers: readonly Buffer[], additional: readonly Buffer[]): Prepared {
  const pack = (records: readonly Buffer[]): [Buffer, Buffer[]] => {
    const bytes = Buffer.concat(records);
    const views: Buffer[] = [];
    let offset = 0;
    for (const r of records) {
      views.push(bytes.subarray(offset, offset + r.length));
      offset += r.length;
    }
    return [bytes, views];
  };
  const [answerBytes, answerViews] = pack(answers);
  const [additionalBytes, additionalViews] = pack(additional);
  return { answers: answerViews, answerBytes, additional: additionalViews, additionalBytes };
}

/** One owner name (or empty non-terminal) of the zone. */
export interface NameNode {
  /** Answers by query type; a type not here is NODATA. */
  readonly types: ReadonlyMap<number, Prepared>;
  /** RFC 8482 minimal answer to ANY: one RRset, or none for an empty non-terminal. */
  readonly any: Prepared | undefined;
}

/** Settings that shape every record. */
export interface ZoneSettings {
  /** Zone apex, any case, with or without trailing dot. */
  readonly zone: string;
  /** TTL of every record, and the negative TTL (SOA minimum). */
  readonly ttl: number;
}

/** Counters a snapshot carries for metrics and logs. */
export interface ZoneStats {
  readonly services: number;
  readonly names: number;
  readonly records: number;
  readonly endpoints: number;
}

/** Per-service compiled names, reused by the next build when the service did not change. */
interface Fragment {
  readonly fingerprint: string;
  /** The DNS-SD instance name `S._dubbo._tcp.N.Z`, for the namespace's browse PTR. */
  readonly instance: string;
  readonly nodes: ReadonlyMap<string, NameNode>;
  readonly records: number;
}

/** An immutable, fully compiled zone. */
export interface ZoneIndex {
  /** Apex, lowercase, trailing dot. */
  readonly zone: string;
  /** Apex in wire form, lowercase (latin1 string), for suffix checks. */
  readonly zoneKey: string;
  readonly serial: number;
  readonly ttl: number;
  /** Lowercase wire-form name (latin1) -> node; includes empty non-terminals. */
  readonly names: ReadonlyMap<string, NameNode>;
  /** Content hash: equal for zones that answer the same (serial aside). */
  readonly fingerprint: string;
  readonly stats: ZoneStats;
  /** The SOA record for a negative answer whose question has the apex at `apexOffset`. */
  negativeSoa(apexOffset: number): Buffer;
  /** Compiled per-service names, for the next incremental build. */
  readonly fragments: ReadonlyMap<string, Fragment>;
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

/** Compiles one RRset per owner into prepared answers, with SRV targets' addresses as additional. */
function compileNodes(sets: Map<string, RRset[]>, ttl: number, addressOf: (target: string) => readonly RRset[]): Map<string, NameNode> {
  const nodes = new Map<string, NameNode>();
  for (const [owner, rrsets] of sets) {
    const table = suffixTable(owner);
    const types = new Map<number, Prepared>();
    for (const set of rrsets) {
      const answers = set.records.map((r) => encodeRecord(owner, ttl, r, table));
      const additional: Buffer[] = [];
      if (set.type === 'SRV') {
        for (const r of set.records as Extract<Rdata, { type: 'SRV' }>[]) {
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
    if (p !== undefined) return prepare(p.answers, []);
  }
  return undefined;
}

function compileService(service: ServiceData, zone: string, ttl: number, fingerprint: string): Fragment {
  const { label, records } = serviceRecords(service, zone);
  const addressOf = (target: string): readonly RRset[] =>
    (records.get(target) ?? []).filter((s) => s.type === 'A' || s.type === 'AAAA');
  let count = 0;
  for (const sets of records.values()) for (const s of sets) count += s.records.length;
  const instance = `${label}._dubbo._tcp.${service.namespace}.${zone}`;
  return { fingerprint, instance, nodes: compileNodes(records, ttl, addressOf), records: count };
}

/**
 * Builds a snapshot from zone data. `previous` lends the compiled names of services that did not
 * change, so one endpoint changing recompiles one service, not the zone.
 */
export function buildZoneIndex(data: ZoneData, settings: ZoneSettings, serial: number, previous?: ZoneIndex): ZoneIndex {
  const zone = normalizeZone(settings.zone);
  const { ttl } = settings;
  const reuse = previous !== undefined && previous.zone === zone && previous.ttl === ttl ? previous.fragments : undefined;

  const names = new Map<string, NameNode>();
  const fragments = new Map<string, Fragment>();
  const browse = new Map<string, string[]>();
  const zoneHash = createHash('sha256').update(`${zone}\u0000${ttl}\u0000`);
  let records = 0;
  let endpoints = 0;

  const sorted = [...data.services].sort((a, b) => compare(fragmentId(a), fragmentId(b)));
  const served: ServiceData[] = [];
  for (const service of sorted) {
    const id = fragmentId(service);
    if (fragments.has(id)) continue; // sources merge duplicates; a second copy would shadow the first
    served.push(service);
    const fingerprint = fingerprintOf(service);
    const prior = reuse?.get(id);
    const fragment = prior !== undefined && prior.fingerprint === fingerprint ? prior : compileService(service, zone, ttl, fingerprint);
    fragments.set(id, fragment);
    zoneHash.update(fingerprint).update('\u0000');
    for (const [key, node] of fragment.nodes) names.set(key, node);
    records += fragment.records;
    endpoints += service.endpoints.length;
    const list = browse.get(service.namespace) ?? [];
    list.push(fragment.instance);
    browse.set(service.namespace, list);
  }

  // DNS-SD browse (RFC 6763 §4.1): one PTR per service instance in the namespace.
  const apexSets = new Map<string, RRset[]>();
  for (const [namespace, instances] of browse) {
    const owner = `_dubbo._tcp.${namespace}.${zone}`;
    apexSets.set(owner, [{ name: owner, type: 'PTR', records: instances.map((target) => ({ type: 'PTR', target })) }]);
    records += instances.length;
  }
  const soa: Rdata = { type: 'SOA', mname: nameserverName(zone), rname: `hostmaster.${zone}`, serial, ...SOA_TIMERS, minimum: ttl };
  apexSets.set(zone, [
    { name: zone, type: 'SOA', records: [soa] },
    { name: zone, type: 'NS', records: [{ type: 'NS', target: nameserverName(zone) }] },
  ]);
  records += 2;
  for (const [key, node] of compileNodes(apexSets, ttl, () => [])) names.set(key, node);
  const nsKey = wireKey(nameserverName(zone));
  if (!names.has(nsKey)) names.set(nsKey, EMPTY);
  addEmptyNonTerminals(names, wireKey(zone));

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
    stats: { services: fragments.size, names: names.size, records, endpoints },
    negativeSoa,
    fragments,
    builtAt: Date.now(),
    *transferRecords() {
      const table = suffixTable(zone);
      const encode = function* (sets: Iterable<RRset>): Generator<Buffer> {
        for (const set of sets) for (const r of set.records) yield encodeRecord(set.name, ttl, r, table);
      };
      const soaRecord = encodeRecord(zone, ttl, soa, table);
      yield soaRecord;
      for (const [owner, sets] of apexSets) yield* encode(owner === zone ? sets.filter((x) => x.type !== 'SOA') : sets);
      for (const service of served) for (const sets of serviceRecords(service, zone).records.values()) yield* encode(sets);
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

/** RFC 8020: every ancestor of an owner name up to the apex exists (NODATA, not NXDOMAIN). */
function addEmptyNonTerminals(names: Map<string, NameNode>, apexKey: string): void {
  for (const key of [...names.keys()]) {
    let offset = 0;
    while (key.length - offset > apexKey.length) {
      offset += key.charCodeAt(offset) + 1;
      const ancestor = key.slice(offset);
      // An ancestor already present had (or will have) its own ancestors added.
      if (ancestor.length < apexKey.length || names.has(ancestor)) break;
      names.set(ancestor, EMPTY);
    }
  }
}

const EMPTY: NameNode = { types: new Map(), any: undefined };

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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

