import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildGraph, cycles, PAGE, render } from '../../scripts/import-graph.ts';

// The folders of src/ import one way only, and docs/import-graph.md shows the graph as it is.

describe('import graph', () => {
  const graph = buildGraph();

  it('no folder under src/ imports from a folder that imports it back', () => {
    assert.deepEqual(cycles(graph), []);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([
      ['src/a', new Set(['src/b'])],
      ['src/b', new Set(['src/c'])],
      ['src/c', new Set(['src/a'])],
      ['src/d', new Set(['src/a'])],
    ]);
    assert.deepEqual(cycles(g), [['src/a', 'src/b', 'src/c']]);
  });

  it('docs/import-graph.md is up to date (npm run import-graph)', () => {
    assert.equal(readFileSync(PAGE, 'utf8'), render(graph));
  });
});
