import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startServer } from '../support/server.ts';
import { ask, cli, DEMO_REGISTRY, lines, names, tempDir, writeFile } from '../wire/helpers.ts';

// DESIGN §9: help, flag validation, a registry file rejected at start with every problem named,
// and flags read from DUBBO_DNS_* environment variables.

const dir = tempDir('cli-flags');
after(() => dir.remove());
const good = writeFile(dir.dir, 'registry.yaml', DEMO_REGISTRY);

describe('help', () => {
  const cases: Record<string, { args: string[]; flags: string[] }> = {
    'dubbo-dns --help': { args: ['--help'], flags: ['serve', 'name', 'lookup', '--help'] },
    'serve --help': { args: ['serve', '--help'], flags: ['--registry', '--zone', '--listen', '--http-listen', '--ttl', '--max-udp-size', 'DUBBO_DNS_ZONE'] },
    'name --help': { args: ['name', '--help'], flags: ['<interface>', '--group', '--version', '--namespace', '--zone', '--protocol', '--json'] },
    'lookup --help': { args: ['lookup', '--help'], flags: ['<interface>', '--group', '--version', '--namespace', '--zone', '--server'] },
  };
  for (const [what, { args, flags }] of Object.entries(cases)) {
    test(`${what} exits 0 and lists its flags`, async () => {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: dubbo-dns/);
      for (const f of flags) assert.ok(r.stdout.includes(f), `${what} mentions ${f}:\n${r.stdout}`);
    });
  }
});

describe('bad flags exit non-zero naming the problem', () => {
  const cases: Record<string, { args: string[]; mentions: RegExp[] }> = {
    '--listen nonsense': { args: ['serve', '--registry', good, '--listen', 'nonsense'], mentions: [/--listen/, /nonsense/, /HOST:PORT/] },
    '--listen with a port out of range': { args: ['serve', '--registry', good, '--listen', '127.0.0.1:70000'], mentions: [/--listen/, /70000/] },
    '--ttl -1': { args: ['serve', '--registry', good, '--ttl', '-1'], mentions: [/--ttl/, /-1/] },
    '--ttl abc': { args: ['serve', '--registry', good, '--ttl', 'abc'], mentions: [/--ttl/, /abc/] },
    '--max-udp-size 100': { args: ['serve', '--registry', good, '--max-udp-size', '100'], mentions: [/--max-udp-size/, /100/, /512/] },
    "--zone 'bad zone'": { args: ['serve', '--registry', good, '--zone', 'bad zone'], mentions: [/--zone/, /bad zone/] },
    'an unknown flag': { args: ['serve', '--registry', good, '--frobnicate'], mentions: [/unknown option/, /--frobnicate/] },
    'a missing --registry': { args: ['serve'], mentions: [/--registry/, /--zookeeper/] },
    'an unknown command': { args: ['frobnicate'], mentions: [/unknown command/, /frobnicate/] },
    'name without an interface': { args: ['name'], mentions: [/interface/, /missing/i] },
    'name --namespace Bad_NS': { args: ['name', 'org.example.A', '--namespace', 'Bad_NS'], mentions: [/--namespace/, /Bad_NS/] },
    'lookup --server nonsense': { args: ['lookup', 'org.example.A', '--server', 'nonsense'], mentions: [/--server/, /nonsense/] },
    'controller --namespace with an empty name': { args: ['controller', '--namespace', 'a,,b'], mentions: [/--namespace/, /empty namespace/] },
    'serve --namespace with a bad name in the list': { args: ['serve', '--kubernetes', '--namespace', 'shop,Bad_NS'], mentions: [/--namespace/, /Bad_NS/] },
    '--lameduck -1': { args: ['serve', '--registry', good, '--lameduck', '-1'], mentions: [/--lameduck/, /-1/] },
    '--zookeeper with --registry': { args: ['serve', '--registry', good, '--zookeeper', '127.0.0.1:2181'], mentions: [/exactly one of/, /--zookeeper/] },
    '--zookeeper nonsense': { args: ['serve', '--zookeeper', 'zk-0:2181,nonsense'], mentions: [/--zookeeper/, /nonsense/] },
    '--zookeeper-root relative': { args: ['serve', '--zookeeper', '127.0.0.1:2181', '--zookeeper-root', 'dubbo'], mentions: [/--zookeeper-root/, /absolute/] },
    '--zookeeper-auth-file missing': { args: ['serve', '--zookeeper', '127.0.0.1:2181', '--zookeeper-auth-file', '/nonexistent/zk-auth'], mentions: [/--zookeeper-auth-file/, /ENOENT/] },
    '--zookeeper-auth-file without --zookeeper': { args: ['serve', '--registry', good, '--zookeeper-auth-file', good], mentions: [/--zookeeper-auth-file goes with --zookeeper/] },
    'controller --zookeeper without --zookeeper-namespace': { args: ['controller', '--zookeeper', '127.0.0.1:2181'], mentions: [/--zookeeper needs --zookeeper-namespace/] },
    'controller --zookeeper-namespace outside --namespace': {
      args: ['controller', '--namespace', 'team-a', '--zookeeper', '127.0.0.1:2181', '--zookeeper-namespace', 'shop'],
      mentions: [/--zookeeper-namespace shop is not among the watched --namespace team-a/],
    },
    'controller --zookeeper-namespace without --zookeeper': { args: ['controller', '--zookeeper-namespace', 'shop'], mentions: [/go with --zookeeper/] },
    'controller --zookeeper nonsense': { args: ['controller', '--zookeeper', 'nonsense', '--zookeeper-namespace', 'shop'], mentions: [/--zookeeper/, /nonsense/] },
    'controller --zookeeper-auth-file missing': { args: ['controller', '--zookeeper', '127.0.0.1:2181', '--zookeeper-namespace', 'shop', '--zookeeper-auth-file', '/nonexistent/zk-auth'], mentions: [/--zookeeper-auth-file/, /ENOENT/] },
  };
  for (const [what, { args, mentions }] of Object.entries(cases)) {
    test(what, async () => {
      const r = await cli(args, { timeoutMs: 10_000 });
      assert.notEqual(r.code, 0, `exit code for ${what}`);
      assert.notEqual(r.code, null, 'exited by itself (no hang, no signal)');
      assert.equal(r.stdout, '', 'nothing on stdout');
      for (const m of mentions) assert.match(r.stderr, m);
    });
  }
});

