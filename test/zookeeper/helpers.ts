// Helpers for the ZooKeeper tests: provider nodes written the way Dubbo writes them, by a client
// of this process or by a separate registrant process (killed to end its session the way a crashed
// provider's ends), and `dubbo-dns serve --zookeeper` as the real CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';
import { startServer, type ServerProcess } from '../support/server.ts';
import { httpGet, onCleanup, stopChild } from '../e2e/helpers.ts';

/** Java's URLEncoder (what Dubbo uses for provider node names): space as `+`, `*-._` kept. */
export function javaUrlEncode(text: string): string {
  return encodeURIComponent(text)
    .replace(/%20/g, '+')
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/dubbo/<interface>/providers/<encoded URL>`. */
export function providerPath(url: string, root = '/dubbo'): string {
  const iface = new URL(url).searchParams.get('interface') ?? new URL(url).pathname.slice(1);
  return `${root}/${iface}/providers/${javaUrlEncode(url)}`;
}

/** A ZooKeeper client of the test, connected. */
export async function zkClient(servers: string, sessionTimeout = 5000): Promise<Client> {
  const client = zookeeper.createClient(servers, { sessionTimeout, retries: 2 });
  const connected = once(client, 'connected');
  client.connect();
  await connected;
  onCleanup(() => client.close());
  return client;
}

function call<T>(fn: (cb: (err: Error | unknown | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err === null || err === undefined ? resolve(value) : reject(err))));
}

/** Creates `path` (parents persistent) as an ephemeral node by default, as Dubbo registers a provider. */
export async function createNode(client: Client, path: string, ephemeral = true, data: Buffer = Buffer.alloc(0)): Promise<void> {
  const parent = path.slice(0, path.lastIndexOf('/'));
  if (parent !== '') await call<string>((cb) => client.mkdirp(parent, cb));
  await call<string>((cb) => client.create(path, data, ephemeral ? zookeeper.CreateMode.EPHEMERAL : zookeeper.CreateMode.PERSISTENT, cb));
}

export function setData(client: Client, path: string, data: Buffer): Promise<void> {
  return call<void>((cb) => client.setData(path, data, -1, (err) => cb(err, undefined)));
}

/**
 * An application-level instance node `/services/<app>/<ip:port>` with the data Dubbo 3 writes
 * through Curator: the address, and the protocols and ports in `dubbo.endpoints`.
 */
export function instanceNode(app: string, ip: string, endpoints: readonly { protocol: string; port: number }[], remoteRevision?: string): { path: string; data: Buffer } {
  const port = endpoints[0]?.port ?? 20880;
  const id = `${ip}:${port}`;
  const metadata = { 'dubbo.endpoints': JSON.stringify(endpoints), 'dubbo.metadata.revision': remoteRevision ?? 'r1', 'dubbo.metadata.storage-type': remoteRevision === undefined ? 'local' : 'remote' };
  const doc = { name: app, id, address: ip, port, sslPort: null, payload: { '@class': 'org.apache.dubbo.registry.zookeeper.ZookeeperInstance', id, name: app, metadata }, registrationTimeUTC: Date.now(), serviceType: 'DYNAMIC', uriSpec: null };
  return { path: `/services/${app}/${id}`, data: Buffer.from(JSON.stringify(doc)) };
}

export function removeNode(client: Client, path: string): Promise<void> {
  return call<void>((cb) => client.remove(path, (err) => cb(err, undefined)));
}

const REGISTRANT = fileURLToPath(new URL('./registrant.ts', import.meta.url));

/** A separate process holding ephemeral provider nodes in its own session. */
export interface Registrant {
  readonly child: ChildProcess;
  /** SIGKILL: the session ends only when ZooKeeper times it out, as with a crashed provider. */
  kill(): Promise<void>;
}

/** Starts a registrant process that creates `paths` (ephemeral) with a short session and keeps them. */
export async function startRegistrant(servers: string, paths: readonly string[], sessionTimeoutMs = 2000): Promise<Registrant> {
  const child = spawn(process.execPath, [REGISTRANT, servers, String(sessionTimeoutMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
  onCleanup(() => void child.kill('SIGKILL'));
  child.stdin.end(JSON.stringify(paths));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('registered')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`registrant exited (${code}): ${out}`)));
  });
  return {
    child,
    async kill() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `dubbo-dns serve --zookeeper ...` as the real CLI, stopped at cleanup. */
export async function startZkDns(args: readonly string[]): Promise<ServerProcess & { get(path: string): Promise<{ status: number; text: string }> }> {
  const server = await startServer(args);
  onCleanup(async () => void (await stopChild(server.child)));
  return { ...server, stop: () => stopChild(server.child), get: (path) => httpGet(server.httpPort!, path) };
}

/** An application's MetadataInfo as Dubbo writes it with `metadata-type: remote`. */
export function metadataInfo(app: string, revision: string, services: readonly { iface: string; group?: string; version?: string; protocol: string; port: number; params?: Record<string, string> }[]): Buffer {
  const entries = Object.fromEntries(
    services.map((s) => [
      `${s.group === undefined ? '' : `${s.group}/`}${s.iface}${s.version === undefined ? '' : `:${s.version}`}:${s.protocol}`,
      { name: s.iface, group: s.group, version: s.version, protocol: s.protocol, port: s.port, path: s.iface, params: { application: app, ...s.params } },
    ]),
  );
  return Buffer.from(JSON.stringify({ app, revision, services: entries }));
}
