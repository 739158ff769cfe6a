import type { Query, Snapshot } from '../model/types.ts';

// Zone transfer responses (RFC 5936 AXFR; RFC 1995 IXFR answered with the whole zone, which §4
// allows). Every message repeats the question, because every record is compressed against it.

/** Keep messages well inside the 14-bit compression range and TCP's 64 KiB. */
const MESSAGE_BUDGET = 16_000;

/** The messages of a full transfer of `index`, answering `query`. */
export function transferMessages(packet: Uint8Array, query: Query, index: Snapshot): Buffer[] {
  const question = packet.subarray(12, query.questionEnd);
  const messages: Buffer[] = [];
  let records: Buffer[] = [];
  let size = 12 + question.length;
  const flush = (): void => {
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.id, 0);
    header.writeUInt16BE(0x8000 | 0x0400, 2); // QR, AA, opcode QUERY, NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    messages.push(Buffer.concat([header, question, ...records]));
    records = [];
    size = 12 + question.length;
  };
  for (const rr of index.transferRecords()) {
    if (size + rr.length > MESSAGE_BUDGET && records.length > 0) flush();
    records.push(rr);
    size += rr.length;
  }
  if (records.length > 0) flush();
  return messages;
}

/** The one-SOA reply to an IXFR over UDP: "ask me over TCP" (RFC 1995 §2, §4). */
export function soaOnly(packet: Uint8Array, query: Query, index: Snapshot): Buffer {
  const question = packet.subarray(12, query.questionEnd);
  const soa = index.soaRecord();
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  header.writeUInt16BE(0x8000 | 0x0400, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  return Buffer.concat([header, question, soa]);
}
