import type { Prepared } from '../model/types.ts';

// Precomputed answers are packed: the records of a section in one buffer with their end offsets
// (offsets, not views: memory is the limit).

/** An empty section. */
export const NO_BYTES = Buffer.alloc(0);
export const NO_ENDS: readonly number[] = Object.freeze([]);

/** Packs records into one buffer per section. */
export function prepare(answers: readonly Buffer[], additional: readonly Buffer[]): Prepared {
  const pack = (records: readonly Buffer[]): [Buffer, readonly number[]] => {
    if (records.length === 0) return [NO_BYTES, NO_ENDS];
    const ends: number[] = [];
    let offset = 0;
    for (const r of records) ends.push((offset += r.length));
    return [Buffer.concat(records, offset), ends];
  };
  const [answerBytes, answerEnds] = pack(answers);
  const [additionalBytes, additionalEnds] = pack(additional);
  return { answerBytes, answerEnds, additionalBytes, additionalEnds };
}

/** The records of a packed section as views (used only when a reply must be cut). */
export function records(bytes: Buffer, ends: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (const end of ends) {
    out.push(bytes.subarray(start, end));
    start = end;
  }
  return out;
}

