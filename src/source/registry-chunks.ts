import type { ZoneData } from '../dns/index/zone-data.ts';
import { assembleServices, jsonStringEnd, parseJsonServiceItem, parseRegistryHeader, parseRegistryJsonHeader, parseServiceItem, type ServiceContribution } from './registry-file.ts';

/** One item of either format. */
export function parseItem(item: string, format: RegistryPieces['format']): ServiceContribution | undefined {
  return format === 'json' ? parseJsonServiceItem(item) : parseServiceItem(item);
}

// Reading an edited registry file again costs what changed, not the file: the text is cut into its
// `services` items, and an item whose text was read before is not parsed or validated again. This
// is only a shortcut for files of the common block shape; every other file, and every file with a
// problem, is read whole by registry-file.ts, which names the lines of problems.

/** A registry text cut at its `services` items. */
export interface RegistryPieces {
  readonly format: 'yaml' | 'json';
  /**
   * YAML: everything before the first item (`namespace: ...` and the `services:` line, with
   * comments). JSON: the whole text with the `services` list emptied.
   */
  readonly header: string;
  /** Each item's text: YAML, its first line the `- ` at the items' indentation; JSON, the value. */
  readonly items: readonly string[];
}

const SERVICES_LINE = /^services:[ \t]*(?:#.*)?\r?$/;
const BLANK_OR_COMMENT = /^[ \t]*(?:#.*)?\r?$/;

/**
 * Cuts a registry text at its `services` items, or undefined when its shape does not allow cutting
 * without changing what it says: `services:` must be the last top-level key, and every line of its
 * list at or left of the items' indentation must start an item (`- `) or be blank or a comment. An
 * item that a cut would still change (a quoted or flow scalar running over its next `- ` line, an
 * alias of another item's anchor) does not parse on its own, and the whole file is read instead.
 */
export function splitRegistry(text: string): RegistryPieces | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => SERVICES_LINE.test(l));
  if (at < 0) return undefined;
  let indent = -1;
  const items: string[] = [];
  let current: string[] | undefined;
  const leading: string[] = [];
  for (let i = at + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (BLANK_OR_COMMENT.test(line)) {
      (current ?? leading).push(line);
      continue;
    }
    let n = 0;
    while (line.charCodeAt(n) === 0x20) n++;
    if (indent < 0) indent = n;
    if (n > indent && current !== undefined) {
      current.push(line);
      continue;
    }
    // At the items' indentation: an item starts here; anything else (a tab, a top-level key, a
    // line less indented) is a shape this shortcut does not read.
    const c = line.charCodeAt(n + 1);
    if (n !== indent || line.charCodeAt(n) !== 0x2d /* - */ || !(c === 0x20 || Number.isNaN(c) || c === 0x0d)) return undefined;
    if (current !== undefined) items.push(current.join('\n'));
    current = [line];
  }
  if (current !== undefined) items.push(current.join('\n'));
  return { format: 'yaml', header: [...lines.slice(0, at + 1), ...leading].join('\n'), items };
}

/**
 * Cuts a JSON registry text at the values of its top-level `services` list (one pass over the
 * text, strings skipped), or undefined when it is not a JSON object with one such list.
 */
export function splitRegistryJson(text: string): RegistryPieces | undefined {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x7b /* { */) return undefined;
  let depth = 0;
  let list: { start: number; end: number } | undefined;
  let inList = false;
  let itemStart = -1;
  let lastKey: string | undefined;
  const items: string[] = [];
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end < 0) return undefined;
      if (depth === 1) lastKey = text.slice(i + 1, end);
      if (inList && depth === 2 && itemStart < 0) itemStart = i;
      i = end;
      continue;
    }
    if (isSpace(c)) continue;
    if (inList && depth === 2 && itemStart < 0 && c !== 0x5d /* ] */ && c !== 0x2c /* , */) itemStart = i;
    if (c === 0x7b || c === 0x5b /* { [ */) {
      if (depth === 1 && c === 0x5b && lastKey === 'services') {
        if (list !== undefined) return undefined; // `services` twice: the whole-file reader says so
        list = { start: i + 1, end: -1 };
        inList = true;
      }
      depth++;
    } else if (c === 0x7d || c === 0x5d /* } ] */) {
      depth--;
      if (inList && depth === 1) {
        if (itemStart >= 0) items.push(text.slice(itemStart, i).trimEnd());
        else if (items.length > 0) return undefined; // a comma before the `]`
        list!.end = i;
        inList = false;
        itemStart = -1;
      }
    } else if (c === 0x2c /* , */ && inList && depth === 2) {
      if (itemStart < 0) return undefined;
      items.push(text.slice(itemStart, i).trimEnd());
      itemStart = -1;
    } else if (c === 0x3a /* : */) {
      continue;
    } else if (depth === 1) {
      lastKey = undefined; // a value that is not a string, list or object
    }
  }
  if (list === undefined || list.end < 0 || depth !== 0) return undefined;
  return { format: 'json', header: text.slice(0, list.start) + text.slice(list.end), items };
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Parses successive versions of one registry file, reusing what each item contributed last time
 * when its text is unchanged. Holds the last version's items only.
 */
export class RegistryItemCache {
  #items = new Map<string, ServiceContribution>();

  /**
   * The zone data of `text`, or undefined when this shortcut cannot read it (see splitRegistry;
   * or an item or the header has a problem): the caller then parses the whole text.
   * `parseNew` parses the items not read before (with {@link parseItem}; in a worker thread when
   * they are many); undefined in its result marks an item with a problem.
   */
  async parse(text: string, parseNew: (items: readonly string[], format: RegistryPieces['format']) => Promise<readonly (ServiceContribution | undefined)[]>): Promise<ZoneData | undefined> {
    const pieces = splitRegistryJson(text) ?? splitRegistry(text);
    if (pieces === undefined) return undefined;
    const namespace = pieces.format === 'json' ? parseRegistryJsonHeader(pieces.header) : parseRegistryHeader(pieces.header);
    if (namespace === undefined) return undefined;
    const fresh = [...new Set(pieces.items.filter((item) => !this.#items.has(item)))];
    const parsed = fresh.length === 0 ? [] : await parseNew(fresh, pieces.format);
    const known = new Map<string, ServiceContribution>();
    for (let i = 0; i < fresh.length; i++) {
      const c = parsed[i];
      if (c === undefined) return undefined;
      known.set(fresh[i]!, c);
    }
    const contributions: ServiceContribution[] = [];
    for (const item of pieces.items) {
      const c = known.get(item) ?? this.#items.get(item)!;
      known.set(item, c);
      contributions.push(c);
    }
    this.#items = known;
    return assembleServices(namespace, contributions);
  }

  /** Forgets every item (the file was rejected, or read whole). */
  clear(): void {
    this.#items = new Map();
  }
}
