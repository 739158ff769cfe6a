// Operating for days: Kubernetes rotates the projected service-account token (an hour by default).
// Both long-running commands read their bearer token from a file, as in a pod; the test rotates it
// on a live API server (a static token file, swapped while the server restarts) and checks that the
// controller and `serve --kubernetes` keep working with the new token and stop using the old one.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { writeTokenFileKubeconfig } from '../controller/helpers.ts';
import { applyDubboService, createPod, dubboSpec, installCrd, killAll, serviceName, startController, startDns, tempDir, waitForAddresses, type Controller } from './helpers.ts';

let cp: ControlPlane;
let k: KubeClient;
let ns: string;
let dir: string;
let tokenFile: string;
let dns: Awaited<ReturnType<typeof startDns>>;
let controller: Controller;

const tokensCsv = (): string => join(cp.dir, 'tokens.csv');
/** The API server's static tokens: the admin's plus `token` for the user `rotated` (system:masters). */
function grant(token: string): void {
  const admin = readFileSync(tokensCsv(), 'utf8').split('\n').filter((l) => l !== '' && !l.includes(',rotated,'));
  writeFileSync(tokensCsv(), [...admin, `${token},rotated,rotated-uid,"system:masters"`, ''].join('\n'), { mode: 0o600 });
}

before(async () => {
  cp = await startControlPlane();
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('rotate');
  dir = tempDir('rotate');
  tokenFile = join(dir, 'token');
  const first = randomBytes(16).toString('hex');
  writeFileSync(tokenFile, first);
  await cp.stopApiServer();
  grant(first);
  await cp.startApiServer();
  const kubeconfig = writeTokenFileKubeconfig(cp, 'rotated', tokenFile);
  controller = await startController(kubeconfig, ns);
  dns = await startDns(['--kubeconfig', kubeconfig, '--namespace', ns, '--sync-timeout', '30']);
});

after(async () => {
  await killAll();
  await cp?.stop();
});

it('keeps reconciling and serving after the token is rotated and the old one revoked', async () => {
  await applyDubboService(k, ns, 'orders', dubboSpec('orders', 'org.example.OrderService'));
  await createPod(k, ns, 'orders-0', 'orders', '10.40.0.1');
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.OrderService'), ['10.40.0.1'], 30_000, 'before the rotation');

  // Rotate: the kubelet writes a new token into the file; the old one stops being accepted.
  const second = randomBytes(16).toString('hex');
  writeFileSync(tokenFile, second);
  await cp.stopApiServer();
  grant(second);
  await cp.startApiServer();

  // Both processes need the new token for this change to reach DNS: the controller to write the
  // Service and slices, the DNS server to watch them again after its connections broke.
  await applyDubboService(k, ns, 'stock', dubboSpec('stock', 'org.example.StockService'));
  await createPod(k, ns, 'stock-0', 'stock', '10.40.1.1');
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.StockService'), ['10.40.1.1'], 60_000, 'after the rotation');
  await waitForAddresses(dns.dnsPort, serviceName(ns, 'org.example.OrderService'), ['10.40.0.1'], 10_000, 'the first service, still');
  assert.equal(controller.child.exitCode, null);
  assert.equal(dns.child.exitCode, null);
});
