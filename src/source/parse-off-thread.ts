import { Worker } from 'node:worker_threads';
import type { ZoneData } from '../dns/index/zone-data.ts';
import { parseRegistry, RegistryFileError, type Problem, type ServiceContribution } from './registry-file.ts';
import { parseItem, type RegistryPieces } from './registry-chunks.ts';

/** Texts at least this big are parsed in a worker thread. */
const OFF_THREAD_BYTES = 256 * 1024;

type Reply = { ok: true; data?: ZoneData; items?: (ServiceContribution | undefined)[] } | { ok: false; problems?: Problem[]; message?: string };

/**
 * Parses a registry text like {@link parseRegistry}, but a big one in a short-lived worker thread:
 * the YAML parser takes seconds on a large file, which would stall every query meanwhile, and its
 * garbage (hundreds of MiB for 10k services) goes away with the thread instead of staying in this
 * process's heap.
 */
export async function parseRegistryOffThread(text: string, file: string): Promise<ZoneData> {
  if (text.length < OFF_THREAD_BYTES) return parseRegistry(text, file);
  return (await inWorker({ text, file }, file)).data!;
}

/** Parses `services` items with {@link parseItem}; many of them in a worker thread, for the same reasons. */
export async function parseItemsOffThread(items: readonly string[], format: RegistryPieces['format']): Promise<(ServiceContribution | undefined)[]> {
  let bytes = 0;
  for (const item of items) bytes += item.length;
  if (bytes < OFF_THREAD_BYTES) return items.map((item) => parseItem(item, format));
  return (await inWorker({ items, format }, '<registry>')).items!;
}

function inWorker(task: { text: string; file: string } | { items: readonly string[]; format: RegistryPieces['format'] }, file: string): Promise<Reply & { ok: true }> {
  return new Promise((resolve, reject) => {
    // The same extension as this module: .ts in a checkout (type stripping), .js once compiled.
    const entry = new URL(`./parse-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);
    const worker = new Worker(entry, { workerData: task });
    worker.once('message', (msg: Reply) => {
      if (msg.ok) resolve(msg);
      else if (msg.problems !== undefined) reject(new RegistryFileError(file, msg.problems));
      else reject(new Error(msg.message ?? 'registry parse failed'));
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`registry parser thread exited with ${code}`));
    });
  });
}
