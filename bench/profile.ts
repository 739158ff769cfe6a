// Reads a V8 .cpuprofile (node --cpu-prof) and prints where self time went: by function and by
// file. CLI: node bench/profile.ts FILE.cpuprofile [--top 20]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ROOT, table } from './lib.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  readonly share: number;
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const rel = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  return rel.replace(/^.*node_modules\//, 'node_modules/');
}

/** Self time by function and by file, busiest first. `idle` time is left out of the shares. */
export function summarize(file: string): { functions: SelfTime[]; files: SelfTime[]; totalMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const files = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    // The inspector's own calls (when profiling one phase in process) are not the product's.
    if (url === 'node:inspector' || url === 'node:inspector/promises') continue;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const key = `${name}\u0000${where}`;
    const entry = fn.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    fn.set(key, entry);
    const f = url === '' ? name : shortUrl(url);
    files.set(f, (files.get(f) ?? 0) + us);
  }
  const functions = [...fn.values()].sort((a, b) => b.us - a.us).map((e) => ({ name: e.name, where: e.where, ms: e.us / 1000, share: e.us / total }));
  const byFile = [...files.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, where: '', ms: us / 1000, share: us / total }));
  return { functions, files: byFile, totalMs: total / 1000, idleMs: idle / 1000 };
}

export function formatSummary(file: string, top = 20): string {
  const s = summarize(file);
  const busy = s.totalMs / (s.totalMs + s.idleMs);
  return [
    `profile ${file}: ${Math.round(s.totalMs)} ms busy, ${Math.round(s.idleMs)} ms idle (${(busy * 100).toFixed(0)}% busy)`,
    table(
      ['self %', 'self ms', 'function', 'where'],
      s.functions.slice(0, top).map((f) => [(f.share * 100).toFixed(1), Math.round(f.ms).toString(), f.name, f.where]),
    ),
    '',
    table(
      ['self %', 'file (or VM category)'],
      s.files.slice(0, 12).map((f) => [(f.share * 100).toFixed(1), f.name]),
    ),
  ].join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
  for (const f of positionals) process.stdout.write(`${formatSummary(f, Number(values.top))}\n`);
}
