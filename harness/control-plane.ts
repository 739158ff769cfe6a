/**
 * A real, bare Kubernetes control plane for tests: Debian's etcd (data on /dev/shm) plus the
 * kube-apiserver built by test/tools/build-kube-apiserver.sh, on free loopback ports, with
 * certificates and an admin token made by `openssl`. See DESIGN.md §11.
 *
 *   const cp = await startControlPlane();
 *   try { const ns = await cp.newNamespace('my-test'); ... } finally { await cp.stop(); }
 *
 * Everything started here is killed and every temp dir removed by `stop()`, by a process 'exit'
 * hook (a test that throws), and by a tiny `sh` watchdog that outlives the Node process only to
 * clean up after it if it is killed outright (SIGKILL, or SIGTERM from a test runner timeout).
 *
 * A bare apiserver has no controller-manager: Pods never run (set status through `/status`), no
 * EndpointSlices for selector Services, no garbage collection, namespaces never finish deleting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { parse as parseYamlText } from 'yaml';
import type { KubeClient } from '../src/kube/rest.ts';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

const execFileAsync = promisify(execFile);

/** The pinned kube-apiserver version (test/tools/paths.sh KUBE_VERSION). */
export const KUBE_VERSION = 'v1.32.13';

export interface ControlPlaneOptions {
  /** kube-apiserver binary; default $KUBE_APISERVER_BIN or ${DUBBO_DNS_CACHE:-~/.cache/dubbo-dns}/bin/kube-apiserver-v1.32.13. */
  apiServerBin?: string;
  /** etcd binary; default $ETCD_BIN or `etcd` on PATH. */
  etcdBin?: string;
  /** How long to wait for etcd health and apiserver readiness (each), default 90 s. */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (`--flag=value`), appended after the defaults. */
  extraApiServerArgs?: readonly string[];
}

export interface ControlPlane {
  /** https://127.0.0.1:<port>; stays the same across stopApiServer()/startApiServer(). */
  readonly server: string;
  readonly port: number;
  /** Bearer token of `admin` (group system:masters). */
  readonly token: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly caPem: string;
  /** kubeconfig (YAML) in the temp dir: certificate-authority-data + token; context namespace `default`. */
  readonly kubeconfigPath: string;
  /** A KubeConfig loaded from kubeconfigPath. */
  readonly kubeConfig: k8s.KubeConfig;
  /** http://127.0.0.1:<port> of etcd. */
  readonly etcdUrl: string;
  /** Temp dir with certs, token file, kubeconfig and logs. */
  readonly dir: string;
  /** Current PIDs (undefined while that process is stopped). */
  readonly pids: { readonly apiServer: number | undefined; readonly etcd: number | undefined };
  /** Stops the apiserver only (SIGTERM, SIGKILL after 5 s; or the given signal first), keeping etcd. */
  stopApiServer(options?: { signal?: NodeJS.Signals }): Promise<void>;
  /**
   * Freezes the apiserver (SIGSTOP): its connections stay open and mute, as in a silent partition.
   * stop(), stopApiServer() and the exit hooks thaw or kill it.
   */
  freezeApiServer(): Promise<void>;
  /** Thaws a frozen apiserver (SIGCONT). */
  thawApiServer(): void;
  /** Starts the apiserver again on the same port, etcd, certs and token; resolves when ready. */
  startApiServer(): Promise<void>;
  /** Stops the apiserver, then etcd, and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
  /** Creates a fresh namespace `<prefix>-<random>` and returns its name. */
  newNamespace(prefix?: string): Promise<string>;
  /** The last lines of the apiserver (or etcd) log. */
  logTail(which?: 'apiserver' | 'etcd', lines?: number): string;
}

// ---------------------------------------------------------------------------------------------
// binaries

