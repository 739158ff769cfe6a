import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { pick } from '../../src/client/index.ts';
import { parseServer } from '../../src/client/servers.ts';

// pick(): RFC 2782's weighted choice, checked exactly with an injected random number: the unit
// interval is cut into one slice per item, as wide as its weight; weight-0 items get no slice unless
// every weight is 0, and then all get equal slices.

const weights = fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 1, maxLength: 20 });

test('each item owns a slice of [0, 1) as wide as its share of the total weight', () => {
  fc.assert(
    fc.property(weights, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (ws, r) => {
      const items = ws.map((weight, index) => ({ weight, index }));
      const total = ws.reduce((a, b) => a + b, 0);
      const chosen = pick(items, () => r);
      assert.ok(chosen !== undefined);
      if (total === 0) {
        assert.equal(chosen.index, Math.floor(r * ws.length));
        return;
      }
      assert.ok(chosen.weight > 0, 'a weight-0 item is never chosen while another has weight');
      const start = ws.slice(0, chosen.index).reduce((a, b) => a + b, 0) / total;
      const end = start + chosen.weight / total;
      // The slice holds r, up to the rounding of the running sum.
      assert.ok(r >= start - 1e-9 && r < end + 1e-9, `r=${r} outside [${start}, ${end}) for weights ${ws.join(',')}`);
    }),
    { seed: 2782, numRuns: 2000 },
  );
});

test('every item with weight can be chosen: the midpoint of its slice picks it', () => {
  fc.assert(
    fc.property(weights, (ws) => {
      const items = ws.map((weight, index) => ({ weight, index }));
      const total = ws.reduce((a, b) => a + b, 0);
      let start = 0;
      for (const item of items) {
        const share = total === 0 ? 1 / ws.length : item.weight / total;
        if (share > 0) assert.equal(pick(items, () => start + share / 2)?.index, item.index);
        start += share;
      }
    }),
    { seed: 2782, numRuns: 500 },
  );
});

test('the ends of the range and an empty list', () => {
  const items = [{ weight: 1 }, { weight: 0 }, { weight: 3 }];
  assert.equal(pick(items, () => 0), items[0]);
  assert.equal(pick(items, () => 0.9999999999999999), items[2]);
  assert.equal(pick(items, () => 1), items[2], 'a random() that returns 1 is clamped');
  assert.equal(pick([], () => 0.5), undefined);
});

test('server strings in the forms dns.getServers() uses', () => {
  for (const [text, want] of [
    ['10.0.0.1', { host: '10.0.0.1', port: 53 }],
    ['10.0.0.1:5353', { host: '10.0.0.1', port: 5353 }],
    ['::1', { host: '::1', port: 53 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['[fd00::1]', { host: 'fd00::1', port: 53 }],
  ] as const) {
    assert.deepEqual(parseServer(text), want, text);
  }
  for (const bad of ['dns.example', '10.0.0.1:0', '10.0.0.1:70000', '[10.0.0.1', '']) assert.throws(() => parseServer(bad), TypeError, bad);
});
