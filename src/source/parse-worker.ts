import { parentPort, workerData } from 'node:worker_threads';
import { parseRegistry, RegistryFileError } from './registry-file.ts';

// Runs in a short-lived worker thread (see parse-off-thread.ts): parses one registry text and
// posts the zone data, or the problems, back.

const { text, file } = workerData as { text: string; file: string };
try {
  parentPort?.postMessage({ ok: true, data: parseRegistry(text, file) });
} catch (err) {
  if (err instanceof RegistryFileError) parentPort?.postMessage({ ok: false, problems: err.problems });
  else parentPort?.postMessage({ ok: false, message: (err as Error).message });
}