/** Resolves the binaries, throwing an Error that names exactly what is missing. */
export function findBinaries(options: Pick<ControlPlaneOptions, 'apiServerBin' | 'etcdBin'> = {}): { apiServer: string; etcd: string } {
  const cache = process.env.DUBBO_DNS_CACHE || join(process.env.HOME || homedir(), '.cache', 'dubbo-dns');
  const apiServer = options.apiServerBin ?? (process.env.KUBE_APISERVER_BIN || join(cache, 'bin', `kube-apiserver-${KUBE_VERSION}`));
  if (!isExecutable(apiServer)) {
    throw new Error(
      `kube-apiserver ${KUBE_VERSION} not found at ${apiServer} (from ${options.apiServerBin !== undefined ? 'options.apiServerBin' : process.env.KUBE_APISERVER_BIN ? 'KUBE_APISERVER_BIN' : 'the default cache path'}); ` +
        `\`bash test/setup.sh\` builds it (or directly: bash test/tools/ensure.sh, bash test/tools/build-kube-apiserver.sh)`,
    );
  }
  const etcdName = options.etcdBin ?? (process.env.ETCD_BIN || 'etcd');
  const etcd = etcdName.includes('/') ? etcdName : whichSync(etcdName);
  if (etcd === undefined || !isExecutable(etcd)) {
    throw new Error(`etcd not found (${etcdName.includes('/') ? etcdName : `'${etcdName}' is not on PATH`}); \`bash test/setup.sh\` installs it (Debian package etcd-server)`);
  }
  return { apiServer, etcd };
}

function isExecutable(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

function whichSync(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin'])) {
    if (dir !== '' && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// cleanup bookkeeping

interface Tracked {
  pids: Set<number>;
  dirs: string[];
  watchdog: ChildProcess | undefined;
}
const live = new Set<Tracked>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const t of live) cleanupSync(t);
  });
}

function cleanupSync(t: Tracked): void {
  for (const pid of t.pids) killQuietly(pid, 'SIGKILL');
  t.pids.clear();
  if (t.watchdog?.pid !== undefined) killQuietly(t.watchdog.pid, 'SIGKILL');
  for (const d of t.dirs) rmSync(d, { recursive: true, force: true });
  live.delete(t);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Whether a process with this PID exists (zombies included). */
/** The state letters of every thread of a process (T: stopped by a signal); empty when it is gone. */
export function threadStates(pid: number): string[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const states: string[] = [];
  for (const task of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
      states.push(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '');
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return states;
}

async function waitAllThreadsStopped(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = threadStates(pid);
    if (states.length > 0 && states.every((s) => s === 'T' || s === 't')) return;
    if (Date.now() > deadline) throw new Error(`kube-apiserver (pid ${pid}) not stopped after ${timeoutMs} ms: thread states ${states.join('')}`);
    await sleep(10);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The watchdog: when this Node process is gone (killed without running 'exit' hooks), SIGKILL the
// PIDs listed in the pid file and remove the dirs. It is killed by stop() and by the exit hook.
const WATCHDOG = `
parent=$1; pidfile=$2; shift 2
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
if [ -f "$pidfile" ]; then for p in $(cat "$pidfile"); do kill -9 "$p" 2>/dev/null; done; fi
rm -rf "$@"
`;

// ---------------------------------------------------------------------------------------------
// small utilities

/** A port that was free on 127.0.0.1 a moment ago (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('could not get a free port');
  return addr.port;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

function tailFile(path: string, lines: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return '(no log)';
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
  }
}

/** What a GET returned. */
export interface HttpResult {
  status: number;
  body: string;
}

/** GET over HTTP or HTTPS (with a CA and a bearer token when given), no keep-alive. */
export function httpGet(url: string, options: { ca?: string; token?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', headers, ...(options.ca !== undefined ? { ca: options.ca } : {}), timeout: options.timeoutMs ?? 5000, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls fn until it returns a value other than undefined; throws the last error/description on timeout. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, what = 'condition', intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? `; last error: ${last instanceof Error ? last.message : String(last)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// processes

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
  exitCode: number | null | undefined; // undefined while running
}

function startProc(bin: string, args: string[], logPath: string, t: Tracked, pidFile: string): Proc {
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: false });
  } finally {
    closeSync(fd);
  }
  const proc: Proc = { child, exited: Promise.resolve(), exitCode: undefined };
  proc.exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      proc.exitCode = code ?? (signal !== null ? -1 : null);
      if (child.pid !== undefined) t.pids.delete(child.pid);
      writePidFile(t, pidFile);
      resolve();
    });
    child.once('error', () => {
      proc.exitCode = -1;
      resolve();
    });
  });
  if (child.pid !== undefined) {
    t.pids.add(child.pid);
    writePidFile(t, pidFile);
  }
  return proc;
}

function writePidFile(t: Tracked, pidFile: string): void {
  try {
    writeFileSync(pidFile, [...t.pids].join('\n') + '\n');
  } catch {
    // dir already removed
  }
}

