// `dubbo-dns controller --zookeeper`: providers registered in a real ZooKeeper become managed
// Services and EndpointSlices in the test kube-apiserver (one namespace for the ensemble), which
// `serve --kubernetes` publishes; while ZooKeeper is away nothing is written; a DubboService
// declaring the same key wins, and a disagreement is an Event.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { startZooKeeper, type ZooKeeper } from '../support/zookeeper.ts';
import {
  applyDubboService,
  createPod,
  dubboSpec,
  eventually,
  installCrd,
  killAll,
  onCleanup,
  metric,
  query,
  serviceName,
  sliceReadiness,
  startController,
  startDns,
  waitForAddresses,
  type Controller,
} from '../e2e/helpers.ts';
import { consumerArgs, dubbodnsUrl, goPrograms, runCalls, startProvider, waitForSrv, type GoPrograms } from '../consumers/helpers.ts';
import { freePort } from '../integration/helpers.ts';
import { createTestHost } from '../support/netns.ts';
import { createNode, instanceNode, providerPath, removeNode, startRegistrant, zkClient } from './helpers.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

let cp: ControlPlane;
let k: KubeClient;
let zk: ZooKeeper;
let ns: string;
let controller: Controller;
let go: GoPrograms;

const label = (iface: string, group?: string, version?: string): string => serviceLabel(serviceKey(iface, group, version));
const writes = async (): Promise<number> => {
  const text = (await controller.get('/metrics')).text;
  return text.split('\n').filter((l) => l.startsWith('dubbo_dns_controller_api_writes_total')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
};

/** A failed wait says what the controller last logged. */
const withLogs = <T>(wait: Promise<T>): Promise<T> =>
  wait.catch((err: unknown) => {
    throw new Error(`${String(err)}\ncontroller:\n${controller.logs.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
  });

before(async () => {
  // ZooKeeper on every address: the dubbo-go provider runs in a network namespace (an EndpointSlice
  // cannot hold a loopback address) and reaches it through the namespace's gateway.
  [cp, zk, go] = await Promise.all([startControlPlane(), startZooKeeper({ listenAll: true }), goPrograms()]);
  k = new KubeClient(cp.kubeConfig);
  await installCrd(k);
  ns = await cp.newNamespace('zk');
  controller = await startController(cp.kubeconfigPath, ns, ['--zookeeper', zk.address, '--zookeeper-namespace', ns, '--resync', '5']);
}, { timeout: 30 * 60_000 });
after(async () => {
  await killAll();
  await zk?.dispose();
  await cp?.stop();
});

describe('controller --zookeeper', { timeout: 300_000 }, () => {
  it('registered providers become a managed Service and EndpointSlices (IPv4 and IPv6, no token), served by serve --kubernetes; a dubbo-go provider is called through them', async () => {
    const client = await zkClient(zk.address);
    const order = 'org.example.zkc.OrderService';
    await createNode(client, providerPath(`dubbo://10.71.0.1:20880/${order}?application=order&interface=${order}&version=2.0&token=t0p-s3cret&weight=50&side=provider`));
    await createNode(client, providerPath(`dubbo://[fd00::71:2]:20880/${order}?application=order&interface=${order}&version=2.0&side=provider`));
    const name = label(order, undefined, '2.0');
    const svc = await withLogs(eventually(async () => k.request<{ metadata: { annotations?: Record<string, string>; labels?: Record<string, string> } }>('GET', `/api/v1/namespaces/${ns}/services/${name}`).catch(() => undefined), 30_000, 'the Service'));
    assert.equal(svc.metadata.labels?.['app.kubernetes.io/managed-by'], 'dubbo-dns');
    const readiness = await eventually(async () => {
      const r = await sliceReadiness(k, ns, name);
      return r.size === 2 ? r : undefined;
    }, 30_000, 'both endpoints in the slices');
    assert.deepEqual([...readiness.keys()].sort(), ['10.71.0.1', 'fd00::71:2']);
    const slices = JSON.stringify(await k.request('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, { query: { labelSelector: `kubernetes.io/service-name=${name}` } }));
    assert.ok(!slices.includes('t0p-s3cret') && !JSON.stringify(svc).includes('t0p-s3cret'), 'the token reached an object');

    const dns = await startDns(['--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--sync-timeout', '5']);
    await waitForAddresses(dns.dnsPort, serviceName(ns, order, undefined, '2.0'), ['10.71.0.1']);
    const srv = await query(dns.dnsPort, `_dubbo._tcp.${serviceName(ns, order, undefined, '2.0')}`, 'SRV');
    assert.equal(srv.records.length, 2);

    // A real dubbo-go provider: registered in ZooKeeper, mirrored, called through dubbodns.
    const host = createTestHost(1);
    onCleanup(() => host.dispose());
    const port = await freePort();
    const provider = await startProvider(go.provider, host.addresses[0]!, port, { zookeeper: `${host.gateway}:${zk.port}`, host });
    await withLogs(waitForSrv(dns.dnsPort, ns, [provider.address], 60_000)).catch((err: unknown) => {
      throw new Error(`${String(err)}\nprovider:\n${provider.daemon.output().slice(-2000)}`);
    });
    // One registered on loopback (a provider bound to 127.0.0.1) cannot be in an EndpointSlice: a log line, the rest unharmed.
    await createNode(client, providerPath(`dubbo://127.0.0.1:20880/${order}?application=order&interface=${order}&version=2.0&side=provider`));
    await eventually(async () => (controller.logs.some((l) => l['msg'] === 'registered provider not published' && l['address'] === '127.0.0.1:20880') ? true : undefined), 30_000, 'the loopback provider logged');
    await eventually(async () => (metric((await controller.get('/metrics')).text, 'dubbo_dns_controller_queue_depth') === 0 ? true : undefined), 20_000, 'an idle queue');
    assert.deepEqual([...(await sliceReadiness(k, ns, name)).keys()].sort(), ['10.71.0.1', 'fd00::71:2']);
    const run = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, ns)], 4, 100));
    const calls = await run.done;
    assert.equal(calls.filter((c) => c.ok && c.provider === provider.address).length, 4, run.log().slice(-2000));
    await provider.stop();
  });

  it('ZooKeeper away for a minute: no object deleted, no write at all; back: a provider that died meanwhile leaves, the rest stays', async () => {
    const iface = 'org.example.zkc.StockService';
    const url = (ip: string) => `dubbo://${ip}:20880/${iface}?application=stock&interface=${iface}&side=provider`;
    const stays = await startRegistrant(zk.address, [providerPath(url('10.72.0.1'))], 8000);
    const dies = await startRegistrant(zk.address, [providerPath(url('10.72.0.2'))], 2000);
    const name = label(iface);
    await withLogs(eventually(async () => ((await sliceReadiness(k, ns, name)).size === 2 ? true : undefined), 30_000, 'two endpoints'));
    // Settled: the queue is empty and no reconcile is in flight.
    await eventually(async () => (metric((await controller.get('/metrics')).text, 'dubbo_dns_controller_queue_depth') === 0 ? true : undefined), 20_000, 'an idle queue');
    const before = await writes();
    const reconcilesBefore = (await controller.get('/metrics')).text;

    await zk.stop();
    const stoppedAt = Date.now();
    await eventually(async () => (metric((await controller.get('/metrics')).text, 'dubbo_dns_controller_registry_synced') === 0 ? true : undefined), 30_000, 'ZooKeeper seen away');
    assert.match((await controller.get('/readyz')).text, /ZooKeeper not read/);
    await dies.kill();
    // A minute away. The controller looks at every key each resync (5 s here); after each round,
    // nothing has been written and both endpoints are still there.
    const count = (text: string): number => text.split('\n').filter((l) => l.startsWith('dubbo_dns_controller_reconciles_total')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    let seen = count(reconcilesBefore);
    let rounds = 0;
    while (Date.now() - stoppedAt < 60_000 || rounds < 2) {
      await eventually(async () => (count((await controller.get('/metrics')).text) >= seen + 2 ? true : undefined), 30_000, 'a resync round during the outage');
      seen = count((await controller.get('/metrics')).text);
      rounds++;
      assert.equal(await writes(), before, `the controller wrote while ZooKeeper was away (after ${Math.round((Date.now() - stoppedAt) / 1000)} s)`);
      assert.equal((await sliceReadiness(k, ns, name)).size, 2, 'an endpoint was removed while ZooKeeper was away');
    }

    await zk.start();
    await eventually(async () => {
      const r = await sliceReadiness(k, ns, name);
      return r.size === 1 && r.has('10.72.0.1') ? true : undefined;
    }, 60_000, 'the dead provider gone after ZooKeeper is back');
    assert.equal(metric((await controller.get('/metrics')).text, 'dubbo_dns_controller_registry_synced'), 1);
    await stays.kill();
  });

  it('application-level registrations (an instance under /services, the interface mapped to its application) become a Service and EndpointSlices too', async () => {
    const client = await zkClient(zk.address);
    const iface = 'org.example.zkc.LedgerService';
    await createNode(client, `/dubbo/mapping/${iface}`, false, Buffer.from('ledger-app'));
    const instance = instanceNode('ledger-app', '10.74.0.1', [{ protocol: 'dubbo', port: 20880 }, { protocol: 'tri', port: 50051 }]);
    await createNode(client, instance.path, true, instance.data);
    const name = label(iface);
    const slices = await eventually(async () => {
      const list = await k.request<{ items: { ports: { name: string; port: number }[]; endpoints: { addresses: string[]; targetRef?: unknown }[] }[] }>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        query: { labelSelector: `kubernetes.io/service-name=${name}` },
      });
      return list.items.length > 0 ? list.items : undefined;
    }, 30_000, 'the slices of the application-level provider');
    assert.deepEqual(slices.flatMap((sl) => sl.endpoints.map((e) => e.addresses[0])), ['10.74.0.1']);
    assert.deepEqual(slices.flatMap((sl) => sl.ports.map((p) => `${p.name}/${p.port}`)).sort(), ['dubbo/20880', 'tri/50051']);
    assert.ok(slices.every((sl) => sl.endpoints.every((e) => e.targetRef === undefined)), 'no Pod reference for a registered provider');
    await removeNode(client, instance.path);
    await eventually(async () => ((await sliceReadiness(k, ns, name)).size === 0 ? true : undefined), 30_000, 'the instance gone from the slices');
    client.close();
  });

  it('a DubboService and ZooKeeper declaring the same key: one Service, the DubboService wins, the disagreement is an Event', async () => {
    const iface = 'org.example.zkc.PaymentService';
    await applyDubboService(k, ns, 'payment', dubboSpec('payment', iface, { port: 20880 }));
    await createPod(k, ns, 'payment-0', 'payment', '10.73.0.1');
    const client = await zkClient(zk.address);
    // The same pod address, registered with another port; and one provider outside the cluster.
    await createNode(client, providerPath(`dubbo://10.73.0.1:20999/${iface}?interface=${iface}&side=provider`));
    await createNode(client, providerPath(`dubbo://10.73.9.9:20880/${iface}?interface=${iface}&side=provider`));
    const name = label(iface);
    await eventually(async () => ((await sliceReadiness(k, ns, name)).size === 2 ? true : undefined), 30_000, 'the pod and the outside provider');
    const services = await k.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/services`, { query: { labelSelector: 'app.kubernetes.io/managed-by=dubbo-dns' } });
    assert.equal(services.items.filter((s) => JSON.stringify(s).includes(`"name":"${name}"`)).length, 1);
    const slices = await k.request<{ items: { ports: { port: number }[]; endpoints: { addresses: string[] }[] }[] }>('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
      query: { labelSelector: `kubernetes.io/service-name=${name}` },
    });
    const podSlice = slices.items.find((s) => s.endpoints.some((e) => e.addresses[0] === '10.73.0.1'));
    assert.deepEqual(podSlice?.ports.map((p) => p.port), [20880], "the DubboService's port is published");
    const event = await eventually(async () => {
      const events = await k.request<{ items: { reason: string; message: string; involvedObject: { name: string } }[] }>('GET', `/api/v1/namespaces/${ns}/events`);
      return events.items.find((e) => e.reason === 'RegistryDisagrees' && e.involvedObject.name === 'payment');
    }, 30_000, 'a RegistryDisagrees Event');
    assert.match(event.message, /20999/);
    assert.ok(controller.logs.some((l) => l['msg'] === 'ZooKeeper disagrees with the DubboService'));
  });
});
