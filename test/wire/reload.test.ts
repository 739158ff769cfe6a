import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, bare, lines, names, poll, serialOf, tempDir, writeFile, type Transport } from './helpers.ts';

// DESIGN §8: the registry file is reloaded on change without dropping queries. A good edit is
// served with a higher SOA serial; a bad edit (YAML syntax, an invalid address) is rejected whole
// with a log line naming line and field while the last good zone keeps answering; a deleted file
// keeps the last good zone; a restored file is served. A query loop runs throughout.

const Z = 'dubbo.internal.';
const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', Z);
const D = bare(demo.service);

const registry = (endpoints: readonly string[]): string => `namespace: shop
services:
  - interface: org.apache.dubbo.demo.DemoService
    group: gray
    version: 1.0.0
    port: 20880
    endpoints:
${endpoints.map((e) => `      - ${e}`).join('\n')}
`;
const E0 = '{ address: 10.0.0.10, hostname: demo-0 }';
const E1 = '{ address: 10.0.0.11, hostname: demo-1 }';
const E2 = '{ address: 10.0.0.12, hostname: demo-2 }';
const E3 = '{ address: 10.0.0.13, hostname: demo-3 }';
const srvLines = (n: number): string[] => Array.from({ length: n }, (_, i) => `${D} 5 SRV 0 100 20880 demo-${i}.${D}`);

let server: ServerProcess;
const dir = tempDir('reload');
let file: string;

// The query loop: SRV at S.N.Z, alternating UDP and TCP, every ~20 ms, from start to end.
const loop = { running: true, queries: 0, failures: [] as string[], counts: new Set<number>(), done: Promise.resolve() };

async function current(): Promise<{ srv: string[]; serial: number }> {
  const srv = await ask(server.dnsPort, demo.service, 'SRV', 'udp');
  const soa = await ask(server.dnsPort, Z, 'SOA', 'udp');
  return { srv: lines(srv.msg.answers), serial: serialOf(soa.msg) };
}

/** Waits until the zone serves `n` SRV records; returns what it served. */
function servedWith(n: number): Promise<{ srv: string[]; serial: number }> {
  return poll(`${n} SRV records`, async () => {
    const c = await current();
    return c.srv.length === n ? c : undefined;
  }, 10_000, 100);
}

/** Waits for a warn line that matches, seen after `since` log lines. */
function warned(since: number, match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  return server.waitForLog((l) => server.logs.indexOf(l) >= since && l['level'] === 40 && match(l), 10_000);
}

interface Problem {
  line: number;
  column: number;
  field: string;
  message: string;
}

