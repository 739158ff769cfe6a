import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/server.ts';

// Every relative link in the user docs (README.md, docs/**/*.md, charts/**/README.md) must resolve
// inside the repository: the file (or directory) exists, and a `#fragment` names a heading of the
// target by GitHub's slug rules (or an explicit `<a id>`). Links to the team's files outside the
// repository, or to any path outside it, fail, and so does a mention of the team's design file.
// http(s) and mailto links are allowed and not fetched.

/** The team's folder and design file, spelled in pieces so that a search for mentions finds none here. */
const TEAM_DIR = ['sha', 'red'].join('');
const TEAM_FILE = `${TEAM_DIR}/${['DES', 'IGN'].join('')}.md`;
const TEAM_MENTION = new RegExp(`\\.\\./${TEAM_DIR}\\b|${['DES', 'IGN'].join('')}(\\.md| §)`);

/** GitHub's heading anchor: lowercase, drop punctuation and symbols (keep letters, marks, digits, `_`, `-`), spaces to `-`. */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The text a heading renders as: code spans kept verbatim, link and emphasis syntax and HTML tags dropped. */
function headingText(raw: string): string {
  const parts = raw.split(/(`+)([^`]*?)\1/);
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    if (i % 3 === 2) out += parts[i];
    else if (i % 3 === 0) {
      out += (parts[i] ?? '')
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/(^|[^\p{L}\p{N}])_+|_+(?=[^\p{L}\p{N}]|$)/gu, '$1')
        .replace(/\*+/g, '');
    }
  }
  return out.trim();
}

/** Markdown lines outside fenced code blocks, with their line numbers. */
function proseLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (m !== null && m[1] !== undefined) {
      if (fence === undefined) fence = m[1];
      else if (m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text: line });
  });
  return out;
}

/** The anchors a Markdown file offers: heading slugs (repeats get -1, -2, …) and explicit ids. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  const add = (heading: string): void => {
    const base = githubSlug(headingText(heading));
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  };
  const lines = proseLines(text);
  lines.forEach(({ line, text: l }, i) => {
    const atx = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(l);
    if (atx !== null && atx[1] !== undefined) add(atx[1]);
    const previous = lines[i - 1];
    if (/^ {0,3}(=+|-+)\s*$/.test(l) && previous !== undefined && previous.line === line - 1 && previous.text.trim() !== '' && !/^ {0,3}(#|[-*+] |\d+[.)] |>|\|)/.test(previous.text)) {
      add(previous.text);
    }
    for (const m of l.matchAll(/<a\s[^>]*?(?:id|name)="([^"]+)"/g)) if (m[1] !== undefined) anchors.add(m[1]);
  });
  return anchors;
}

/** Link targets in a Markdown file (inline links and images, reference definitions, HTML href/src), outside code. */
export function linksOf(text: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  for (const { line, text: l } of proseLines(text)) {
    const prose = l.replace(/(`+)[^`]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1] ?? '' });
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (def !== null && def[1] !== undefined) out.push({ line, target: def[1] });
    for (const m of prose.matchAll(/\b(?:href|src)="([^"]*)"/g)) out.push({ line, target: m[1] ?? '' });
  }
  return out;
}

/** What is wrong with the links of one Markdown file; empty when every link resolves. */
export function linkProblems(file: string, root: string): string[] {
  const text = readFileSync(file, 'utf8');
  const where = (line: number): string => `${relative(root, file)}:${line}`;
  const problems: string[] = [];
  for (const { line, target } of linksOf(text)) {
    if (/^(https?|mailto):/i.test(target)) continue;
    if (target.split('/').includes(TEAM_DIR) && target.includes('..')) {
      problems.push(`${where(line)}: ${target}: links to the team's files outside the repository`);
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      problems.push(`${where(line)}: ${target}: only relative links and http(s) links are allowed`);
      continue;
    }
    if (target.startsWith('/')) {
      problems.push(`${where(line)}: ${target}: an absolute path; link relative to this file`);
      continue;
    }
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const fragment = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = pathPart === '' ? file : resolve(dirname(file), pathPart);
    const inside = relative(root, resolved);
    if (inside.startsWith('..') || inside.split(sep)[0] === 'node_modules' || inside.split(sep)[0] === 'dist') {
      problems.push(`${where(line)}: ${target}: outside the repository's files`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where(line)}: ${target}: no such file`);
      continue;
    }
    if (fragment === undefined) continue;
    if (statSync(resolved).isDirectory()) {
      problems.push(`${where(line)}: ${target}: a #fragment on a directory`);
    } else if (/\.md$/i.test(resolved)) {
      if (!anchorsOf(readFileSync(resolved, 'utf8')).has(fragment)) problems.push(`${where(line)}: ${target}: no heading or anchor #${fragment} in ${relative(root, resolved)}`);
    } else {
      const lines = /^L(\d+)(?:-L(\d+))?$/.exec(fragment);
      const count = readFileSync(resolved, 'utf8').split('\n').length;
      if (lines === null || Number(lines[2] ?? lines[1]) > count) problems.push(`${where(line)}: ${target}: #${fragment} is not a line of ${relative(root, resolved)}`);
    }
  }
  for (const { line, text: l } of proseLines(text)) {
    if (TEAM_MENTION.test(l)) problems.push(`${where(line)}: mentions the team's design file, which users do not have`);
  }
  return problems;
}

