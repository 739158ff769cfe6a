import ipaddr from 'ipaddr.js';
import jsYaml from 'js-yaml';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { parseProviderUrl, ProviderUrlError } from '../dubbo/provider-url.ts';
import { serviceKey, serviceKeyId, type ServiceKey } from '../dubbo/service-key.ts';
import type { EndpointData, ServiceData, ZoneData } from '../dns/index/zone-data.ts';
import { DEFAULT_WEIGHT, isWeight, sharedParams } from '../dubbo/metadata.ts';
import { providerEndpoint } from './provider-services.ts';
import { PROTOCOL_NAME } from '../dubbo/protocols.ts';

// docs/registry-file.md: the registry file, YAML or JSON (JSON is YAML 1.2), with `services` and raw Dubbo
// `providers` URLs. Validation walks the parsed value and reports every problem at once, each with
// the file, line and field path, so one edit fixes them all.

/** One validation problem. */
export interface Problem {
  readonly line: number;
  readonly column: number;
  /** Field path, e.g. `services[0].endpoints[1].address`. */
  readonly field: string;
  readonly message: string;
}

/** A registry file that cannot be used; `message` lists every problem, one per line. */
export class RegistryFileError extends Error {
  override readonly name = 'RegistryFileError';
  readonly file: string;
  readonly problems: readonly Problem[];
  constructor(file: string, problems: readonly Problem[], options?: ErrorOptions) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${file}:${p.line}:${p.column}: ${p.field === '' ? '' : `${p.field}: `}${p.message}`).join('\n'),
      options,
    );
    this.file = file;
    this.problems = problems;
  }
}

type Path = readonly (string | number)[];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const TOP_KEYS = new Set(['namespace', 'services', 'providers']);
const HEADER_KEYS = new Set(['namespace', 'services']);
const SERVICE_KEYS = new Set(['interface', 'group', 'version', 'protocol', 'port', 'weight', 'application', 'metadata', 'endpoints']);
const ENDPOINT_KEYS = new Set(['address', 'port', 'weight', 'hostname', 'ready', 'metadata']);

/** Parses registry text (YAML or JSON) into zone data. Pure. */
export function parseRegistry(text: string, file = '<registry>'): ZoneData {
  return parseRegistryJson(text) ?? parseRegistryYamlFast(text) ?? parseRegistryYaml(text, file);
}

/** A js-yaml type for plain scalars matching `pattern` (the yaml package's own pattern for the tag). */
function coreType(tag: string, pattern: RegExp, construct: (s: string) => unknown): jsYaml.Type {
  return new jsYaml.Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: string | null) => pattern.test(s ?? ''), construct: (s: string | null) => construct(s ?? '') });
}

/**
 * YAML 1.2's core schema exactly as the yaml package resolves plain scalars. js-yaml's own "core"
 * schema is looser (binary `0b101` and signed hex `-0x1F` are numbers, `-.5` is not), so the
 * schema is spelled out with the yaml package's patterns: both parsers read every scalar alike.
 */
const CORE_SCHEMA = jsYaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    coreType('null', /^(?:~|[Nn]ull|NULL)?$/, () => null),
    coreType('bool', /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T'),
    coreType('int', /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/, (s) => (s.startsWith('0o') ? parseInt(s.slice(2), 8) : s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10))),
    coreType('float', /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/, (s) =>
      /nan$/i.test(s) ? NaN : /inf$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : parseFloat(s),
    ),
  ],
});

/**
 * The YAML fast path: js-yaml reads a big registry ~15x faster than the yaml package, in a sixth of
 * the memory (10k services: 0.3 s and 170 MiB against 4.5 s and 1 GiB), but cannot say where a
 * problem is. So, as on the JSON path, its result is used only when the text validates cleanly;
 * anything else (a problem, a duplicate key, a tag) goes to the yaml path, which names lines.
 */
export function parseRegistryYamlFast(text: string): ZoneData | undefined {
  const loaded = loadFast(text);
  return loaded === undefined ? undefined : cleanly((report) => validate(loaded.value, report));
}

/** js-yaml's reading of `text` with the core schema above, or undefined when it does not parse. */
function loadFast(text: string): { value: unknown } | undefined {
  try {
    return { value: jsYaml.load(text, { schema: CORE_SCHEMA, json: false }) };
  } catch {
    return undefined;
  }
}

/** What a validation returns, only when it reported no problem. */
function cleanly<T>(check: (report: Report) => T): T | undefined {
  let clean = true;
  const out = check(() => {
    clean = false;
  });
  return clean ? out : undefined;
}

/**
 * The JSON fast path: JSON.parse is ~40x faster than the YAML parser on a big generated registry
 * (10k services: 0.13 s against 5.8 s). Undefined unless the text is JSON that validates cleanly
 * and has no duplicate keys (which JSON.parse would silently merge and the YAML path rejects):
 * then the YAML path parses it again, to name lines in the errors. Both paths agree on every input.
 */
export function parseRegistryJson(text: string): ZoneData | undefined {
  if (!/^\s*[{[]/.test(text)) return undefined;
  const parsed = parseJsonClean(text);
  return parsed === undefined ? undefined : cleanly((report) => validate(parsed.value, report));
}

/** The YAML path (JSON is YAML 1.2): slower, and names the line of every problem. */
export function parseRegistryYaml(text: string, file = '<registry>'): ZoneData {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RegistryFileError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return { line: pos.line, column: pos.col, field: '', message: e.message.split('\n')[0] ?? e.message };
      }),
    );
  }
  const problems: Problem[] = [];
  const report = (path: Path, message: string): void => {
    const { line, column } = locate(doc, lines, path);
    problems.push({ line, column, field: formatPath(path), message });
  };
  const data = validate(doc.toJS() as unknown, report);
  if (problems.length > 0) throw new RegistryFileError(file, problems);
  return data;
}

/**
 * True when an object in valid JSON text repeats a key. One pass over the text: strings are
 * skipped with indexOf, and only keys are decoded (by JSON.parse when they hold an escape, so
 * `"a"` and `"\u0061"` are the same key).
 */
function hasDuplicateKeys(text: string): boolean {
  const stack: (Set<string> | undefined)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = jsonStringEnd(text, i);
      if (end < 0) return false; // not JSON: the parser has said so already
      if (expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        const keys = stack[stack.length - 1]!;
        if (keys.has(key)) return true;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(undefined);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] !== undefined;
    }
  }
  return false;
}

/** The index of the quote that ends the JSON string whose opening quote is at `start`, or -1. */
export function jsonStringEnd(text: string, start: number): number {
  let end = start + 1;
  for (;;) {
    end = text.indexOf('"', end);
    if (end < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return end;
    end++;
  }
}

/** The position of the node at `path`, or of its nearest ancestor that exists. */
function locate(doc: Document, lines: LineCounter, path: Path): { line: number; column: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range !== undefined) {
      const pos = lines.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return { line: 1, column: 1 };
}

function formatPath(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

type Report = (path: Path, message: string) => void;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What one `services` item (or one provider URL) contributes to its key's service. */
export interface ServiceContribution {
  readonly key: ServiceKey;
  readonly protocol: string;
  /** The item's service-level parameters (its `metadata`, and `application`). */
  readonly declared: Readonly<Record<string, string>>;
  readonly endpoints: readonly EndpointData[];
}

function validate(root: unknown, report: Report): ZoneData {
  if (root === null || root === undefined) return { services: [] }; // an empty file is an empty zone
  if (!isObject(root)) {
    report([], 'the file must be a mapping with `services` and/or `providers`');
    return { services: [] };
  }
  unknownKeys(root, TOP_KEYS, [], report);
  const namespace = validNamespace(root, report);
  const contributions: ServiceContribution[] = [];
  const services = root['services'] ?? [];
  if (!Array.isArray(services)) report(['services'], 'must be a list');
  else {
    services.forEach((s, i) => {
      const c = validateService(s, ['services', i], report);
      if (c !== undefined) contributions.push(c);
    });
  }

  const providers = root['providers'] ?? [];
  if (!Array.isArray(providers)) report(['providers'], 'must be a list of provider URLs');
  else {
    providers.forEach((p, i) => {
      const path = ['providers', i];
      if (typeof p !== 'string') return report(path, 'must be a provider URL string');
      try {
        const url = parseProviderUrl(p);
        contributions.push({ key: url.key, protocol: url.protocol, declared: {}, endpoints: [providerEndpoint(url)] });
      } catch (err) {
        if (err instanceof ProviderUrlError) return report(path, err.message);
        throw err;
      }
    });
  }
  return assembleServices(namespace, contributions);
}

/** The file's `namespace` (default `default`), reporting one that is not a DNS label. */
function validNamespace(root: Record<string, unknown>, report: Report): string {
  const namespace = root['namespace'] ?? 'default';
  if (typeof namespace !== 'string' || !DNS_LABEL.test(namespace)) {
    report(['namespace'], `must be a lowercase DNS label (a Kubernetes namespace name), got ${JSON.stringify(namespace)}`);
  }
  return typeof namespace === 'string' ? namespace : 'default';
}

/**
 * The services of a file from what its items contribute, in file order: items of the same key are
 * one service (the first item's protocol; parameters merged, later items winning; endpoints in order).
 */
export function assembleServices(namespace: string, contributions: Iterable<ServiceContribution>): ZoneData {
  const byKey = new Map<string, { key: ServiceKey; protocol: string; declared: Record<string, string>; endpoints: EndpointData[] }>();
  for (const c of contributions) {
    const id = serviceKeyId(c.key);
    let b = byKey.get(id);
    if (b === undefined) byKey.set(id, (b = { key: c.key, protocol: c.protocol, declared: {}, endpoints: [] }));
    Object.assign(b.declared, c.declared);
    for (const e of c.endpoints) b.endpoints.push(e);
  }
  const out: ServiceData[] = [];
  for (const b of byKey.values()) {
    out.push({ namespace, key: b.key, protocol: b.protocol, params: sharedParams(b.declared, b.endpoints), endpoints: b.endpoints });
  }
  return { services: out };
}

/**
 * One item of a file's `services` list on its own (text whose root is a one-item list), for a
 * reader that parses only the items that changed: what it contributes, or undefined when the text
 * is not one such item or the item has any problem (the whole file then takes the paths above,
 * which report it).
 */
export function parseServiceItem(text: string): ServiceContribution | undefined {
  const value = loadFast(text)?.value;
  return Array.isArray(value) && value.length === 1 ? cleanContribution(value[0]) : undefined;
}

/** {@link parseServiceItem} for one value of a JSON file's `services` list. */
export function parseJsonServiceItem(text: string): ServiceContribution | undefined {
  const parsed = parseJsonClean(text);
  return parsed === undefined ? undefined : cleanContribution(parsed.value);
}

/** {@link parseRegistryHeader} for a JSON file with its `services` list emptied. */
export function parseRegistryJsonHeader(text: string): string | undefined {
  const value = parseJsonClean(text)?.value;
  return isObject(value) && Array.isArray(value['services']) && value['services'].length === 0 ? cleanHeader(value) : undefined;
}

/** What one `services` item contributes, only when it has no problem. */
function cleanContribution(item: unknown): ServiceContribution | undefined {
  return cleanly((report) => validateService(item, ['services', 0], report));
}

/** The namespace of a file's part outside its `services` items, only when that part has no problem. */
function cleanHeader(value: Record<string, unknown>): string | undefined {
  return cleanly((report) => {
    unknownKeys(value, HEADER_KEYS, [], report);
    return validNamespace(value, report);
  });
}

/** JSON text's value, unless it does not parse or repeats a key (which the YAML path rejects). */
function parseJsonClean(text: string): { value: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return hasDuplicateKeys(text) ? undefined : { value };
}

/**
 * The part of a file before its `services` items, on its own (`namespace: x` and `services:`):
 * the namespace, or undefined unless that is all it holds and it is valid.
 */
export function parseRegistryHeader(text: string): string | undefined {
  const value = loadFast(text)?.value;
  return isObject(value) && 'services' in value && value['services'] === null ? cleanHeader(value) : undefined;
}

function validateService(s: unknown, path: Path, report: Report): ServiceContribution | undefined {
  if (!isObject(s)) {
    report(path, 'must be a mapping with at least `interface`');
    return undefined;
  }
  unknownKeys(s, SERVICE_KEYS, path, report);
  const iface = s['interface'];
  if (typeof iface !== 'string' || iface.trim() === '') report([...path, 'interface'], 'is required (a Java interface name)');
  const group = optionalString(s, 'group', path, report);
  const version = optionalString(s, 'version', path, report);
  const protocol = s['protocol'] ?? 'dubbo';
  if (typeof protocol !== 'string' || !PROTOCOL_NAME.test(protocol)) {
    report([...path, 'protocol'], `must be a protocol name like dubbo or tri (an IANA service name), got ${JSON.stringify(protocol)}`);
  }
  const port = s['port'];
  if (port !== undefined && !isPort(port)) report([...path, 'port'], `must be an integer 1-65535, got ${JSON.stringify(port)}`);
  const weight = s['weight'];
  if (weight !== undefined && !isWeight(weight)) report([...path, 'weight'], `must be an integer 0-65535, got ${JSON.stringify(weight)}`);
  const declared = metadata(s['metadata'], [...path, 'metadata'], report);
  const application = optionalString(s, 'application', path, report);
  if (application !== undefined) declared['application'] ??= application;
  const endpoints = s['endpoints'] ?? [];
  if (!Array.isArray(endpoints)) report([...path, 'endpoints'], 'must be a list');
  if (typeof iface !== 'string' || iface.trim() === '' || typeof protocol !== 'string') return undefined;

  const out: EndpointData[] = [];
  const contribution = { key: serviceKey(iface.trim(), group, version), protocol, declared, endpoints: out };
  if (!Array.isArray(endpoints)) return contribution;
  endpoints.forEach((e, j) => {
    const epath = [...path, 'endpoints', j];
    if (!isObject(e)) return report(epath, 'must be a mapping with at least `address`');
    unknownKeys(e, ENDPOINT_KEYS, epath, report);
    const address = e['address'];
    const okAddress = typeof address === 'string' && ipaddr.isValid(address);
    if (!okAddress) report([...epath, 'address'], `must be an IPv4 or IPv6 address, got ${JSON.stringify(address)}`);
    const epPort = e['port'] ?? port;
    if (!isPort(epPort)) {
      report([...epath, 'port'], e['port'] === undefined ? 'is required (no service-level `port` either)' : `must be an integer 1-65535, got ${JSON.stringify(e['port'])}`);
    }
    const own = metadata(e['metadata'], [...epath, 'metadata'], report);
    const epWeight = e['weight'] ?? (own['weight'] === undefined ? undefined : Number(own['weight'])) ?? weight;
    if (epWeight !== undefined && !isWeight(epWeight)) report([...epath, 'weight'], `must be an integer 0-65535, got ${JSON.stringify(epWeight)}`);
    const hostname = optionalString(e, 'hostname', epath, report);
    if (hostname !== undefined && !DNS_LABEL.test(hostname)) report([...epath, 'hostname'], `must be a lowercase DNS label, got ${JSON.stringify(hostname)}`);
    const ready = e['ready'] ?? true;
    if (typeof ready !== 'boolean') report([...epath, 'ready'], `must be true or false, got ${JSON.stringify(ready)}`);
    if (!okAddress || !isPort(epPort) || typeof ready !== 'boolean') return;
    const params: Record<string, string> = { ...declared, ...own };
    if (epWeight !== undefined) params['weight'] = String(epWeight);
    out.push({
      address: canonicalAddress(address),
      port: epPort,
      protocol,
      hostname,
      ready,
      weight: isWeight(epWeight) ? epWeight : DEFAULT_WEIGHT,
      params,
    });
  });
  return contribution;
}

function unknownKeys(obj: Record<string, unknown>, allowed: ReadonlySet<string>, path: Path, report: Report): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) report([...path, k], `unknown field (allowed: ${[...allowed].join(', ')})`);
  }
}

function optionalString(obj: Record<string, unknown>, key: string, path: Path, report: Report): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return String(v); // `version: 1.0` is a number in YAML
  if (typeof v !== 'string') {
    report([...path, key], `must be a string, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

function metadata(v: unknown, path: Path, report: Report): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) {
    report(path, 'must be a mapping of parameter names to values');
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(v)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[k] = String(value);
    else report([...path, k], `must be a string, number or boolean, got ${JSON.stringify(value)}`);
  }
  return out;
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

/** RFC 5952 text form for IPv6, dotted quad for IPv4 (an IPv4-mapped IPv6 address stays IPv6). */
function canonicalAddress(address: string): string {
  return ipaddr.parse(address).toString();
}
