import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, bare, lines, names, poll, tempDir, writeFile } from './helpers.ts';

// A registry too big to parse on the main thread (1,500 services, about 300 KiB): edits are read
// by parsing only the items that changed, and read exactly as a whole-file read would; an item
// with a problem still gets the line of its problem, and the last good zone keeps answering.

const Z = 'dubbo.internal.';
const N = 1500;
const item = (i: number, address: string): string =>
  `  - interface: org.example.big.Service${i}\n    version: "1.0"\n    port: 20880\n    metadata: { application: "big-app-${i % 40}", timeout: "3000" }\n    endpoints:\n      - { address: "${address}", hostname: pod-${i}-a }\n      - { address: "10.${(i >> 8) & 255}.${i & 255}.2", hostname: pod-${i}-b }\n`;
const text = (override: ReadonlyMap<number, string>): string =>
  `# generated\nnamespace: big\nservices:\n${Array.from({ length: N }, (_, i) => override.get(i) ?? item(i, `10.${(i >> 8) & 255}.${i & 255}.1`)).join('')}`;
const endpointName = (i: number, host: string): string => `${host}.${bare(names(`org.example.big.Service${i}`, undefined, '1.0', 'big', Z).service)}`;

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});

test('a big registry: one edited item is served, an item with a problem is rejected with its line, the rest untouched', async () => {
  const dir = tempDir('reload-large');
  const file = writeFile(dir.dir, 'registry.yaml', text(new Map()));
  assert.ok(Buffer.byteLength(text(new Map())) > 256 * 1024, 'big enough for the worker thread');
  server = await startServer(['--registry', file]);
  const s = server;
  const a = async (name: string): Promise<string[]> => lines((await ask(s.dnsPort, name, 'A', 'udp')).msg.answers);
  assert.deepEqual(await a(endpointName(700, 'pod-700-a')), [`${bare(endpointName(700, 'pod-700-a'))} 5 A 10.2.188.1`]);

  // One endpoint of one service moves.
  writeFileSync(file, text(new Map([[700, item(700, '10.250.0.7')]])));
  await poll('the edited endpoint', async () => ((await a(endpointName(700, 'pod-700-a')))[0]?.endsWith(' 10.250.0.7') === true ? true : undefined), 10_000, 50);
  assert.deepEqual(await a(endpointName(701, 'pod-701-a')), [`${bare(endpointName(701, 'pod-701-a'))} 5 A 10.2.189.1`]);

  // An invalid address in another item: rejected with the line and field, the zone stays.
  const bad = text(new Map([[700, item(700, '10.250.0.7')], [1200, item(1200, '10.250.0.999')]]));
  const line = bad.split('\n').findIndex((l) => l.includes('10.250.0.999')) + 1;
  const since = s.logs.length;
  writeFileSync(file, bad);
  const rejected = await s.waitForLog((l) => s.logs.indexOf(l) >= since && Array.isArray(l['problems']), 10_000);
  const problems = rejected['problems'] as { line: number; field: string }[];
  assert.deepEqual(problems.map((p) => `${p.line} ${p.field}`), [`${line} services[1200].endpoints[0].address`]);
  assert.deepEqual(await a(endpointName(700, 'pod-700-a')), [`${bare(endpointName(700, 'pod-700-a'))} 5 A 10.250.0.7`]);

  // Fixed: served, and the item edited before is still read right.
  writeFileSync(file, text(new Map([[700, item(700, '10.250.0.7')], [1200, item(1200, '10.250.0.12')]])));
  await poll('the fixed item', async () => ((await a(endpointName(1200, 'pod-1200-a')))[0]?.endsWith(' 10.250.0.12') === true ? true : undefined), 10_000, 50);
  assert.deepEqual(await a(endpointName(700, 'pod-700-a')), [`${bare(endpointName(700, 'pod-700-a'))} 5 A 10.250.0.7`]);
  const srv = lines((await ask(s.dnsPort, bare(names('org.example.big.Service1499', undefined, '1.0', 'big', Z).service), 'SRV', 'udp')).msg.answers);
  assert.equal(srv.length, 2);
});
