import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControllerMetrics } from '../../src/observability/controller-metrics.ts';
import { ROOT } from '../support/server.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { cli, DEMO_REGISTRY, tempDir, writeFile } from '../wire/helpers.ts';

// The reference pages against the product itself: every flag and environment variable that
// `--help` lists is in docs/cli.md under its command, every metric a running server and the
// controller export is in docs/metrics.md, and every folder of src/ is in docs/layout.md. A flag,
// metric or folder added without its documentation fails here.

const doc = (name: string): string => readFileSync(join(ROOT, 'docs', name), 'utf8');

/** The part of a page under `## heading`, up to the next `## `. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  assert.notEqual(start, -1, `no "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

describe('docs/cli.md lists every flag and variable of every command', () => {
  const page = doc('cli.md');
  for (const command of ['serve', 'controller', 'name', 'lookup']) {
    it(command, async () => {
      const help = await cli([command, '--help']);
      assert.equal(help.code, 0, help.stderr);
      const flags = [...help.stdout.matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((f) => f !== '--help');
      const variables = [...help.stdout.replace(/\s+/g, ' ').matchAll(/env: (DUBBO_DNS_[A-Z_]+)/g)].map((m) => m[1]!);
      assert.ok(flags.length >= 5 && variables.length >= 5, help.stdout);
      const part = section(page, command);
      const missing = [...flags.filter((f) => !part.includes(`\`${f}`)), ...variables.filter((v) => !part.includes(`\`${v}\``))];
      assert.deepEqual(missing, [], `not documented under "## ${command}" in docs/cli.md`);
    });
  }
});

describe('docs/metrics.md lists every metric exported', () => {
  const page = doc('metrics.md');
  /** prom-client's default process and Node.js metrics are documented as a family, with or without a prefix. */
  const isDefault = (name: string): boolean => /^(dubbo_dns_(controller_)?)?(process|nodejs)_/.test(name);
  const undocumented = (names: Iterable<string>): string[] => [...new Set(names)].filter((n) => !isDefault(n) && !page.includes(`\`${n}\``)).sort();

  let server: ServerProcess | undefined;
  const dir = tempDir('docs-metrics');
  before(async () => {
    server = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', DEMO_REGISTRY)]);
  });
  after(async () => {
    await server?.stop();
    dir.remove();
  });

  it('the default families are described', () => {
    assert.ok(page.includes('`process_*`') && page.includes('`nodejs_*`'));
  });

  it('serve', async () => {
    const res = await fetch(`http://127.0.0.1:${server!.httpPort}/metrics`);
    assert.equal(res.status, 200);
    const names = [...(await res.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    assert.ok(names.some((n) => n === 'dubbo_dns_queries_total'), names.join(' '));
    assert.deepEqual(undocumented(names), []);
  });

  it('controller', async () => {
    const metrics = new ControllerMetrics(
      () => 0,
      () => ({ services: 0, slices: 0 }),
    );
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.includes('dubbo_dns_controller_reconciles_total'), names.join(' '));
    assert.deepEqual(undocumented(names), []);
  });
});

describe('docs/layout.md names every folder of src/', () => {
  it('src/**/', () => {
    const page = doc('layout.md');
    const folders = readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${join(e.parentPath, e.name).slice(ROOT.length)}/`);
    assert.ok(folders.length >= 8, folders.join(' '));
    assert.deepEqual(folders.filter((f) => !page.includes(`(../${f})`)), []);
  });
});
