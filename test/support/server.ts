import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { followJsonLogs } from './json-logs.ts';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The CLI entry, run with the same Node as the tests. */
export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** A `dubbo-dns serve` process started for a test. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly dnsPort: number;
  readonly httpPort: number | undefined;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the real CLI (`node src/main.ts serve ...`) on free loopback ports (port 0) and waits for
 * its "dns server started" line, which names the ports it bound. `command` replaces
 * `node src/main.ts` (e.g. the entrypoint of an unpacked image run through a launcher); `env`
 * replaces the environment.
 */
export async function startServer(args: readonly string[], options: { http?: boolean; command?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const [program, ...prefix] = options.command ?? [process.execPath, MAIN];
  // No lameduck wait on stop unless a test asks for one (`args` come last and win).
  const argv = [...prefix, 'serve', '--listen', '127.0.0.1:0', '--lameduck', '0', ...(options.http === false ? [] : ['--http-listen', '127.0.0.1:0']), ...args];
  const child = spawn(program!, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...(options.env ?? process.env), DUBBO_DNS_LOG_LEVEL: 'debug' } });
  const followed = followJsonLogs(child);
  const { logs } = followed;
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  followed.onLine((parsed) => {
    for (const w of [...waiters]) {
      if (w.match(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  const waitForLog = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr: ${followed.stderr()}; logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  const exited = once(child, 'exit');
  const started = await Promise.race([
    waitForLog((l) => l['msg'] === 'dns server started', 15_000),
    exited.then(([code]) => {
      throw new Error(`server exited with ${String(code)} before starting: ${followed.stderr()}`);
    }),
  ]);
  const port = (s: unknown): number | undefined => (typeof s === 'string' ? Number(s.slice(s.lastIndexOf(':') + 1)) : undefined);
  return {
    child,
    dnsPort: port(started['listen'])!,
    httpPort: port(started['http']),
    logs,
    waitForLog,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}
