// The values reference of charts/dubbo-dns/README.md, generated from values.yaml: every key whose
// comment starts with `# --` (helm-docs' convention) is a row, with its default and that comment.
//
//   node scripts/chart-values-table.ts     rewrites the table between the README's markers

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, parseDocument, type Pair, type YAMLMap } from 'yaml';

/** Where the chart lives. */
export const CHART_DIR = fileURLToPath(new URL('../charts/dubbo-dns/', import.meta.url));

const START = '<!-- values:start (generated from values.yaml by scripts/chart-values-table.ts) -->';
const END = '<!-- values:end -->';

/** One documented key of values.yaml. */
export interface ValueDoc {
  readonly key: string;
  readonly type: string;
  readonly defaultValue: string;
  readonly description: string;
}

/** Every key documented with `# --` in a values.yaml text, in file order. */
export function documentedValues(valuesYaml: string): ValueDoc[] {
  const doc = parseDocument(valuesYaml);
  const out: ValueDoc[] = [];
  const walk = (map: YAMLMap, path: readonly string[]): void => {
    map.items.forEach((pair: Pair, i) => {
      const key = [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)];
      // The yaml library puts the comment above a map's first key on the map itself.
      const comment = (isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? map.commentBefore : undefined);
      const description = describedBy(comment);
      if (description !== undefined) {
        const value: unknown = isScalar(pair.value) || pair.value === null ? (pair.value?.toJSON() ?? null) : (pair.value as { toJSON(): unknown }).toJSON();
        out.push({ key: key.join('.'), type: typeOf(value), defaultValue: JSON.stringify(value), description });
      }
      if (isMap(pair.value)) walk(pair.value, key);
    });
  };
  if (isMap(doc.contents)) walk(doc.contents, []);
  return out;
}

/** The text after `--` of a `# -- ...` comment (its following lines joined), or undefined. */
function describedBy(comment: string | null | undefined): string | undefined {
  if (comment === undefined || comment === null) return undefined;
  const lines = comment.split('\n').map((l) => l.trim());
  const at = lines.findIndex((l) => l.startsWith('-- '));
  if (at < 0) return undefined;
  return [lines[at]!.slice(3), ...lines.slice(at + 1).filter((l) => l !== '')].join(' ');
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** The markdown table of the documented values. */
export function valuesTable(valuesYaml: string): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  return [
    '| Key | Type | Default | Description |',
    '|-----|------|---------|-------------|',
    ...documentedValues(valuesYaml).map((v) => `| \`${v.key}\` | ${v.type} | \`${cell(v.defaultValue)}\` | ${cell(v.description)} |`),
  ].join('\n');
}

/** The README with its table (between the markers) replaced by `table`. */
export function withValuesTable(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no "${START}" ... "${END}" markers`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = `${CHART_DIR}README.md`;
  const table = valuesTable(readFileSync(`${CHART_DIR}values.yaml`, 'utf8'));
  writeFileSync(readmePath, withValuesTable(readFileSync(readmePath, 'utf8'), table));
}