describe('a registry file that cannot be used at start', () => {
  test('exits 1 and names file:line and field for every problem', async () => {
    const file = writeFile(
      dir.dir,
      'three-problems.yaml',
      [
        'namespace: Shop_NS', // 1: not a DNS label
        'services:',
        '  - interface: org.example.A',
        '    port: 20880',
        '    protocol: "bad proto"', // 5: not a protocol name
        '    endpoints:',
        '      - { address: 10.0.0.1 }',
        '      - { address: 10.0.0.2, weight: -5 }', // 8: weight out of range
        '',
      ].join('\n'),
    );
    const r = await cli(['serve', '--registry', file, '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /3 problems/);
    const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(r.stderr, new RegExp(`${esc}:1:\\d+: namespace: `));
    assert.match(r.stderr, new RegExp(`${esc}:5:\\d+: services\\[0\\]\\.protocol: `));
    assert.match(r.stderr, new RegExp(`${esc}:8:\\d+: services\\[0\\]\\.endpoints\\[1\\]\\.weight: `));
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace');
  });

  test('a YAML syntax error exits 1 naming its line', async () => {
    const file = writeFile(dir.dir, 'syntax.yaml', 'namespace: shop\nservices:\n  - interface: [unclosed\n');
    const r = await cli(['serve', '--registry', file, '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    assert.equal(r.code, 1, r.stderr);
    const esc = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(r.stderr, new RegExp(`${esc}:\\d+:\\d+: `));
  });

  test('a missing file exits 1 naming it', async () => {
    const file = `${dir.dir}/does-not-exist.yaml`;
    const r = await cli(['serve', '--registry', file, '--listen', '127.0.0.1:0'], { timeoutMs: 10_000 });
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(file), r.stderr);
  });
});

describe('environment variables', () => {
  test('DUBBO_DNS_ZONE, DUBBO_DNS_TTL and DUBBO_DNS_REGISTRY configure serve; a flag beats its variable', async (t) => {
    const saved = { ...process.env };
    t.after(() => {
      for (const k of ['DUBBO_DNS_ZONE', 'DUBBO_DNS_TTL', 'DUBBO_DNS_REGISTRY']) delete process.env[k];
      Object.assign(process.env, saved);
    });
    process.env['DUBBO_DNS_ZONE'] = 'example.test.';
    process.env['DUBBO_DNS_TTL'] = '77';
    process.env['DUBBO_DNS_REGISTRY'] = good;
    const server = await startServer([], { http: false });
    t.after(() => server.stop());
    const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', 'example.test.');
    const soa = await ask(server.dnsPort, 'example.test.', 'SOA', 'udp');
    assert.equal(soa.msg.rcode, 'NOERROR');
    assert.equal(soa.msg.answers?.[0]?.type, 'SOA');
    const a = await ask(server.dnsPort, demo.service, 'A', 'udp');
    assert.deepEqual(lines(a.msg.answers), [`${demo.service.slice(0, -1)} 77 A 10.0.0.11`, `${demo.service.slice(0, -1)} 77 A 10.0.0.12`]);
    const old = await ask(server.dnsPort, 'dubbo.internal.', 'SOA', 'udp');
    assert.equal(old.msg.rcode, 'REFUSED');

    const flagged = await startServer(['--ttl', '9'], { http: false });
    t.after(() => flagged.stop());
    const b = await ask(flagged.dnsPort, demo.service, 'A', 'udp');
    assert.equal(b.msg.answers?.[0]?.type === 'A' ? b.msg.answers[0].ttl : undefined, 9);
  });

  test('an invalid value in a variable is rejected like the flag', async () => {
    const r = await cli(['serve', '--registry', good], { env: { ...process.env, DUBBO_DNS_LISTEN: 'nonsense' }, timeoutMs: 10_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nonsense/);
  });
});
