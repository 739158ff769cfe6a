import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import * as L from '../../src/kube/labels.ts';
import { projectManagedSlice } from '../../src/kube/project.ts';
import type { ManagedServiceView, ManagedSliceView } from '../../src/kube/views.ts';
import { desiredService, desiredSlices, hashOf, type Manifest } from '../../src/plan/desired.ts';
import { planKey, type KeyState } from '../../src/plan/plan.ts';
import type { DeclaredEndpoint, DeclaredService } from '../../src/source/declared.ts';

const key = serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0');
const NAME = 'demoservice-gray-v1-0-0-gvbnf6n34g';

function endpoint(i: number, overrides: Partial<DeclaredEndpoint> = {}): DeclaredEndpoint {
  return {
    address: `10.${Math.floor(i / 250)}.${Math.floor((i % 250) / 10)}.${(i % 10) + 1}`,
    addressType: 'IPv4',
    ports: [{ protocol: 'tri', port: 50051 }],
    ready: true,
    serving: true,
    terminating: false,
    hostname: `pod-${i}`,
    podName: `pod-${i}`,
    podUid: `uid-${i}`,
    weight: 100,
    params: {},
    ...overrides,
  };
}

function declared(endpoints: DeclaredEndpoint[], owners = [{ name: 'demo', uid: 'cr-uid' }]): DeclaredService {
  return { namespace: 'shop', key, protocol: 'tri', params: { application: 'demo' }, endpoints, owners };
}

/** What the API server would hold after applying manifests: the views the controller caches. */
function asViews(manifests: readonly Manifest[]): ManagedSliceView[] {
  return manifests.map((m) => projectManagedSlice(m as unknown as Record<string, unknown>)!);
}

function serviceView(m: Manifest, uid = 'svc-uid'): ManagedServiceView {
  return { namespace: 'shop', name: m.metadata.name, uid, annotations: m.metadata.annotations, ownerUids: (m.metadata.ownerReferences ?? []).map((o) => o.uid) };
}

function state(overrides: Partial<KeyState>): KeyState {
  return { namespace: 'shop', key, declared: undefined, service: undefined, slices: [], taken: undefined, now: Date.parse('2026-01-01T00:00:00Z'), retentionMs: 600_000, ...overrides };
}

