// The npm package as a user gets it: `npm pack` (which builds dist/ in prepack), installed from the
// tarball into an empty project on each supported Node line, then the `dubbo-dns` command run from
// there: --version, name, and serve answering a query. Nothing from the checkout is on the path.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { followJsonLogs } from '../support/json-logs.ts';
import { ROOT } from '../support/server.ts';
import { ask, names, poll, run, tempDir } from '../wire/helpers.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };
const work = tempDir('pack');
let tarball: string;
let files: string[];

before(async () => {
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work.dir], { cwd: ROOT, timeoutMs: 300_000 });
  assert.equal(packed.code, 0, packed.stderr);
  // npm prints the prepack build's output before the JSON.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work.dir, report[0]!.filename);
  files = report[0]!.files.map((f) => f.path);
});
after(() => work.remove());

test('the tarball holds the compiled code, types, docs and licence, and no tests, benches or sources', () => {
  for (const want of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/dubbo-dns.js', 'dist/src/main.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'examples/registry.yaml']) {
    assert.ok(files.includes(want), `${want} missing from the tarball`);
  }
  for (const f of files) assert.doesNotMatch(f, /^(test|bench|src|deploy|charts)\/|\.ts$(?<!\.d\.ts$)/, `${f} should not be packed`);
});

// The floor engines states, and the LTS the project runs on.
for (const nodeVersion of ['22.19.0', '24.21.0']) {
  describe(`installed from the tarball on Node ${nodeVersion}`, () => {
    let project: string;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      assert.match(pkg.engines.node, /^>=22\.19(\.0)?$/, 'engines.node changed: update the floor tested here');
      project = join(work.dir, `app-${nodeVersion}`);
      mkdirSync(project);
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      const installed = await run('npm', ['install', '--no-audit', '--no-fund', tarball, `node@${nodeVersion}`], { cwd: project, timeoutMs: 600_000 });
      assert.equal(installed.code, 0, installed.stderr);
      // As `npx dubbo-dns` would: the project's bin first, its own Node among them.
      env = { ...process.env, PATH: `${join(project, 'node_modules', '.bin')}${delimiter}${process.env['PATH'] ?? ''}` };
      const node = await run('node', ['--version'], { cwd: project, env });
      assert.equal(node.stdout.trim(), `v${nodeVersion}`);
    });

    test('dubbo-dns --version prints the package version', async () => {
      const r = await run('dubbo-dns', ['--version'], { cwd: project, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), pkg.version);
    });

    test('dubbo-dns name prints the names of a key', async () => {
      const r = await run('dubbo-dns', ['name', 'org.apache.dubbo.demo.DemoService', '--group', 'gray', '--version', '1.0.0', '--namespace', 'shop', '--json'], { cwd: project, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { label: string }).label, 'demoservice-gray-v1-0-0-gvbnf6n34g');
    });

    test('the package entry exports the naming contract, with types', async () => {
      const script = "import { serviceLabel, serviceKey, VERSION } from 'dubbo-dns'; console.log(serviceLabel(serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0')), VERSION);";
      const r = await run('node', ['--input-type=module', '-e', script], { cwd: project, env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `demoservice-gray-v1-0-0-gvbnf6n34g ${pkg.version}`);
      assert.match(readFileSync(join(project, 'node_modules', 'dubbo-dns', 'dist', 'src', 'index.d.ts'), 'utf8'), /serviceLabel/);
    });

    test('dubbo-dns/client type-checks in a consumer project (strict, library types checked)', async () => {
      writeFileSync(
        join(project, 'consumer.ts'),
        [
          "import { createResolver, pick, NoSuchServiceError, type Provider } from 'dubbo-dns/client';",
          "import { serviceLabel, serviceKey } from 'dubbo-dns';",
          "const resolver = createResolver({ server: '127.0.0.1:5353', zone: 'dubbo.internal.', namespace: 'shop' });",
          "const { providers, stale } = await resolver.resolve({ interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0' });",
          'const one: Provider | undefined = pick(providers);',
          'const label: string = serviceLabel(serviceKey(one?.url ?? "x"));',
          'export const seen: [boolean, string, boolean] = [stale, label, new NoSuchServiceError("x") instanceof Error];',
          '',
        ].join('\n'),
      );
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { target: 'es2024', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] }, files: ['consumer.ts'] }),
      );
      const tsc = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, env, timeoutMs: 120_000 });
      assert.equal(tsc.code, 0, `${tsc.stdout}${tsc.stderr}`);
    });

    test('dubbo-dns serve answers a query from the packaged example registry', async () => {
      const registry = join(project, 'node_modules', 'dubbo-dns', 'examples', 'registry.yaml');
      const child = spawn('dubbo-dns', ['serve', '--registry', registry, '--listen', '127.0.0.1:0', '--lameduck', '0'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = once(child, 'exit');
      try {
        const logs = followJsonLogs(child);
        const started = await poll('the packaged server to start', async () => {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${logs.stderr()}`);
          return logs.logs.find((l) => l['msg'] === 'dns server started');
        }, 30_000);
        const port = Number(String(started['listen']).split(':').pop());
        const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', 'dubbo.internal.');
        const reply = await ask(port, demo.service, 'SRV', 'udp');
        assert.equal(reply.msg.rcode, 'NOERROR');
        assert.ok((reply.msg.answers ?? []).some((a) => a.type === 'SRV'));
        // The packaged client library, from the consumer project, against the packaged server.
        const script = [
          "import { createResolver } from 'dubbo-dns/client';",
          `const r = createResolver({ server: '127.0.0.1:${port}', zone: 'dubbo.internal.', namespace: 'shop' });`,
          "const { providers } = await r.resolve({ interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0' });",
          'console.log(JSON.stringify(providers.map((p) => `${p.address}:${p.port}`).sort()));',
        ].join('\n');
        const resolved = await run('node', ['--input-type=module', '-e', script], { cwd: project, env });
        assert.equal(resolved.code, 0, resolved.stderr);
        const srv = (reply.msg.answers ?? []).flatMap((a) => (a.type === 'SRV' ? [a.data.port] : []));
        const ports = (JSON.parse(resolved.stdout) as string[]).map((p) => Number(p.slice(p.lastIndexOf(':') + 1)));
        assert.ok(ports.length > 0, resolved.stdout);
        assert.deepEqual([...new Set(ports)].sort(), [...new Set(srv)].sort(), 'the client reports the ports the SRV records give');
      } finally {
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0);
      }
    });
  });
}
