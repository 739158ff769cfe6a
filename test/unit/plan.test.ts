import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as L from '../../src/contracts/labels.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { projectService, projectSlice } from '../../src/kube/project.ts';
import type { ServiceView, SliceView } from '../../src/kube/views.ts';
import { bindSlice, desiredService, desiredSlices, hashOf, type Manifest } from '../../src/plan/desired.ts';
import { planKey, type KeyWorld } from '../../src/plan/plan.ts';
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

/** Slices bound to a Service uid, as the API server would hold them after applying: the views the controller caches. */
function slicesFor(d: DeclaredService, uid: string, current: readonly SliceView[] = []): Manifest[] {
  return desiredSlices(d, current).map((m) => bindSlice(m, uid));
}

function asViews(manifests: readonly Manifest[]): SliceView[] {
  return manifests.map((m) => projectSlice(m as unknown as Record<string, unknown>)!);
}

function serviceView(m: Manifest, uid = 'svc-uid'): ServiceView {
  return projectService({ ...m, metadata: { ...m.metadata, uid } } as unknown as Record<string, unknown>);
}

function world(overrides: Partial<KeyWorld>): KeyWorld {
  return { namespace: 'shop', name: NAME, declared: [], service: undefined, slices: [], now: Date.parse('2026-01-01T00:00:00Z'), retentionMs: 600_000, ...overrides };
}

/** A plan's writes as `verb Kind name`. */
function writes(w: KeyWorld): string[] {
  return planKey(w).writes.map((x) => `${x.verb} ${x.kind} ${x.verb === 'delete' ? x.name : x.manifest.metadata.name}`);
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
    const slices = slicesFor(declared(Array.from({ length: 250 }, (_, i) => endpoint(i))), 'svc-uid');
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
    const first = slicesFor(declared(eps), 'svc-uid');
    const changed = eps.map((e, i) => (i === 137 ? { ...e, ready: false } : e));
    const second = slicesFor(declared(changed), 'svc-uid', asViews(first));
    assert.deepEqual(
      second.map((s) => s.metadata.name),
      first.map((s) => s.metadata.name),
    );
    const rewritten = second.filter((s, i) => hashOf(s) !== hashOf(first[i]!));
    assert.equal(rewritten.length, 1);
  });

  it('a removed endpoint leaves the others where they are; a new one fills the room', () => {
    const eps = Array.from({ length: 150 }, (_, i) => endpoint(i));
    const first = asViews(slicesFor(declared(eps), 'u'));
    const without = eps.filter((_, i) => i !== 3);
    const second = slicesFor(declared([...without, endpoint(999)]), 'u', first);
    const where = (slices: readonly { metadata: { name: string } }[], addr: string) =>
      slices.find((s) => ((s as unknown as { endpoints: { addresses: string[] }[] }).endpoints ?? []).some((e) => e.addresses[0] === addr))?.metadata.name;
    for (const e of without) assert.equal(where(second, e.address), first.find((s) => s.endpoints.some((x) => x.address === e.address))?.name);
    assert.ok(where(second, endpoint(999).address) !== undefined);
  });

  it('IPv4 and IPv6 endpoints go to separate slices', () => {
    const slices = slicesFor(declared([endpoint(0), endpoint(1, { address: 'fd00::1', addressType: 'IPv6' })]), 'u');
    assert.deepEqual(slices.map((s) => s['addressType']).sort(), ['IPv4', 'IPv6']);
  });
});

describe('plan of one Service name', () => {
  it('creates the Service, then its slices, bound to the Service once it has a uid', () => {
    const plan = planKey(world({ declared: [declared([endpoint(0)])] }));
    assert.deepEqual(plan.writes.map((w) => `${w.verb} ${w.kind}`), ['apply Service', 'apply EndpointSlice']);
    assert.deepEqual(plan.writes.map((w) => w.verb === 'apply' && w.kind === 'EndpointSlice' && w.bind), [false, true]);
    assert.equal(plan.outcomes[0]?.kind, 'published');
  });

  it('writes nothing when what exists matches', () => {
    const d = declared([endpoint(0), endpoint(1)]);
    const slices = asViews(slicesFor(d, 'svc-uid'));
    assert.deepEqual(writes(world({ declared: [d], service: serviceView(desiredService(d)), slices })), []);
  });

  it('a name held by a Service we do not manage, or by another key, is a conflict, and nothing is written', () => {
    const foreign = projectService({ metadata: { name: NAME, namespace: 'shop', uid: 'f' } });
    const plan = planKey(world({ declared: [declared([endpoint(0)])], service: foreign }));
    assert.deepEqual(plan.writes, []);
    assert.deepEqual(plan.outcomes.map((o) => o.kind === 'conflict' && o.message), ['name is already used by a Service that dubbo-dns does not manage; nothing was changed']);
    const other = { ...declared([endpoint(0)]), key: serviceKey('x.Y') };
    const held = serviceView(desiredService(other));
    const taken = planKey(world({ declared: [declared([endpoint(0)])], service: held }));
    assert.deepEqual(taken.outcomes.map((o) => o.kind === 'conflict' && o.message), ['name is already used by the Service of x.Y; nothing was changed']);
  });

  it('a key no DubboService declares any more is pruned at once, its Service first', () => {
    const d = declared([endpoint(0)]);
    const slices = asViews(slicesFor(d, 'svc-uid'));
    assert.deepEqual(writes(world({ service: serviceView(desiredService(d)), slices })), [`delete Service ${NAME}`, ...slices.map((s) => `delete EndpointSlice ${s.name}`)]);
  });

  it('a key whose annotated pods all vanished keeps an empty Service for the retention, then is pruned', () => {
    const d = declared([endpoint(0)], []);
    const svc = serviceView(desiredService(d));
    const slices = asViews(slicesFor(d, 'svc-uid'));
    const now = Date.parse('2026-01-01T00:00:00Z');
    const held = planKey(world({ service: svc, slices, now }));
    const service = held.writes[0];
    assert.ok(service?.verb === 'apply' && service.kind === 'Service');
    assert.equal(service.manifest.metadata.annotations[L.ORPHANED_SINCE_ANNOTATION], '2026-01-01T00:00:00.000Z');
    assert.deepEqual(held.writes.slice(1).map((w) => w.verb === 'delete' && w.name), slices.map((s) => s.name));
    assert.equal(held.requeueAfterMs, 600_000);
    const orphan = serviceView(service.manifest);
    assert.deepEqual(writes(world({ service: orphan, now: now + 599_000 })), []);
    assert.deepEqual(writes(world({ service: orphan, now: now + 600_000 })), [`delete Service ${NAME}`]);
  });
});
