import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ZoneData } from '../dns/index/zone-data.ts';
import { RegistryFileError } from './registry-file.ts';
import { parseItemsOffThread, parseRegistryOffThread } from './parse-off-thread.ts';
import { RegistryItemCache } from './registry-chunks.ts';
import { watchFile, type FileWatch } from './watch-file.ts';

/** Where a registry file's accepted versions and rejections go. */
export interface RegistrySink {
  /** A new valid version of the file. */
  accepted(data: ZoneData): void;
  /** A version that was rejected (unreadable or invalid); the last good data stays in force. */
  rejected(error: RegistryFileError): void;
}

/**
 * The registry file as a source of zone data: read, validate, and watch for changes. A version whose
 * bytes did not change is not parsed again; a bad version is reported and otherwise ignored.
 */
export class RegistryFileSource {
  readonly file: string;
  #log: Logger;
  #sink: RegistrySink;
  #lastHash = '';
  #watch: FileWatch | undefined;
  #queue: Promise<void> = Promise.resolve();
  readonly #items = new RegistryItemCache();

  constructor(file: string, sink: RegistrySink, log: Logger) {
    this.file = file;
    this.#sink = sink;
    this.#log = log;
  }

  /** Reads the file once; resolves with the data, or rejects with every problem when it is not usable. */
  async load(): Promise<ZoneData> {
    const text = await this.#read();
    const data = await this.#parse(text);
    this.#lastHash = hash(text);
    return data;
  }

  /** Watches the file and re-reads it on change (reloads never overlap). */
  watch(): void {
    this.#watch ??= watchFile(this.file, () => void this.reload());
  }

  /** Re-reads the file now; changes go to the sink. */
  reload(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#reloadOnce());
    return this.#queue;
  }

  close(): void {
    this.#watch?.close();
  }

  async #reloadOnce(): Promise<void> {
    let text: string;
    try {
      text = await this.#read();
    } catch (err) {
      this.#lastHash = '';
      this.#sink.rejected(err as RegistryFileError);
      return;
    }
    const h = hash(text);
    if (h === this.#lastHash) return;
    this.#lastHash = h;
    try {
      this.#sink.accepted(await this.#parse(text));
    } catch (err) {
      if (!(err instanceof RegistryFileError)) throw err;
      this.#items.clear();
      this.#sink.rejected(err);
    }
  }

  /** Only the items that changed, when the file's shape allows; else the whole file. */
  async #parse(text: string): Promise<ZoneData> {
    return (await this.#items.parse(text, parseItemsOffThread)) ?? (await parseRegistryOffThread(text, this.file));
  }

  async #read(): Promise<string> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (err) {
      this.#log.debug({ err }, 'registry file read failed');
      throw new RegistryFileError(this.file, [{ line: 0, column: 0, field: '', message: `cannot read: ${(err as Error).message}` }], { cause: err });
    }
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
