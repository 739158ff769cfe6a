import { parentPort, workerData } from 'node:worker_threads';
import { parseRegistry, RegistryFileError } from './registry-file.ts';
import { parseItem, type RegistryPieces } from './registry-chunks.ts';

// Runs in a short-lived worker thread (see parse-off-thread.ts): parses one registry text, or a
// list of its `services` items, and posts the result, or the problems, back.

const task = workerData as { text: string; file: string } | { items: readonly string[]; format: RegistryPieces['format'] };
try {
  if ('items' in task) parentPort?.postMessage({ ok: true, items: task.items.map((item) => parseItem(item, task.format)) });
  else parentPort?.postMessage({ ok: true, data: parseRegistry(task.text, task.file) });
} catch (err) {
  if (err instanceof RegistryFileError) parentPort?.postMessage({ ok: false, problems: err.problems });
  else parentPort?.postMessage({ ok: false, message: (err as Error).message });
}
