import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { integerIn, parseHostPort, parseNamespace, parseNamespaceList, parseProtocol, parseZone, type HostPort } from './config/parse.ts';
import { formatNames } from './commands/name.ts';
import { lookupProviders } from './commands/lookup.ts';
import { serve, type RunningServe } from './commands/serve.ts';
import { defaultIdentity, loadKubeConfig, runController } from './commands/controller.ts';
import { KubeClient } from './kube/rest.ts';
import { parseAddressList, parseCidrList, parseHostPortList, type AddressFilter } from './config/cidr.ts';
import { usableCpus } from './config/usable-cpus.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { VERSION } from './observability/version.ts';

// Wiring only: flags (each with an environment variable, docs/cli.md), then the command.

const ZONE = 'dubbo.internal.';

/** A combination of flags that cannot work; main prints it and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function env(option: Option, name: string): Option {
  return option.env(`DUBBO_DNS_${name}`);
}

const zoneOption = (): Option => env(new Option('--zone <zone>', 'DNS zone served').default(ZONE).argParser(parseZone), 'ZONE');
const namespaceOption = (): Option =>
  env(new Option('--namespace <ns>', 'Kubernetes namespace of the providers').default('default').argParser(parseNamespace), 'NAMESPACE');
const logLevelOption = (): Option => env(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'), 'LOG_LEVEL');
const groupOption = (): Option => env(new Option('--group <group>', 'Dubbo group'), 'GROUP');
const versionOption = (): Option => env(new Option('--version <version>', 'Dubbo version'), 'VERSION');

/**
 * Runs a long-running command until SIGTERM/SIGINT, then stops it gracefully and exits 0 (1 if
 * stopping failed). A signal during start-up abandons the start-up (it may be waiting for an API
 * server that never answers) instead of waiting for it. Resolves with the running command, or
 * undefined when a signal came first.
 */
async function runUntilSignal<T extends { stop(): Promise<void> }>(log: Logger, start: (signal: AbortSignal) => Promise<T>, handleSignals = true): Promise<T | undefined> {
  const abort = new AbortController();
  const starting = start(abort.signal);
  const onSignal = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    abort.abort();
    starting
      .then(
        (running) => running.stop(),
        (err: unknown) => {
          if (!isAbort(err)) throw err;
        },
      )
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  if (handleSignals) {
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  }
  try {
    return await starting;
  } catch (err) {
    if (abort.signal.aborted && isAbort(err)) return undefined;
    throw err;
  }
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** Where commands print, and a hook for tests that run `serve` in-process. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  onServe?: (s: RunningServe) => void;
}

