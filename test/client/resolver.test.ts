import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { createResolver, DnsQueryError, NoReadyProviderError, NoSuchServiceError, type Provider, type WatchEvent } from '../../src/client/index.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { names, poll, tempDir, writeFile } from '../wire/helpers.ts';
import { httpGet, metric } from '../e2e/helpers.ts';

// `dubbo-dns/client` against the real server (`dubbo-dns serve --registry`): what a Node consumer
// gets, and how the resolver behaves when the answer is big, cached, gone, or the server is.

const TAGS = Array.from({ length: 90 }, (_, i) => `tag${i}`).join(','); // ~530 bytes: three TXT strings
const NOTE = 'n'.repeat(300); // over 255 bytes: `note=` and `note.2=`
const WIDE = 60; // SRV answer over 1232 bytes: truncated over UDP even with EDNS

const REGISTRY = `namespace: shop
services:
  - interface: org.example.client.CatalogService
    group: blue
    version: 2.0.0
    protocol: tri
    port: 50051
    metadata: { application: catalog, serialization: hessian2, tags: "${TAGS}" }
    endpoints:
      - { address: 10.9.0.1, weight: 100, hostname: catalog-0, metadata: { release: 3.3.0, note: "${NOTE}" } }
      - { address: "fd00::9:2", weight: 300, metadata: { release: 3.3.0 } }
  - interface: org.example.client.WideService
    port: 20880
    endpoints:
${Array.from({ length: WIDE }, (_, i) => `      - { address: 10.8.0.${i + 1}, weight: ${i + 1} }`).join('\n')}
  - interface: org.example.client.IdleService
    port: 20880
    endpoints:
      - { address: 10.7.0.1, ready: false }
`;

const CATALOG = { interface: 'org.example.client.CatalogService', group: 'blue', version: '2.0.0' } as const;

/** `dubbo_dns_queries_total`, optionally only label sets containing `labels`. */
async function queries(server: ServerProcess, labels = ''): Promise<number> {
  return metric((await httpGet(server.httpPort!, '/metrics')).text, 'dubbo_dns_queries_total', labels) ?? 0;
}

const server = (s: ServerProcess): string => `127.0.0.1:${s.dnsPort}`;

