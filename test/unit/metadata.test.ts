import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { instanceTxt, parseTxt, serviceTxt, TXT_RECORD_MAX } from '../../src/dubbo/metadata.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

const key = serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0');
const recordSize = (strings: string[]): number => strings.reduce((n, s) => n + 1 + Buffer.byteLength(s), 0);

describe('TXT metadata (DESIGN §6, RFC 6763 §6)', () => {
  it('starts with txtvers=1, then the identity, then shared parameters', () => {
    assert.deepEqual(serviceTxt(key, 'tri', { serialization: 'hessian2', timeout: '3000', application: 'demo' }), [
      'txtvers=1',
      'interface=org.apache.dubbo.demo.DemoService',
      'group=gray',
      'version=1.0.0',
      'protocol=tri',
      'serialization=hessian2',
      'timeout=3000',
      'application=demo',
    ]);
  });

  it('omits empty group and version, lowercases keys, first occurrence wins', () => {
    assert.deepEqual(serviceTxt(serviceKey('a.B'), 'dubbo', { Timeout: '1', timeout: '2' }), ['txtvers=1', 'interface=a.B', 'protocol=dubbo', 'timeout=1']);
  });

  it('never publishes token, passwords or secrets', () => {
    const strings = serviceTxt(key, 'dubbo', { token: 's3cr3t', 'registry.password': 'p', client_secret: 'x', 'auth.token': 't', timeout: '1' });
    assert.ok(strings.every((s) => !/s3cr3t|password|secret|token/.test(s)), strings.join(' '));
    assert.ok(instanceTxt({ token: 's3cr3t', weight: '5' }, {}).every((s) => !s.includes('s3cr3t')));
  });

  it('keeps instance-only keys out of the service record and in the instance record', () => {
    const svc = serviceTxt(key, 'dubbo', { weight: '5', timestamp: '1', pid: '9', timeout: '1' });
    assert.ok(!svc.some((s) => /^(weight|timestamp|pid)=/.test(s)));
    assert.deepEqual(instanceTxt({ weight: '5', timestamp: '1', application: 'a', timeout: '1', extra: 'x' }, { timeout: '1' }), [
      'txtvers=1',
      'application=a',
      'weight=5',
      'timestamp=1',
      'extra=x',
    ]);
  });

  it('splits a pair over 255 bytes into key=, key.2=, … and parseTxt joins them back', () => {
    const methods = Array.from({ length: 80 }, (_, i) => `method${i}`).join(',');
    const strings = serviceTxt(key, 'dubbo', { methods });
    for (const s of strings) assert.ok(Buffer.byteLength(s) <= 255, `${s.length}`);
    assert.ok(strings.some((s) => s.startsWith('methods.2=')));
    assert.equal(parseTxt(strings)['methods'], methods);
  });

  it('keeps the record within 1300 bytes, dropping methods before other keys', () => {
    const params: Record<string, string> = { methods: 'm'.repeat(900), serialization: 'hessian2' };
    for (let i = 0; i < 10; i++) params[`k${i}`] = 'v'.repeat(60);
    const strings = serviceTxt(key, 'dubbo', params);
    assert.ok(recordSize(strings) <= TXT_RECORD_MAX, `${recordSize(strings)}`);
    assert.ok(!strings.some((s) => s.startsWith('methods')));
    assert.ok(strings.includes('serialization=hessian2'));
    assert.ok(strings.includes('k9=' + 'v'.repeat(60)));
  });

  it('splits multi-byte characters whole', () => {
    const strings = serviceTxt(key, 'dubbo', { note: 'ü'.repeat(300) });
    assert.equal(parseTxt(strings)['note'], 'ü'.repeat(300));
    for (const s of strings) assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(s)));
  });

  it('property: every string ≤ 255 bytes, record ≤ 1300 bytes, required keys kept, values round-trip when nothing was dropped', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9.]{0,20}$/), fc.string({ maxLength: 400 }), { maxKeys: 12 }), (params) => {
        const strings = serviceTxt(key, 'tri', params);
        assert.ok(strings.every((s) => Buffer.byteLength(s) <= 255));
        assert.ok(recordSize(strings) <= TXT_RECORD_MAX);
        assert.equal(strings[0], 'txtvers=1');
        const back = parseTxt(strings);
        assert.equal(back['interface'], key.interface);
        assert.equal(back['protocol'], 'tri');
      }),
      { numRuns: 300 },
    );
  });
});
