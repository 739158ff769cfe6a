import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsQueryError, type DnsFailureCode } from './errors.ts';
import { formatServer, type ServerAddress } from './servers.ts';

// One question to one server: UDP first (with an EDNS payload size, so mid-sized answers need no
// TCP), the same question again over TCP when the reply is truncated (RFC 7766 §5), and once more
// without EDNS if the server rejects EDNS with FORMERR (RFC 6891 §7). Every socket and timer
// lives only as long as its question; nothing is shared between questions, so nothing is left
// behind when a caller stops caring (abort).

/** The record types the client asks for. */
export type QuestionType = 'SRV' | 'TXT' | 'A' | 'AAAA';

/** A decoded reply: only the parts the client reads. */
export interface Reply {
  readonly rcode: string;
  readonly answers: readonly dnsPacket.Answer[];
  readonly authorities: readonly dnsPacket.Answer[];
  readonly additionals: readonly dnsPacket.Answer[];
}

/** How to ask. */
export interface ExchangeOptions {
  readonly timeoutMs: number;
  /** EDNS UDP payload size to advertise; 0 sends no OPT record (512-byte replies). */
  readonly udpPayloadSize: number;
  readonly signal?: AbortSignal | undefined;
}

type Decoded = dnsPacket.DecodedPacket & { rcode?: string };

/** Asks `name`/`type` of `server`; resolves with any reply that carries an rcode, rejects with DnsQueryError otherwise. */
export async function exchange(server: ServerAddress, name: string, type: QuestionType, options: ExchangeOptions): Promise<Reply> {
  const fail = (code: DnsFailureCode, message: string, cause?: unknown): DnsQueryError =>
    new DnsQueryError(code, name, formatServer(server), `${name} ${type} @${formatServer(server)}: ${message}`, cause === undefined ? undefined : { cause });
  let edns = options.udpPayloadSize > 0;
  for (;;) {
    const query = encodeQuery(name, type, edns ? options.udpPayloadSize : 0);
    let reply = await udp(server, query, options, fail);
    if (reply.flag_tc === true) reply = await tcp(server, query, options, fail);
    if (reply.rcode === 'FORMERR' && edns) {
      edns = false; // RFC 6891 §7: a server without EDNS answers FORMERR; ask again plainly
      continue;
    }
    return { rcode: reply.rcode ?? 'NOERROR', answers: reply.answers ?? [], authorities: reply.authorities ?? [], additionals: reply.additionals ?? [] };
  }
}

/** A query on the wire, with what a reply must echo. */
interface Query {
  readonly bytes: Buffer;
  readonly id: number;
  readonly name: string;
  readonly type: QuestionType;
}

function encodeQuery(name: string, type: QuestionType, payloadSize: number): Query {
  const id = randomInt(0x10000);
  const bytes = dnsPacket.encode({
    type: 'query',
    id,
    // RD set: the default servers are the system's recursive resolver; an authoritative server ignores it.
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: payloadSize > 0 ? [{ type: 'OPT', name: '.', udpPayloadSize: payloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as dnsPacket.Answer] : [],
  });
  return { bytes, id, name: name.toLowerCase().replace(/\.$/, ''), type };
}

/** True when `reply` answers `query` (RFC 5452 §9.1: same ID and same question). */
function answers(query: Query, reply: Decoded): boolean {
  if (reply.type !== 'response' || reply.id !== query.id) return false;
  const echoed = reply.questions?.[0];
  return echoed !== undefined && echoed.type === query.type && echoed.name.toLowerCase().replace(/\.$/, '') === query.name;
}

type Fail = (code: DnsFailureCode, message: string, cause?: unknown) => DnsQueryError;

/** Runs `start` until it settles, the timeout passes, or the signal aborts; `cleanup` always runs once. */
function bounded<T>(options: ExchangeOptions, fail: Fail, transport: string, start: (settle: (err: DnsQueryError | undefined, value?: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(fail('EABORTED', 'aborted'));
      return;
    }
    let done = false;
    let cleanup: () => void = () => undefined;
    const settle = (err: DnsQueryError | undefined, value?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      cleanup();
      if (err !== undefined) reject(err);
      else resolve(value as T);
    };
    const onAbort = (): void => settle(fail('EABORTED', 'aborted'));
    const timer = setTimeout(() => settle(fail('ETIMEOUT', `no ${transport} reply within ${options.timeoutMs} ms`)), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    cleanup = start(settle);
    if (done) cleanup();
  });
}

function networkFailure(fail: Fail, transport: string, err: Error & { code?: string }): DnsQueryError {
  return fail(err.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : 'ENETWORK', `${transport}: ${err.message}`, err);
}

function udp(server: ServerAddress, query: Query, options: ExchangeOptions, fail: Fail): Promise<Decoded> {
  return bounded<Decoded>(options, fail, 'UDP', (settle) => {
    const socket = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    // Connected, so only the server's datagrams arrive and an ICMP "port unreachable" fails fast.
    socket.on('error', (err) => settle(networkFailure(fail, 'UDP', err)));
    socket.on('message', (message) => {
      let reply: Decoded;
      try {
        reply = dnsPacket.decode(message) as Decoded;
      } catch {
        return; // RFC 5452: an unreadable datagram may be forged; keep waiting for the real one
      }
      if (answers(query, reply)) settle(undefined, reply);
    });
    socket.connect(server.port, server.host, () => {
      socket.send(query.bytes, (err) => {
        if (err !== null && err !== undefined) settle(networkFailure(fail, 'UDP', err));
      });
    });
    return () => {
      try {
        socket.close();
      } catch {
        // already closed after an error
      }
    };
  });
}

function tcp(server: ServerAddress, query: Query, options: ExchangeOptions, fail: Fail): Promise<Decoded> {
  return bounded<Decoded>(options, fail, 'TCP', (settle) => {
    const socket = connect({ host: server.host, port: server.port });
    let pending = Buffer.alloc(0);
    socket.on('error', (err) => settle(networkFailure(fail, 'TCP', err)));
    socket.on('connect', () => socket.write(Buffer.concat([lengthPrefix(query.bytes.length), query.bytes])));
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        let reply: Decoded;
        try {
          reply = dnsPacket.decode(message) as Decoded;
        } catch (err) {
          settle(fail('EBADRESP', 'TCP reply could not be decoded', err));
          return;
        }
        if (answers(query, reply)) {
          settle(undefined, reply);
          return;
        }
      }
    });
    socket.on('end', () => settle(fail('EBADRESP', 'server closed the TCP connection without a reply')));
    return () => socket.destroy();
  });
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length);
  return prefix;
}