describe('resolving against a running server', () => {
  let dns: ServerProcess;
  const dir = tempDir('client');
  before(async () => {
    dns = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', REGISTRY), '--ttl', '30']);
  });
  after(async () => {
    await dns?.stop();
    dir.remove();
  });

  test('providers with service and instance metadata; long pairs joined back', async () => {
    const resolver = createResolver({ server: server(dns), namespace: 'shop' });
    const r = await resolver.resolve(CATALOG);
    assert.equal(r.stale, false);
    assert.equal(r.ttl, 30);
    assert.equal(r.name, names(CATALOG.interface, CATALOG.group, CATALOG.version, 'shop', 'dubbo.internal.').service);
    const [v4, v6] = r.providers as [Provider, Provider];
    assert.equal(r.providers.length, 2);
    assert.deepEqual(
      { address: v4.address, port: v4.port, weight: v4.weight, protocol: v4.protocol, hostname: v4.hostname },
      { address: '10.9.0.1', port: 50051, weight: 100, protocol: 'tri', hostname: 'catalog-0' },
    );
    assert.deepEqual({ address: v6.address, port: v6.port, weight: v6.weight, protocol: v6.protocol }, { address: 'fd00::9:2', port: 50051, weight: 300, protocol: 'tri' });
    assert.equal('hostname' in v6, false, 'an address-named endpoint has no hostname');
    for (const p of r.providers) {
      assert.equal(p.metadata['tags'], TAGS, 'a service pair split over several TXT strings comes back whole');
      assert.equal(p.metadata['application'], 'catalog');
      assert.equal(p.metadata['serialization'], 'hessian2');
      assert.equal(p.metadata['release'], '3.3.0');
      assert.equal(p.metadata['interface'], CATALOG.interface);
      assert.equal(p.metadata['group'], 'blue');
      assert.equal(p.metadata['version'], '2.0.0');
      assert.equal(p.metadata['txtvers'], undefined);
      const url = new URL(p.url);
      assert.equal(url.protocol, 'tri:');
      assert.equal(url.pathname, `/${CATALOG.interface}`);
      assert.deepEqual(Object.fromEntries(url.searchParams), p.metadata);
    }
    assert.equal(v4.metadata['note'], NOTE, 'an instance pair over 255 bytes comes back whole');
    assert.equal(v4.metadata['weight'], '100');
    assert.equal(v6.metadata['note'], undefined);
    assert.equal(v6.metadata['weight'], '300');
    assert.ok(v6.url.startsWith('tri://[fd00::9:2]:50051/org.example.client.CatalogService?'), v6.url);
  });

  test('an answer too big for UDP: the truncated question is asked again over TCP, and every provider comes back', async () => {
    const resolver = createResolver({ server: server(dns), namespace: 'shop' });
    const tcpBefore = await queries(dns, 'transport="tcp",qtype="SRV"');
    const r = await resolver.resolve({ interface: 'org.example.client.WideService' });
    assert.equal(r.providers.length, WIDE);
    assert.deepEqual(r.providers.map((p) => p.address).sort(), Array.from({ length: WIDE }, (_, i) => `10.8.0.${i + 1}`).sort());
    for (const p of r.providers) assert.equal(p.weight, Number(p.address.split('.')[3]));
    assert.equal(await queries(dns, 'transport="tcp",qtype="SRV"'), tcpBefore + 1, 'one SRV question went over TCP');
  });

  test('a second resolve within the TTL asks nothing; another resolver has its own cache', async () => {
    const resolver = createResolver({ server: server(dns), namespace: 'shop' });
    const first = await resolver.resolve(CATALOG);
    const asked = await queries(dns);
    const second = await resolver.resolve(CATALOG);
    assert.equal(await queries(dns), asked, 'served from the cache');
    assert.deepEqual(second, first);
    await createResolver({ server: server(dns), namespace: 'shop' }).resolve(CATALOG);
    assert.ok((await queries(dns)) > asked, 'no state shared between resolvers');
  });

  test('no such service (NXDOMAIN) and no ready provider are different errors', async () => {
    const resolver = createResolver({ server: server(dns), namespace: 'shop' });
    await assert.rejects(resolver.resolve({ interface: 'org.example.client.NoSuchService' }), (err: unknown) => {
      assert.ok(err instanceof NoSuchServiceError);
      assert.equal(err.code, 'ENOTFOUND');
      assert.match(err.hostname, /\.shop\.dubbo\.internal\.$/);
      return true;
    });
    await assert.rejects(resolver.resolve({ interface: 'org.example.client.IdleService' }), (err: unknown) => {
      assert.ok(err instanceof NoReadyProviderError);
      assert.equal(err.code, 'ENODATA');
      return true;
    });
    // The service exists, but nothing serves it over `rest`: no `_rest._tcp` name.
    await assert.rejects(resolver.resolve({ ...CATALOG, protocol: 'rest' }), NoReadyProviderError);
    // Another namespace is another name.
    await assert.rejects(resolver.resolve({ ...CATALOG, namespace: 'other' }), NoSuchServiceError);
    const tri = await resolver.resolve({ ...CATALOG, protocol: 'tri' });
    assert.equal(tri.providers.length, 2);
    assert.match(tri.name, /^_tri\._tcp\./);
  });

  test('two servers, the first never answering: the second does, and is asked first from then on', async () => {
    const sink = await blackHole();
    try {
      // A generous timeout: on a loaded machine the second server must not be taken for dead too.
      const resolver = createResolver({ servers: [`127.0.0.1:${sink.port}`, server(dns)], namespace: 'shop', timeoutMs: 2000, tries: 1 });
      const r = await resolver.resolve(CATALOG);
      assert.equal(r.providers.length, 2);
      assert.equal(r.stale, false);
      const swallowed = sink.received();
      assert.ok(swallowed >= 1, 'the first server was asked');
      await resolver.resolve({ interface: 'org.example.client.WideService' });
      assert.equal(sink.received(), swallowed, 'the server that answered is asked first');
    } finally {
      sink.close();
    }
  });
});

describe('when the server goes away', () => {
  test('the last good answer comes back marked stale; a resolver with none gets a DnsQueryError', async () => {
    const dir = tempDir('client-stale');
    // TTL 0: nothing is cached, so every resolve asks the server.
    const dns = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', REGISTRY), '--ttl', '0'], { http: false });
    try {
      const resolver = createResolver({ server: server(dns), namespace: 'shop', timeoutMs: 500, tries: 1 });
      const good = await resolver.resolve(CATALOG);
      assert.equal(good.stale, false);
      await dns.stop();
      const stale = await resolver.resolve(CATALOG);
      assert.equal(stale.stale, true);
      assert.deepEqual(stale.providers, good.providers);
      await assert.rejects(resolver.resolve({ interface: 'org.example.client.WideService' }), (err: unknown) => {
        assert.ok(err instanceof DnsQueryError);
        assert.ok(['ECONNREFUSED', 'ETIMEOUT'].includes(err.code), err.code);
        assert.equal(err.server, server(dns));
        return true;
      });
    } finally {
      await dns.stop();
      dir.remove();
    }
  });
});