async function stopProc(proc: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (proc === undefined || proc.exitCode !== undefined) return;
  proc.child.kill(signal);
  // A frozen (SIGSTOPped) process only acts on the signal once it runs again.
  proc.child.kill('SIGCONT');
  const timedOut = await Promise.race([proc.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

class StartError extends Error {
  readonly addressInUse: boolean;
  constructor(message: string, addressInUse: boolean) {
    super(message);
    this.addressInUse = addressInUse;
  }
}

// ---------------------------------------------------------------------------------------------
// the control plane

/** Starts etcd and kube-apiserver, waits until the API is usable, writes a kubeconfig. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = findBinaries(options);
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  installExitHook();

  const dir = mkdtempSync(join(tmpdir(), 'dubbo-dns-cp-'));
  const shm = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const etcdDir = mkdtempSync(join(shm, 'dubbo-dns-etcd-'));
  const pidFile = join(dir, 'pids');
  const tracked: Tracked = { pids: new Set(), dirs: [dir, etcdDir], watchdog: undefined };
  live.add(tracked);

  const watchdog = spawn('sh', ['-c', WATCHDOG, 'dubbo-dns-cp-watchdog', String(process.pid), pidFile, dir, etcdDir], { stdio: 'ignore', detached: false });
  watchdog.on('error', () => {}); // without sh we still have stop() and the exit hook
  watchdog.unref();
  tracked.watchdog = watchdog;

  let etcd: Proc | undefined;
  let apiServer: Proc | undefined;
  const etcdLog = join(dir, 'etcd.log');
  const apiLog = join(dir, 'kube-apiserver.log');
  let stopped = false;

  const stopAll = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopProc(apiServer);
    await stopProc(etcd);
    if (watchdog.pid !== undefined && watchdog.exitCode === null) killQuietly(watchdog.pid, 'SIGKILL');
    for (const d of tracked.dirs) rmSync(d, { recursive: true, force: true });
    live.delete(tracked);
  };

  try {
    // --- certificates and token ---------------------------------------------------------------
    const token = randomBytes(24).toString('hex');
    await Promise.all([
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=dubbo-dns-test-ca'], dir),
      openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], dir),
      openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir),
    ]);
    writeFileSync(
      join(dir, 'apiserver.ext'),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
        'subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n',
    );
    await Promise.all([
      openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '2', '-extfile', 'apiserver.ext'], dir),
      openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir),
    ]);
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
    const caPem = readFileSync(join(dir, 'ca.crt'), 'utf8');

    // --- etcd -----------------------------------------------------------------------------------
    let etcdPort = 0;
    for (let attempt = 0; ; attempt++) {
      etcdPort = await freePort();
      const peerPort = await freePort();
      const args = [
        '--name=default',
        `--data-dir=${etcdDir}/data`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-level=warn',
        '--snapshot-count=10000',
        // Debian's 3.4.23 has no --unsafe-no-fsync; the tmpfs data dir makes fsync cheap anyway.
      ];
      etcd = startProc(bins.etcd, args, etcdLog, tracked, pidFile);
      try {
        await waitEtcd(etcd, etcdPort, readyTimeoutMs, etcdLog);
        break;
      } catch (e) {
        await stopProc(etcd, 'SIGKILL');
        if (attempt === 0 && e instanceof StartError && e.addressInUse) {
          rmSync(join(etcdDir, 'data'), { recursive: true, force: true });
          continue;
        }
        throw e;
      }
    }
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;

    // --- kube-apiserver -------------------------------------------------------------------------
    let port = await freePort();
    const server = (): string => `https://127.0.0.1:${port}`;
    const apiArgs = (): string[] => [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      '--endpoint-reconciler-type=none',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(dir, 'apiserver.key')}`,
      `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--cert-dir=${join(dir, 'cert-dir')}`,
      '--watch-cache=true',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      ...(options.extraApiServerArgs ?? []),
    ];
    const startApi = async (allowNewPort: boolean): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        apiServer = startProc(bins.apiServer, apiArgs(), apiLog, tracked, pidFile);
        try {
          await waitApiServer(apiServer, server(), token, caPem, readyTimeoutMs, apiLog);
          return;
        } catch (e) {
          await stopProc(apiServer, 'SIGKILL');
          if (allowNewPort && attempt === 0 && e instanceof StartError && e.addressInUse) {
            port = await freePort();
            continue;
          }
          throw e;
        }
      }
    };
    await startApi(true);

    // --- kubeconfig -----------------------------------------------------------------------------
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: dubbo-dns-test',
        '  cluster:',
        `    server: ${server()}`,
        `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
        'users:',
        '- name: admin',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: dubbo-dns-test',
        '  context:',
        '    cluster: dubbo-dns-test',
        '    user: admin',
        '    namespace: default',
        'current-context: dubbo-dns-test',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const fixedPort = port;

    const cp: ControlPlane = {
      server: server(),
      port: fixedPort,
      token,
      caPem,
      kubeconfigPath,
      kubeConfig,
      etcdUrl,
      dir,
      get pids() {
        return {
          apiServer: apiServer !== undefined && apiServer.exitCode === undefined ? apiServer.child.pid : undefined,
          etcd: etcd !== undefined && etcd.exitCode === undefined ? etcd.child.pid : undefined,
        };
      },
      async stopApiServer(opts = {}) {
        await stopProc(apiServer, opts.signal ?? 'SIGTERM');
      },
      async freezeApiServer() {
        if (apiServer === undefined || apiServer.exitCode !== undefined) throw new Error('kube-apiserver is not running');
        const pid = apiServer.child.pid;
        apiServer.child.kill('SIGSTOP');
        // The signal is delivered to every thread of the Go process asynchronously: resolve once
        // all of them are stopped, so a caller that reads /proc or counts on silence is not early.
        if (pid !== undefined) await waitAllThreadsStopped(pid);
      },
      thawApiServer() {
        if (apiServer !== undefined && apiServer.exitCode === undefined) apiServer.child.kill('SIGCONT');
      },
      async startApiServer() {
        if (stopped) throw new Error('control plane already stopped');
        if (apiServer !== undefined && apiServer.exitCode === undefined) throw new Error('kube-apiserver is already running');
        await startApi(false);
      },
      stop: stopAll,
      newNamespace: (prefix = 'test') => newNamespace(kubeConfig, prefix),
      logTail: (which = 'apiserver', lines = 40) => tailFile(which === 'apiserver' ? apiLog : etcdLog, lines),
    };
    return cp;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

async function waitEtcd(proc: Proc, port: number, timeoutMs: number, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== undefined) {
      const tail = tailFile(logPath, 30);
      throw new StartError(`etcd exited (code ${proc.exitCode}) before becoming healthy; log tail:\n${tail}`, /address already in use/.test(tail));
    }
    try {
      const r = await httpGet(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 });
      if (r.status === 200 && /"health"\s*:\s*"true"/.test(r.body)) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new StartError(`etcd not healthy on 127.0.0.1:${port} after ${timeoutMs} ms; log tail:\n${tailFile(logPath, 30)}`, false);
    await sleep(100);
  }
}

async function waitApiServer(proc: Proc, server: string, token: string, ca: string, timeoutMs: number, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  // /readyz covers etcd, the RBAC bootstrap roles and the other post-start hooks; then the
  // `default` namespace (made by the bootstrap controller) must be readable with the admin token.
  for (const path of ['/readyz', '/api/v1/namespaces/default']) {
    for (;;) {
      if (proc.exitCode !== undefined) {
        const tail = tailFile(logPath, 40);
        throw new StartError(`kube-apiserver exited (code ${proc.exitCode}) before becoming ready; log tail:\n${tail}`, /address already in use/.test(tail));
      }
      try {
        const r = await httpGet(server + path, { ca, token, timeoutMs: 5000 });
        if (r.status === 200) break;
        last = `${path} -> ${r.status} ${r.body.slice(0, 500)}`;
      } catch (e) {
        last = `${path} -> ${(e as Error).message}`;
      }
      if (Date.now() > deadline) {
        throw new StartError(`kube-apiserver at ${server} not ready after ${timeoutMs} ms (last: ${last}); log tail:\n${tailFile(logPath, 40)}`, false);
      }
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// client-node 2.x helpers

/** Creates namespace `<prefix>-<random>` (DNS-1123 label) and returns its name. */
export async function newNamespace(kc: k8s.KubeConfig, prefix = 'test'): Promise<string> {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  const name = `${clean}-${randomBytes(4).toString('hex')}`;
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

/** Reads the resident set size (bytes) of a process from /proc, or undefined. */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Applies deploy/crd.yaml for real (server-side apply) and waits until DubboServices can be listed. */
export async function installCrd(k: KubeClient, fieldManager = 'test'): Promise<void> {
  const crd = parseYamlText(readFileSync(join(REPO_ROOT, 'deploy', 'crd.yaml'), 'utf8')) as { metadata: { name: string } };
  await k.apply(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`, crd, fieldManager);
  await eventually(
    async () => {
      const got = await k.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
      if (!got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
      await k.request('GET', '/apis/dubbo-dns.io/v1alpha1/dubboservices');
      return true;
    },
    30_000,
    'CRD established',
  );
}
