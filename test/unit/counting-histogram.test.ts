import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { CountingHistogram } from '../../src/observability/counting-histogram.ts';

// The per-query histograms must read exactly as prom-client's own would, in the text a scraper
// reads and in the sum over `--workers` processes.

const BUCKETS = [0.00025, 0.0005, 0.001, 0.1, 1];
const observations = fc.array(fc.tuple(fc.constantFrom('udp', 'tcp'), fc.oneof(fc.constantFrom(0, 0.00025, 0.001, 1, 5), fc.double({ min: 0, max: 3, noNaN: true }))), { maxLength: 40 });

function both(): { ours: CountingHistogram; theirs: Histogram<'transport'>; a: Registry; b: Registry } {
  const a = new Registry();
  const b = new Registry();
  const theirs = new Histogram({ name: 'x_seconds', help: 'h', labelNames: ['transport'] as const, buckets: BUCKETS, registers: [a] });
  const ours = new CountingHistogram({ name: 'x_seconds', help: 'h', buckets: BUCKETS, registers: [b] });
  return { ours, theirs, a, b };
}

describe('CountingHistogram', () => {
  it('exposes the same text as prom-client Histogram for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(observations, async (obs) => {
        const { ours, theirs, a, b } = both();
        for (const [transport, v] of obs) {
          theirs.labels({ transport }).observe(v);
          ours.labels({ transport })(v);
        }
        assert.equal(await b.metrics(), await a.metrics());
      }),
      { numRuns: 300 },
    );
  });

  it('sums over processes as prom-client does', async () => {
    await fc.assert(
      fc.asyncProperty(observations, observations, async (one, two) => {
        const x = both();
        const y = both();
        for (const [[transport, v], h] of [...one.map((o) => [o, x] as const), ...two.map((o) => [o, y] as const)]) {
          h.theirs.labels({ transport }).observe(v);
          h.ours.labels({ transport })(v);
        }
        const theirs = AggregatorRegistry.aggregate([await x.a.getMetricsAsJSON(), await y.a.getMetricsAsJSON()]);
        const ours = AggregatorRegistry.aggregate([await x.b.getMetricsAsJSON(), await y.b.getMetricsAsJSON()]);
        assert.equal(await ours.metrics(), await theirs.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('one series per label set, however often it is looked up', async () => {
    const { ours, b } = both();
    ours.labels({ transport: 'udp' })(0.5);
    ours.labels({ transport: 'udp' })(0.5);
    assert.match(await b.metrics(), /x_seconds_count\{transport="udp"\} 2\n/);
  });
});
