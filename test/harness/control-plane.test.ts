// The control plane the controller, end-to-end and chart tests run on (harness/control-plane.ts):
// what they rely on of it, and nothing about the API server or its clients beyond that.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { findBinaries, KUBE_VERSION, pidAlive, portInUse, rssBytes, startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';

/** The state letter of a process in /proc (T: stopped by a signal). */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
}

describe('binaries', () => {
  it('names the missing binary and how to build it', () => {
    assert.throws(
      () => findBinaries({ apiServerBin: '/nonexistent/kube-apiserver' }),
      (e: Error) => e.message.includes('/nonexistent/kube-apiserver') && e.message.includes('bash test/setup.sh'),
    );
    assert.throws(
      () => findBinaries({ etcdBin: 'no-such-etcd-binary' }),
      (e: Error) => e.message.includes('no-such-etcd-binary') && e.message.includes('bash test/setup.sh'),
    );
  });
});

describe('control plane', { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  let k: KubeClient;
  let ns: string;

  before(async (t) => {
    const t0 = performance.now();
    cp = await startControlPlane();
    k = new KubeClient(cp.kubeConfig);
    ns = await cp.newNamespace('harness');
    const mib = (b: number | undefined): string => (b === undefined ? '?' : `${Math.round(b / 2 ** 20)} MiB`);
    t.diagnostic(`control plane started in ${Math.round(performance.now() - t0)} ms; RSS apiserver ${mib(rssBytes(cp.pids.apiServer))}, etcd ${mib(rssBytes(cp.pids.etcd))}`);
  });
  after(async () => {
    await cp?.stop();
  });

  it(`serves ${KUBE_VERSION} on loopback with a kubeconfig, and a fresh namespace per test`, async () => {
    assert.equal((await k.request<{ gitVersion: string }>('GET', '/version')).gitVersion, KUBE_VERSION);
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(cp.kubeconfigPath));
    assert.equal((await k.request<{ status: { phase: string } }>('GET', `/api/v1/namespaces/${ns}`)).status.phase, 'Active');
    assert.notEqual(await cp.newNamespace('harness'), ns);
  });

  it('restarts the apiserver on the same port and keeps the data in etcd (also after SIGKILL)', async () => {
    await k.apply(`/api/v1/namespaces/${ns}/configmaps/kept`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace: ns }, data: { a: '1' } }, 'harness-test');
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      const oldPid = cp.pids.apiServer;
      assert.ok(oldPid !== undefined);
      await cp.stopApiServer({ signal });
      assert.equal(pidAlive(oldPid), false);
      assert.equal(await portInUse(cp.port), false);
      await assert.rejects(k.request('GET', `/api/v1/namespaces/${ns}`));
      await cp.startApiServer();
      assert.notEqual(cp.pids.apiServer, oldPid);
      assert.equal((await k.request<{ data: { a: string } }>('GET', `/api/v1/namespaces/${ns}/configmaps/kept`)).data.a, '1');
    }
  });

  it('freezes the apiserver (SIGSTOP) and thaws it; a frozen apiserver is still stopped by stopApiServer()', async () => {
    const pid = cp.pids.apiServer;
    assert.ok(pid !== undefined);
    await cp.freezeApiServer();
    assert.equal(processState(pid), 'T', 'stopped');
    // Connected while frozen (the kernel accepts the connection; nobody reads it until the thaw).
    let connected!: () => void;
    const tcpUp = new Promise<void>((resolve) => (connected = resolve));
    const held = new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${cp.server}/api/v1/namespaces/${ns}`, { ca: cp.caPem, headers: { authorization: `Bearer ${cp.token}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('socket', (socket) => socket.once('connect', connected));
      req.on('error', reject);
      req.end();
    });
    await tcpUp;
    assert.equal(processState(pid), 'T', 'still stopped once connected');
    cp.thawApiServer();
    assert.equal(await held, 200, 'answered after the thaw');
    assert.notEqual(processState(pid), 'T');
    await cp.freezeApiServer();
    await cp.stopApiServer();
    assert.equal(pidAlive(pid), false);
    await cp.startApiServer();
    assert.equal((await k.request<{ status: { phase: string } }>('GET', `/api/v1/namespaces/${ns}`)).status.phase, 'Active');
  });

  it('stop() kills everything, frees the ports and removes the temp dirs', async () => {
    const { apiServer, etcd } = cp.pids;
    assert.ok(apiServer !== undefined && etcd !== undefined);
    const etcdPort = Number(new URL(cp.etcdUrl).port);
    await cp.stop();
    assert.equal(pidAlive(apiServer), false);
    assert.equal(pidAlive(etcd), false);
    assert.equal(await portInUse(cp.port), false);
    assert.equal(await portInUse(etcdPort), false);
    assert.equal(existsSync(cp.dir), false);
    await cp.stop(); // idempotent
  });
});
