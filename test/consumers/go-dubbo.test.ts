// dubbo-go v3.3.2 consumers finding a real dubbo-go Triple provider through dubbo-dns, all real
// processes: `dubbo-dns serve --registry FILE`, the provider and consumer of clients/go/examples,
// and a private ZooKeeper 3.8. (a) The consumer knows only the dubbodns registry URL; the provider
// moves to another address and port. (c) The provider registers in ZooKeeper as usual, the
// consumer has both registries; with ZooKeeper down a restarted consumer still calls through
// dubbo-dns, while one with ZooKeeper alone cannot.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseProviderUrl } from '../../src/dubbo/provider-url.ts';
import { killAll, onCleanup, tempDir } from '../e2e/helpers.ts';
import { freePort, replaceFile } from '../integration/helpers.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { fourLetterWord, startZooKeeper, type ZooKeeper } from '../support/zookeeper.ts';
import {
  GREETER,
  consumerArgs,
  dubbodnsUrl,
  goPrograms,
  moveFigures,
  registryYaml,
  runCalls,
  startProvider,
  waitForSrv,
  type GoPrograms,
} from './helpers.ts';

let go: GoPrograms;

before(async () => {
  go = await goPrograms();
}, { timeout: 30 * 60_000 });
after(async () => {
  await killAll();
});

/** dubbo-dns in file mode with a 1 s TTL, stopped by killAll(). */
async function serveFile(file: string): Promise<ServerProcess> {
  const server = await startServer(['--registry', file, '--ttl', '1'], { http: false });
  onCleanup(async () => {
    await server.stop();
  });
  return server;
}

describe('dubbo-go consumer with the dubbodns registry alone', { timeout: 120_000 }, () => {
  it('calls the provider, and follows it to another address and port with at most 2 of 40 calls failing', async (t: TestContext) => {
    const ns = 'shop';
    const a = await startProvider(go.provider, '127.0.0.1', 'free');
    const b = await startProvider(go.provider, '127.0.0.2', 'free');
    const [portA, portB] = [a.port, b.port];
    const file = join(tempDir('go-move'), 'registry.yaml');
    writeFileSync(file, registryYaml(ns, [{ address: '127.0.0.1', port: portA }]));
    const dns = await serveFile(file);
    await waitForSrv(dns.dnsPort, ns, [a.address]);

    const run = runCalls(go.consumer, consumerArgs([dubbodnsUrl(dns.dnsPort, ns)], 40));
    await run.waitForCalls(12);
    // The move: the registry now names B only; once dubbo-dns serves that, A shuts down
    // (SIGTERM, dubbo-go's graceful shutdown, as Kubernetes stops a pod).
    replaceFile(file, registryYaml(ns, [{ address: '127.0.0.2', port: portB }]));
    const servedAt = await waitForSrv(dns.dnsPort, ns, [b.address]);
    await a.stop();
    const calls = await run.done;

    const figures = moveFigures(calls, servedAt, b.address);
    t.diagnostic(`file mode move: ${figures.failed}/${figures.total} calls failed; followed ${figures.followMs} ms after dubbo-dns served it`);
    assert.equal(figures.total, 40);
    assert.ok(calls.slice(0, 10).every((c) => c.ok && c.provider === a.address), `the first calls reach A: ${JSON.stringify(calls.slice(0, 10))}`);
    assert.ok(figures.failed <= 2, `${figures.failed} calls failed: ${JSON.stringify(figures.failures)}`);
    assert.ok(calls.slice(-8).every((c) => c.ok && c.provider === b.address), `the last calls reach B: ${JSON.stringify(calls.slice(-8))}`);
    assert.notEqual(figures.followMs, undefined);
  });
});

describe('dubbo-go consumer with ZooKeeper and dubbodns', { timeout: 180_000 }, () => {
  let zk: ZooKeeper;
  before(async () => {
    zk = await startZooKeeper();
    onCleanup(() => zk.dispose());
  });

  it('keeps calling through dubbo-dns when ZooKeeper is down and the consumer restarts', async (t: TestContext) => {
    const ns = 'orders';
    const port = await freePort();
    const provider = await startProvider(go.provider, '127.0.0.1', port, { zookeeper: zk.address });

    // The provider registered itself the usual dubbo-go way; dubbo-dns serves the same URL.
    const path = `/dubbo/${GREETER}/providers`;
    const registered = await waitForChild(zk, path, port);
    const url = decodeURIComponent(registered);
    assert.equal(parseProviderUrl(url).port, port);
    const file = join(tempDir('go-zk'), 'registry.yaml');
    writeFileSync(file, `namespace: ${ns}\nproviders:\n  - ${JSON.stringify(url)}\n`);
    const dns = await serveFile(file);
    await waitForSrv(dns.dnsPort, ns, [provider.address]);

    const registries = [`zookeeper://${zk.address}`, dubbodnsUrl(dns.dnsPort, ns)];
    const both = await runCalls(go.consumer, consumerArgs(registries, 4)).done;
    assert.ok(both.every((c) => c.ok && c.provider === provider.address), `with both registries up: ${JSON.stringify(both)}`);

    await zk.stop();
    assert.equal(await fourLetterWord(zk.port, 'ruok'), undefined, 'ZooKeeper is down');

    const zkOnly = runCalls(go.consumer, consumerArgs([`zookeeper://${zk.address}`], 4));
    const restarted = runCalls(go.consumer, consumerArgs(registries, 8));
    const [alone, withDns] = await Promise.all([zkOnly.done, restarted.done]);
    t.diagnostic(`ZooKeeper down: ${withDns.filter((c) => c.ok).length}/${withDns.length} calls ok with dubbodns beside it, ${alone.filter((c) => c.ok).length}/${alone.length} with ZooKeeper alone`);
    assert.ok(alone.every((c) => !c.ok), `a consumer with ZooKeeper alone finds no provider: ${JSON.stringify(alone)}`);
    assert.ok(withDns.every((c) => c.ok && c.provider === provider.address), `with dubbodns beside ZooKeeper: ${JSON.stringify(withDns)}`);
    assert.match(restarted.log(), /zk: could not connect to a server/, 'the restarted consumer really could not reach ZooKeeper');
  });
});

/** Waits until `path` has a child naming `port`; returns that child (URL-encoded provider URL). */
async function waitForChild(zk: ZooKeeper, path: string, port: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const child = (await zk.children(path)).find((c) => decodeURIComponent(c).includes(`:${port}/`));
    if (child !== undefined) return child;
    if (Date.now() > deadline) throw new Error(`no provider with port ${port} under ${path} in ZooKeeper`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
