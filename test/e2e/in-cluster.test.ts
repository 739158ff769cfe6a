// In a pod: no kubeconfig, only the ServiceAccount's files under /var/run/secrets/kubernetes.io/
// serviceaccount and KUBERNETES_SERVICE_HOST/PORT. `serve --kubernetes` runs in a private mount
// namespace where that directory holds a real TokenRequest token of the `dubbo-dns` ServiceAccount
// (bound to deploy/dns-rbac.yaml's ClusterRole) and the API server's CA, and answers from the
// API server with them; with the token missing from the directory, it says where it looked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { MAIN, ROOT, startServer, type ServerProcess } from '../support/server.ts';
import { applyDubboService, createPod, dubboSpec, installCrd, killAll, serviceName, startController, tempDir, waitForAddresses } from './helpers.ts';

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let dns: ServerProcess | undefined;

/** The command that runs `node src/main.ts` with `dir`'s files mounted where the kubelet puts them. */
function inPod(dir: string): string[] {
  const script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && cp -a "$0"/. /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"';
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, dir, process.execPath, MAIN];
}

/** The environment of a pod: the API server's address, no kubeconfig, a home without ~/.kube. */
function podEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: home, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(cp.port) };
  return env;
}

before(async () => {
  assert.equal(spawnSync('unshare', ['--mount', 'true']).status, 0, 'these tests need unshare --mount (root)');
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('pod');
  // The DNS server's ServiceAccount and RBAC exactly as deploy/ ships them.
  await k.apply('/api/v1/namespaces/dubbo-dns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'dubbo-dns' } }, 'test', true);
  for (const doc of parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'dns-rbac.yaml'), 'utf8'))) {
    const o = doc.toJS() as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
    const base = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
    const plural = { ServiceAccount: 'serviceaccounts', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings' }[o.kind]!;
    const path = o.metadata.namespace === undefined ? `${base}/${plural}/${o.metadata.name}` : `${base}/namespaces/${o.metadata.namespace}/${plural}/${o.metadata.name}`;
    await k.apply(path, o, 'test', true);
  }
});

after(async () => {
  await dns?.stop();
  await killAll();
  await cp?.stop();
});

it('serve --kubernetes in a pod reads its ServiceAccount token and the cluster CA, and answers', async () => {
  const controller = await startController(cp.kubeconfigPath, ns);
  assert.ok(controller.httpPort > 0);
  await applyDubboService(k, ns, 'orders', dubboSpec('orders', 'org.example.pod.OrderService'));
  await createPod(k, ns, 'orders-0', 'orders', '10.41.0.1');

  const token = await k.request<{ status: { token: string } }>('POST', '/api/v1/namespaces/dubbo-dns/serviceaccounts/dubbo-dns/token', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const sa = tempDir('serviceaccount');
  writeFileSync(join(sa, 'token'), token.status.token);
  writeFileSync(join(sa, 'ca.crt'), cp.caPem);
  writeFileSync(join(sa, 'namespace'), 'dubbo-dns');
  const home = tempDir('home');
  dns = await startServer(['--kubernetes', '--namespace', ns, '--sync-timeout', '30'], { command: inPod(sa), env: podEnv(home) });
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.pod.OrderService'), ['10.41.0.1'], 30_000);
  // A change after start arrives through the same credentials (the watch).
  await createPod(k, ns, 'orders-1', 'orders', '10.41.0.2');
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.pod.OrderService'), ['10.41.0.1', '10.41.0.2'], 30_000);
});

it('in a pod whose ServiceAccount token cannot be read, serve --kubernetes exits non-zero naming the file', async () => {
  const sa = tempDir('serviceaccount-empty');
  mkdirSync(join(sa, 'token')); // a directory where the token file should be: unreadable as a file
  const home = tempDir('home-2');
  await assert.rejects(
    startServer(['--kubernetes', '--namespace', ns, '--sync-timeout', '5'], { command: inPod(sa), env: podEnv(home) }),
    /serviceaccount\/token/,
  );
});
