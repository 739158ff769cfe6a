// A dubbo-go v3.3.2 consumer following a real dubbo-go Triple provider published from
// Kubernetes, all real processes: kube-apiserver + etcd, `dubbo-dns controller` turning a
// DubboService and its pod into a Service and EndpointSlices, `dubbo-dns serve --kubernetes`
// answering from them. The consumer knows only the dubbodns registry URL. The provider moves
// the way a pod does: its status IP changes (the port is the DubboService's, so it stays).
// Kubernetes refuses loopback addresses in EndpointSlices, so the providers run in a network
// namespace of their own (test/support/netns.ts) at two addresses this machine routes to.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { applyDubboService, createPod, installCrd, killAll, onCleanup, setPodReady, startController, startDns } from '../e2e/helpers.ts';
import { freePort } from '../integration/helpers.ts';
import { createTestHost } from '../support/netns.ts';
import { GREETER, consumerArgs, dubbodnsUrl, goPrograms, moveFigures, runCalls, startProvider, waitForSrv, type GoPrograms } from './helpers.ts';

let go: GoPrograms;
let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  [go, cp] = await Promise.all([goPrograms(), startControlPlane()]);
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
}, { timeout: 30 * 60_000 });
after(async () => {
  await killAll();
  await cp?.stop();
});

describe('dubbo-go consumer, providers from a DubboService', { timeout: 120_000 }, () => {
  it('calls the pod, and follows a change of its IP with at most 2 of 40 calls failing', async (t: TestContext) => {
    const ns = await cp.newNamespace('go-consumer');
    await startController(cp.kubeconfigPath, ns);
    const dns = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--ttl', '1', '--sync-timeout', '5']);
    const host = createTestHost(2);
    onCleanup(() => host.dispose());
    const [ipA, ipB] = host.addresses as [string, string];
    const port = await freePort();
    const a = await startProvider(go.provider, ipA, port, { host });
    const b = await startProvider(go.provider, ipB, port, { host });

    await createPod(k, ns, 'greeter-0', 'greeter', ipA);
    await applyDubboService(k, ns, 'greeter', {
      application: 'greeter-provider',
      selector: { matchLabels: { app: 'greeter' } },
      ports: [{ name: 'tri', port }],
      interfaces: [{ interface: GREETER }],
    });
    await waitForSrv(dns.dnsPort, ns, [a.address]);

    const run = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, ns)], 40));
    await run.waitForCalls(12);
    await setPodReady(k, ns, 'greeter-0', ipB, true);
    const servedAt = await waitForSrv(dns.dnsPort, ns, [b.address]);
    await a.stop();
    const calls = await run.done;

    const figures = moveFigures(calls, servedAt, b.address);
    t.diagnostic(`Kubernetes move: ${figures.failed}/${figures.total} calls failed; followed ${figures.followMs} ms after dubbo-dns served it`);
    assert.equal(figures.total, 40);
    assert.ok(calls.slice(0, 10).every((c) => c.ok && c.provider === a.address), `the first calls reach the pod's first IP: ${JSON.stringify(calls.slice(0, 10))}`);
    assert.ok(figures.failed <= 2, `${figures.failed} calls failed: ${JSON.stringify(figures.failures)}`);
    assert.ok(calls.slice(-8).every((c) => c.ok && c.provider === b.address), `the last calls reach its new IP: ${JSON.stringify(calls.slice(-8))}`);
  });
});
