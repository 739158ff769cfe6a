import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { base32, endpointLabel, serviceHash, serviceLabel, serviceNames, slug } from '../../src/dubbo/naming.ts';
import { formatServiceKey, serviceKey } from '../../src/dubbo/service-key.ts';

// Expected hashes were computed independently (Python: base64.b32encode(sha256(...)).lower()[:10]);
// expected labels follow DESIGN §4 step by step.
describe('service label (DESIGN §4)', () => {
  const table: { name: string; key: [string, string, string]; label: string }[] = [
    { name: 'the worked example', key: ['org.apache.dubbo.demo.DemoService', 'gray', '1.0.0'], label: 'demoservice-gray-v1-0-0-gvbnf6n34g' },
    { name: 'empty group and version', key: ['org.apache.dubbo.demo.DemoService', '', ''], label: 'demoservice-dcs5nvrs5z' },
    { name: 'a simple name starting with a digit gets d-', key: ['com.example.3dService', '', ''], label: 'd-3dservice-ev62fkr4bj' },
    { name: 'non-ASCII becomes -', key: ['com.example.Ümlaut', 'grüppe', '1.0'], label: 'mlaut-gr-ppe-v1-0-vylcm2uz6o' },
    { name: 'a 200-character interface is cut to 52', key: [`com.x.${'A'.repeat(200)}`, '', ''], label: `${'a'.repeat(52)}-fjpyo47m52` },
    { name: 'an empty interface is d', key: ['', '', ''], label: 'd-vdbb7it24z' },
    { name: 'nothing left after slug is d', key: ['com.example.___', '', ''], label: 'd-lvgmzk6kyy' },
    {
      name: 'group and version cut to 16, repeated - collapsed',
      key: ['Foo', 'very-long-group-name-exceeding', '2024.01.15-SNAPSHOT'],
      label: 'foo-very-long-group-v2024-01-15-snap-4tq6cjkpfy',
    },
    { name: 'a version that slugs to nothing is just v', key: ['com.example.Foo', 'g', '-'], label: 'foo-g-v-2pqt6v76xp' },
  ];
  for (const row of table) {
    it(row.name, () => {
      const label = serviceLabel(serviceKey(...row.key));
      assert.equal(label, row.label);
      assert.ok(label.length <= 63, `${label} is ${label.length} characters`);
      assert.match(label, /^[a-z]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1035 label');
    });
  }

  it('hash is the first 10 of lowercase base32(sha256("dubbo" NUL I NUL G NUL V))', () => {
    assert.equal(serviceHash(serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0')), 'gvbnf6n34g');
    // RFC 4648 §10 test vectors, lowercase and unpadded.
    assert.equal(base32(Buffer.from('foobar')), 'mzxw6ytboi');
    assert.equal(base32(Buffer.from('f')), 'my');
  });

  it('every label is valid, whatever the input', () => {
    const weird = ['', '.', '...', '-', '9', 'ä.ö.ü', 'a'.repeat(300), 'x.Y-Z_1', '中文.服务'];
    for (const i of weird) for (const g of weird) for (const v of ['', '1', '..', 'ü'.repeat(40)]) {
      const label = serviceLabel(serviceKey(i, g, v));
      assert.ok(label.length <= 63, label);
      assert.match(label, /^[a-z]([-a-z0-9]*[a-z0-9])?$/, label);
    }
  });

  it('slug lowercases, collapses runs and trims -', () => {
    assert.equal(slug('--Hello__World..2--'), 'hello-world-2');
    assert.equal(slug('ÄÖÜ'), '');
  });
});

describe('names of a key (DESIGN §5)', () => {
  it('builds every published name', () => {
    const names = serviceNames(serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0'), 'shop', 'Dubbo.Internal', 'tri');
    assert.deepEqual(names, {
      label: 'demoservice-gray-v1-0-0-gvbnf6n34g',
      hash: 'gvbnf6n34g',
      service: 'demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.',
      protocolSrv: '_tri._tcp.demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal.',
      instance: 'demoservice-gray-v1-0-0-gvbnf6n34g._dubbo._tcp.shop.dubbo.internal.',
      browse: '_dubbo._tcp.shop.dubbo.internal.',
    });
  });

  it('endpoint label is the hostname when it is a label, else the address with - for . and :', () => {
    assert.equal(endpointLabel('10.0.0.11', 'demo-0'), 'demo-0');
    assert.equal(endpointLabel('10.0.0.11', 'Demo-0'), 'demo-0');
    assert.equal(endpointLabel('10.0.0.11'), '10-0-0-11');
    assert.equal(endpointLabel('fd00::12'), 'fd00--12');
    assert.equal(endpointLabel('10.0.0.11', 'pod.with.dots'), '10-0-0-11');
  });

  it('formats a key the way Dubbo does', () => {
    assert.equal(formatServiceKey(serviceKey('a.B', 'g', '1')), 'g/a.B:1');
    assert.equal(formatServiceKey(serviceKey('a.B')), 'a.B');
  });
});
