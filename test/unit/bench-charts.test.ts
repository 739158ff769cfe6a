// bench/charts.ts: what a bench's figures turn into (the SVG bench/README.md shows).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cdfPoints, readChart, renderSvg } from '../../bench/charts.ts';

describe('bench charts', () => {
  it('cdfPoints: sorted, thinned to the limit, the maximum always last at fraction 1', () => {
    assert.deepEqual(cdfPoints([3, 1, 2]), [
      { value: 1, fraction: 1 / 3 },
      { value: 2, fraction: 2 / 3 },
      { value: 3, fraction: 1 },
    ]);
    const many = Array.from({ length: 10_001 }, (_, i) => 10_000 - i);
    const points = cdfPoints(many, 100);
    assert.ok(points.length <= 102, `${points.length} points`);
    assert.deepEqual(points.at(-1), { value: 10_000, fraction: 1 });
    assert.ok(points.every((p, i) => i === 0 || (p.value >= points[i - 1]!.value && p.fraction > points[i - 1]!.fraction)));
    assert.deepEqual(cdfPoints([]), []);
  });

  it('renders bars and CDFs to SVG naming the title and every series', async () => {
    const bars = await renderSvg({ kind: 'bars', title: 'RSS after sync', unit: 'MiB', groups: ['1k', '10k'], series: [{ label: 'dubbo-dns', values: [120, 300] }, { label: 'CoreDNS', values: [70, 260] }] });
    const cdf = await renderSvg({ kind: 'cdf', title: 'write to answer', unit: 'ms', series: [{ label: 'dubbo-dns', values: [1, 2, 3, 40] }, { label: 'CoreDNS', values: [2, 2, 5, 9] }] });
    for (const [svg, title] of [[bars, 'RSS after sync'], [cdf, 'write to answer']] as const) {
      assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.ok(svg.includes(title), title);
      assert.ok(svg.includes('dubbo-dns') && svg.includes('CoreDNS'), `${title}: the legend names both series`);
    }
    assert.ok(bars.includes('MiB') && cdf.includes('ms (log scale)'), 'axis titles carry the unit');
  });

  it('readChart refuses a file that is not a chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'charts-'));
    try {
      writeFileSync(join(dir, 'x.chart.json'), '{"kind":"pie","series":[]}');
      assert.throws(() => readChart(join(dir, 'x.chart.json')), /not a chart/);
      const good = JSON.parse(readFileSync(new URL('../../bench/results/churn.chart.json', import.meta.url), 'utf8')) as { kind: string };
      assert.equal(good.kind, 'bars');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
