import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { inClusterCredentials, usesInClusterCredentials } from '../kube/in-cluster.ts';
import type { Logger } from 'pino';
import { Controller } from '../controller/controller.ts';
import { KubeClient, type ApiCredentials } from '../kube/rest.ts';
import { describeScope, type NamespaceScope } from '../kube/scope.ts';
import { ControllerMetrics } from '../observability/controller-metrics.ts';
import { startHttp } from '../observability/http.ts';
import type { HostPort } from '../config/parse.ts';
import { ZooKeeperMirror, type MirrorOptions } from '../zookeeper/mirror.ts';

/** Settings of `dubbo-dns controller`. */
export interface ControllerCommandOptions {
  /** A ZooKeeper registry whose providers are published in `namespace`. */
  readonly zookeeper?: (MirrorOptions & { readonly namespace: string }) | undefined;
  /** The namespaces watched; all when undefined. */
  readonly namespaces?: NamespaceScope;
  readonly kubeconfig?: string | undefined;
  readonly leaderElect: boolean;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaseDuration: number;
  readonly identity: string;
  readonly httpListen?: HostPort | undefined;
  readonly orphanRetention: number;
  readonly resync: number;
  readonly workers: number;
  /** How long a mute API server may go unnoticed by the watches (s); 60 when undefined. */
  readonly watchLivenessSeconds?: number | undefined;
}

/**
 * Loads credentials: `--kubeconfig`, else KUBECONFIG, else ~/.kube/config when it exists, else
 * in-cluster (client-node's order). client-node is imported only for a kubeconfig file: loading it
 * costs a process about 86 MiB, which a pod reading its service account never needs.
 */
export async function loadKubeConfig(file: string | undefined): Promise<ApiCredentials> {
  if (file === undefined && usesInClusterCredentials()) return inClusterCredentials();
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/** A running controller. */
export interface RunningController {
  readonly controller: Controller;
  stop(): Promise<void>;
}

/** Starts the controller and its HTTP endpoints; `signal` abandons the start-up (SIGTERM while waiting for the API server). */
export async function runController(options: ControllerCommandOptions, log: Logger, signal?: AbortSignal): Promise<RunningController> {
  const client = new KubeClient(await loadKubeConfig(options.kubeconfig));
  const controller = new Controller({
    client,
    namespaces: options.namespaces,
    leaderElection: options.leaderElect
      ? { namespace: options.leaseNamespace, name: options.leaseName, identity: options.identity, leaseDurationSeconds: options.leaseDuration }
      : undefined,
    orphanRetentionMs: options.orphanRetention * 1000,
    resyncMs: options.resync * 1000,
    workers: options.workers,
    livenessMs: options.watchLivenessSeconds === undefined ? undefined : options.watchLivenessSeconds * 1000,
    log,
    metrics: (depth, managed) => new ControllerMetrics(depth, managed),
    registry:
      options.zookeeper === undefined ? undefined : { mirror: new ZooKeeperMirror(options.zookeeper, log.child({ component: 'zookeeper' })), namespace: options.zookeeper.namespace },
  });
  let http: Server | undefined;
  if (options.httpListen !== undefined) {
    const registry = controller.metrics!.registry;
    http = await startHttp(
      options.httpListen,
      async () => ({ text: await registry.metrics(), contentType: registry.contentType }),
      () => ({
        ready: controller.synced,
        detail: `${controller.synced ? `caches synced; ${controller.canWrite ? 'leading' : 'standing by'}` : 'caches not synced yet'}${
          controller.registrySynced === undefined ? '' : controller.registrySynced ? '; ZooKeeper read' : '; ZooKeeper not read (its namespace is left as it is)'
        }`,
      }),
      log.child({ component: 'http' }),
    );
  }
  log.info({ server: client.server, namespaces: describeScope(options.namespaces), leaderElect: options.leaderElect, identity: options.identity }, 'controller starting');
  try {
    await controller.start(signal);
  } catch (err) {
    await closeHttp(http);
    throw err;
  }
  const a = http?.address();
  log.info({ http: typeof a === 'object' && a !== null ? `${a.address}:${a.port}` : undefined }, 'controller started');
  return {
    controller,
    async stop() {
      await controller.stop();
      await closeHttp(http);
      log.info('controller stopped');
    },
  };
}

/** Default identity for leader election: the pod name (HOSTNAME) plus the pid. */
export function defaultIdentity(): string {
  return `${process.env['POD_NAME'] ?? hostname()}_${process.pid}`;
}

function closeHttp(http: Server | undefined): Promise<void> {
  return new Promise((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
}
