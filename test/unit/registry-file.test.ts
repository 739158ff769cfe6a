import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseRegistry, parseRegistryJson, parseRegistryYaml, parseRegistryYamlFast, RegistryFileError } from '../../src/source/registry-file.ts';

const problemsOf = (text: string): string[] => {
  try {
    parseRegistry(text, 'reg.yaml');
  } catch (err) {
    assert.ok(err instanceof RegistryFileError, String(err));
    return err.problems.map((p) => `${p.line}:${p.field}: ${p.message}`);
  }
  assert.fail('expected the file to be rejected');
};

describe('registry file (DESIGN §8)', () => {
  it('reads the example registry: services and providers merged by key', () => {
    const data = parseRegistry(readFileSync(new URL('../../examples/registry.yaml', import.meta.url), 'utf8'));
    const demo = data.services.find((s) => s.key.interface === 'org.apache.dubbo.demo.DemoService');
    assert.ok(demo);
    assert.equal(demo.namespace, 'shop');
    assert.equal(demo.protocol, 'tri');
    assert.deepEqual(
      demo.endpoints.map((e) => [e.address, e.port, e.ready, e.weight, e.hostname]),
      [
        ['10.0.0.11', 50051, true, 100, 'demo-0'],
        ['10.0.0.12', 50051, true, 200, 'demo-1'],
        ['fd00::12', 50051, false, 100, undefined],
        ['10.0.0.13', 50051, true, 100, undefined],
      ],
    );
    assert.equal(demo.params['serialization'], 'hessian2');
    const order = data.services.find((s) => s.key.interface === 'org.apache.dubbo.demo.OrderService');
    assert.equal(order?.endpoints[0]?.port, 20880);
  });

  it('reads JSON too, and defaults the namespace and protocol', () => {
    const data = parseRegistry('{"services":[{"interface":"a.B","port":1,"endpoints":[{"address":"10.0.0.1"}]}]}');
    assert.equal(data.services[0]?.namespace, 'default');
    assert.equal(data.services[0]?.protocol, 'dubbo');
    assert.equal(data.services[0]?.endpoints[0]?.weight, 100);
  });

  it('an empty file is an empty zone', () => {
    assert.deepEqual(parseRegistry(''), { services: [] });
  });

  it('lists every problem at once, each with its line and field', () => {
    const text = [
      'namespace: Shop_1', // 1
      'services:', // 2
      '  - interface: a.B', // 3
      '    protocol: "no spaces"', // 4
      '    endpoints:', // 5
      '      - address: 10.0.0.999', // 6
      '        port: 70000', // 7
      '      - { address: 10.0.0.2, weight: -1, port: 1, colour: red }', // 8
      '  - group: g', // 9
      'providers:', // 10
      '  - "dubbo://example.com:1/a.B"', // 11
      '  - "garbage"', // 12
    ].join('\n');
    assert.deepEqual(problemsOf(text), [
      '1:namespace: must be a lowercase DNS label (a Kubernetes namespace name), got "Shop_1"',
      '4:services[0].protocol: must be a protocol name like dubbo or tri (an IANA service name), got "no spaces"',
      '6:services[0].endpoints[0].address: must be an IPv4 or IPv6 address, got "10.0.0.999"',
      '7:services[0].endpoints[0].port: must be an integer 1-65535, got 70000',
      '8:services[0].endpoints[1].colour: unknown field (allowed: address, port, weight, hostname, ready, metadata)',
      '8:services[0].endpoints[1].weight: must be an integer 0-65535, got -1',
      '9:services[1].interface: is required (a Java interface name)',
      '11:providers[0]: host "example.com" is not an IP address',
      '12:providers[1]: not a provider URL (want proto://host:port/interface?params): "garbage"',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    assert.deepEqual(problemsOf('namespace: shop\nservices:\n  - interface: a.B\n    interface: c.D\n'), [
      '4:: Map keys must be unique',
    ]);
    const unclosed = problemsOf('services:\n  - interface: a.B\n    endpoints: [ {address: 1\n');
    assert.match(unclosed[0] ?? '', /^[34]:: Flow map .* must .* end with a \}/);
  });

  it('names the file in the message', () => {
    assert.throws(() => parseRegistry('services: 3', 'conf/reg.yaml'), /conf\/reg\.yaml:1:\d+: services: must be a list/);
  });

  it('needs a port from the endpoint or the service', () => {
    assert.deepEqual(problemsOf('services:\n  - interface: a.B\n    endpoints: [{ address: 10.0.0.1 }]\n'), [
      '3:services[0].endpoints[0].port: is required (no service-level `port` either)',
    ]);
  });
});

describe('registry file as JSON', () => {
  it('reports problems with lines even on the JSON fast path', () => {
    const text = '{\n  "namespace": "shop",\n  "services": [\n    { "interface": "a.B", "port": 70000 }\n  ]\n}\n';
    assert.deepEqual(problemsOf(text), ['4:services[0].port: must be an integer 1-65535, got 70000']);
  });

  it('gives the same data as the YAML path', () => {
    const yaml = 'namespace: shop\nservices:\n  - interface: a.B\n    port: 1\n    endpoints: [{ address: 10.0.0.1, weight: 5 }]\n';
    const json = JSON.stringify({ namespace: 'shop', services: [{ interface: 'a.B', port: 1, endpoints: [{ address: '10.0.0.1', weight: 5 }] }] });
    assert.deepEqual(parseRegistry(json), parseRegistry(yaml));
  });
});

describe('registry file: the JSON fast path and the YAML path agree', () => {
  it('rejects duplicate keys on the JSON path, as the YAML path does, with the line', () => {
    const text = '{\n  "namespace": "shop",\n  "services": [\n    { "interface": "a.B", "port": 1, "port": 2 }\n  ]\n}\n';
    assert.deepEqual(problemsOf(text), ['4:: Map keys must be unique']);
    assert.deepEqual(problemsOf('{"namespace": "a", "\\u006eamespace": "b"}'), ['1:: Map keys must be unique']);
  });

  // JSON text built from key/value lists, so the same key can occur twice in one object.
  type Json = { readonly obj: readonly (readonly [string, Json])[] } | { readonly arr: readonly Json[] } | { readonly leaf: unknown };
  const text = (j: Json): string =>
    'obj' in j ? `{${j.obj.map(([k, v]) => `${JSON.stringify(k)}: ${text(v)}`).join(', ')}}` : 'arr' in j ? `[${j.arr.map(text).join(', ')}]` : JSON.stringify(j.leaf);
  const leaf = fc.constantFrom<unknown>('a.B', 'org.x.Y', 'g', '1.0.0', 'tri', 'dubbo', '10.0.0.1', 'fd00::1', 'host-0', 'not an ip', '', 'dubbo://10.0.0.2:20880/a.B?weight=5', 1, 20880, 70000, -1, 0.5, 1e3, true, false, null);
  const keys = ['namespace', 'services', 'providers', 'interface', 'group', 'version', 'protocol', 'port', 'weight', 'application', 'metadata', 'endpoints', 'address', 'hostname', 'ready', 'timeout', 'colour', '__proto__'];
  const json: fc.Arbitrary<Json> = fc.letrec<{ json: Json }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf.map((v) => ({ leaf: v })),
      fc.array(fc.tuple(fc.constantFrom(...keys), tie('json')), { maxLength: 5 }).map((obj) => ({ obj })),
      fc.array(tie('json'), { maxLength: 4 }).map((arr) => ({ arr })),
    ),
  })).json;
  // Shaped like a registry, so that many inputs are accepted and the data is compared too.
  const endpoint = fc.array(fc.tuple(fc.constantFrom('address', 'port', 'weight', 'hostname', 'ready', 'metadata', 'colour'), leaf.map((v): Json => ({ leaf: v }))), { maxLength: 4 });
  const service = fc.tuple(
    fc.array(fc.tuple(fc.constantFrom('interface', 'group', 'version', 'protocol', 'port', 'weight', 'application'), leaf.map((v): Json => ({ leaf: v }))), { maxLength: 6 }),
    fc.array(endpoint, { maxLength: 3 }),
  ).map(([fields, eps]): Json => ({ obj: [['interface', { leaf: 'a.B' }], ...fields, ['endpoints', { arr: eps.map((obj) => ({ obj: [['address', { leaf: '10.0.0.9' }], ...obj] })) }]] }));
  const registry = fc.tuple(fc.array(service, { maxLength: 3 }), fc.array(leaf.map((v): Json => ({ leaf: v })), { maxLength: 2 })).map(
    ([services, providers]): Json => ({ obj: [['namespace', { leaf: 'shop' }], ['services', { arr: services }], ['providers', { arr: providers }]] }),
  );
  const outcome = (parse: () => unknown): unknown => {
    try {
      return { data: parse() };
    } catch (err) {
      assert.ok(err instanceof RegistryFileError, String(err));
      return { problems: err.problems };
    }
  };

  // Registries as YAML flow text with plain scalars: mostly valid, each field sometimes holding a
  // scalar YAML parsers read differently (binary, signed hex, 1.1 booleans, nulls, tags, dates).
  const odd = ['0b101', '-0b1', '0x50', '-0x50', '+0x1F', '+0o7', '0o17', '012', '+12', '-0', '1e3', '-.5', '+.5e2', '1.', '.5', '1_000', '12:30', '~', 'null', 'Null', 'NULL', 'True', 'TRUE', 'yes', 'off', '.inf', '-.Inf', '.NaN', '2001-12-14', '!!str 5', '!!int "7"', '!!binary aGk=', '!!timestamp 2001-12-14', '&x 80', '""'];
  const field = (...usual: string[]): fc.Arbitrary<Json> => fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...usual) }, { weight: 1, arbitrary: fc.constantFrom(...odd) }).map((v): Json => ({ leaf: v }));
  const yamlText = (j: Json): string =>
    'obj' in j ? `{${j.obj.map(([k, v]) => `${k}: ${yamlText(v)}`).join(', ')}}` : 'arr' in j ? `[${j.arr.map(yamlText).join(', ')}]` : String(j.leaf);
  const serviceFields = fc.subarray<[string, fc.Arbitrary<Json>]>([
    ['group', field('g', 'east', '"1.0"')],
    ['version', field('1.0.0', '"2.0"', 'v1')],
    ['protocol', field('tri', 'dubbo')],
    ['port', field('20880', '50051', '"20880"')],
    ['weight', field('100', '5', '0')],
    ['application', field('shop-app', '"a b"')],
  ]);
  const endpointFields = fc.subarray<[string, fc.Arbitrary<Json>]>([
    ['port', field('20881')],
    ['weight', field('50')],
    ['hostname', field('host-0', 'pod-1')],
    ['ready', field('true', 'false')],
  ]);
  const entries = (fields: fc.Arbitrary<[string, fc.Arbitrary<Json>][]>): fc.Arbitrary<(readonly [string, Json])[]> =>
    fields.chain((fs) => (fs.length === 0 ? fc.constant([]) : fc.tuple(...fs.map(([k, a]) => a.map((v) => [k, v] as const)))));
  const yamlEndpoint = fc.tuple(field('10.0.0.9', '"fd00::1:2"', '10.0.0.10'), entries(endpointFields)).map(([address, rest]): Json => ({ obj: [['address', address], ...rest] }));
  const yamlService = fc.tuple(field('a.B', 'org.x.Y'), entries(serviceFields), fc.array(yamlEndpoint, { minLength: 1, maxLength: 3 })).map(
    ([iface, rest, eps]): Json => ({ obj: [['interface', iface], ...rest, ['endpoints', { arr: eps }]] }),
  );
  const yamlRegistry = fc.tuple(fc.array(yamlService, { minLength: 1, maxLength: 3 }), fc.array(field('"dubbo://10.0.0.2:20880/a.B?weight=5"', '"tri://[fd00::2]:50051/x.Y"'), { maxLength: 2 })).map(
    ([services, providers]): Json => ({ obj: [['namespace', { leaf: 'shop' }], ['services', { arr: services }], ['providers', { arr: providers }]] }),
  );

  it('the YAML fast path: on every input, what it accepts is what the YAML path reads', () => {
    let accepted = 0;
    fc.assert(
      fc.property(yamlRegistry, (j) => {
        const t = yamlText(j);
        assert.deepEqual(outcome(() => parseRegistry(t, 'r')), outcome(() => parseRegistryYaml(t, 'r')), t);
        const fast = parseRegistryYamlFast(t);
        if (fast !== undefined) {
          accepted++;
          assert.deepEqual(fast, parseRegistryYaml(t, 'r'), t);
        }
      }),
      { numRuns: 3000 },
    );
    assert.ok(accepted > 250, `the fast path accepted only ${accepted} of 3000 registries: the generator tests too little of it`);
    // Registries in block style, as people write them, take the fast path.
    const block = 'namespace: shop\nservices:\n  - interface: a.B\n    version: "1.0"\n    port: 20880\n    endpoints:\n      - address: 10.0.0.1\n        hostname: pod-0b1x\n      - address: fd00::1:2\n';
    assert.ok(parseRegistryYamlFast(block) !== undefined);
    assert.deepEqual(parseRegistryYamlFast(block), parseRegistryYaml(block, 'r'));
  });

  it('on every input: same data, or the same problems', () => {
    fc.assert(
      fc.property(fc.oneof(json, registry), (j) => {
        const t = text(j);
        assert.deepEqual(outcome(() => parseRegistry(t, 'r')), outcome(() => parseRegistryYaml(t, 'r')), t);
        const fast = parseRegistryJson(t);
        if (fast !== undefined) assert.deepEqual(fast, parseRegistryYaml(t, 'r'), t);
      }),
      { numRuns: 2000 },
    );
  });
});
