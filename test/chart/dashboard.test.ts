// The Grafana dashboard of the chart names only metrics dubbo-dns really exports: every metric in
// every query is looked up in the live /metrics of a running `serve` and a running `controller`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import { adminClient, installCrd, killAllCli, ROOT, startCli, type CliController } from '../controller/helpers.ts';
import { httpGet, query } from '../e2e/helpers.ts';
import { startServer, type ServerProcess } from '../support/server.ts';
import { CHART } from './helpers.ts';

/** PromQL words that are not metric names (functions are recognised by their parenthesis). */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/** The metric names a PromQL expression (or a Grafana `label_values(...)` query) reads. */
function metricNames(expr: string): string[] {
  const stripped = expr
    // label_values(metric, label) reads `metric`; label_values(label) reads none.
    .replace(/label_values\(\s*([^,()]*?)\s*(,[^()]*)?\)/g, (_m, first: string, rest: string | undefined) => (rest === undefined ? '' : first))
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(m[1]!.toLowerCase())) names.add(m[1]!);
  }
  return [...names];
}

/** Every query text of a dashboard: panel targets (rows included) and templating queries. */
function dashboardQueries(dashboard: unknown): string[] {
  const out: string[] = [];
  const visit = (node: unknown, key?: string): void => {
    if (typeof node === 'string') {
      if (key === 'expr' || key === 'query' || key === 'definition') out.push(node);
    } else if (Array.isArray(node)) node.forEach((x) => visit(x));
    else if (node !== null && typeof node === 'object') for (const [k, v] of Object.entries(node)) visit(v, k);
  };
  const d = dashboard as { panels: unknown; templating: { list: { type: string; query?: unknown; definition?: unknown }[] } };
  visit(d.panels);
  for (const t of d.templating.list) if (t.type === 'query') visit(t);
  return out;
}

/** Metric families of a Prometheus text exposition: name -> type. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** Whether a series name is exported: a family itself, or a histogram's/summary's own series. */
function exported(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (m === null) return false;
  const type = types.get(m[1]!);
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket');
}

let cp: ControlPlane;
let server: ServerProcess;
let controller: CliController;

before(async () => {
  cp = await startControlPlane();
  await installCrd(adminClient(cp));
  server = await startServer(['--registry', join(ROOT, 'examples', 'registry.yaml')]);
  controller = await startCli(cp.kubeconfigPath, []);
});
after(async () => {
  await server?.stop();
  await killAllCli();
  await cp?.stop();
});

describe('Grafana dashboard', { timeout: 60_000 }, () => {
  it('metricNames finds the metrics of a query and nothing else', () => {
    assert.deepEqual(
      metricNames('histogram_quantile(0.99, sum by (le, transport) (rate(a_seconds_bucket{namespace=~"$namespace",x="b c"}[$__rate_interval]))) / on(pod) group_left b_total offset 5m'),
      ['a_seconds_bucket', 'b_total'],
    );
    assert.deepEqual(metricNames('label_values(dubbo_dns_build_info, namespace)'), ['dubbo_dns_build_info']);
    assert.deepEqual(metricNames('label_values(namespace)'), []);
    assert.deepEqual(metricNames('max(x) and bool y > 1e3'), ['x', 'y']);
  });

  it('every metric in every query is exported by `serve` or `controller` (live /metrics)', async () => {
    // One query so the labelled query series exist too (their families are there regardless).
    await query(server.dnsPort, 'dubbo.internal', 'SOA');
    const texts = await Promise.all([httpGet(server.httpPort!, '/metrics'), controller.get('/metrics')]);
    for (const t of texts) assert.equal(t.status, 200);
    const types = new Map([...families(texts[0]!.text), ...families(texts[1]!.text)]);

    const dashboard: unknown = JSON.parse(readFileSync(join(CHART, 'dashboards', 'dubbo-dns.json'), 'utf8'));
    const queries = dashboardQueries(dashboard);
    const named = [...new Set(queries.flatMap(metricNames))].sort();
    // The extraction saw the dashboard's panels: the histograms and the process metrics at least.
    for (const expected of ['dubbo_dns_request_duration_seconds_bucket', 'dubbo_dns_controller_queue_depth', 'process_resident_memory_bytes', 'dubbo_dns_build_info']) {
      assert.ok(named.includes(expected), `the dashboard queries ${expected}`);
    }
    assert.deepEqual(named.filter((n) => !exported(n, types)), [], 'metrics named by the dashboard that neither serve nor controller exports');
  });
});
