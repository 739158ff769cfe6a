import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProviderUrl, parseProviderUrl, ProviderUrlError } from '../../src/dubbo/provider-url.ts';

describe('Dubbo provider URL', () => {
  it('parses protocol, host, port, path and parameters', () => {
    const u = parseProviderUrl('tri://10.0.0.13:50051/org.apache.dubbo.demo.DemoService?group=gray&version=1.0.0&application=demo&methods=a,b');
    assert.equal(u.protocol, 'tri');
    assert.equal(u.host, '10.0.0.13');
    assert.equal(u.port, 50051);
    assert.deepEqual(u.key, { interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0' });
    assert.equal(u.params['methods'], 'a,b');
  });

  it('takes an IPv6 host out of its brackets', () => {
    const u = parseProviderUrl('dubbo://[fd00::1]:20880/com.example.Foo');
    assert.equal(u.host, 'fd00::1');
    assert.equal(u.port, 20880);
  });

  it('lets the interface parameter override the path', () => {
    const u = parseProviderUrl('dubbo://10.0.0.1:20880/com.example.FooImpl?interface=com.example.Foo');
    assert.equal(u.key.interface, 'com.example.Foo');
  });

  it('decodes a URL that is percent-encoded whole, as in a registry path', () => {
    const encoded = encodeURIComponent('dubbo://10.0.0.1:20880/com.example.Foo?application=a%20b&version=2.0');
    const u = parseProviderUrl(encoded);
    assert.equal(u.host, '10.0.0.1');
    assert.equal(u.key.version, '2.0');
    assert.equal(u.params['application'], 'a b');
  });

  it('decodes percent-encoded parameter values and keeps the first of a repeated key', () => {
    const u = parseProviderUrl('dubbo://10.0.0.1:1/x.Y?timeout=3000&timeout=1&name=a%26b');
    assert.equal(u.params['timeout'], '3000');
    assert.equal(u.params['name'], 'a&b');
  });

  for (const [bad, why] of [
    ['not a url', /not a provider URL/],
    ['dubbo://10.0.0.1/x.Y', /no port/],
    ['dubbo://10.0.0.1:0/x.Y', /out of range/],
    ['dubbo://10.0.0.1:20880/', /no interface/],
    ['dubbo://10.0.0.1:99999/x.Y', /not a provider URL/],
  ] as const) {
    it(`rejects ${bad}`, () => {
      assert.throws(() => parseProviderUrl(bad), (err: unknown) => err instanceof ProviderUrlError && why.test(err.message));
    });
  }

  it('rebuilds a URL with sorted parameters and IPv6 in brackets', () => {
    assert.equal(formatProviderUrl('tri', 'fd00::1', 50051, 'a.B', { z: '1', a: 'x y' }), 'tri://[fd00::1]:50051/a.B?a=x+y&z=1');
    const again = parseProviderUrl(formatProviderUrl('dubbo', '10.0.0.1', 20880, 'a.B', { group: 'g', version: '1' }));
    assert.deepEqual(again.key, { interface: 'a.B', group: 'g', version: '1' });
  });
});
