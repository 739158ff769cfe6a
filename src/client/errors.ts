// The client's typed errors. Each carries a `code` the way Node's own `dns` module does
// (`ENOTFOUND`, `ENODATA`, `ETIMEOUT`, ...), so `err.code` checks written for `dns.promises` read the
// same here; the classes tell the three outcomes apart by `instanceof` as well.

/** Codes a failed question can end with: Node's `dns` error codes, plus `EABORTED` for a cancelled one. */
export type DnsFailureCode = 'ETIMEOUT' | 'ESERVFAIL' | 'EREFUSED' | 'ECONNREFUSED' | 'EBADRESP' | 'ENOTIMP' | 'EFORMERR' | 'ENETWORK' | 'EABORTED';

/** Base of every error the client throws. */
export class DubboDnsError extends Error {
  override readonly name: string = 'DubboDnsError';
  /** Node `dns`-style code. */
  readonly code: string;
  /** The DNS name the error is about. */
  readonly hostname: string;

  constructor(code: string, hostname: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hostname = hostname;
  }
}

/** The service does not exist: NXDOMAIN for its name (code `ENOTFOUND`, as `dns.resolve` says it). */
export class NoSuchServiceError extends DubboDnsError {
  override readonly name = 'NoSuchServiceError';
  constructor(hostname: string) {
    super('ENOTFOUND', hostname, `no such service: ${hostname} does not exist (NXDOMAIN)`);
  }
}

/**
 * The service exists but has no ready provider (for the protocol asked): NODATA, or no
 * `_P._tcp` name for that protocol (code `ENODATA`, as `dns.resolve` says it).
 */
export class NoReadyProviderError extends DubboDnsError {
  override readonly name = 'NoReadyProviderError';
  constructor(hostname: string) {
    super('ENODATA', hostname, `no ready provider: ${hostname} has no SRV records`);
  }
}

/**
 * No server gave a usable answer: every try timed out, failed (SERVFAIL, REFUSED, a network error)
 * or sent something unreadable. `code` is the last failure's.
 */
export class DnsQueryError extends DubboDnsError {
  override readonly name = 'DnsQueryError';
  declare readonly code: DnsFailureCode;
  /** The server (`host:port`) that failed last. */
  readonly server: string;

  constructor(code: DnsFailureCode, hostname: string, server: string, message: string, options?: ErrorOptions) {
    super(code, hostname, message, options);
    this.server = server;
  }
}
