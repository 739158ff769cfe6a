// RFC 1035 §3.2.2 / IANA DNS parameters: the codes this server reads or writes.

/** Resource record types. */
export const QTYPE = {
  A: 1,
  NS: 2,
  SOA: 6,
  PTR: 12,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
} as const;

/** Classes. */
export const QCLASS = { IN: 1, ANY: 255 } as const;

/** Response codes (4-bit header codes, and BADVERS which needs the OPT extended RCODE). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Opcodes. */
export const OPCODE = { QUERY: 0, NOTIFY: 4 } as const;

/** RFC 8914 Extended DNS Error codes we send. */
export const EDE = { STALE_ANSWER: 3 } as const;

const TYPE_NAMES = new Map<number, string>(Object.entries(QTYPE).map(([name, code]) => [code, name]));
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([name, code]) => [code, name]));

/** Type number -> mnemonic, for metrics labels and logs. */
export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `TYPE${type}`;
}

/** Rcode number -> mnemonic. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RCODE${rcode}`;
}

/** True for the types this server knows by name (metrics label others as OTHER). */
export function knownType(type: number): boolean {
  return TYPE_NAMES.has(type);
}
