import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import {
  bare,
  buildQuery,
  decode,
  dig,
  freePort,
  lines,
  names,
  parseDig,
  poll,
  replaceFile,
  requireCoreDns,
  requireProgram,
  run,
  startDaemon,
  tempDir,
  udpExchange,
  type Daemon,
} from './helpers.ts';

// CoreDNS 1.12.3 (built from its Go module by test/tools/build-coredns.sh) forwards the zone to our
// server, as deploy/coredns/Corefile.dubbo does in a cluster: SRV, TXT, A, AAAA and NXDOMAIN come
// through it; a 200-endpoint service is truncated over UDP (TC passed back) and complete over TCP,
// for dig, kdig and Node's resolver. One server block has no cache (answers are live), one has it.

const ZONE = 'dubbo.internal.';
const big = names('org.example.BigService', 'big');
const small = names('org.example.SmallService', 'big');
const B = bare(big.service);
const S = bare(small.service);
const bigAddress = (i: number): string => `10.2.${Math.floor(i / 100)}.${(i % 100) + 1}`;
const registry = (extra: string): string => `namespace: big
services:
  - interface: org.example.BigService
    port: 20880
    endpoints:
${Array.from({ length: 200 }, (_, i) => `      - { address: ${bigAddress(i)}, hostname: big-${i} }`).join('\n')}
  - interface: org.example.SmallService
    port: 20881
    metadata: { application: small-app, serialization: hessian2 }
    endpoints:
      - { address: 10.3.0.1, hostname: small-0, weight: 50 }
      - { address: 10.3.0.2, hostname: small-1 }
      - { address: "fd00::3", hostname: small-2 }
${extra}`;
const ALL_BIG_SRV = Array.from({ length: 200 }, (_, i) => `${B} 5 SRV 0 100 20880 big-${i}.${B}`).sort();
const SMALL_SRV = [`${S} 5 SRV 0 50 20881 small-0.${S}`, `${S} 5 SRV 0 100 20881 small-1.${S}`, `${S} 5 SRV 0 100 20881 small-2.${S}`].sort();

