// Shared by the consumer end-to-end tests: the Go programs of clients/go/examples (built and
// cached by test/tools/build-go-consumers.sh), a dubbo-go Triple provider started on a loopback
// address, a consumer run whose per-call JSON lines are read as they come, and the figures a
// provider move is judged by. Processes and temp dirs are tracked by test/e2e/helpers.ts:
// call its killAll() in `after`.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { serviceNames } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { eventually, onCleanup, query, stopChild } from '../e2e/helpers.ts';
import { freePort, startDaemon, type Daemon } from '../integration/helpers.ts';
import type { TestHost } from '../support/netns.ts';
import { ROOT } from '../support/server.ts';

/** The Greeter service every program here provides or calls. */
export const GREETER = 'greet.GreetService';
export const ZONE = 'dubbo.internal.';

/** Paths of the built Go programs. */
export interface GoPrograms {
  readonly provider: string;
  readonly consumer: string;
  readonly grpcClient: string;
}

/** Builds (or finds cached) the Go programs; a cold build takes minutes, a cached one milliseconds. */
export function goPrograms(): Promise<GoPrograms> {
  return new Promise((resolve, reject) => {
    execFile('bash', [join(ROOT, 'test/tools/build-go-consumers.sh')], { timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`test/tools/build-go-consumers.sh failed: ${err.message}\n${String(stderr).slice(-4000)}`));
        return;
      }
      const dir = String(stdout).trim().split('\n').pop() ?? '';
      resolve({ provider: join(dir, 'provider'), consumer: join(dir, 'consumer'), grpcClient: join(dir, 'grpc-client') });
    });
  });
}

/** The DNS names of the Greeter in namespace `ns`, by the server's own naming code. */
export function greeterNames(ns: string, protocol = 'tri'): ReturnType<typeof serviceNames> {
  return serviceNames(serviceKey(GREETER), ns, ZONE, protocol);
}

/** Whether something accepts TCP connections on ip:port. */
export function listening(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A running Greeter provider. */
export interface Provider {
  readonly address: string;
  readonly port: number;
  readonly daemon: Daemon;
  /** SIGTERM (dubbo-go's graceful shutdown), waiting until the process is gone. */
  stop(): Promise<void>;
}

/**
 * Starts the dubbo-go provider on ip:port (registering in ZooKeeper when given; inside a test
 * host's network namespace when given) and waits until it accepts connections. dubbo-go keeps running when it cannot bind, so the port is checked.
 */
export async function startProvider(
  bin: string,
  ip: string,
  port: number | 'free',
  o: { zookeeper?: string; register?: 'interface' | 'instance' | 'all'; remoteMetadata?: boolean; host?: TestHost } = {},
): Promise<Provider> {
  if (port === 'free') {
    // A port found free can be taken by another test's process before the provider binds it.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startProvider(bin, ip, await freePort(), o);
      } catch (err) {
        if (attempt >= 3 || !String(err).includes('cannot bind')) throw err;
      }
    }
  }
  const args = ['-ip', ip, '-port', String(port), ...(o.zookeeper === undefined ? [] : ['-zookeeper', o.zookeeper]), ...(o.register === undefined ? [] : ['-register', o.register]), ...(o.remoteMetadata === true ? ['-remote-metadata'] : [])];
  const daemon = o.host === undefined ? startDaemon(bin, args) : startDaemon(...o.host.wrap(bin, args));
  onCleanup(() => daemon.stop(2000));
  await eventually(
    async () => {
      if (daemon.exited()) throw new Error(`provider exited: ${daemon.output().slice(-3000)}`);
      if (/bind: address already in use/.test(daemon.output())) throw new Error(`provider cannot bind ${ip}:${port}`);
      return (await listening(ip, port)) ? true : undefined;
    },
    30_000,
    `provider on ${ip}:${port}`,
    50,
  );
  return { address: `${ip}:${port}`, port, daemon, stop: () => daemon.stop(15_000) };
}

/** One call as the Go consumers print it. */
export interface Call {
  readonly call: number;
  readonly ok: boolean;
  readonly provider?: string;
  readonly error?: string;
  readonly ms: number;
  /** When the call started, ms since the epoch (this machine's clock). */
  readonly at: number;
}

