import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { computeStatus } from '../../src/controller/status.ts';
import type { DubboServiceView } from '../../src/kube/views.ts';
import { decodeDubboGoAnnotation, encodeDubboGoAnnotation, AnnotationError } from '../../src/dubbo/dubbo-go-annotation.ts';
import { selectorMatches, validateDubboServiceSpec } from '../../src/contracts/dubbo-service.ts';
import { guardDecision } from '../../src/source/deregistration-guard.ts';
import type { ServiceData } from '../../src/dns/index/zone-data.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';

describe('dubbo-go annotation', () => {
  it('decodes what dubbo-go 1.5 wrote on a provider pod', () => {
    const value = readFileSync(new URL('../fixtures/dubbo-go-1.5-provider.annotation', import.meta.url), 'utf8');
    const { providers, skipped } = decodeDubboGoAnnotation(value);
    assert.deepEqual(skipped, []);
    assert.equal(providers.length, 1);
    assert.deepEqual(providers[0]?.key, { interface: 'com.ikurento.user.UserProvider', group: '', version: '' });
    assert.equal(providers[0]?.protocol, 'dubbo');
    assert.equal(providers[0]?.port, 20000);
    assert.equal(providers[0]?.params['application'], 'BDTService');
  });

  it('round-trips what encodeDubboGoAnnotation writes', () => {
    const { providers } = decodeDubboGoAnnotation(encodeDubboGoAnnotation(['tri://10.0.0.1:50051/a.B?group=g&version=1']));
    assert.deepEqual(providers[0]?.key, { interface: 'a.B', group: 'g', version: '1' });
  });

  it('rejects what is not base64 JSON, and skips entries that are not provider URLs', () => {
    assert.throws(() => decodeDubboGoAnnotation('not base64!'), AnnotationError);
    assert.throws(() => decodeDubboGoAnnotation(Buffer.from('{"k":1}').toString('base64')), /JSON array/);
    const bad = Buffer.from(JSON.stringify([{ k: '/dubbo/a.B/providers/garbage', v: '' }, { k: '/dubbo/a.B/consumers/x', v: '' }])).toString('base64');
    const decoded = decodeDubboGoAnnotation(bad);
    assert.equal(decoded.providers.length, 0);
    assert.equal(decoded.skipped.length, 1);
  });
});

describe('DubboService spec', () => {
  const good = { selector: { matchLabels: { app: 'a' } }, ports: [{ name: 'tri', port: 50051 }], interfaces: [{ interface: 'a.B' }] };
  it('applies defaults', () => {
    const r = validateDubboServiceSpec(good);
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.spec.weight, 100);
    assert.equal(r.spec.interfaces[0]?.protocol, 'tri');
  });
  it('lists every problem, naming the field', () => {
    const r = validateDubboServiceSpec({ selector: {}, ports: [{ name: 'Bad', port: 0 }], interfaces: [{ interface: '1x' }, { interface: 'a.B', protocol: 'grpc' }], weight: -1 });
    assert.ok(!r.ok);
    if (r.ok) return;
    assert.deepEqual(r.problems, [
      'spec.selector: must select pods (an empty selector would take every pod)',
      'spec.ports[0].name: "Bad" is not a protocol name (IANA service name, e.g. dubbo, tri)',
      'spec.ports[0].port: must be 1-65535',
      'spec.interfaces[0].interface: "1x" is not a Java interface name',
      'spec.interfaces[1].protocol: "grpc" is not one of spec.ports',
      'spec.weight: must be 0-65535',
    ]);
  });
  it('matches label selectors like Kubernetes', () => {
    const sel = { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['x', 'y'] }, { key: 'canary', operator: 'DoesNotExist' as const }] };
    assert.equal(selectorMatches(sel, { app: 'a', tier: 'x' }), true);
    assert.equal(selectorMatches(sel, { app: 'a', tier: 'z' }), false);
    assert.equal(selectorMatches(sel, { app: 'a', tier: 'x', canary: '' }), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: 'k', operator: 'NotIn', values: ['v'] }] }, {}), true);
  });
});

describe('status conditions', () => {
  const cr: DubboServiceView = { namespace: 'n', name: 'd', uid: 'u', generation: 3, spec: undefined, problems: undefined, conditions: [{ type: 'Ready', status: 'True', reason: 'EndpointsReady', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z' }], statusDigest: '' };
  const report = { name: 's', interface: 'a.B', group: '', version: '', endpoints: 2, readyEndpoints: 2 };
  it('keeps lastTransitionTime while a condition keeps its status, and sets observedGeneration', () => {
    const s = computeStatus(cr, undefined, 1, [report], '2026-02-02T00:00:00Z');
    const ready = s.conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(ready?.observedGeneration, 3);
    assert.equal(s.observedGeneration, 3);
    const reconciled = s.conditions.find((c) => c.type === 'Reconciled');
    assert.equal(reconciled?.lastTransitionTime, '2026-02-02T00:00:00Z');
  });
  it('reports a name conflict as Ready=False NameConflict', () => {
    const s = computeStatus(cr, undefined, 1, [{ ...report, conflict: 'taken' }], 'now');
    assert.deepEqual(
      s.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Reconciled', 'True', 'Applied'],
        ['Ready', 'False', 'NameConflict'],
      ],
    );
  });
  it('reports an invalid spec on both conditions', () => {
    const s = computeStatus(cr, ['spec.ports: bad'], 0, [], 'now');
    assert.deepEqual(
      s.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ['Reconciled', 'False', 'InvalidSpec', 'spec.ports: bad'],
        ['Ready', 'False', 'InvalidSpec', 'spec.ports: bad'],
      ],
    );
  });
});

describe('mass-deregistration guard', () => {
  const svc = (ready: number, total = 4): ServiceData => ({
    namespace: 'n',
    key: serviceKey('a.B'),
    protocol: 'dubbo',
    params: {},
    endpoints: Array.from({ length: total }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 1, protocol: 'dubbo', ready: i < ready, weight: 100, params: {} })),
  });
  const opts = { graceMs: 1000, maxDropShare: 0.5 };
  it('holds a drop to zero for the grace period, then lets it through', () => {
    const held = guardDecision(svc(4), svc(0), undefined, 0, opts);
    assert.equal(held.publish.endpoints.filter((e) => e.ready).length, 4);
    assert.equal(held.releaseAt, 1000);
    assert.equal(guardDecision(svc(4), svc(0), held.heldSince, 999, opts).heldSince, 0);
    assert.equal(guardDecision(svc(4), svc(0), held.heldSince, 1000, opts).publish.endpoints.filter((e) => e.ready).length, 0);
  });
  it('lets small drops, growth and first appearances through at once', () => {
    assert.equal(guardDecision(svc(4), svc(2), undefined, 0, opts).heldSince, undefined); // exactly half
    assert.equal(guardDecision(svc(4), svc(1), undefined, 0, opts).heldSince, 0); // 75%
    assert.equal(guardDecision(svc(1), svc(4), undefined, 0, opts).heldSince, undefined);
    assert.equal(guardDecision(undefined, svc(0), undefined, 0, opts).heldSince, undefined);
    assert.equal(guardDecision(svc(4), svc(0), undefined, 0, { graceMs: 0, maxDropShare: 0.5 }).heldSince, undefined);
  });
});