test('a registry file edited, broken, deleted and restored while queries run', async (t) => {
  file = writeFile(dir.dir, 'registry.yaml', registry([E0, E1]));
  server = await startServer(['--registry', file]);
  loop.done = (async () => {
    while (loop.running) {
      const transport: Transport = loop.queries % 2 === 0 ? 'udp' : 'tcp';
      loop.queries++;
      try {
        const { msg } = await ask(server.dnsPort, demo.service, 'SRV', transport);
        if (msg.rcode !== 'NOERROR' || (msg.answers?.length ?? 0) < 2) {
          loop.failures.push(`${transport}: ${msg.rcode} with ${msg.answers?.length ?? 0} answers`);
        }
        loop.counts.add(msg.answers?.length ?? 0);
      } catch (err) {
        loop.failures.push(`${transport}: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    let before0: { srv: string[]; serial: number };
    let afterGood: { srv: string[]; serial: number };

    await t.test('the first file is served', async () => {
      before0 = await current();
      assert.deepEqual(before0.srv, srvLines(2));
      assert.ok(before0.serial > 0);
    });

    await t.test('a good edit (one more endpoint) is served within seconds with a higher serial', async () => {
      writeFileSync(file, registry([E0, E1, E2]));
      afterGood = await servedWith(3);
      assert.deepEqual(afterGood.srv, srvLines(3));
      assert.ok(afterGood.serial > before0.serial, `serial ${afterGood.serial} > ${before0.serial}`);
      const a = await ask(server.dnsPort, `demo-2.${demo.service}`, 'A', 'tcp');
      assert.deepEqual(lines(a.msg.answers), [`demo-2.${D} 5 A 10.0.0.12`]);
      await server.waitForLog((l) => l['msg'] === 'zone reloaded' && l['serial'] === afterGood.serial);
    });

    await t.test('a file that is not YAML is rejected with its line; the old answers keep coming', async () => {
      const since = server.logs.length;
      // Line 4 opens a flow mapping that never closes.
      writeFileSync(file, 'namespace: shop\nservices:\n  - interface: org.apache.dubbo.demo.DemoService\n    endpoints: [ { address: 10.0.0.10\n');
      const log = await warned(since, (l) => Array.isArray(l['problems']));
      const problems = log['problems'] as Problem[];
      assert.ok(problems.length >= 1);
      assert.ok(problems.every((p) => Number.isInteger(p.line) && p.line >= 1 && p.message !== ''), JSON.stringify(problems));
      assert.match(String(log['msg']), /rejected/);
      const now = await current();
      assert.deepEqual(now.srv, srvLines(3));
      assert.equal(now.serial, afterGood.serial, 'serial unchanged');
    });

    await t.test('an invalid address is rejected naming line and field; the old answers keep coming', async () => {
      const since = server.logs.length;
      const text = registry([E0, E1, E2, '{ address: 10.0.0.300, hostname: demo-3 }']);
      const line = text.split('\n').findIndex((l) => l.includes('10.0.0.300')) + 1;
      writeFileSync(file, text);
      const log = await warned(since, (l) => Array.isArray(l['problems']));
      const problems = log['problems'] as Problem[];
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.field, 'services[0].endpoints[3].address');
      assert.equal(problems[0]!.line, line);
      assert.match(problems[0]!.message, /10\.0\.0\.300/);
      const now = await current();
      assert.deepEqual(now.srv, srvLines(3));
      assert.equal(now.serial, afterGood.serial);
    });

    await t.test('a deleted file keeps the last good zone, with a log line', async () => {
      const since = server.logs.length;
      rmSync(file);
      const log = await warned(since, (l) => /unreadable|cannot read|missing|ENOENT/i.test(JSON.stringify(l)));
      assert.ok(log !== undefined);
      // The rejection is logged once the reload has been decided: the old answers stay.
      const now = await current();
      assert.deepEqual(now.srv, srvLines(3));
      assert.equal(now.serial, afterGood.serial);
    });

    await t.test('a restored valid file is served with a higher serial', async () => {
      writeFileSync(file, registry([E0, E1, E2, E3]));
      const restored = await servedWith(4);
      assert.deepEqual(restored.srv, srvLines(4));
      assert.ok(restored.serial > afterGood.serial, `serial ${restored.serial} > ${afterGood.serial}`);
    });

    await t.test('metrics count the reloads and the rejected updates', async () => {
      const res = await fetch(`http://127.0.0.1:${server.httpPort}/metrics`);
      const text = await res.text();
      const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      assert.equal(value('dubbo_dns_reloads_total'), 3, 'initial load, good edit, restore');
      assert.ok(value('dubbo_dns_reload_failures_total') >= 3, `failures ${value('dubbo_dns_reload_failures_total')}: YAML, address, deleted`);
      assert.equal(value('dubbo_dns_zone_serial'), (await current()).serial);
    });

    await t.test('no query failed or timed out during the edits', () => {
      assert.ok(loop.queries >= 20, `${loop.queries} queries`);
      assert.deepEqual(loop.failures, []);
      assert.ok(loop.counts.has(2) && loop.counts.has(3) && loop.counts.has(4), `answer sizes seen: ${[...loop.counts].join(',')}`);
    });
  } finally {
    loop.running = false;
    await loop.done;
    await server?.stop();
    dir.remove();
  }
});