describe('desired objects (DESIGN §7)', () => {
  it('a headless Service without selector, one port per protocol, identity and owner', () => {
    const m = desiredService(declared([endpoint(0), endpoint(1, { ports: [{ protocol: 'dubbo', port: 20880 }, { protocol: 'tri', port: 50051 }] })]));
    assert.equal(m.metadata.name, NAME);
    assert.deepEqual((m['spec'] as { ports: unknown }).ports, [
      { name: 'dubbo', protocol: 'TCP', port: 20880, targetPort: 20880 },
      { name: 'tri', protocol: 'TCP', port: 50051, targetPort: 50051 },
    ]);
    assert.equal((m['spec'] as { clusterIP: string }).clusterIP, 'None');
    assert.equal((m['spec'] as { selector?: unknown }).selector, undefined);
    assert.equal(m.metadata.labels[L.MANAGED_BY_LABEL], 'dubbo-dns');
    assert.equal(m.metadata.labels[L.SERVICE_HASH_LABEL], 'gvbnf6n34g');
    assert.equal(m.metadata.annotations[L.INTERFACE_ANNOTATION], key.interface);
    assert.deepEqual(m.metadata.ownerReferences, [{ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', name: 'demo', uid: 'cr-uid' }]);
  });

  it('250 endpoints make 3 slices of at most 100', () => {
    const slices = desiredSlices(declared(Array.from({ length: 250 }, (_, i) => endpoint(i))), 'svc-uid', []);
    assert.deepEqual(
      slices.map((s) => (s['endpoints'] as unknown[]).length),
      [100, 100, 50],
    );
    for (const s of slices) {
      assert.equal(s.metadata.labels[L.SLICE_SERVICE_LABEL], NAME);
      assert.equal(s.metadata.ownerReferences?.[0]?.uid, 'svc-uid');
    }
  });

  it('one endpoint changing rewrites one slice; the others keep their hash', () => {
    const eps = Array.from({ length: 250 }, (_, i) => endpoint(i));
    const first = desiredSlices(declared(eps), 'svc-uid', []);
    const changed = eps.map((e, i) => (i === 137 ? { ...e, ready: false } : e));
    const second = desiredSlices(declared(changed), 'svc-uid', asViews(first));
    assert.deepEqual(
      second.map((s) => s.metadata.name),
      first.map((s) => s.metadata.name),
    );
    const rewritten = second.filter((s, i) => hashOf(s) !== hashOf(first[i]!));
    assert.equal(rewritten.length, 1);
  });

  it('a removed endpoint leaves the others where they are; a new one fills the room', () => {
    const eps = Array.from({ length: 150 }, (_, i) => endpoint(i));
    const first = asViews(desiredSlices(declared(eps), 'u', []));
    const without = eps.filter((_, i) => i !== 3);
    const second = desiredSlices(declared([...without, endpoint(999)]), 'u', first);
    const where = (slices: readonly { metadata: { name: string } }[], addr: string) =>
      slices.find((s) => ((s as unknown as { endpoints: { addresses: string[] }[] }).endpoints ?? []).some((e) => e.addresses[0] === addr))?.metadata.name;
    for (const e of without) assert.equal(where(second, e.address), first.find((s) => s.addresses.includes(e.address))?.name);
    assert.ok(where(second, endpoint(999).address) !== undefined);
  });

  it('IPv4 and IPv6 endpoints go to separate slices', () => {
    const slices = desiredSlices(declared([endpoint(0), endpoint(1, { address: 'fd00::1', addressType: 'IPv6' })]), 'u', []);
    assert.deepEqual(slices.map((s) => s['addressType']).sort(), ['IPv4', 'IPv6']);
  });
});

describe('plan of one key', () => {
  it('creates the Service, then its slices', () => {
    const plan = planKey(state({ declared: declared([endpoint(0)]) }));
    assert.equal(plan.kind, 'apply');
    if (plan.kind !== 'apply') return;
    assert.equal(plan.service?.metadata.name, NAME);
    assert.equal(plan.slices('u').apply.length, 1);
  });

  it('writes nothing when what exists matches', () => {
    const d = declared([endpoint(0), endpoint(1)]);
    const svc = desiredService(d);
    const slices = asViews(desiredSlices(d, 'svc-uid', []));
    const plan = planKey(state({ declared: d, service: serviceView(svc), slices }));
    assert.equal(plan.kind, 'apply');
    if (plan.kind !== 'apply') return;
    assert.equal(plan.service, undefined);
    assert.deepEqual(plan.slices('svc-uid'), { apply: [], delete: [] });
  });

  it('a name held by a foreign object or another key is a conflict, and nothing is written', () => {
    const foreign = planKey(state({ declared: declared([endpoint(0)]), taken: { by: 'foreign' } }));
    assert.equal(foreign.kind, 'conflict');
    const other = planKey(state({ declared: declared([endpoint(0)]), taken: { by: 'other-key', key: serviceKey('x.Y') } }));
    assert.deepEqual(other, { kind: 'conflict', message: 'name is already used by the Service of x.Y; nothing was changed' });
  });

  it('a key no DubboService declares any more is pruned at once', () => {
    const d = declared([endpoint(0)]);
    const svc = serviceView(desiredService(d));
    const slices = asViews(desiredSlices(d, 'svc-uid', []));
    assert.deepEqual(planKey(state({ service: svc, slices })), { kind: 'delete', service: NAME, slices: slices.map((s) => s.name) });
  });

  it('a key whose annotated pods all vanished keeps an empty Service for the retention, then is pruned', () => {
    const d = declared([endpoint(0)], []);
    const svc = serviceView(desiredService(d));
    const slices = asViews(desiredSlices(d, 'svc-uid', []));
    const now = Date.parse('2026-01-01T00:00:00Z');
    const held = planKey(state({ service: svc, slices, now }));
    assert.equal(held.kind, 'apply');
    if (held.kind !== 'apply') return;
    assert.equal(held.service?.metadata.annotations[L.ORPHANED_SINCE_ANNOTATION], '2026-01-01T00:00:00.000Z');
    assert.deepEqual(held.slices('svc-uid'), { apply: [], delete: slices.map((s) => s.name) });
    assert.equal(held.requeueAfterMs, 600_000);
    const orphan = serviceView(held.service!);
    assert.equal(planKey(state({ service: orphan, now: now + 599_000 })).kind, 'apply');
    assert.deepEqual(planKey(state({ service: orphan, now: now + 600_000 })), { kind: 'delete', service: NAME, slices: [] });
  });
});