describe('CoreDNS 1.12.3 forwarding the zone to dubbo-dns', () => {
  let server: ServerProcess | undefined;
  let coredns: Daemon | undefined;
  let live = 0; // forward only
  let cached = 0; // cache + forward
  let registryFile = '';
  const tmp = tempDir('coredns');

  before(async () => {
    const bin = requireCoreDns();
    requireProgram('dig', 'bind9-dnsutils');
    requireProgram('kdig', 'knot-dnsutils');
    registryFile = join(tmp.dir, 'registry.yaml');
    writeFileSync(registryFile, registry(''));
    server = await startServer(['--registry', registryFile]);
    live = await freePort();
    cached = await freePort();
    // As deploy/coredns/Corefile.dubbo, with our loopback address for the Service's ClusterIP.
    const corefile = `dubbo.internal:${live} {
    bind 127.0.0.1
    errors
    forward . 127.0.0.1:${server.dnsPort} {
        health_check 5s
    }
}
dubbo.internal:${cached} {
    bind 127.0.0.1
    errors
    cache 5
    forward . 127.0.0.1:${server.dnsPort}
}
`;
    const dir = join(tmp.dir, 'coredns');
    mkdirSync(dir);
    writeFileSync(join(dir, 'Corefile'), corefile);
    coredns = startDaemon(bin, ['-conf', join(dir, 'Corefile')], { cwd: dir });
    for (const port of [live, cached]) {
      await poll(
        `CoreDNS answering on ${port}`,
        async () => {
          const msg = decode(await udpExchange(port, buildQuery(ZONE, 'SOA'), 1000));
          return msg.rcode === 'NOERROR' && (msg.answers ?? []).length === 1 ? true : undefined;
        },
        15_000,
        200,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nCoreDNS output:\n${coredns?.output()}`);
      });
    }
  });

  after(async () => {
    await coredns?.stop();
    await server?.stop();
    tmp.remove();
  });

  test('SRV, TXT, A and AAAA of a small service come through CoreDNS as we answer them', async () => {
    assert.ok(server !== undefined);
    for (const port of [live, cached]) {
      const srv = await dig(port, [small.service, 'SRV']);
      assert.equal(srv.status, 'NOERROR');
      assert.deepEqual(srv.answer, SMALL_SRV);
      const srvDirect = await dig(server.dnsPort, [small.service, 'SRV']);
      assert.deepEqual(srv.answer, srvDirect.answer);
      const txt = await dig(port, [small.service, 'TXT']);
      assert.equal(txt.answer.length, 1);
      assert.match(txt.answer[0]!, /"txtvers=1" "interface=org\.example\.smallservice"/);
      assert.match(txt.answer[0]!, /"application=small-app"/);
      assert.deepEqual(txt.answer, (await dig(server.dnsPort, [small.service, 'TXT'])).answer);
      assert.deepEqual((await dig(port, [small.service, 'A'])).answer, [`${S} 5 A 10.3.0.1`, `${S} 5 A 10.3.0.2`]);
      assert.deepEqual((await dig(port, [small.service, 'AAAA'])).answer, [`${S} 5 AAAA fd00::3`]);
      assert.deepEqual((await dig(port, [`small-1.${small.service}`, 'A'])).answer, [`small-1.${S} 5 A 10.3.0.2`]);
      assert.deepEqual((await dig(port, [small.protocolSrv, 'SRV'])).answer.length, 3);
    }
  });

  test('NXDOMAIN with our SOA, and NODATA, through CoreDNS', async () => {
    for (const port of [live, cached]) {
      const nx = await dig(port, [`nope.big.${ZONE}`, 'A']);
      assert.equal(nx.status, 'NXDOMAIN');
      assert.equal(nx.answer.length, 0);
      assert.equal(nx.authority.length, 1);
      assert.match(nx.authority[0]!, /^dubbo\.internal \d+ SOA ns\.dns\.dubbo\.internal hostmaster\.dubbo\.internal \d+ /);
      const nodata = await dig(port, [big.service, 'AAAA']);
      assert.equal(nodata.status, 'NOERROR');
      assert.equal(nodata.answer.length, 0);
      assert.equal(nodata.authority.length, 1);
    }
  });

  test('200 endpoints: UDP without EDNS through CoreDNS is truncated (TC=1, <= 512 bytes, a valid subset)', async () => {
    for (const port of [live, cached]) {
      const out = await dig(port, ['+noedns', '+ignore', '+norec', big.service, 'SRV']);
      assert.equal(out.status, 'NOERROR');
      assert.ok(out.flags.has('tc'), `TC set: ${[...out.flags].join(' ')}`);
      assert.ok(out.size !== undefined && out.size <= 512, `${out.size} bytes`);
      assert.ok(out.answer.length < 200);
      for (const line of out.answer) assert.ok(ALL_BIG_SRV.includes(line), `${line} is one of the 200`);
      // Raw, without dig: the same over a plain socket.
      const raw = await udpExchange(port, buildQuery(big.service, 'SRV', { rd: true }));
      assert.ok(raw.length <= 512, `${raw.length} bytes`);
      const msg = decode(raw);
      assert.equal(msg.flag_tc, true);
      for (const line of lines(msg.answers)) assert.ok(ALL_BIG_SRV.includes(line), line);
    }
  });

  test('200 endpoints: +tcp through CoreDNS gets all 200 SRV; dig and kdig retry over TCP on TC', async () => {
    for (const port of [live, cached]) {
      const tcp = await dig(port, ['+tcp', big.service, 'SRV']);
      assert.equal(tcp.flags.has('tc'), false);
      assert.deepEqual(tcp.answer, ALL_BIG_SRV);
      const retried = await dig(port, ['+noedns', big.service, 'SRV']);
      assert.ok(/Truncated, retrying in TCP mode/.test(retried.text), retried.text.slice(0, 300));
      assert.deepEqual(retried.answer, ALL_BIG_SRV);
      const a = await dig(port, ['+tcp', big.service, 'A']);
      assert.equal(a.answer.length, 200);

      const kdigUdp = await run('kdig', ['@127.0.0.1', '-p', String(port), '+notcp', '+noedns', '+ignore', '+retry=0', '+timeout=3', big.service, 'SRV']);
      assert.equal(kdigUdp.code, 0, kdigUdp.stderr);
      const k1 = parseDig(kdigUdp.stdout);
      assert.ok(k1.flags.has('tc'), kdigUdp.stdout.slice(0, 400));
      assert.ok(k1.answer.length > 0 && k1.answer.length < 200);
      const kdigRetry = await run('kdig', ['@127.0.0.1', '-p', String(port), '+noedns', '+retry=0', '+timeout=3', big.service, 'SRV']);
      assert.equal(kdigRetry.code, 0, kdigRetry.stderr);
      const warning = `${kdigRetry.stderr}\n${kdigRetry.stdout}`;
      assert.ok(/truncated reply .* retrying over TCP/.test(warning), `kdig retried over TCP: ${warning.slice(0, 300)}`);
      assert.deepEqual(parseDig(kdigRetry.stdout).answer, ALL_BIG_SRV);
      const kdigTcp = await run('kdig', ['@127.0.0.1', '-p', String(port), '+tcp', '+retry=0', '+timeout=3', big.service, 'SRV']);
      assert.deepEqual(parseDig(kdigTcp.stdout).answer, ALL_BIG_SRV);
    }
  });

  test("Node's dns.Resolver through CoreDNS: all 200 SRV (TCP retry), TXT, A, AAAA, ENOTFOUND", async () => {
    for (const port of [live, cached]) {
      const resolver = new Resolver({ timeout: 3000, tries: 2 });
      resolver.setServers([`127.0.0.1:${port}`]);
      const srv = await resolver.resolveSrv(bare(big.service));
      assert.equal(srv.length, 200);
      assert.deepEqual(srv.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name.toLowerCase()}`).sort(), ALL_BIG_SRV.map((l) => l.split(' ').slice(3).join(' ')));
      assert.equal((await resolver.resolve4(bare(big.service))).length, 200);
      assert.deepEqual((await resolver.resolve4(S)).sort(), ['10.3.0.1', '10.3.0.2']);
      assert.deepEqual(await resolver.resolve6(S), ['fd00::3']);
      const txt = await resolver.resolveTxt(S);
      assert.equal(txt.length, 1);
      assert.equal(txt[0]![0], 'txtvers=1');
      assert.ok(txt[0]!.includes('interface=org.example.SmallService'));
      assert.ok(txt[0]!.includes('serialization=hessian2'));
      await assert.rejects(resolver.resolve4(`nope.big.${bare(ZONE)}`), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND');
    }
  });

  test('answers through the cache-less block are live: a registry edit shows at once', async () => {
    assert.ok(server !== undefined);
    const extra = `  - interface: org.example.LateService
    port: 20882
    endpoints:
      - { address: 10.4.0.1, hostname: late-0 }
`;
    const late = names('org.example.LateService', 'big');
    assert.equal((await dig(live, [late.service, 'A'])).status, 'NXDOMAIN');
    replaceFile(registryFile, registry(extra));
    await poll('our server to serve the new service', async () => ((await dig(server!.dnsPort, [late.service, 'A'])).answer.length === 1 ? true : undefined));
    const through = await dig(live, [late.service, 'A']);
    assert.equal(through.status, 'NOERROR');
    assert.deepEqual(through.answer, [`${bare(late.service)} 5 A 10.4.0.1`]);
    const srv = await dig(live, [late.service, 'SRV']);
    assert.deepEqual(srv.answer, [`${bare(late.service)} 5 SRV 0 100 20882 late-0.${bare(late.service)}`]);
  });
});
