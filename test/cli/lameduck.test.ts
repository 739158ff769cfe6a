import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { startServer } from '../support/server.ts';
import { poll } from '../support/poll.ts';
import { ask, DEMO_REGISTRY, names, tempDir, writeFile } from '../wire/helpers.ts';

// Lameduck shutdown (as CoreDNS's `health { lameduck }`): on SIGTERM /readyz turns 503 at once,
// DNS keeps answering for --lameduck seconds, then the server drains and exits 0.

const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', 'dubbo.internal.');
const dir = tempDir('lameduck');
after(() => dir.remove());

async function readyz(port: number): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, text: await res.text() };
}

for (const workers of [1, 2]) {
  test(`SIGTERM with --workers ${workers}: not ready at once, still answering, then exit 0`, async () => {
    const registry = writeFile(dir.dir, `registry-${workers}.yaml`, DEMO_REGISTRY);
    const server = await startServer(['--registry', registry, '--lameduck', '3', '--workers', String(workers)]);
    try {
      const port = server.httpPort!;
      assert.equal((await readyz(port)).status, 200);
      const exited = once(server.child, 'exit');
      server.child.kill('SIGTERM');
      const unready = await poll('/readyz to turn 503', async () => {
        const r = await readyz(port);
        return r.status === 503 ? r : undefined;
      });
      assert.match(unready.text, /shutting down/);
      // Not ready, and still answering: the point of the lameduck period.
      const answer = await ask(server.dnsPort, demo.service, 'SRV', 'udp');
      assert.equal(answer.msg.rcode, 'NOERROR');
      assert.ok((answer.msg.answers ?? []).length > 0);
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
      assert.ok(server.logs.some((l) => l['msg'] === 'lameduck: not ready, still answering' && l['lameduckMs'] === 3000));
      assert.ok(server.logs.some((l) => l['msg'] === 'dns server stopped'));
    } finally {
      await server.stop();
    }
  });
}