/** Builds the `dubbo-dns` program. `out`/`err` are where commands print (tests pass buffers). */
export function program(io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Command {
  const root = new Command('dubbo-dns')
    .description('Authoritative DNS for Apache Dubbo providers, and the Kubernetes controller that publishes them')
    .version(VERSION, '-V, --version', 'print the version and exit')
    // Options before the command belong to dubbo-dns itself; `name X --version 1.0` is Dubbo's version.
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  serveCommand(root, io);
  controllerCommand(root);
  nameCommand(root, io);
  lookupCommand(root, io);
  return root;
}

/** serve: answer DNS from a registry file or the cluster. */
function serveCommand(parent: Command, io: Io): void {
  parent
    .command('serve')
    .description('answer DNS for the zone from a registry file (docs/registry-file.md), the cluster (--kubernetes) or ZooKeeper (--zookeeper)')
    .addOption(env(new Option('--registry <file>', 'registry file (YAML or JSON), reloaded on change'), 'REGISTRY'))
    .addOption(env(new Option('--kubernetes', 'serve the managed Services and EndpointSlices of the cluster'), 'KUBERNETES'))
    .addOption(env(new Option('--zookeeper <host:port,...>', 'mirror the providers registered in this ZooKeeper ensemble (docs/zookeeper.md)').argParser(parseZooKeeperServers), 'ZOOKEEPER'))
    .addOption(env(new Option('--zookeeper-root <path>', 'with --zookeeper: the registry root').default('/dubbo').argParser(parseZooKeeperRoot), 'ZOOKEEPER_ROOT'))
    .addOption(env(new Option('--zookeeper-namespace <ns>', 'with --zookeeper: the namespace N its services are published in (S.N.<zone>)').default('default').argParser(parseNamespace), 'ZOOKEEPER_NAMESPACE'))
    .addOption(env(new Option('--zookeeper-auth-file <file>', "with --zookeeper: a file holding 'user:password' for ZooKeeper's digest scheme"), 'ZOOKEEPER_AUTH_FILE'))
    .addOption(env(new Option('--kubeconfig <file>', 'with --kubernetes: kubeconfig (default: KUBECONFIG, else ~/.kube/config, else in-cluster)'), 'KUBECONFIG'))
    .addOption(env(new Option('--namespace <ns,...>', 'with --kubernetes: only these namespaces, comma-separated (default: all)').argParser(parseNamespaceList), 'NAMESPACE'))
    .addOption(env(new Option('--snapshot <file>', 'with --kubernetes or --zookeeper: last-known-good data, served at start when the source is unreachable'), 'SNAPSHOT'))
    .addOption(
      env(new Option('--sync-timeout <seconds>', 'with --kubernetes or --zookeeper: wait this long for the source before serving the snapshot').default(10).argParser(integerIn(1, 3600)), 'SYNC_TIMEOUT'),
    )
    .addOption(watchLivenessOption('with --kubernetes: report the data stale when the API server has said nothing for this long'))
    .addOption(zoneOption())
    .addOption(env(new Option('--listen <host:port>', 'UDP and TCP address').default(parseHostPort('127.0.0.1:5353'), '127.0.0.1:5353').argParser(parseHostPort), 'LISTEN'))
    .addOption(env(new Option('--http-listen <host:port>', 'serve /healthz, /readyz and /metrics here').argParser(parseHostPort), 'HTTP_LISTEN'))
    .addOption(env(new Option('--ttl <seconds>', 'TTL of every record and of negative answers').default(5).argParser(integerIn(0, 86400)), 'TTL'))
    .addOption(
      env(new Option('--max-udp-size <bytes>', 'largest UDP answer with EDNS (RFC 6891)').default(1232).argParser(integerIn(512, 65535)), 'MAX_UDP_SIZE'),
    )
    .addOption(
      env(new Option('--guard-grace <seconds>', 'with --kubernetes or --zookeeper: hold a mass deregistration this long before believing it (0: off)').default(30).argParser(integerIn(0, 86400)), 'GUARD_GRACE'),
    )
    .addOption(
      env(new Option('--guard-max-drop <percent>', 'with --kubernetes or --zookeeper: a drop of more than this share of ready endpoints at once is held').default(50).argParser(integerIn(0, 100)), 'GUARD_MAX_DROP'),
    )
    .addOption(
      env(new Option('--nameserver-address <ip,...>', 'addresses of this server, published at the NS target ns.dns.<zone> (glue)').argParser(parseAddressList), 'NAMESERVER_ADDRESS'),
    )
    .addOption(env(new Option('--allow-transfer <cidrs>', 'addresses (CIDR,...) allowed to transfer the zone over TCP (default: none)').argParser(parseCidrList), 'ALLOW_TRANSFER'))
    .addOption(env(new Option('--notify <host:port,...>', 'secondaries to NOTIFY when the serial rises').argParser(parseHostPortList(parseHostPort)), 'NOTIFY'))
    .addOption(
      env(new Option('--tcp-idle-timeout <ms>', 'close a TCP connection idle this long (RFC 7766 §6.2.3)').default(10000).argParser(integerIn(100, 600000)), 'TCP_IDLE_TIMEOUT'),
    )
    .addOption(
      env(new Option('--max-tcp-connections <n>', 'TCP connections open at once; more are refused').default(256).argParser(integerIn(1, 65535)), 'MAX_TCP_CONNECTIONS'),
    )
    .addOption(
      env(new Option('--workers <n>', 'processes answering queries (0: one per CPU this process may use, per its cgroup quota and cpuset)').default(1).argParser(integerIn(0, 64)), 'WORKERS'),
    )
    .addOption(
      env(new Option('--lameduck <seconds>', 'on SIGTERM: /readyz turns 503 at once, DNS keeps answering this long, then drains and exits').default(5).argParser(integerIn(0, 300)), 'LAMEDUCK'),
    )
    .addOption(logLevelOption())
    .action((opts: ServeFlags) => serveAction(opts, io));
}

/** The flags of `serve`, parsed. */
interface ServeFlags {
  registry?: string;
  kubernetes?: boolean;
  zookeeper?: string;
  zookeeperRoot: string;
  zookeeperNamespace: string;
  zookeeperAuthFile?: string;
  kubeconfig?: string;
  namespace?: string[];
  snapshot?: string;
  syncTimeout: number;
  watchLivenessSeconds: number;
  guardGrace: number;
  guardMaxDrop: number;
  zone: string;
  listen: HostPort;
  httpListen?: HostPort;
  ttl: number;
  maxUdpSize: number;
  nameserverAddress?: string[];
  allowTransfer?: AddressFilter;
  notify?: HostPort[];
  tcpIdleTimeout: number;
  maxTcpConnections: number;
  workers: number;
  lameduck: number;
  logLevel: string;
}

/** `serve`: checks the flag combination, then runs until a signal. */
async function serveAction(opts: ServeFlags, io: Io): Promise<void> {
  const sources = [opts.registry !== undefined, opts.kubernetes === true, opts.zookeeper !== undefined].filter(Boolean).length;
  if (sources !== 1) throw new UsageError('serve needs exactly one of --registry FILE, --kubernetes and --zookeeper HOST:PORT,...');
  if (opts.kubernetes !== true && (opts.namespace !== undefined || opts.kubeconfig !== undefined)) {
    throw new UsageError('--namespace and --kubeconfig go with --kubernetes');
  }
  if (opts.registry !== undefined && opts.snapshot !== undefined) throw new UsageError('--snapshot goes with --kubernetes or --zookeeper');
  if (opts.zookeeper === undefined && opts.zookeeperAuthFile !== undefined) throw new UsageError('--zookeeper-auth-file goes with --zookeeper');
  const guard = { graceMs: opts.guardGrace * 1000, maxDropShare: opts.guardMaxDrop / 100 };
  const zookeeper =
    opts.zookeeper !== undefined && !cluster.isWorker
      ? {
          servers: opts.zookeeper,
          root: opts.zookeeperRoot,
          namespace: opts.zookeeperNamespace,
          auth: opts.zookeeperAuthFile === undefined ? undefined : readZooKeeperAuth(opts.zookeeperAuthFile),
          snapshot: opts.snapshot,
          syncTimeoutMs: opts.syncTimeout * 1000,
          guard,
        }
      : undefined;
  const log = createLogger({ level: opts.logLevel });
  // Query workers take their zone from the primary: only the primary talks to the API server.
  const kubernetes =
    opts.kubernetes === true && !cluster.isWorker
      ? {
          client: new KubeClient(await loadKubeConfig(opts.kubeconfig)),
          namespaces: opts.namespace,
          snapshot: opts.snapshot,
          syncTimeoutMs: opts.syncTimeout * 1000,
          livenessMs: opts.watchLivenessSeconds * 1000,
          guard,
        }
      : undefined;
  // In a cluster the primary stops the workers, and a worker ignores signals meant for the group.
  const settings = { ...opts, kubernetes, zookeeper, workers: opts.workers === 0 ? usableCpus() : opts.workers, lameduckMs: opts.lameduck * 1000 };
  const running = await runUntilSignal(log, (signal) => serve(settings, log, signal), !cluster.isWorker);
  if (running !== undefined) io.onServe?.(running);
}

/** `--zookeeper`: `host:port,...`, each checked, kept as given (the client's connection string). */
function parseZooKeeperServers(value: string): string {
  const servers = value.split(',').map((s) => s.trim());
  if (servers.some((s) => s === '')) throw new InvalidArgumentError(`${JSON.stringify(value)}: want host:port,host:port,...`);
  for (const server of servers) parseHostPort(server);
  return servers.join(',');
}

/** `--zookeeper-root`: an absolute ZooKeeper path. */
function parseZooKeeperRoot(value: string): string {
  if (!value.startsWith('/') || value.includes('//') || (value.length > 1 && value.endsWith('/'))) throw new InvalidArgumentError(`${JSON.stringify(value)} is not an absolute ZooKeeper path like /dubbo`);
  return value;
}

/** Reads `user:password` from the auth file; the content is never echoed. */
function readZooKeeperAuth(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--zookeeper-auth-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!/^[^:\s]+:\S+$/.test(text)) throw new UsageError(`--zookeeper-auth-file ${file}: want one line 'user:password'`);
  return text;
}

