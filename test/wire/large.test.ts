import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, bare, lines, names, optOf, run, tempDir, writeFile } from './helpers.ts';

// A service with 200 endpoints: over UDP the answer cannot fit, so the server sends a non-empty
// subset with TC=1 (512 bytes without EDNS, 1232 with it); over TCP all 200 come; dig retries.

const Z = 'dubbo.internal.';
const big = names('org.example.BigService', undefined, undefined, 'big', Z);
const B = bare(big.service);
const addressOf = (i: number): string => `10.2.${Math.floor(i / 100)}.${(i % 100) + 1}`;
const REGISTRY = `namespace: big
services:
  - interface: org.example.BigService
    port: 20880
    endpoints:
${Array.from({ length: 200 }, (_, i) => `      - { address: ${addressOf(i)}, weight: ${i + 1} }`).join('\n')}
`;
const ALL_SRV = Array.from({ length: 200 }, (_, i) => `${B} 5 SRV 0 ${i + 1} 20880 ${addressOf(i).replaceAll('.', '-')}.${B}`).sort();
const ALL_A = Array.from({ length: 200 }, (_, i) => `${B} 5 A ${addressOf(i)}`).sort();

let server: ServerProcess;
const dir = tempDir('large');
before(async () => {
  server = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', REGISTRY)]);
});
after(async () => {
  await server?.stop();
  dir.remove();
});

for (const { edns, limit } of [
  { edns: undefined, limit: 512 },
  { edns: 1232, limit: 1232 },
  { edns: 4096, limit: 1232 }, // capped by our --max-udp-size default
]) {
  test(`UDP ${edns === undefined ? 'without EDNS' : `with EDNS ${edns}`}: <= ${limit} bytes, TC=1, a subset of the 200 SRV`, async () => {
    const { raw, msg } = await ask(server.dnsPort, big.service, 'SRV', 'udp', { edns });
    assert.ok(raw.length <= limit, `${raw.length} bytes`);
    assert.ok(raw.length > limit / 2, `${raw.length} bytes: uses the room it has`);
    assert.equal(msg.flag_tc, true);
    assert.equal(msg.rcode, 'NOERROR');
    assert.equal(msg.flag_aa, true);
    const got = lines(msg.answers);
    assert.ok(got.length > 0, 'some records for clients that never retry');
    assert.ok(got.length < 200);
    assert.equal(new Set(got).size, got.length, 'no duplicates');
    for (const line of got) assert.ok(ALL_SRV.includes(line), `${line} is one of the 200`);
    if (edns !== undefined) assert.equal(optOf(msg)?.udpPayloadSize, 1232);
  });
}

test('UDP A query for 200 addresses is truncated too', async () => {
  const { raw, msg } = await ask(server.dnsPort, big.service, 'A', 'udp');
  assert.ok(raw.length <= 512);
  assert.equal(msg.flag_tc, true);
  for (const line of lines(msg.answers)) assert.ok(ALL_A.includes(line), line);
});

test('TCP: all 200 SRV records with their 200 addresses as glue, no TC', async () => {
  for (const edns of [undefined, 1232]) {
    const { msg } = await ask(server.dnsPort, big.service, 'SRV', 'tcp', { edns });
    assert.equal(msg.flag_tc, false);
    assert.deepEqual(lines(msg.answers), ALL_SRV);
    assert.equal(msg.additionals?.filter((a) => a.type === 'A').length, 200);
    const a = await ask(server.dnsPort, big.service, 'A', 'tcp', { edns });
    assert.deepEqual(lines(a.msg.answers), ALL_A);
  }
});

test('dig retries over TCP on TC and shows all 200; with +ignore it shows the truncated reply', async () => {
  const port = String(server.dnsPort);
  const retried = await run('dig', ['@127.0.0.1', '-p', port, '+norec', '+tries=1', '+time=3', big.service, 'SRV']);
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(retried.stdout, /Truncated, retrying in TCP mode/);
  assert.match(retried.stdout, /status: NOERROR/);
  assert.match(retried.stdout, /ANSWER: 200,/);
  const srvLines = retried.stdout.split('\n').filter((l) => /\sIN\s+SRV\s/.test(l) && !l.startsWith(';'));
  assert.equal(srvLines.length, 200);

  const ignored = await run('dig', ['@127.0.0.1', '-p', port, '+norec', '+noedns', '+ignore', '+tries=1', '+time=3', big.service, 'SRV']);
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.match(ignored.stdout, /flags: qr aa tc;/);
  const size = /MSG SIZE\s+rcvd: (\d+)/.exec(ignored.stdout);
  assert.ok(size !== null && Number(size[1]) <= 512, ignored.stdout);
});

test('kdig retries over TCP on TC and shows all 200', async () => {
  const r = await run('kdig', ['@127.0.0.1', '-p', String(server.dnsPort), '+norec', '+retry=0', '+time=3', big.service, 'SRV']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /truncated reply .* retrying over TCP/);
  assert.match(r.stdout, /ANSWER: 200;/);
  assert.match(r.stdout, /\(TCP\)/);
});
