// A real dubbo-go v3.3.2 provider registers itself in ZooKeeper the usual way (interface level), or
// at application level (Dubbo 3's service discovery); `dubbo-dns serve --zookeeper` mirrors it with
// no other declaration, and a dubbo-go consumer that knows only the dubbodns registry calls it, also
// while ZooKeeper is down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, killAll, query, serviceName } from '../e2e/helpers.ts';
import { freePort } from '../integration/helpers.ts';
import { startZooKeeper, type ZooKeeper } from '../support/zookeeper.ts';
import { consumerArgs, dubbodnsUrl, goPrograms, runCalls, startProvider, waitForSrv, type GoPrograms } from '../consumers/helpers.ts';
import { startZkDns, zkClient } from './helpers.ts';

const NS = 'zkgo';

describe('dubbo-go provider in ZooKeeper, consumer through dubbo-dns', { timeout: 180_000 }, () => {
  let go: GoPrograms;
  let zk: ZooKeeper;
  before(async () => {
    go = await goPrograms();
    zk = await startZooKeeper();
  }, { timeout: 30 * 60_000 });
  after(async () => {
    await killAll();
    await zk.dispose();
  });

  it('a provider registered at application level (/services and the mapping, no provider node), its metadata in ZooKeeper, is called through the dubbodns registry', async () => {
    const provider = await startProvider(go.provider, '127.0.0.1', 'free', { zookeeper: zk.address, register: 'instance', remoteMetadata: true });
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', `${NS}-app`, '--ttl', '1']);
    await waitForSrv(dns.dnsPort, `${NS}-app`, [provider.address]);
    // What dubbo-go wrote: an instance under /services/<application>, and no interface-level node.
    const client = await zkClient(zk.address);
    const children = (path: string): Promise<string[]> => new Promise((resolve) => client.getChildren(path, (err, names) => resolve(err === null ? names : [])));
    assert.deepEqual(await children('/services/greeter-provider'), [provider.address]);
    assert.deepEqual(await children('/dubbo/greet.GreetService/providers'), []);
    client.close();
    // The methods come from the application's metadata, which dubbo-go wrote under /dubbo/greeter-provider/<revision>.
    const txt = (await query(dns.dnsPort, serviceName(`${NS}-app`, 'greet.GreetService'), 'TXT')).records.flatMap((r) => (r as unknown as { data: Buffer[] }).data.map(String));
    assert.ok(txt.some((t) => t.startsWith('methods=') && t.includes('Greet')), txt.join(' '));
    const run = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, `${NS}-app`)], 4, 100));
    const calls = await run.done;
    assert.equal(calls.filter((c) => c.ok && c.provider === provider.address).length, 4, run.log().slice(-2000));
    await provider.stop();
    await dns.stop();
  });

  it('the provider registered in ZooKeeper is called through the dubbodns registry, before and during a ZooKeeper outage', async () => {
    const provider = await startProvider(go.provider, '127.0.0.1', 'free', { zookeeper: zk.address });
    const dns = await startZkDns(['--zookeeper', zk.address, '--zookeeper-namespace', NS, '--ttl', '1']);
    await waitForSrv(dns.dnsPort, NS, [provider.address]);

    const before = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, NS)], 5, 100));
    const calls = await before.done;
    assert.equal(calls.filter((c) => c.ok).length, 5, before.log().slice(-2000));
    assert.ok(calls.every((c) => c.provider === provider.address));

    await zk.stop();
    await eventually(async () => ((await dns.get('/readyz')).text.includes('ZooKeeper unreachable') ? true : undefined), 30_000, 'ZooKeeper seen down');
    const during = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, NS)], 5, 100));
    const duringCalls = await during.done;
    assert.equal(duringCalls.filter((c) => c.ok).length, 5, during.log().slice(-2000));
    assert.ok(duringCalls.every((c) => c.provider === provider.address));
  });
});
