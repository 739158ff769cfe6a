import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, names } from '../wire/helpers.ts';

// `dubbo-dns name`: the DESIGN §5 names of a key, as text and as JSON (DESIGN §4 worked example).

test('the worked example as text', async () => {
  const r = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--namespace', 'shop']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const rows = Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => {
        const [k, v] = l.split(/\s+/);
        return [k, v];
      }),
  );
  assert.deepEqual(rows, {
    key: 'gray/org.apache.dubbo.demo.DemoService:1.0.0',
    label: 'demoservice-gray-v1-0-0-gvbnf6n34g',
    hash: 'gvbnf6n34g',
    service: 'demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.',
    srv: '_dubbo._tcp.demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.',
    instance: 'demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal.',
    browse: '_dubbo._tcp.shop.dubbo.internal.',
  });
});

test('--json with --zone and --protocol', async () => {
  const r = await cli(['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--zone', 'Example.Test', '--protocol', 'tri', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    key: 'gray/org.apache.dubbo.demo.DemoService:1.0.0',
    label: 'demoservice-gray-v1-0-0-gvbnf6n34g',
    hash: 'gvbnf6n34g',
    service: 'demoservice-gray-v1-0-0-gvbnf6n34g.default.example.test.',
    srv: '_tri._tcp.demoservice-gray-v1-0-0-gvbnf6n34g.default.example.test.',
    instance: 'demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.default.example.test.',
    browse: '_dubbo._tcp.default.example.test.',
  });
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
