// In a pod: no kubeconfig, only the ServiceAccount's files under /var/run/secrets/kubernetes.io/
// serviceaccount and KUBERNETES_SERVICE_HOST/PORT. `serve --kubernetes` runs in a private mount
// namespace where that directory holds a real TokenRequest token of the `dubbo-dns` ServiceAccount
// (bound to deploy/dns-rbac.yaml's ClusterRole) and the API server's CA, and answers from the
// API server with them; with the token missing from the directory, it says where it looked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { inPod, podEnv, writeServiceAccount } from '../../harness/pod.ts';
import { objectPath } from '../controller/helpers.ts';
import { MAIN, ROOT, startServer, type ServerProcess } from '../support/server.ts';
import { applyDubboService, createPod, dubboSpec, installCrd, killAll, serviceName, startController, tempDir, waitForAddresses } from './helpers.ts';

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let dns: ServerProcess | undefined;

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
    await k.apply(await objectPath(k, o), o, 'test', true);
  }
});

after(async () => {
  await dns?.stop();
  await killAll();
  await cp?.stop();
});

it('serve --kubernetes in a pod reads its ServiceAccount token and the cluster CA, and answers', async () => {
  await startController(cp.kubeconfigPath, ns);
  await applyDubboService(k, ns, 'orders', dubboSpec('orders', 'org.example.pod.OrderService'));
  await createPod(k, ns, 'orders-0', 'orders', '10.41.0.1');

  const token = await k.request<{ status: { token: string } }>('POST', '/api/v1/namespaces/dubbo-dns/serviceaccounts/dubbo-dns/token', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const sa = tempDir('serviceaccount');
  writeServiceAccount(sa, { token: token.status.token, caPem: cp.caPem, namespace: 'dubbo-dns' });
  dns = await startServer(['--kubernetes', '--namespace', ns, '--sync-timeout', '30'], { command: inPod(sa, [process.execPath, MAIN]), env: podEnv(cp.port, tempDir('home')) });
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.pod.OrderService'), ['10.41.0.1'], 30_000);
  // A change after start arrives through the same credentials (the watch).
  await createPod(k, ns, 'orders-1', 'orders', '10.41.0.2');
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.pod.OrderService'), ['10.41.0.1', '10.41.0.2'], 30_000);
});

it('in a pod whose ServiceAccount token cannot be read, serve --kubernetes exits non-zero naming the file', async () => {
  const sa = tempDir('serviceaccount-empty');
  mkdirSync(join(sa, 'token')); // a directory where the token file should be: unreadable as a file
  await assert.rejects(
    startServer(['--kubernetes', '--namespace', ns, '--sync-timeout', '5'], { command: inPod(sa, [process.execPath, MAIN]), env: podEnv(cp.port, tempDir('home-2')) }),
    /serviceaccount\/token/,
  );
});
