// Renders the figures the benches leave in bench/results/*.chart.json as SVG charts in
// bench/charts/, for bench/README.md: latency distributions as CDF lines, everything else as
// grouped bars. Vega-Lite draws them (headless, no canvas); this file only says what to draw.
//
//   node bench/charts.ts [--results DIR] [--out DIR]      (npm run bench:charts)
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { BarsChart, CdfChart } from './lib.ts';

type Chart = BarsChart | CdfChart;
type Spec = Record<string, unknown>;

/** Most points a CDF line keeps per series: enough for a smooth curve, small enough for a README. */
const CDF_POINTS = 400;

/** The cumulative distribution of `values`: sorted, thinned to at most `points` steps, tail kept. */
export function cdfPoints(values: readonly number[], points = CDF_POINTS): { value: number; fraction: number }[] {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.floor(n / points));
  const out: { value: number; fraction: number }[] = [];
  for (let i = step - 1; i < n; i += step) out.push({ value: sorted[i]!, fraction: (i + 1) / n });
  if (out.at(-1)?.fraction !== 1) out.push({ value: sorted[n - 1]!, fraction: 1 });
  return out;
}

/** The Vega-Lite specification of one chart. */
export function chartSpec(chart: Chart): Spec {
  const common = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: chart.title, fontSize: 13 },
    background: 'white',
    config: { font: 'sans-serif', legend: { orient: 'bottom', labelLimit: 400 } },
  };
  if (chart.kind === 'cdf') {
    const values = chart.series.flatMap((s) => cdfPoints(s.values).map((p) => ({ series: s.label, ...p })));
    const positive = values.every((v) => v.value > 0);
    return {
      ...common,
      width: 560,
      height: 300,
      data: { values },
      mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
      encoding: {
        // Latencies span orders of magnitude; a log axis shows both the median and the tail.
        x: { field: 'value', type: 'quantitative', title: `${chart.unit} (log scale)`, scale: { type: positive ? 'log' : 'linear' } },
        y: { field: 'fraction', type: 'quantitative', title: 'fraction of changes', axis: { format: '%' } },
        color: { field: 'series', type: 'nominal', title: null, sort: chart.series.map((s) => s.label) },
      },
    };
  }
  const values = chart.series.flatMap((s) => chart.groups.map((group, i) => ({ group, series: s.label, value: s.values[i] ?? null })));
  return {
    ...common,
    width: { step: Math.max(24, Math.floor(360 / Math.max(1, chart.series.length * chart.groups.length))) * chart.series.length },
    height: 260,
    data: { values: values.filter((v) => v.value !== null) },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'group', type: 'nominal', title: null, sort: chart.groups, axis: { labelAngle: 0 } },
      xOffset: { field: 'series', type: 'nominal', sort: chart.series.map((s) => s.label) },
      y: { field: 'value', type: 'quantitative', title: chart.unit },
      color: { field: 'series', type: 'nominal', title: null, sort: chart.series.map((s) => s.label) },
      tooltip: [{ field: 'series' }, { field: 'value' }],
    },
  };
}

/** Renders one chart to an SVG document. */
export async function renderSvg(chart: Chart): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(chartSpec(chart) as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Reads a .chart.json file, refusing anything that is not a chart. */
export function readChart(path: string): Chart {
  const chart = JSON.parse(readFileSync(path, 'utf8')) as Chart;
  if ((chart.kind !== 'bars' && chart.kind !== 'cdf') || !Array.isArray(chart.series)) throw new Error(`${path}: not a chart (kind bars or cdf, with series)`);
  return chart;
}

async function main(): Promise<void> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const { values } = parseArgs({ options: { results: { type: 'string', default: join(here, 'results') }, out: { type: 'string', default: join(here, 'charts') } } });
  const files = readdirSync(values.results).filter((f) => f.endsWith('.chart.json')).sort();
  if (files.length === 0) throw new Error(`no .chart.json files in ${values.results}: run a bench first`);
  mkdirSync(values.out, { recursive: true });
  for (const file of files) {
    const out = join(values.out, `${basename(file, '.chart.json')}.svg`);
    writeFileSync(out, await renderSvg(readChart(join(values.results, file))));
    process.stdout.write(`${out}\n`);
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench/charts.ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
