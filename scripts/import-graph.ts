// The import graph of src/ by folder, written to docs/import-graph.md as a Mermaid picture and a
// table. `npm run import-graph` rewrites the page; `npm run import-graph -- --check` exits 1 when
// the page is out of date or when a folder imports from a folder that imports it back (a cycle).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = join(ROOT, 'src');
/** Where the page goes. */
export const PAGE = join(ROOT, 'docs', 'import-graph.md');

/** Folder -> the folders its files import from (itself excluded). */
export type Graph = Map<string, Set<string>>;

/** The folder of a file under src/, as `src/...`. */
function folderOf(file: string): string {
  const rel = relative(ROOT, dirname(file)).split('\\').join('/');
  return rel;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every relative module specifier a file imports or re-exports (static and dynamic). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"](\.[^'"]+)['"]/g)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec !== undefined) out.push(spec);
  }
  return out;
}

/** The folder graph of src/. */
export function buildGraph(src = SRC): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(src)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to !== from && to.startsWith('src')) edges.add(to);
    }
  }
  return graph;
}

/** Cycles between folders (strongly connected components with more than one folder), each sorted. */
export function cycles(graph: Graph): string[][] {
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** The page's Markdown. */
export function render(graph: Graph): string {
  const folders = [...new Set([...graph.keys(), ...[...graph.values()].flatMap((s) => [...s])])].sort();
  const id = (f: string): string => f.replace(/[^a-z0-9]/gi, '_');
  const importedBy = (f: string): string[] => folders.filter((g) => graph.get(g)?.has(f));
  const list = (xs: Iterable<string>): string => [...xs].sort().map((x) => `\`${x}\``).join(', ') || '—';
  const found = cycles(graph);
  return [
    '# Import graph',
    '',
    'Which folder of `src/` imports from which, generated from the sources by',
    '[scripts/import-graph.ts](../scripts/import-graph.ts): `npm run import-graph` rewrites this page,',
    '`npm run import-graph -- --check` fails when it is out of date or when a folder imports from a',
    'folder that imports it back (a test runs the check). Arrows point from the importer to what it',
    'uses; `src` holds the entry points (`main.ts`, `cli.ts`, `index.ts`).',
    '',
    '```mermaid',
    'flowchart LR',
    ...folders.map((f) => `  ${id(f)}["${f}"]`),
    ...folders.flatMap((f) => [...(graph.get(f) ?? [])].sort().map((t) => `  ${id(f)} --> ${id(t)}`)),
    '```',
    '',
    '| folder | imports from | imported by |',
    '|---|---|---|',
    ...folders.map((f) => `| \`${f}\` | ${list(graph.get(f) ?? [])} | ${list(importedBy(f))} |`),
    '',
    `Cycles between folders: ${found.length === 0 ? 'none.' : found.map((c) => c.join(' ↔ ')).join('; ')}`,
    '',
  ].join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = buildGraph();
  const text = render(graph);
  const found = cycles(graph);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(PAGE, 'utf8');
    } catch {
      // missing: stale
    }
    if (current !== text) process.stderr.write(`${relative(ROOT, PAGE)} is out of date: run npm run import-graph\n`);
    for (const c of found) process.stderr.write(`folders import each other: ${c.join(' <-> ')}\n`);
    process.exitCode = current !== text || found.length > 0 ? 1 : 0;
  } else {
    writeFileSync(PAGE, text);
    process.stdout.write(`wrote ${relative(ROOT, PAGE)} (${graph.size} folders, ${found.length} cycles)\n`);
  }
}
