import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What a spawned dubbo-dns process has logged so far. */
export interface FollowedLogs {
  /** Every stdout line, parsed as JSON (pino), or `{ raw }` when it is not JSON. */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr. */
  stderr(): string;
  /** Calls `listener` with each line as it arrives. */
  onLine(listener: (line: Record<string, unknown>) => void): void;
}

/** Collects a child's pino log lines (stdout) and its stderr. */
export function followJsonLogs(child: ChildProcess): FollowedLogs {
  const logs: Record<string, unknown>[] = [];
  const listeners: ((line: Record<string, unknown>) => void)[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { raw: text };
    }
    logs.push(line);
    for (const l of listeners) l(line);
  });
  return { logs, stderr: () => stderr, onLine: (l) => listeners.push(l) };
}