/** `--watch-liveness-seconds`: how long a mute API server (frozen, partitioned) may go unnoticed. */
function watchLivenessOption(description: string): Option {
  return env(new Option('--watch-liveness-seconds <seconds>', description).default(60).argParser(integerIn(4, 3600)), 'WATCH_LIVENESS_SECONDS');
}

/** controller: keep the managed Services and EndpointSlices. */
function controllerCommand(parent: Command): void {
  parent
    .command('controller')
    .description('keep a managed Service and EndpointSlices for every Dubbo service key (DubboService resources, dubbo-go pods, ZooKeeper registrations)')
    .addOption(env(new Option('--namespace <ns,...>', 'watch only these namespaces, comma-separated (default: all)').argParser(parseNamespaceList), 'NAMESPACE'))
    .addOption(env(new Option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, else ~/.kube/config, else in-cluster)'), 'KUBECONFIG'))
    .addOption(env(new Option('--leader-elect', 'elect a leader on a Lease so only one replica writes'), 'LEADER_ELECT'))
    .addOption(env(new Option('--lease-namespace <ns>', 'namespace of the Lease').default(process.env['POD_NAMESPACE'] ?? 'dubbo-dns').argParser(parseNamespace), 'LEASE_NAMESPACE'))
    .addOption(env(new Option('--lease-name <name>', 'name of the Lease').default('dubbo-dns-controller'), 'LEASE_NAME'))
    .addOption(env(new Option('--lease-duration <seconds>', 'how long a leader that stopped renewing keeps the lease').default(15).argParser(integerIn(2, 600)), 'LEASE_DURATION'))
    .addOption(env(new Option('--identity <id>', 'this replica in the Lease (default: pod name and pid)'), 'IDENTITY'))
    .addOption(env(new Option('--http-listen <host:port>', 'serve /healthz, /readyz and /metrics here').default(parseHostPort('127.0.0.1:8081'), '127.0.0.1:8081').argParser(parseHostPort), 'HTTP_LISTEN'))
    .addOption(
      env(new Option('--orphan-retention <seconds>', 'keep the empty Service of a key whose pods all vanished this long').default(600).argParser(integerIn(0, 7 * 86400)), 'ORPHAN_RETENTION'),
    )
    .addOption(env(new Option('--resync <seconds>', 'reconcile every key this often').default(600).argParser(integerIn(5, 86400)), 'RESYNC'))
    .addOption(env(new Option('--workers <n>', 'keys reconciled at once').default(4).argParser(integerIn(1, 64)), 'WORKERS'))
    .addOption(watchLivenessOption('notice an API server that has said nothing for this long (frozen, partitioned) and restart the watches'))
    .addOption(env(new Option('--zookeeper <host:port,...>', 'also publish the providers registered in this ZooKeeper ensemble (docs/zookeeper.md)').argParser(parseZooKeeperServers), 'ZOOKEEPER'))
    .addOption(env(new Option('--zookeeper-root <path>', 'with --zookeeper: the registry root').default('/dubbo').argParser(parseZooKeeperRoot), 'ZOOKEEPER_ROOT'))
    .addOption(env(new Option('--zookeeper-namespace <ns>', "with --zookeeper (required): the namespace the registry's Services and EndpointSlices go in").argParser(parseNamespace), 'ZOOKEEPER_NAMESPACE'))
    .addOption(env(new Option('--zookeeper-auth-file <file>', "with --zookeeper: a file holding 'user:password' for ZooKeeper's digest scheme"), 'ZOOKEEPER_AUTH_FILE'))
    .addOption(logLevelOption())
    .action(async (opts: ControllerFlags) => {
      if (opts.zookeeper === undefined && (opts.zookeeperNamespace !== undefined || opts.zookeeperAuthFile !== undefined)) {
        throw new UsageError('--zookeeper-namespace and --zookeeper-auth-file go with --zookeeper');
      }
      if (opts.zookeeper !== undefined && opts.zookeeperNamespace === undefined) throw new UsageError('--zookeeper needs --zookeeper-namespace NS (where its Services go)');
      if (opts.zookeeperNamespace !== undefined && opts.namespace !== undefined && !opts.namespace.includes(opts.zookeeperNamespace)) {
        throw new UsageError(`--zookeeper-namespace ${opts.zookeeperNamespace} is not among the watched --namespace ${opts.namespace.join(',')}`);
      }
      const zookeeper =
        opts.zookeeper === undefined
          ? undefined
          : {
              servers: opts.zookeeper,
              root: opts.zookeeperRoot,
              namespace: opts.zookeeperNamespace!,
              auth: opts.zookeeperAuthFile === undefined ? undefined : readZooKeeperAuth(opts.zookeeperAuthFile),
            };
      const log = createLogger({ level: opts.logLevel });
      const settings = { ...opts, zookeeper, namespaces: opts.namespace, leaderElect: opts.leaderElect === true, identity: opts.identity ?? defaultIdentity() };
      await runUntilSignal(log, (signal) => runController(settings, log, signal));
    });
}

/** The flags of `controller`, parsed. */
interface ControllerFlags {
  namespace?: string[];
  kubeconfig?: string;
  leaderElect?: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDuration: number;
  identity?: string;
  httpListen: HostPort;
  orphanRetention: number;
  resync: number;
  workers: number;
  watchLivenessSeconds: number;
  zookeeper?: string;
  zookeeperRoot: string;
  zookeeperNamespace?: string;
  zookeeperAuthFile?: string;
  logLevel: string;
}

/** name: print the DNS names of a key. */
function nameCommand(parent: Command, io: Io): void {
  parent
    .command('name')
    .description('print the DNS names of a Dubbo service key (docs/naming.md, docs/records.md)')
    .argument('<interface>', 'Java interface name, e.g. org.apache.dubbo.demo.DemoService')
    .addOption(groupOption())
    .addOption(versionOption())
    .addOption(namespaceOption())
    .addOption(zoneOption())
    .addOption(env(new Option('--protocol <protocol>', 'print only this protocol\'s _P._tcp name (default: dubbo, tri, grpc and rest)').argParser(parseProtocol), 'PROTOCOL'))
    .addOption(new Option('--json', 'print JSON'))
    .action((iface: string, opts: { group?: string; version?: string; namespace: string; zone: string; protocol?: string; json?: boolean }) => {
      io.out(formatNames(iface, { ...opts, json: opts.json === true }));
    });
}

/** lookup: resolve a key and print its provider URLs. */
function lookupCommand(parent: Command, io: Io): void {
  parent
    .command('lookup')
    .description('resolve a Dubbo service key and print its provider URLs (exit 2: no ready provider, 3: no such service)')
    .argument('<interface>', 'Java interface name')
    .addOption(groupOption())
    .addOption(versionOption())
    .addOption(namespaceOption())
    .addOption(zoneOption())
    .addOption(env(new Option('--protocol <protocol>', 'ask _P._tcp SRV for this protocol instead of the bare name').argParser(parseProtocol), 'PROTOCOL'))
    .addOption(env(new Option('--server <host:port>', 'DNS server to ask').default(parseHostPort('127.0.0.1:5353'), '127.0.0.1:5353').argParser(parseHostPort), 'SERVER'))
    .addOption(env(new Option('--timeout <ms>', 'per-query timeout').default(3000).argParser(integerIn(1, 60000)), 'TIMEOUT'))
    .action(async (iface: string, opts: { group?: string; version?: string; namespace: string; zone: string; protocol?: string; server: HostPort; timeout: number }) => {
      const outcome = await lookupProviders(iface, { ...opts, timeoutMs: opts.timeout });
      switch (outcome.kind) {
        case 'found':
          io.out(outcome.urls.map((u) => `${u}\n`).join(''));
          return;
        case 'no-providers':
          io.err(`no ready provider: ${outcome.name} has no SRV records\n`);
          process.exitCode = 2;
          return;
        case 'not-found':
          io.err(`no such service: ${outcome.name} does not exist (NXDOMAIN)\n`);
          process.exitCode = 3;
          return;
      }
    });
}
