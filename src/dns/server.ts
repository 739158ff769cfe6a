import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { createServer, isIP, type Server as TcpServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Transport } from './handler.ts';

// Transport only: sockets in, bytes to the handler, bytes out.

/** Limits that keep hostile TCP clients from holding resources (RFC 7766 §6.2). */
export interface TcpLimits {
  /** Connections open at once; more are closed on accept. */
  readonly maxConnections: number;
  /** A connection with no complete query for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Queries answered per connection before it is closed. */
  readonly maxQueriesPerConnection: number;
}

/** How long a closing server keeps reading queries that clients already sent. */
const DRAIN_MS = 100;

export const DEFAULT_TCP_LIMITS: TcpLimits = { maxConnections: 256, idleTimeoutMs: 10_000, maxQueriesPerConnection: 10_000 };

/** A running UDP + TCP DNS listener. */
export interface DnsServer {
  readonly udpPort: number;
  readonly tcpPort: number;
  /** Stops accepting, answers what already arrived, closes connections; resolves when done. */
  close(graceMs?: number): Promise<void>;
}

/** Options for {@link startDnsServer}. */
export interface DnsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly handle: (packet: Buffer, transport: Transport, peer?: string) => Buffer | undefined;
  /** Zone transfers: several messages for one query (TCP only). */
  readonly transfer?: (packet: Buffer, peer: string) => Buffer[] | undefined;
  readonly log: Logger;
  readonly tcp?: TcpLimits;
  readonly onConnections?: (open: number) => void;
}

/** Binds UDP and TCP on the same address and port (port 0: the TCP port chosen, then UDP on it). */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { host, handle, log } = options;
  const limits = options.tcp ?? DEFAULT_TCP_LIMITS;
  const connections = new Set<Socket>();
  /** Shutting down: answer what arrives during the drain window, then end each connection. */
  let closing = false;
  /** Past the drain window: accept nothing more. */
  let closed = false;

  const tcp: TcpServer = createServer({ noDelay: true, pauseOnConnect: false }, (socket) => {
    if (closed || connections.size >= limits.maxConnections) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    options.onConnections?.(connections.size);
    serveConnection(socket, handle, options.transfer, limits, log, () => closing);
    socket.once('close', () => {
      connections.delete(socket);
      options.onConnections?.(connections.size);
    });
  });
  tcp.on('error', (err) => log.error({ err }, 'tcp listener error'));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host, port: options.port, backlog: 511 }, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  const address = tcp.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;

  // Replies go to the address a query came from, always an IP: skip the resolver on every send.
  const family = host.includes(':') ? 6 : 4;
  const udp: UdpSocket = createSocket({
    type: family === 6 ? 'udp6' : 'udp4',
    reuseAddr: false,
    lookup: (address, options, callback) =>
      isIP(address) !== 0 ? (callback as (err: null, address: string, family: number) => void)(null, address, isIP(address)) : dnsLookup(address, options, callback),
  });
  udp.on('message', (msg, rinfo) => {
    let response: Buffer | undefined;
    try {
      response = handle(msg, 'udp', rinfo.address);
    } catch (err) {
      // The handler is written not to throw; if it ever does, this packet is lost, not the server.
      log.error({ err, peer: rinfo.address }, 'udp query failed');
      return;
    }
    if (response !== undefined) udp.send(response, rinfo.port, rinfo.address);
  });
  udp.on('error', (err) => log.error({ err }, 'udp socket error'));
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address: host, port }, () => {
      udp.off('error', reject);
      resolve();
    });
  });

  return {
    udpPort: port,
    tcpPort: port,
    async close(graceMs = 5000) {
      closing = true;
      // Queries already sent by clients (in socket buffers, or on connections still in the accept
      // backlog) are read and answered during a short drain window; connections that answer while
      // closing end themselves.
      await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
      closed = true;
      udp.close();
      const listenerClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const socket of connections) socket.end();
      const deadline = setTimeout(() => {
        for (const socket of connections) socket.destroy();
      }, graceMs);
      await listenerClosed;
      clearTimeout(deadline);
    },
  };
}

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; access lists want a.b.c.d. */
function normalizePeer(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/** RFC 1035 §4.2.2 / RFC 7766: two-byte length prefix, several queries per connection, in order. */
function serveConnection(
  socket: Socket,
  handle: DnsServerOptions['handle'],
  transfer: DnsServerOptions['transfer'],
  limits: TcpLimits,
  log: Logger,
  closing: () => boolean,
): void {
  let pending: Buffer = Buffer.alloc(0);
  let answered = 0;
  let blocked = false;
  const peer = normalizePeer(socket.remoteAddress);
  // RFC 7766 §6.2.3: the idle timer runs from one complete query to the next, so a client that
  // dribbles bytes (slowloris) or announces 65535 bytes and never sends them is still cut off.
  const deadline = setTimeout(() => socket.destroy(), limits.idleTimeoutMs);
  socket.once('close', () => clearTimeout(deadline));
  socket.on('error', () => socket.destroy());

  let ending = false;
  const process = (): void => {
    // One write for all the answers to one chunk of queries (pipelining clients send many at once).
    socket.cork();
    try {
      drain();
    } finally {
      if (!socket.destroyed) socket.uncork();
    }
  };
  const drain = (): void => {
    while (!blocked && pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      deadline.refresh();
      let responses: Buffer[] | undefined;
      try {
        responses = transfer?.(message, peer);
        if (responses === undefined) {
          const one = handle(message, 'tcp', peer);
          responses = one === undefined ? [] : [one];
        }
      } catch (err) {
        log.error({ err, peer }, 'tcp query failed');
        socket.destroy();
        return;
      }
      if (responses.length === 0) continue;
      const framed = responses.flatMap((r) => {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(r.length);
        return [prefix, r];
      });
      const flushed = socket.write(Buffer.concat(framed));
      answered++;
      // At the per-connection limit: answer what has already arrived, read nothing more, close.
      if (answered >= limits.maxQueriesPerConnection && !ending) {
        ending = true;
        socket.pause();
      }
      // A client that sends but does not read: stop answering and reading until it drains, so
      // neither unread answers nor unread queries pile up in memory.
      if (!flushed) {
        blocked = true;
        socket.pause();
        socket.once('drain', () => {
          blocked = false;
          socket.resume();
          process();
        });
      }
    }
    if (ending && !blocked) {
      socket.end();
      return;
    }
    // Shutting down: every complete query that arrived has been answered; nothing more will be.
    if (closing() && !blocked && pending.length === 0 && answered > 0) {
      socket.end();
      return;
    }
    // Keep at most one partial message; copy it out of a large chunk so the chunk can be freed.
    if (pending.length > 0 && pending.buffer.byteLength > 4 * 65537) pending = Buffer.from(pending);
  };

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    process();
  });
}
