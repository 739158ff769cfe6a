import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, names } from '../wire/helpers.ts';

// `dubbo-dns name`: the DESIGN §5 names of a key, as text and as JSON (DESIGN §4 worked example);
// without --protocol, the SRV name of every protocol dubbo-dns knows (dubbo, tri, grpc, rest).

const WORKED = 'demoservice-gray-v1-0-0-gvbnf6n34g';

test('the worked example as text: the bare name and the SRV name of each known protocol', async () => {
  const r = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--namespace', 'shop']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const rows = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/));
  assert.deepEqual(rows, [
    ['key', 'gray/org.apache.dubbo.demo.DemoService:1.0.0'],
    ['label', WORKED],
    ['hash', 'gvbnf6n34g'],
    ['service', `${WORKED}.shop.dubbo.internal.`],
    ['srv', `_dubbo._tcp.${WORKED}.shop.dubbo.internal.`],
    ['srv', `_tri._tcp.${WORKED}.shop.dubbo.internal.`],
    ['srv', `_grpc._tcp.${WORKED}.shop.dubbo.internal.`],
    ['srv', `_rest._tcp.${WORKED}.shop.dubbo.internal.`],
    ['instance', `${WORKED}._dubbo._tcp.shop.dubbo.internal.`],
    ['browse', '_dubbo._tcp.shop.dubbo.internal.'],
  ]);
});

test('--protocol P: only _P._tcp, in text and in JSON (with --zone)', async () => {
  const text = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--protocol', 'tri']);
  assert.equal(text.code, 0, text.stderr);
  assert.deepEqual(
    text.stdout.split('\n').filter((l) => l.startsWith('srv ')),
    [`srv      _tri._tcp.${WORKED}.default.dubbo.internal.`],
  );
  const r = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--zone', 'Example.Test', '--protocol', 'tri', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    key: 'gray/org.apache.dubbo.demo.DemoService:1.0.0',
    label: WORKED,
    hash: 'gvbnf6n34g',
    service: `${WORKED}.default.example.test.`,
    srv: { tri: `_tri._tcp.${WORKED}.default.example.test.` },
    instance: `${WORKED}._dubbo._tcp.default.example.test.`,
    browse: '_dubbo._tcp.default.example.test.',
  });
});

test('--json without --protocol maps every known protocol to its SRV name; a bad protocol is refused', async () => {
  const r = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--namespace', 'shop', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const srv = (JSON.parse(r.stdout) as { srv: Record<string, string> }).srv;
  assert.deepEqual(Object.keys(srv), ['dubbo', 'tri', 'grpc', 'rest']);
  for (const [p, name] of Object.entries(srv)) assert.equal(name, names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', 'dubbo.internal.', p).protocolSrv);
  const bad = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--protocol', '_tri']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--protocol/);
});

test('keys without group or version agree with the naming code; DUBBO_DNS_NAMESPACE applies', async () => {
  for (const [iface, group, version] of [
    ['org.apache.dubbo.demo.OrderService', undefined, undefined],
    ['org.apache.dubbo.demo.GreetingService', undefined, '2.0.0'],
    ['com.example.Billing$Inner', 'A Very Long Group Name Indeed', '2024.01.15-SNAPSHOT'],
  ] as const) {
    const args = ['name', iface, '--json', ...(group === undefined ? [] : ['--group', group]), ...(version === undefined ? [] : ['--version', version])];
    const r = await cli(args, { env: { ...process.env, DUBBO_DNS_NAMESPACE: 'payments' } });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    const expected = names(iface, group, version, 'payments', 'dubbo.internal.');
    assert.equal(out['service'], expected.service);
    assert.equal(out['instance'], expected.instance);
    assert.equal(out['label'], expected.label);
    assert.ok(out['label']!.length <= 63 && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(out['label']!), out['label']);
  }
});
