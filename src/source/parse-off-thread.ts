import { Worker } from 'node:worker_threads';
import type { ZoneData } from '../dns/index/zone-data.ts';
import { parseRegistry, RegistryFileError, type Problem } from './registry-file.ts';

/** Texts at least this big are parsed in a worker thread. */
const OFF_THREAD_BYTES = 256 * 1024;

/**
 * Parses a registry text like {@link parseRegistry}, but a big one in a short-lived worker thread:
 * the YAML parser takes seconds on a large file, which would stall every query meanwhile, and its
 * garbage (hundreds of MiB for 10k services) goes away with the thread instead of staying in this
 * process's heap.
 */
export function parseRegistryOffThread(text: string, file: string): Promise<ZoneData> {
  if (text.length < OFF_THREAD_BYTES) return Promise.resolve().then(() => parseRegistry(text, file));
  return new Promise((resolve, reject) => {
    // The same extension as this module: .ts in a checkout (type stripping), .js once compiled.
    const entry = new URL(`./parse-worker${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url);
    const worker = new Worker(entry, { workerData: { text, file } });
    worker.once('message', (msg: { ok: true; data: ZoneData } | { ok: false; problems?: Problem[]; message?: string }) => {
      if (msg.ok) resolve(msg.data);
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
