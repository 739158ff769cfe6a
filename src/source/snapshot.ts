import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ZoneData } from '../dns/index/zone-data.ts';

// The last-known-good zone data on disk (docs/architecture.md): written atomically whenever the data changes
// (at most once per interval), read at start when the API server cannot be reached, so a restarted
// DNS pod still answers.

/** What the file holds. */
interface SnapshotFile {
  readonly version: 1;
  /** When the data was last known to be current (ms since epoch). */
  readonly asOf: number;
  readonly data: ZoneData;
}

/** Reads a snapshot; undefined when there is none or it is unusable (the caller logs why). */
export async function readSnapshot(file: string): Promise<{ data: ZoneData; asOf: number } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as Partial<SnapshotFile>;
  if (parsed.version !== 1 || !Array.isArray(parsed.data?.services) || typeof parsed.asOf !== 'number') {
    throw new Error(`${file} is not a dubbo-dns snapshot (version 1)`);
  }
  return { data: parsed.data, asOf: parsed.asOf };
}

/** Writes snapshots atomically (temp file + rename), coalescing changes within `intervalMs`. */
export class SnapshotWriter {
  readonly #file: string;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #pending: { read: () => ZoneData; asOf: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastWrite = 0;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string, intervalMs: number, log: Logger) {
    this.#file = file;
    this.#intervalMs = intervalMs;
    this.#log = log;
  }

  /** Schedules the data `read` returns to be written (read when written: the latest wins). */
  save(read: () => ZoneData, asOf: number): void {
    this.#pending = { read, asOf };
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastWrite + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#write());
    }, wait);
    this.#timer.unref();
  }

  /** Writes what is pending now (at shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(() => this.#write());
    await this.#writing;
  }

  async #write(): Promise<void> {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#lastWrite = Date.now();
    const data = pending.read();
    // Unique per writer: replicas sharing a volume all run as PID 1 in their containers.
    const tmp = `${this.#file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(dirname(this.#file), { recursive: true });
      await writeFile(tmp, JSON.stringify({ version: 1, asOf: pending.asOf, data } satisfies SnapshotFile));
      await rename(tmp, this.#file);
      this.#log.debug({ file: this.#file, services: data.services.length }, 'snapshot written');
    } catch (err) {
      this.#log.warn({ file: this.#file, err: (err as Error).message }, 'could not write snapshot');
    }
  }
}