/** README.md, docs/**\/*.md and charts/**\/README.md of a tree. */
export function userDocs(root: string): string[] {
  const files = [join(root, 'README.md')];
  const walk = (dir: string, keep: (name: string) => boolean): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      const path = join(dir, entry);
      if (keep(entry) && statSync(path).isFile()) files.push(path);
    }
  };
  walk(join(root, 'docs'), (name) => name.endsWith('.md'));
  walk(join(root, 'charts'), (name) => name === 'README.md' || name.endsWith(`${sep}README.md`));
  return files.sort();
}

describe('the link checker itself', () => {
  it('slugs headings the way GitHub does', () => {
    const table: [string, string][] = [
      ['Run it (fresh machine, no cluster)', 'run-it-fresh-machine-no-cluster'],
      ['`--workers 0` and cgroups', '--workers-0-and-cgroups'],
      ['`dubbo_dns_data_stale`', 'dubbo_dns_data_stale'],
      ['TXT keys: `key=`, `key.2=`', 'txt-keys-key-key2'],
      ['What *not* to do', 'what-not-to-do'],
      ['1. Hash `h`', '1-hash-h'],
      ['Schritt für Schritt', 'schritt-für-schritt'],
      ['A [linked](x.md) heading', 'a-linked-heading'],
    ];
    for (const [heading, slug] of table) assert.equal(githubSlug(headingText(heading)), slug, heading);
    assert.deepEqual([...anchorsOf('# A\n\n## A\n\nSetext\n------\n\n```\n# not a heading\n```\n<a id="custom"></a>\n')], ['a', 'a-1', 'setext', 'custom']);
  });

  it("reports dead files, dead anchors, the team's files and paths outside the repository; allows http(s)", () => {
    const root = mkdtempSync(join(tmpdir(), 'links-'));
    try {
      mkdirSync(join(root, 'docs'));
      writeFileSync(join(root, 'docs', 'b.md'), '# Title\n\n## Sub `part`\n');
      writeFileSync(
        join(root, 'README.md'),
        [
          '[ok](docs/b.md) [ok](docs/b.md#sub-part) [ok](#top) [ok](https://example.com/x#y) [ok](docs/)',
          '[dead](docs/missing.md) [dead](docs/b.md#nope) [dead](#nowhere)',
          `[team](../${TEAM_FILE}) [outside](../../etc/passwd) [abs](/etc/passwd) [file](file:///etc/passwd)`,
          '`[not a link](nowhere.md)`',
          '```',
          '[not a link](nowhere.md)',
          '```',
          '[ref]: docs/gone.md',
          '# Top',
        ].join('\n'),
      );
      const problems = linkProblems(join(root, 'README.md'), root);
      const flagged = problems.map((p) => p.split(': ')[1]);
      assert.deepEqual(flagged, ['docs/missing.md', 'docs/b.md#nope', '#nowhere', `../${TEAM_FILE}`, '../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', 'docs/gone.md', 'mentions the team\'s design file, which users do not have'], problems.join('\n'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('links in README.md, docs/ and charts/ stay inside the repository and resolve', () => {
  const files = userDocs(ROOT);
  it('finds the docs', () => {
    assert.ok(files.some((f) => relative(ROOT, f) === join('docs', 'README.md')), files.join(', '));
  });
  for (const file of files) {
    it(relative(ROOT, file), () => {
      const problems = linkProblems(file, ROOT);
      assert.deepEqual(problems, [], `dead or outside links:\n${problems.join('\n')}`);
    });
  }
});
