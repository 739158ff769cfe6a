import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { nameToWire } from './wire/encode.ts';
import { OPCODE, QCLASS, QTYPE } from './wire/codes.ts';
import type { HostPort } from '../config/parse.ts';

// RFC 1996 NOTIFY: when the serial rises, tell each secondary, over UDP, and repeat until it answers
// (or a newer serial replaces the news, or we give up after `attempts`).

/** Retry policy. */
export interface NotifyOptions {
  readonly intervalMs: number;
  readonly attempts: number;
}

/**
 * Builds a NOTIFY message for a zone's SOA; `soa` (the record, compressed against the zone as the
 * question) goes in the answer section as a hint of the new serial (RFC 1996 §3.7).
 */
export function notifyMessage(id: number, zone: string, soa?: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE((OPCODE.NOTIFY << 11) | 0x0400, 2); // opcode NOTIFY, AA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(soa === undefined ? 0 : 1, 6);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(QTYPE.SOA, 0);
  tail.writeUInt16BE(QCLASS.IN, 2);
  return Buffer.concat([header, nameToWire(zone), tail, ...(soa === undefined ? [] : [soa])]);
}

/** Sends NOTIFY to secondaries whenever told that the serial rose. */
export class Notifier {
  readonly #targets: readonly HostPort[];
  readonly #zone: string;
  readonly #log: Logger;
  readonly #opts: NotifyOptions;
  #serial = -1;

  constructor(targets: readonly HostPort[], zone: string, log: Logger, options: NotifyOptions = { intervalMs: 2000, attempts: 15 }) {
    this.#targets = targets;
    this.#zone = zone;
    this.#log = log;
    this.#opts = options;
  }

  /** Announces `serial` (with its SOA record when known) to every target, in the background. */
  notify(serial: number, soa?: Buffer): void {
    this.#serial = serial;
    for (const target of this.#targets) void this.#send(target, serial, soa);
  }

  async #send(target: HostPort, serial: number, soa: Buffer | undefined): Promise<void> {
    const socket = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => undefined);
    const id = randomInt(0, 0x10000);
    const message = notifyMessage(id, this.#zone, soa);
    const answered = new Promise<boolean>((resolve) => {
      socket.on('message', (msg) => {
        // A reply: same ID, QR set, opcode NOTIFY (RFC 1996 §4.7).
        if (msg.length >= 12 && msg.readUInt16BE(0) === id && (msg[2]! & 0x80) !== 0 && ((msg[2]! >> 3) & 0xf) === OPCODE.NOTIFY) resolve(true);
      });
    });
    try {
      for (let attempt = 1; attempt <= this.#opts.attempts; attempt++) {
        if (this.#serial !== serial) return; // a newer serial is being announced instead
        socket.send(message, target.port, target.host);
        const ok = await Promise.race([answered, new Promise<boolean>((r) => setTimeout(() => r(false), this.#opts.intervalMs).unref())]);
        if (ok) {
          this.#log.info({ target: `${target.host}:${target.port}`, serial, attempt }, 'secondary notified');
          return;
        }
        this.#log.debug({ target: `${target.host}:${target.port}`, serial, attempt }, 'NOTIFY not answered yet');
      }
      this.#log.warn({ target: `${target.host}:${target.port}`, serial, attempts: this.#opts.attempts }, 'secondary did not answer NOTIFY');
    } finally {
      socket.close();
    }
  }
}
