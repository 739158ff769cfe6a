import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { cli, DEMO_REGISTRY, tempDir, writeFile } from '../wire/helpers.ts';

// `dubbo-dns lookup` against a running server: provider URLs rebuilt from SRV + TXT match what the
// registry declares (the token never comes back); exit 3 for an unknown key, 2 for no ready endpoint.

const WIDE = Array.from({ length: 60 }, (_, i) => `      - { address: 10.4.0.${i + 1}, weight: ${i + 1} }`).join('\n');
// The demo registry plus a 60-endpoint service whose SRV answer is truncated over UDP.
const REGISTRY = DEMO_REGISTRY.replace(
  'providers:\n',
  `  - interface: org.example.WideService
    port: 20880
    metadata: { application: wide }
    endpoints:
${WIDE}
providers:
`,
);

let server: ServerProcess;
const dir = tempDir('cli-lookup');
before(async () => {
  server = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', REGISTRY)], { http: false });
});
after(async () => {
  await server?.stop();
  dir.remove();
});

const lookup = (args: string[]) => cli(['lookup', ...args, '--namespace', 'shop', '--server', `127.0.0.1:${server.dnsPort}`, '--timeout', '2000'], { timeoutMs: 20_000 });

interface Provider {
  protocol: string;
  host: string;
  port: number;
  iface: string;
  params: Record<string, string>;
}

function parse(url: string): Provider {
  const u = new URL(url);
  return {
    protocol: u.protocol.replace(/:$/, ''),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port),
    iface: u.pathname.replace(/^\//, ''),
    params: Object.fromEntries(u.searchParams),
  };
}

test('DemoService: one URL per ready endpoint, with what the registry declares', async () => {
  const r = await lookup(['org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0']);
  assert.equal(r.code, 0, r.stderr);
  const providers = r.stdout.trim().split('\n').map(parse);
  const byHost = new Map(providers.map((p) => [p.host, p]));
  assert.deepEqual([...byHost.keys()].sort(), ['10.0.0.11', '10.0.0.12', 'fd00::13']);
  for (const [host, weight] of [
    ['10.0.0.11', '100'],
    ['10.0.0.12', '200'],
    ['fd00::13', '50'],
  ] as const) {
    const p = byHost.get(host)!;
    assert.equal(p.protocol, 'tri');
    assert.equal(p.port, 50051);
    assert.equal(p.iface, 'org.apache.dubbo.demo.DemoService');
    assert.equal(p.params['interface'], 'org.apache.dubbo.demo.DemoService');
    assert.equal(p.params['group'], 'gray');
    assert.equal(p.params['version'], '1.0.0');
    assert.equal(p.params['application'], 'demo-provider');
    assert.equal(p.params['serialization'], 'hessian2');
    assert.equal(p.params['timeout'], '3000');
    assert.equal(p.params['release'], '3.3.0');
    assert.equal(p.params['weight'], weight, host);
  }
  assert.ok(r.stdout.includes('tri://[fd00::13]:50051/'), 'IPv6 in brackets');
});

test('OrderService from provider URLs: bare name and --protocol tri; the token is never published', async () => {
  const bareName = await lookup(['org.apache.dubbo.demo.OrderService']);
  assert.equal(bareName.code, 0, bareName.stderr);
  const [dubbo, ...rest] = bareName.stdout.trim().split('\n').map(parse);
  assert.equal(rest.length, 0);
  assert.deepEqual(dubbo, {
    protocol: 'dubbo',
    host: '10.0.2.7',
    port: 20880,
    iface: 'org.apache.dubbo.demo.OrderService',
    params: { application: 'order', interface: 'org.apache.dubbo.demo.OrderService', serialization: 'hessian2', weight: '100' },
  });
  const tri = await lookup(['org.apache.dubbo.demo.OrderService', '--protocol', 'tri']);
  assert.equal(tri.code, 0, tri.stderr);
  const providers = tri.stdout.trim().split('\n').map(parse);
  assert.equal(providers.length, 1);
  assert.equal(providers[0]!.protocol, 'tri');
  assert.equal(providers[0]!.host, '10.0.2.8');
  assert.equal(providers[0]!.port, 50052);
  for (const out of [bareName.stdout, tri.stdout]) {
    assert.doesNotMatch(out, /token|s3cr3t/);
  }
});

test('GreetingService: per-endpoint ports, address-named endpoint', async () => {
  const r = await lookup(['org.apache.dubbo.demo.GreetingService', '--version', '2.0.0']);
  assert.equal(r.code, 0, r.stderr);
  const providers = r.stdout.trim().split('\n').map(parse).sort((a, b) => a.port - b.port);
  assert.deepEqual(
    providers.map((p) => `${p.protocol}://${p.host}:${p.port} ${p.params['application']} ${p.params['serialization']} ${p.params['version']} ${p.params['weight']}`),
    ['dubbo://10.0.1.5:20880 greeting fastjson2 2.0.0 100', 'dubbo://10.0.1.6:20881 greeting fastjson2 2.0.0 100'],
  );
});

test('a service too big for UDP: all 60 providers (the client retries over TCP)', async () => {
  const r = await lookup(['org.example.WideService']);
  assert.equal(r.code, 0, r.stderr);
  const providers = r.stdout.trim().split('\n').map(parse);
  assert.equal(providers.length, 60);
  assert.deepEqual(providers.map((p) => p.host).sort(), Array.from({ length: 60 }, (_, i) => `10.4.0.${i + 1}`).sort());
  for (const p of providers) assert.equal(p.params['weight'], String(Number(p.host.split('.')[3])));
});

test('exit 3 for an unknown key (NXDOMAIN), 2 for a key with no ready endpoint', async () => {
  const unknown = await lookup(['org.example.NoSuchService']);
  assert.equal(unknown.code, 3, unknown.stderr);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /NXDOMAIN|no such service/i);
  const idle = await lookup(['org.apache.dubbo.demo.IdleService']);
  assert.equal(idle.code, 2, idle.stderr);
  assert.equal(idle.stdout, '');
  assert.match(idle.stderr, /no ready provider/i);
  // A wrong version is another key: unknown.
  const wrongVersion = await lookup(['org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '9.9.9']);
  assert.equal(wrongVersion.code, 3, wrongVersion.stderr);
});

test('no server listening: exits non-zero with a message within the timeout', async () => {
  const started = Date.now();
  const r = await cli(['lookup', 'org.example.A', '--server', '127.0.0.1:9', '--timeout', '300'], { timeoutMs: 10_000 });
  assert.notEqual(r.code, 0);
  assert.notEqual(r.code, null);
  assert.ok(r.stderr.length > 0);
  assert.ok(Date.now() - started < 5000);
});