describe('watch', () => {
  test('notifies once for a registry change and not otherwise', async () => {
    const dir = tempDir('client-watch');
    const file = writeFile(dir.dir, 'registry.yaml', REGISTRY);
    const dns = await startServer(['--registry', file, '--ttl', '1']);
    try {
      const resolver = createResolver({ server: server(dns), namespace: 'shop' });
      const events: WatchEvent[] = [];
      const errors: unknown[] = [];
      const stop = resolver.watch(CATALOG, (e) => events.push(e), { onError: (e) => errors.push(e) });
      await poll('the first event', async () => (events.length >= 1 ? true : undefined));
      assert.deepEqual(events[0]!.providers.map((p) => p.address), ['10.9.0.1', 'fd00::9:2']);

      writeFile(dir.dir, 'registry.yaml', REGISTRY.replace('      - { address: "fd00::9:2"', '      - { address: 10.9.0.3, hostname: catalog-3 }\n      - { address: "fd00::9:2"'));
      await dns.waitForLog((l) => l['msg'] === 'zone reloaded');
      await poll('the change event', async () => (events.length >= 2 ? true : undefined));
      assert.deepEqual(events[1]!.providers.map((p) => p.address), ['10.9.0.1', '10.9.0.3', 'fd00::9:2']);
      assert.equal(events[1]!.providers.find((p) => p.address === '10.9.0.3')?.hostname, 'catalog-3');

      // Settled: the watch has asked again at least twice (one round is SRV, TXT and one TXT per
      // provider) with nothing new to report.
      const perRound = 2 + 3;
      const asked = await queries(dns);
      await poll('two more watch rounds', async () => ((await queries(dns)) >= asked + 2 * perRound ? true : undefined), 10_000, 100);
      assert.equal(events.length, 2, 'no event without a change');
      assert.deepEqual(errors, []);

      await stop();
    } finally {
      await dns.stop();
      dir.remove();
    }
  });

  test('a service that disappears is one event with no providers and the reason; stop leaves no timer or socket behind', async () => {
    const dir = tempDir('client-watch-gone');
    const file = writeFile(dir.dir, 'registry.yaml', REGISTRY);
    const dns = await startServer(['--registry', file, '--ttl', '1'], { http: false });
    try {
      const handlesBefore = handles();
      const resolver = createResolver({ server: server(dns), namespace: 'shop' });
      const events: WatchEvent[] = [];
      const stop = resolver.watch(CATALOG, (e) => events.push(e));
      await poll('the first event', async () => (events.length >= 1 ? true : undefined));
      writeFile(dir.dir, 'registry.yaml', REGISTRY.replace('org.example.client.CatalogService', 'org.example.client.RenamedService'));
      await dns.waitForLog((l) => l['msg'] === 'zone reloaded');
      await poll('the removal event', async () => (events.length >= 2 ? true : undefined));
      await stop();
      assert.equal(events.length, 2);
      assert.deepEqual(events[1]!.providers, []);
      assert.ok(events[1]!.error instanceof NoSuchServiceError);
      // Sockets finish closing on a later turn of the event loop; timers are gone at once.
      await poll('sockets closed', async () => (handles()['UDPWrap'] === handlesBefore['UDPWrap'] && handles()['TCPSocketWrap'] === handlesBefore['TCPSocketWrap'] ? true : undefined), 2000, 5);
      assert.deepEqual(handles(), handlesBefore);
    } finally {
      await dns.stop();
      dir.remove();
    }
  });
});

/** Counts of the handle kinds a watch creates (timers, UDP and TCP sockets). */
function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (['Timeout', 'UDPWrap', 'TCPSocketWrap', 'TCPWrap'].includes(kind)) out[kind] = (out[kind] ?? 0) + 1;
  return out;
}

/** A UDP server that reads every question and never answers. */
async function blackHole(): Promise<{ port: number; received: () => number; close: () => void }> {
  const socket: Socket = createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, received: () => count, close: () => socket.close() };
}
