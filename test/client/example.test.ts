import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, startServer } from '../support/server.ts';
import { run } from '../wire/helpers.ts';

// docs/consumers/node.md's runnable example, run as a user would against `npm start`'s registry.

test('examples/node-client.ts resolves, picks by weight, tells the errors apart and watches', async () => {
  const server = await startServer(['--registry', join(ROOT, 'examples/registry.yaml')], { http: false });
  try {
    const r = await run(process.execPath, [join(ROOT, 'examples/node-client.ts'), '--server', `127.0.0.1:${server.dnsPort}`, '--once'], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '3 providers (ttl 5 s):');
    assert.deepEqual(
      lines.slice(1, 4).map((l) => l.trim().split('?')[0]),
      ['tri://10.0.0.11:50051/org.apache.dubbo.demo.DemoService', 'tri://10.0.0.12:50051/org.apache.dubbo.demo.DemoService', 'tri://10.0.0.13:50051/org.apache.dubbo.demo.DemoService'],
    );
    const picks = JSON.parse(lines[4]!.replace('1000 picks: ', '')) as Record<string, number>;
    assert.deepEqual(Object.keys(picks).sort(), ['10.0.0.11', '10.0.0.12', '10.0.0.13']);
    assert.ok(picks['10.0.0.12']! > picks['10.0.0.11']! && picks['10.0.0.12']! > picks['10.0.0.13']!, lines[4]);
    assert.match(lines[5]!, /^ENOTFOUND: no such service: .*\.shop\.dubbo\.internal\. does not exist/);
    assert.equal(lines[6], 'watch: 10.0.0.11:50051, 10.0.0.12:50051, 10.0.0.13:50051');
  } finally {
    await server.stop();
  }
});
