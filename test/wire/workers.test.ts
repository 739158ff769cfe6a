import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, bare, lines, names, poll, serialOf, tempDir, writeFile, type Transport } from './helpers.ts';

// `serve --workers 2` (DESIGN §3: use every core): every worker answers the same zone, a reload
// reaches all of them with one serial, metrics sum over workers, SIGTERM stops the whole group.

const Z = 'dubbo.internal.';
const demo = names('org.apache.dubbo.demo.DemoService', undefined, '1.0.0', 'team', Z);
const D = bare(demo.service);
const registry = (n: number): string => `namespace: team
services:
  - interface: org.apache.dubbo.demo.DemoService
    version: 1.0.0
    port: 20880
    endpoints:
${Array.from({ length: n }, (_, i) => `      - { address: 10.5.0.${i + 1}, hostname: w-${i} }`).join('\n')}
`;
const srv = (n: number): string[] => Array.from({ length: n }, (_, i) => `${D} 5 SRV 0 100 20880 w-${i}.${D}`);

let server: ServerProcess;
const dir = tempDir('workers');
let file: string;
/** Processes whose command line names `path` (our temp registry): the primary and its workers. */
function processesUsing(path: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** SIGKILLs what a hung test left behind (only processes started on this test's temp files). */
function killLeftovers(path: string): void {
  for (const pid of processesUsing(path)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

before(async () => {
  file = writeFile(dir.dir, 'registry.yaml', registry(2));
  server = await startServer(['--registry', file, '--workers', '2']);
  // Steady state first: /readyz says when every worker has the zone.
  await poll('/readyz 200', async () => ((await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).status === 200 ? true : undefined), 15_000, 100);
});
after(async () => {
  const stopped = server?.stop();
  await Promise.race([stopped, new Promise((r) => setTimeout(r, 10_000).unref())]);
  killLeftovers(dir.dir);
  dir.remove();
});

/** `count` queries alternating UDP and TCP (new source port / connection each): SRV lines + serial. */
async function sample(count: number): Promise<{ answers: Set<string>; serials: Set<number> }> {
  const answers = new Set<string>();
  const serials = new Set<number>();
  for (let i = 0; i < count; i++) {
    const transport: Transport = i % 2 === 0 ? 'udp' : 'tcp';
    const a = await ask(server.dnsPort, demo.service, 'SRV', transport);
    answers.add(lines(a.msg.answers).join('\n'));
    const soa = await ask(server.dnsPort, Z, 'SOA', transport);
    serials.add(serialOf(soa.msg));
  }
  return { answers, serials };
}

let firstSerial = 0;

test('every worker answers the same zone', async () => {
  const s = await sample(20);
  assert.deepEqual([...s.answers], [srv(2).join('\n')]);
  assert.equal(s.serials.size, 1);
  firstSerial = [...s.serials][0]!;
});

test('a reload reaches every worker with one higher serial', async () => {
  writeFileSync(file, registry(3));
  await poll('the new endpoint', async () => ((await sample(2)).answers.has(srv(3).join('\n')) ? true : undefined), 10_000, 100);
  const s = await poll('all workers on the new zone', async () => {
    const got = await sample(20);
    return got.answers.size === 1 && got.serials.size === 1 ? got : undefined;
  }, 10_000, 100);
  assert.deepEqual([...s.answers], [srv(3).join('\n')]);
  assert.ok([...s.serials][0]! > firstSerial);
});

test('metrics sum the queries of all workers', async () => {
  const read = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('dubbo_dns_queries_total{transport="tcp",qtype="SOA",rcode="NOERROR"} '));
    return line === undefined ? 0 : Number(line.split(' ')[1]);
  };
  const before = await read();
  await sample(20); // 10 of the SOA queries go over TCP, to whichever worker accepts
  assert.equal((await read()) - before, 10);
});

test('SIGTERM stops the primary with exit 0 and leaves no worker behind', async () => {
  const code = await Promise.race([server.stop(), new Promise<string>((r) => setTimeout(() => r('still running after 10 s'), 10_000))]);
  assert.equal(code, 0);
  // Workers are `node src/main.ts serve --registry <this test's file> ...` processes.
  const left = await poll('workers to exit', async () => (processesUsing(file).length === 0 ? [] : undefined), 5000, 100).catch(() => processesUsing(file));
  assert.deepEqual(left, []);
});

test('right after the "dns server started" line every query is answered from the zone', async (t) => {
  const early = writeFile(dir.dir, 'early.yaml', registry(2));
  t.after(() => killLeftovers(early));
  const outcomes: string[] = [];
  for (let round = 0; round < 2; round++) {
    const s = await startServer(['--registry', early, '--workers', '2'], { http: false });
    const exited = new Promise((r) => s.child.once('exit', r));
    for (let i = 0; i < 10; i++) {
      for (const transport of ['udp', 'tcp'] as const) {
        const outcome = await ask(s.dnsPort, demo.service, 'SRV', transport).then(
          (r) => `${r.msg.rcode}/${r.msg.answers?.length ?? 0}`,
          (err: unknown) => String(err).slice(0, 40),
        );
        outcomes.push(outcome);
      }
    }
    killLeftovers(early); // shutdown is not what this test is about
    await exited;
  }
  const bad = outcomes.filter((o) => o !== 'NOERROR/2');
  assert.deepEqual(bad, [], `${bad.length} of ${outcomes.length} early queries failed`);
});

test('SIGTERM soon after start exits 0 (no worker left waiting for a lost stop message)', async (t) => {
  const soon = writeFile(dir.dir, 'soon.yaml', registry(2));
  t.after(() => killLeftovers(soon));
  const outcomes: string[] = [];
  // Each round: 'hung' when the primary waits forever for a worker, 'SIGTERM' when the signal
  // arrived before the handler was installed (killed by the default action).
  for (let round = 0; round < 3; round++) {
    const s = await startServer(['--registry', soon, '--workers', '2'], { http: false });
    const exit = new Promise<string>((r) => s.child.once('exit', (code, signal) => r(signal ?? String(code))));
    s.child.kill('SIGTERM');
    outcomes.push(await Promise.race([exit, new Promise<string>((r) => setTimeout(() => r('hung'), 5000))]));
    killLeftovers(soon);
    await exit;
  }
  assert.deepEqual(outcomes, ['0', '0', '0']);
});
