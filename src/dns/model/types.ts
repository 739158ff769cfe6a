// The model that the zone index, the lookup and the wire code share: record data, prepared answers,
// the parsed query and the lookup result. This module depends on nothing, so the folders' arrows
// point one way: wire <- index <- answer, and each of them -> model.

/** Record data, one shape per type we serve. */
export type Rdata =
  | { readonly type: 'A' | 'AAAA'; readonly address: string }
  | { readonly type: 'SRV'; readonly priority: number; readonly weight: number; readonly port: number; readonly target: string }
  | { readonly type: 'TXT'; readonly strings: readonly string[] }
  | { readonly type: 'PTR' | 'NS'; readonly target: string }
  | {
      readonly type: 'SOA';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    };

export type RecordType = Rdata['type'];

/** All records of one type at one name. */
export interface RRset {
  readonly name: string;
  readonly type: RecordType;
  readonly records: readonly Rdata[];
}

/** EDNS(0) as the client sent it (RFC 6891 §6.1.2). */
export interface Edns {
  /** Requestor's UDP payload size, raised to 512 as RFC 6891 §6.2.5 asks. */
  readonly udpSize: number;
  readonly version: number;
  /** DNSSEC OK; RFC 3225 §3 has us copy it into the response. */
  readonly dnssecOk: boolean;
}

/** A query this server can answer. */
export interface Query {
  readonly id: number;
  readonly opcode: number;
  /** RD and CD bits, to copy into the response. */
  readonly rd: boolean;
  readonly cd: boolean;
  /** Byte offset just past QTYPE/QCLASS: the question is `packet[12, questionEnd)`. */
  readonly questionEnd: number;
  /** Lowercase wire form of the name as a latin1 string: the index key. */
  readonly key: string;
  /** False when a label holds a byte that no published name can hold (so it cannot match). */
  readonly plain: boolean;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: Edns | undefined;
}

/** What to do with a packet. */
export type ParseResult =
  | { readonly kind: 'query'; readonly query: Query }
  /** A well-formed header with an unsupported opcode: NOTIMP (question echoed when it parsed). */
  | { readonly kind: 'notimp'; readonly id: number; readonly opcode: number; readonly rd: boolean; readonly questionEnd: number }
  /** Malformed: FORMERR with this ID, header only (RFC 1035 §4.1.1). */
  | { readonly kind: 'formerr'; readonly id: number; readonly opcode: number; readonly rd: boolean; readonly reason: string }
  /** Not worth an answer: too short for a header, or a response (answering responses invites loops). */
  | { readonly kind: 'drop'; readonly reason: string };

/** A precomputed answer for one (name, type): records packed in one buffer, with their ends. */
export interface Prepared {
  /** Answer records, each position-independent (see wire/encode.ts). */
  readonly answerBytes: Buffer;
  /** End offset of each answer record in `answerBytes` (offsets, not views: memory is the limit). */
  readonly answerEnds: readonly number[];
  /** Additional records (SRV targets' addresses), sent only when they fit. */
  readonly additionalBytes: Buffer;
  readonly additionalEnds: readonly number[];
}

/** One owner name (or empty non-terminal) of the zone. */
export interface NameNode {
  /** Answers by query type; a type not here is NODATA. */
  readonly types: ReadonlyMap<number, Prepared>;
  /** RFC 8482 minimal answer to ANY: one RRset, or none for an empty non-terminal. */
  readonly any: Prepared | undefined;
}

/** What answering needs of a zone snapshot (ZoneIndex is one). */
export interface Snapshot {
  /** Apex in wire form, lowercase (latin1 string), for suffix checks. */
  readonly zoneKey: string;
  /** Lowercase wire-form name (latin1) -> node; includes empty non-terminals. */
  readonly names: ReadonlyMap<string, NameNode>;
  /** The SOA record for a negative answer whose question has the apex at `apexOffset`. */
  negativeSoa(apexOffset: number): Buffer;
  /** The SOA record compressed against the apex as the question name (the first and last record of a transfer). */
  soaRecord(): Buffer;
  /**
   * Every record of the zone for a transfer (RFC 5936): SOA first, then all others, then SOA
   * again, each compressed against the apex as the question name.
   */
  transferRecords(): Generator<Buffer>;
}

/** The outcome of looking a question up. */
export type Lookup =
  | { readonly kind: 'answer'; readonly prepared: Prepared }
  /** The name exists without records of this type (RFC 2308 NODATA). */
  | { readonly kind: 'nodata' }
  /** The name does not exist in the zone (RFC 2308 NXDOMAIN). */
  | { readonly kind: 'nxdomain' }
  /** Not ours to answer: outside the zone, another class, or a transfer nobody allowed. */
  | { readonly kind: 'refused' }
  /** AXFR/IXFR of the zone: the handler decides who may have it (REFUSED otherwise). */
  | { readonly kind: 'transfer' }
  /** No snapshot yet: never claim a name does not exist before we know (docs/records.md). */
  | { readonly kind: 'servfail' }
  | { readonly kind: 'notimp' }
  | { readonly kind: 'formerr' };

