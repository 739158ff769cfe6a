// Plain grpc-go (no dubbo-go) calling the dubbo-go Triple provider through its own `dns:///`
// resolver pointed at dubbo-dns: `dns://127.0.0.1:PORT/S.N.dubbo.internal:PORT`. Triple speaks
// gRPC on the wire for protobuf services, and grpc-go asks only A/AAAA (the port is fixed in the
// target), so the move keeps the port and changes the address. grpc-go re-resolves when a
// connection breaks, but at most once per 30 s by default: the figures show what that costs, and
// what lowering it (resolver/dns.SetMinResolutionInterval) buys.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { killAll, onCleanup, tempDir } from '../e2e/helpers.ts';
import { freePort, replaceFile } from '../integration/helpers.ts';
import { startServer } from '../support/server.ts';
import { goPrograms, greeterNames, moveFigures, registryYaml, runCalls, startProvider, waitForSrv, type GoPrograms } from './helpers.ts';

let go: GoPrograms;

before(async () => {
  go = await goPrograms();
}, { timeout: 30 * 60_000 });
after(async () => {
  await killAll();
});

describe('grpc-go dns:/// resolver against dubbo-dns', { timeout: 120_000 }, () => {
  it('calls the Triple provider by its DNS name, and follows a move once grpc-go re-resolves', async (t: TestContext) => {
    const ns = 'grpc';
    const port = await freePort();
    const a = await startProvider(go.provider, '127.0.0.1', port);
    const b = await startProvider(go.provider, '127.0.0.2', port);
    const file = join(tempDir('go-grpc'), 'registry.yaml');
    writeFileSync(file, registryYaml(ns, [{ address: '127.0.0.1', port }]));
    const dns = await startServer(['--registry', file, '--ttl', '1'], { http: false });
    onCleanup(async () => {
      await dns.stop();
    });
    await waitForSrv(dns.dnsPort, ns, [a.address]);

    const target = `dns://127.0.0.1:${dns.dnsPort}/${greeterNames(ns).service.replace(/\.$/, '')}:${port}`;
    // 60 calls: dubbo-go's graceful shutdown keeps A serving its open connections for seconds
    // after SIGTERM, and grpc-go only re-resolves once that connection breaks.
    const calls = ['-target', target, '-calls', '60', '-interval', '250ms'];
    const stock = runCalls(go.grpcClient, calls);
    const tuned = runCalls(go.grpcClient, [...calls, '-min-resolution', '1s']);
    await Promise.all([stock.waitForCalls(12), tuned.waitForCalls(12)]);
    replaceFile(file, registryYaml(ns, [{ address: '127.0.0.2', port }]));
    const servedAt = await waitForSrv(dns.dnsPort, ns, [b.address]);
    await a.stop();
    const [stockCalls, tunedCalls] = await Promise.all([stock.done, tuned.done]);

    const s = moveFigures(stockCalls, servedAt, b.address);
    const u = moveFigures(tunedCalls, servedAt, b.address);
    const followed = (f: typeof s): string => (f.followMs === undefined ? 'did not follow within the run' : `followed ${f.followMs} ms after dubbo-dns served the move`);
    t.diagnostic(`grpc-go, default 30 s re-resolution: ${s.failed}/${s.total} calls failed, ${followed(s)}`);
    t.diagnostic(`grpc-go, SetMinResolutionInterval(1s): ${u.failed}/${u.total} calls failed, ${followed(u)}`);
    for (const run of [stockCalls, tunedCalls]) {
      assert.ok(run.slice(0, 10).every((c) => c.ok && c.provider === a.address), `grpc-go reaches the Triple provider by its name: ${JSON.stringify(run.slice(0, 10))}`);
    }
    assert.ok(tunedCalls.slice(-8).every((c) => c.ok && c.provider === b.address), `with a 1 s minimum, grpc-go follows: ${JSON.stringify(tunedCalls.slice(-8))}`);
    assert.ok(u.failed < s.failed, `the lower minimum fails fewer calls (${u.failed} < ${s.failed})`);
  });
});
