// A private Apache ZooKeeper for tests: Debian's ZooKeeper 3.8 server jars
// (`bash test/tools/ensure-zookeeper.sh` installs them) run as a standalone server on a free
// loopback port with its own data directory, never the system service. It can be stopped and
// started again on the same port and data (a registry outage and its recovery), and is killed
// when the test process exits, even by SIGKILL (a watchdog shell outlives neither).
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, startDaemon, type Daemon } from '../integration/helpers.ts';
import { poll } from './poll.ts';

const SETUP_HINT = '`bash test/tools/ensure-zookeeper.sh` installs it';

/** How to start a private ZooKeeper; every field has a default. */
export interface ZooKeeperOptions {
  /** Client port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** Data directory, kept across stop()/start(); default a new temp dir that dispose() removes. */
  readonly dataDir?: string;
  /** tickTime in ms; sessions may time out after 2 to 20 ticks. Default 500, so a dead client's ephemeral nodes go within seconds. */
  readonly tickMs?: number;
  /** How long start waits for the server to serve; default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Listen on every address, not only 127.0.0.1 (for clients in a network namespace). */
  readonly listenAll?: boolean;
}

/** A running (or stopped) private ZooKeeper. */
export interface ZooKeeper {
  readonly port: number;
  /** `127.0.0.1:<port>`, as clients are given it. */
  readonly address: string;
  readonly dataDir: string;
  /** Whether the server process is alive. */
  running(): boolean;
  /** Stops the server (SIGTERM, SIGKILL after 5 s); port and data stay for start(). */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data; resolves once it serves requests. */
  start(): Promise<void>;
  /** Runs one zkCli command (`ls /dubbo`, `get /x`, `create /x v`) and returns its output. */
  cli(...command: string[]): Promise<string>;
  /** The children of a znode, decoded as stored (an empty list when it has none or is missing). */
  children(path: string): Promise<string[]>;
  /** The server's output so far (all runs). */
  output(): string;
  /** Stops the server and removes its config, and its data directory unless one was given. */
  dispose(): Promise<void>;
}

/** The JVM to run ZooKeeper with: $JAVA, then $JAVA_HOME/bin/java, then `java` on PATH. */
function javaBin(): string {
  const candidates = [process.env['JAVA'], process.env['JAVA_HOME'] && join(process.env['JAVA_HOME'], 'bin', 'java')];
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) if (dir !== '') candidates.push(join(dir, 'java'));
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(`no java found (JAVA, JAVA_HOME or PATH); ${SETUP_HINT}`);
}

/**
 * The classpath of Debian's ZooKeeper: zookeeper.jar names its dependencies in its manifest;
 * slf4j-simple makes the server's log readable in output(). $ZOOKEEPER_JARS overrides the directory.
 */
export function zooKeeperClasspath(): string {
  const dir = process.env['ZOOKEEPER_JARS'] ?? '/usr/share/java';
  const jar = join(dir, 'zookeeper.jar');
  try {
    accessSync(jar, constants.R_OK);
  } catch {
    throw new Error(`ZooKeeper not found at ${jar} (Debian package zookeeper); ${SETUP_HINT}`);
  }
  const logging = join(dir, 'slf4j-simple.jar');
  try {
    accessSync(logging, constants.R_OK);
    return `${jar}${delimiter}${logging}`;
  } catch {
    return jar;
  }
}

/** A small, quick-starting JVM: the server holds a few znodes. */
const JVM_FLAGS = ['-Xms32m', '-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.net.preferIPv4Stack=true'];

/** Asks a four-letter word (whitelisted in the config) and returns the reply, or undefined. */
export function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (value: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('connect', () => socket.end(word));
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.on('end', () => done(reply));
    socket.on('error', () => done(undefined));
  });
}

/** Starts a private standalone ZooKeeper and waits until it serves. */
export async function startZooKeeper(options: ZooKeeperOptions = {}): Promise<ZooKeeper> {
  const java = javaBin();
  const classpath = zooKeeperClasspath();
  const port = options.port ?? (await freePort());
  const home = mkdtempSync(join(tmpdir(), 'dubbo-dns-zk-'));
  const dataDir = options.dataDir ?? join(home, 'data');
  const config = join(home, 'zoo.cfg');
  writeFileSync(
    config,
    [
      `tickTime=${options.tickMs ?? 500}`,
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      ...(options.listenAll === true ? [] : ['clientPortAddress=127.0.0.1']),
      // No Jetty admin server (it would take port 8080) and no JMX; ruok/srvr for readiness.
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr',
      'maxClientCnxns=0',
      '',
    ].join('\n'),
  );
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  let daemon: Daemon | undefined;
  let earlier = '';

  const killNow = (): void => {
    if (daemon !== undefined && !daemon.exited()) daemon.child.kill('SIGKILL');
  };

  const start = async (): Promise<void> => {
    if (daemon !== undefined && !daemon.exited()) return;
    if (daemon !== undefined) earlier += daemon.output();
    daemon = startDaemon(java, [...JVM_FLAGS, '-cp', classpath, 'org.apache.zookeeper.server.ZooKeeperServerMain', config]);
    const d = daemon;
    process.once('exit', killNow);
    // Should this process die without running exit handlers, the watchdog kills the JVM and
    // removes the config (and the data, unless a dataDir was given).
    const watchdog = 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; if ! kill -0 "$1" 2>/dev/null; then kill -9 "$2" 2>/dev/null; rm -rf "$3"; fi';
    spawn('sh', ['-c', watchdog, 'zk-watchdog', String(process.pid), String(d.pid), home], {
      stdio: 'ignore',
      detached: true,
    }).unref();
    // `ruok` says imok as soon as the port is open; `srvr` gives statistics only once the
    // server really serves requests.
    await poll(
      `ZooKeeper on 127.0.0.1:${port} to serve`,
      async () => {
        if (d.exited()) throw new Error(`ZooKeeper exited: ${d.output().slice(-2000)}`);
        return (await fourLetterWord(port, 'srvr'))?.startsWith('Zookeeper version:') === true ? true : undefined;
      },
      readyTimeoutMs,
      100,
    );
  };

  const stop = async (): Promise<void> => {
    process.removeListener('exit', killNow);
    await daemon?.stop(5000);
  };

  const cli = (...command: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(java, [...JVM_FLAGS, '-cp', classpath, 'org.apache.zookeeper.ZooKeeperMain', '-server', `127.0.0.1:${port}`, ...command], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`zkCli ${command.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(String(stdout));
      });
    });

  await start();
  return {
    port,
    address: `127.0.0.1:${port}`,
    dataDir,
    running: () => daemon !== undefined && !daemon.exited(),
    stop,
    start,
    cli,
    async children(path) {
      let out: string;
      try {
        out = await cli('ls', path);
      } catch (err) {
        if (String(err).includes('Node does not exist')) return [];
        throw err;
      }
      // The listing is the last line that looks like [a, b].
      const line = out
        .split('\n')
        .reverse()
        .find((l) => /^\[.*\]$/.test(l.trim()));
      if (line === undefined) return [];
      const inner = line.trim().slice(1, -1);
      return inner === '' ? [] : inner.split(', ');
    },
    output: () => earlier + (daemon?.output() ?? ''),
    async dispose() {
      await stop();
      // home holds the config, and the data unless a dataDir was given.
      rmSync(home, { recursive: true, force: true });
    },
  };
}
