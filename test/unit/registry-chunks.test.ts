import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseItem, RegistryItemCache, splitRegistry, splitRegistryJson, type RegistryPieces } from '../../src/source/registry-chunks.ts';
import { parseRegistry, parseServiceItem, RegistryFileError } from '../../src/source/registry-file.ts';

// Reading only the items that changed must never read a file differently from reading it whole.

const here = async (items: readonly string[], format: RegistryPieces['format']) => items.map((item) => parseItem(item, format));

const whole = (text: string): unknown => {
  try {
    return { data: parseRegistry(text, 'r') };
  } catch (err) {
    assert.ok(err instanceof RegistryFileError, String(err));
    return { problems: err.problems.length };
  }
};

describe('registry file: reading only the items that changed', () => {
  it('cuts a block registry at its items, comments and blank lines kept with them', () => {
    const text = '# shop\nnamespace: shop\nservices:\n\n  # first\n  - interface: a.B\n    port: 1\n# between\n  - interface: c.D\n    endpoints:\n      - address: 10.0.0.1\n';
    const pieces = splitRegistry(text);
    assert.deepEqual(pieces, {
      format: 'yaml',
      header: '# shop\nnamespace: shop\nservices:\n\n  # first',
      items: ['  - interface: a.B\n    port: 1\n# between', '  - interface: c.D\n    endpoints:\n      - address: 10.0.0.1\n'],
    });
  });

  it('leaves every other shape to the whole-file reader', async () => {
    const shapes = [
      'namespace: shop\nservices:\n  - interface: a.B\n    port: 1\nproviders:\n  - "dubbo://10.0.0.1:1/a.B"\n', // a key after services
      'providers:\n  - "dubbo://10.0.0.1:1/a.B"\nservices:\n  - interface: a.B\n    port: 1\n', // providers in the header
      'services:\n  - interface: a.B\n    port: &p 1\n  - interface: c.D\n    port: *p\n', // an alias of another item's anchor
      'services:\n  - interface: a.B\n    application: "one\n  - two"\n', // a quoted scalar over a `- ` line
      'services:\n  - interface: a.B\n port: 1\n', // a line left of the items
      'services:\n  - interface: a.B\n    port: 1\n- interface: c.D\n  port: 1\n', // an item left of the others
      'services:\n  - interface: a.B\n    port: 1\n   - interface: c.D\n     port: 1\n', // an item right of the others
      'services:\n\t- interface: a.B\n', // a tab
      'services:\n  - interface: a.B\n    port: 1\n---\nservices: []\n', // a second document
      'namespace: Bad_NS\nservices:\n  - interface: a.B\n    port: 1\n', // a header problem
      'services:\n  - interface: a.B\n    port: 70000\n', // an item problem
    ];
    for (const text of shapes) assert.equal(await new RegistryItemCache().parse(text, here), undefined, text);
  });

  it('parses only the items not read before', async () => {
    const cache = new RegistryItemCache();
    const item = (i: number, address: string): string => `  - interface: a.S${i}\n    port: 20880\n    endpoints: [{ address: ${address} }]`;
    const text = (addresses: string[]): string => `namespace: shop\nservices:\n${addresses.map((a, i) => item(i, a)).join('\n')}\n`;
    const seen: string[][] = [];
    const counting = async (items: readonly string[]) => {
      seen.push([...items]);
      return items.map(parseServiceItem);
    };
    const v1 = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    assert.deepEqual(await cache.parse(text(v1), counting), parseRegistry(text(v1)));
    const v2 = ['10.0.0.1', '10.0.0.9', '10.0.0.3'];
    assert.deepEqual(await cache.parse(text(v2), counting), parseRegistry(text(v2)));
    assert.deepEqual(seen.map((s) => s.length), [3, 1]);
    assert.match(seen[1]![0]!, /10\.0\.0\.9/);
  });

  // Block registries as people and generators write them, with the things that make cutting hard:
  // comments and blank lines at any indentation, CRLF, items at column 0, flow endpoints, anchors,
  // odd scalars, the same key in two items, problems.
  const scalar = fc.constantFrom('a.B', 'org.x.Y', '"1.0"', '1.0', '20880', '"20880"', '70000', '0x50', '-0b1', 'true', '~', 'null', '"a b"', "'c: d'", '!!str 5', '&x 80', '*x', 'pod-0', '"fd00::1:2"');
  const address = fc.constantFrom('10.0.0.1', '10.0.0.2', '"fd00::1:2"', 'fd00::3', 'not-ip', '10.0.0.999');
  const endpoint = fc.record({ address, extra: fc.subarray(['port: 20881', 'weight: 50', 'hostname: host-0', 'ready: false', 'weight: 70000', 'colour: red']), flow: fc.boolean() });
  const service = fc.record({
    iface: fc.constantFrom('a.B', 'org.x.Y', 'a.B'),
    fields: fc.array(fc.tuple(fc.constantFrom('group', 'version', 'protocol', 'port', 'weight', 'application'), scalar), { maxLength: 4 }),
    metadata: fc.option(fc.constantFrom('{ timeout: "3000" }', '{ a: 1, b: true }', '{ bad: [1] }')),
    endpoints: fc.array(endpoint, { maxLength: 3 }),
  });
  const layout = fc.record({
    indent: fc.constantFrom(0, 2, 4),
    crlf: fc.boolean(),
    comments: fc.array(fc.tuple(fc.nat(40), fc.constantFrom('# c', '  # c', '', '      # deep')), { maxLength: 4 }),
    // Lines that are not this shortcut's shape: another top-level key, an item at another indentation.
    stray: fc.array(fc.tuple(fc.nat(40), fc.constantFrom('providers:', 'providers: ["dubbo://10.0.0.7:1/a.B"]', ' - interface: z.Z', '- interface: z.Z', '   - interface: z.Z', '---', 'x: 1')), { maxLength: 1 }),
    providersFirst: fc.boolean(),
  });
  type Service = typeof service extends fc.Arbitrary<infer T> ? T : never;
  type Layout = typeof layout extends fc.Arbitrary<infer T> ? T : never;
  const render = (services: Service[], l: Layout, namespace: string): string => {
    const pad = ' '.repeat(l.indent);
    const lines = [`namespace: ${namespace}`, ...(l.providersFirst && l.stray.length > 0 ? ['providers:', '  - "tri://10.0.0.8:50051/c.D"'] : []), 'services:'];
    for (const s of services) {
      const seen = new Set<string>();
      lines.push(`${pad}- interface: ${s.iface}`);
      for (const [k, v] of s.fields) {
        if (seen.has(k)) continue; // a duplicate key is tested by the whole-file reader's own tests
        seen.add(k);
        lines.push(`${pad}  ${k}: ${v}`);
      }
      if (s.metadata !== null) lines.push(`${pad}  metadata: ${s.metadata}`);
      if (s.endpoints.length > 0) lines.push(`${pad}  endpoints:`);
      for (const e of s.endpoints) {
        if (e.flow) lines.push(`${pad}    - { address: ${e.address}${e.extra.map((x) => `, ${x}`).join('')} }`);
        else lines.push(`${pad}    - address: ${e.address}`, ...e.extra.map((x) => `${pad}      ${x}`));
      }
    }
    for (const [at, c] of [...l.comments, ...l.stray]) lines.splice(1 + (at % lines.length), 0, c);
    return `${lines.join(l.crlf ? '\r\n' : '\n')}\n`;
  };
  const registry = fc.tuple(fc.array(service, { maxLength: 4 }), layout, fc.constantFrom('shop', 'shop', 'Bad'));

  it('on every input and every sequence of edits: the same data as the whole-file reader, or left to it', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(registry, { minLength: 1, maxLength: 4 }), async (versions) => {
        const cache = new RegistryItemCache();
        for (const [services, l, ns] of versions) {
          const text = render(services, l, ns);
          const data = await cache.parse(text, here);
          if (data === undefined) continue;
          accepted++;
          assert.deepEqual({ data }, whole(text), text);
        }
      }),
      { numRuns: 1500 },
    );
    assert.ok(accepted > 200, `the shortcut read only ${accepted} versions: the generator tests too little of it`);
  });

  it('cuts a JSON registry at the values of its services list', () => {
    const text = ' {"namespace": "shop", "services": [ {"interface": "a.B", "metadata": {"x": "[,]\\"{"}} ,\n {"interface": "c.D"}\n], "z": 1}';
    assert.deepEqual(splitRegistryJson(text), {
      format: 'json',
      header: ' {"namespace": "shop", "services": [], "z": 1}',
      items: ['{"interface": "a.B", "metadata": {"x": "[,]\\"{"}}', '{"interface": "c.D"}'],
    });
    assert.deepEqual(splitRegistryJson('{"services": []}')?.items, []);
    assert.equal(splitRegistry('{"namespace": "shop", "services": []}'), undefined, 'JSON is not cut as YAML');
  });

  it('leaves every other JSON shape to the whole-file reader', async () => {
    const shapes = [
      '[{"interface": "a.B"}]', // not an object
      '{"services": [{"interface": "a.B", "port": 1}], "services": []}', // services twice
      '{"services": [{"interface": "a.B", "port": 1}], "\\u0073ervices": []}', // services twice, once escaped
      '{"services": [{"interface": "a.B", "port": 1, "port": 2}]}', // a repeated key in an item
      '{"namespace": "shop", "namespace": "x", "services": [{"interface": "a.B", "port": 1}]}', // a repeated key outside
      '{"services": [{"interface": "a.B", "port": 1}], "providers": ["dubbo://10.0.0.1:1/a.B"]}', // providers
      '{"services": [{"interface": "a.B", "port": 1},]}', // a trailing comma
      '{"services": {"interface": "a.B"}}', // not a list
      '{"services": [{"interface": "a.B", "port": 1}]', // cut short
    ];
    for (const text of shapes) assert.equal(await new RegistryItemCache().parse(text, here), undefined, text);
  });

  // JSON registries built from key/value lists (so a key can repeat), with leaves that are valid,
  // invalid or odd, and random whitespace; versions of one file share most items.
  const leaf = fc.constantFrom<unknown>('a.B', 'org.x.Y', 'g', '1.0.0', 'tri', 'dubbo', '10.0.0.1', 'fd00::1', 'host-0', 'not an ip', '', 1, 20880, 70000, -1, 0.5, true, null, '[,]"{}', '\u00e9');
  const ws = fc.constantFrom('', ' ', '\n', '\r\n  ', '\t');
  type Pairs = readonly (readonly [string, unknown])[];
  const obj = (pairs: Pairs, w: string): string => `{${w}${pairs.map(([k, v]) => `${JSON.stringify(k)}:${w}${typeof v === 'string' && v.startsWith('{') ? v : JSON.stringify(v)}`).join(`,${w}`)}${w}}`;
  const jsonEndpoint = fc.tuple(fc.array(fc.tuple(fc.constantFrom('port', 'weight', 'hostname', 'ready', 'colour', 'address'), leaf), { maxLength: 2 }), ws).map(([pairs, w]) => obj([['address', '10.0.0.9'], ...pairs], w));
  const jsonService = fc.tuple(fc.array(fc.tuple(fc.constantFrom('group', 'version', 'protocol', 'port', 'weight', 'application', 'interface'), leaf), { maxLength: 2 }), fc.array(jsonEndpoint, { maxLength: 3 }), ws).map(
    ([pairs, eps, w]) => `{${w}"interface": "a.B",${w}${pairs.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(`,${w}`)}${pairs.length > 0 ? `,${w}` : ''}"port": 20880,${w}"endpoints": [${eps.join(`,${w}`)}]}`,
  );
  const jsonRegistry = fc.tuple(fc.array(jsonService, { maxLength: 4 }), ws, fc.constantFrom('"shop"', '"shop"', '"Bad"', '1'), fc.constantFrom('', ', "providers": []', ', "x": 1')).map(
    ([services, w, ns, tail]) => `{${w}"namespace": ${ns},${w}"services": [${w}${services.join(`,${w}`)}${w}]${tail}${w}}`,
  );

  it('JSON, on every input and every sequence of edits: the same data as the whole-file reader, or left to it', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(jsonRegistry, { minLength: 1, maxLength: 4 }), async (versions) => {
        const cache = new RegistryItemCache();
        for (const text of versions) {
          const data = await cache.parse(text, here);
          if (data === undefined) continue;
          accepted++;
          assert.deepEqual({ data }, whole(text), text);
        }
      }),
      { numRuns: 1500 },
    );
    assert.ok(accepted > 100, `the shortcut read only ${accepted} JSON versions`);
  });
});