/** A consumer run: its calls so far, and its end. */
export interface CallRun {
  readonly calls: Call[];
  /** Resolves with every call once the program exits (rejects when it exits non-zero). */
  readonly done: Promise<Call[]>;
  /** Everything it printed that is not a call line (dubbo-go's logs). */
  log(): string;
  /** Resolves once `n` calls were made. */
  waitForCalls(n: number, timeoutMs?: number): Promise<void>;
}

/** Runs a consumer program (dubbo-go or grpc-go) to completion, reading its call lines live. */
export function runCalls(bin: string, args: readonly string[]): CallRun {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(async () => {
    await stopChild(child, 2000);
  });
  const calls: Call[] = [];
  let log = '';
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{"call"')) calls.push(JSON.parse(line) as Call);
    else log += `${line}\n`;
  });
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const done = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`${bin} exited ${String(code)}: ${log.slice(-4000)}`);
    return calls;
  });
  return {
    calls,
    done,
    log: () => log,
    waitForCalls: (n, timeoutMs = 60_000) =>
      eventually(async () => (calls.length >= n ? true : child.exitCode !== null ? Promise.reject(new Error(`consumer exited after ${calls.length} calls: ${log.slice(-3000)}`)) : undefined), timeoutMs, `${n} calls`, 20).then(() => undefined),
  };
}

/** The dubbo-go consumer's arguments for the given registry URLs. */
export function consumerArgs(registries: readonly string[], calls: number, intervalMs = 250): string[] {
  return [...registries.flatMap((r) => ['-registry', r]), '-calls', String(calls), '-interval', `${intervalMs}ms`];
}

/** The dubbodns registry URL of a dubbo-dns server on 127.0.0.1:port. */
export function dubbodnsUrl(port: number, ns: string): string {
  return `dubbodns://127.0.0.1:${port}?zone=${ZONE}&namespace=${ns}`;
}

/** How a consumer fared across a provider move. */
export interface MoveFigures {
  readonly total: number;
  readonly failed: number;
  /** From dubbo-dns serving the new address to the first call the new provider answered (call-interval resolution). */
  readonly followMs: number | undefined;
  /** The failures, for messages. */
  readonly failures: readonly Call[];
}

/** Judges a run: failed calls, and how long after `servedAt` the new provider first answered. */
export function moveFigures(calls: readonly Call[], servedAt: number, newProvider: string): MoveFigures {
  const first = calls.find((c) => c.ok && c.provider === newProvider && c.at >= servedAt);
  const failures = calls.filter((c) => !c.ok);
  return { total: calls.length, failed: failures.length, followMs: first === undefined ? undefined : first.at - servedAt, failures };
}

/** A dubbo-dns registry file with one Greeter service (Triple) on the given endpoints. */
export function registryYaml(ns: string, endpoints: readonly { address: string; port: number }[]): string {
  return stringify({
    namespace: ns,
    services: [
      {
        interface: GREETER,
        protocol: 'tri',
        metadata: { application: 'greeter-provider' },
        endpoints: endpoints.map((e) => ({ address: e.address, port: e.port })),
      },
    ],
  });
}

/** Polls dubbo-dns until `_tri._tcp` SRV of the Greeter names exactly `want` (ip:port); returns when it did. */
export async function waitForSrv(dnsPort: number, ns: string, want: readonly string[], timeoutMs = 30_000): Promise<number> {
  const name = greeterNames(ns).protocolSrv;
  const sorted = [...want].sort().join(' ');
  let last = '';
  await eventually(
    async () => {
      const r = await query(dnsPort, name, 'SRV', { timeoutMs: 1000 });
      const targets = new Map((r.msg.additionals ?? []).flatMap((a) => (a.type === 'A' ? [[a.name.toLowerCase(), a.data] as const] : [])));
      last = r.records
        .flatMap((a) => (a.type === 'SRV' ? [`${targets.get(a.data.target.toLowerCase()) ?? a.data.target}:${a.data.port}`] : []))
        .sort()
        .join(' ');
      return last === sorted ? true : undefined;
    },
    timeoutMs,
    `${name} SRV to be [${sorted}]`,
    20,
  ).catch((e: Error) => {
    throw new Error(`${e.message} (last answer [${last}])`);
  });
  return Date.now();
}
