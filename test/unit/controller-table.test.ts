import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Controller } from '../../src/controller/controller.ts';
import { Executor, NotLeaderError } from '../../src/controller/executor.ts';
import * as L from '../../src/contracts/labels.ts';
import { encodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { ControllerMetrics } from '../../src/observability/controller-metrics.ts';
import type { Write } from '../../src/plan/plan.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeKube, type Obj } from '../support/fake-kube.ts';

// The controller as a table, external-dns style: resources in -> writes and objects out, on a fake
// API server and a fake clock (no kube-apiserver). Each row starts the real Controller (stores,
// queue, gather -> plan -> executor) on its own objects and lets it settle.

const NS = 'shop';
const DEMO = serviceKey('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0');
const S = serviceLabel(DEMO);
const OTHER = serviceKey('org.example.Other');
const DUBBO_API = '/apis/dubbo-dns.io/v1alpha1';
const at = {
  pod: (name: string) => `/api/v1/namespaces/${NS}/pods/${name}`,
  dubboService: (name: string) => `${DUBBO_API}/namespaces/${NS}/dubboservices/${name}`,
  service: (name: string) => `/api/v1/namespaces/${NS}/services/${name}`,
  slice: (name: string) => `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices/${name}`,
};

/** A pod with a status, as the kubelet would report it. */
function pod(name: string, o: { ip: string; ready?: boolean; labels?: Record<string, string>; annotations?: Record<string, string> }): [string, Obj] {
  return [
    at.pod(name),
    {
      metadata: { labels: o.labels ?? { app: 'demo' }, annotations: o.annotations ?? {} },
      spec: { nodeName: 'node-1' },
      status: { phase: 'Running', podIPs: [{ ip: o.ip }], conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
    },
  ];
}

function dubboService(name: string, spec: Record<string, unknown> = {}): [string, Obj] {
  return [
    at.dubboService(name),
    {
      metadata: { generation: 1, uid: `uid-${name}` },
      spec: { selector: { matchLabels: { app: 'demo' } }, ports: [{ name: 'tri', port: 50051 }], interfaces: [{ interface: DEMO.interface, group: DEMO.group, version: DEMO.version }], ...spec },
    },
  ];
}

/** A Service that dubbo-dns does not manage. */
function foreignService(name: string): [string, Obj] {
  return [at.service(name), { metadata: { labels: { app: 'someone-else' } }, spec: { clusterIP: '10.0.0.9' } }];
}

interface Run {
  readonly kube: FakeKube;
  readonly clock: FakeClock;
  readonly controller: Controller;
  /** Writes sent since the start (or since the last `writes()` call), as `VERB Kind name`. */
  writes(): string[];
  /** Lets queued work (and `ms` of fake time) run. */
  settle(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

const KIND_OF: Record<string, string> = { services: 'Service', endpointslices: 'EndpointSlice', dubboservices: 'DubboService', events: 'Event' };

async function run(objects: readonly [string, Obj][], o: { kube?: FakeKube; clock?: FakeClock } = {}): Promise<Run> {
  const kube = o.kube ?? new FakeKube();
  const clock = o.clock ?? new FakeClock();
  if (o.kube === undefined) for (const [path, obj] of objects) kube.put(path, obj);
  let seen = kube.calls.length;
  let depth = (): number => 0;
  const controller = new Controller({
    client: kube,
    namespaces: [NS],
    orphanRetentionMs: 600_000,
    resyncMs: 3_600_000,
    workers: 2,
    log: pino({ level: 'silent' }),
    metrics: (d, managed) => {
      depth = d;
      return new ControllerMetrics(d, managed);
    },
    clock,
  });
  await controller.start();
  const settle = async (ms = 0): Promise<void> => {
    // Status writes wait 300 ms for more of their keys; a few rounds let chains of work finish.
    for (let round = 0; round < 5 || depth() > 0; round++) {
      if (round > 50) throw new Error('the controller did not settle');
      await clock.advance(round === 0 ? ms : 400);
    }
  };
  await settle();
  return {
    kube,
    clock,
    controller,
    writes() {
      const calls = kube.calls.slice(seen).filter((c) => /^(APPLY|DELETE|POST|PUT) /.test(c));
      seen = kube.calls.length;
      return calls.map((c) => {
        const [verb, path] = c.split(' ') as [string, string];
        const parts = path.split('/');
        const status = parts.at(-1) === 'status';
        const resource = status ? parts.at(-3)! : verb === 'POST' ? parts.at(-1)! : parts.at(-2)!;
        const name = status ? parts.at(-2)! : verb === 'POST' ? '' : parts.at(-1)!;
        return `${verb} ${KIND_OF[resource] ?? resource}${status ? '/status' : ''}${name === '' ? '' : ` ${name.replace(S, 'S')}`}`;
      });
    },
    settle,
    stop: () => controller.stop(),
  };
}

/** The reasons of the Events recorded in the namespace, sorted. */
function events(kube: FakeKube): string[] {
  return kube
    .paths(`/api/v1/namespaces/${NS}/events`)
    .map((p) => `${String(kube.get(p)?.['type'])} ${String(kube.get(p)?.['reason'])}`)
    .sort();
}

function conditionsOf(kube: FakeKube, name: string): string[] {
  const status = kube.get(at.dubboService(name))?.['status'] as { conditions?: { type: string; status: string; reason: string }[] } | undefined;
  return (status?.conditions ?? []).map((c) => `${c.type}=${c.status} ${c.reason}`);
}

function slicesOfS(kube: FakeKube): Obj[] {
  return kube
    .paths(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`)
    .map((p) => kube.get(p)!)
    .filter((s) => s.metadata?.labels?.[L.SLICE_SERVICE_LABEL] === S);
}

function endpointsOfS(kube: FakeKube): string[] {
  return slicesOfS(kube)
    .flatMap((s) => (s['endpoints'] as { addresses: string[]; conditions: { ready: boolean; serving: boolean } }[]).map((e) => `${e.addresses[0]} ready=${e.conditions.ready} serving=${e.conditions.serving}`))
    .sort();
}

const SLICE = /^APPLY EndpointSlice S-[a-z2-7]{5}-0$/;

describe('controller table: resources in -> writes and objects out', () => {
  it('a DubboService and its ready pods: the Service, then its slice, then status and an Event', async () => {
    const r = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1' }), pod('p2', { ip: '10.0.0.2' }), pod('stranger', { ip: '10.0.0.3', labels: { app: 'other' } })]);
    const writes = r.writes();
    assert.equal(writes[0], 'APPLY Service S');
    assert.match(writes[1] ?? '', SLICE);
    assert.deepEqual(writes.slice(2).sort(), ['APPLY DubboService/status demo', 'POST Event']);
    assert.deepEqual(endpointsOfS(r.kube), ['10.0.0.1 ready=true serving=true', '10.0.0.2 ready=true serving=true']);
    const svc = r.kube.get(at.service(S))!;
    assert.equal((svc['spec'] as { clusterIP: string }).clusterIP, 'None');
    assert.equal(svc.metadata?.labels?.[L.MANAGED_BY_LABEL], 'dubbo-dns');
    const owner = (slicesOfS(r.kube)[0]?.metadata as { ownerReferences?: { uid: string }[] }).ownerReferences?.[0];
    assert.equal(owner?.uid, svc.metadata?.uid, 'the slice is owned by the Service created in the same plan');
    assert.deepEqual(conditionsOf(r.kube, 'demo'), ['Reconciled=True Applied', 'Ready=True EndpointsReady']);
    assert.deepEqual(events(r.kube), ['Normal ServiceCreated']);
    await r.stop();
  });

  it('unready pods: published not ready; with publishNotReadyAddresses, ready', async () => {
    const plain = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1', ready: false })]);
    assert.deepEqual(endpointsOfS(plain.kube), ['10.0.0.1 ready=false serving=false']);
    assert.deepEqual(conditionsOf(plain.kube, 'demo'), ['Reconciled=True Applied', 'Ready=False NoReadyEndpoints']);
    await plain.stop();
    const published = await run([dubboService('demo', { publishNotReadyAddresses: true }), pod('p1', { ip: '10.0.0.1', ready: false })]);
    assert.deepEqual(endpointsOfS(published.kube), ['10.0.0.1 ready=true serving=true']);
    await published.stop();
  });

  it('a name held by a Service dubbo-dns does not manage: nothing written but status and a Warning', async () => {
    const r = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1' }), foreignService(S)]);
    assert.deepEqual(r.writes().sort(), ['APPLY DubboService/status demo', 'POST Event']);
    assert.deepEqual(conditionsOf(r.kube, 'demo'), ['Reconciled=True Applied', 'Ready=False NameConflict']);
    assert.deepEqual(events(r.kube), ['Warning NameConflict']);
    assert.equal(r.kube.get(at.service(S))?.metadata?.labels?.[L.MANAGED_BY_LABEL], undefined, 'the foreign Service is untouched');
    // The foreign Service goes away: the key is reconciled at once (level-triggered), no resync needed.
    r.kube.remove(at.service(S));
    await r.settle();
    assert.deepEqual(r.writes().slice(0, 1), ['APPLY Service S']);
    assert.deepEqual(conditionsOf(r.kube, 'demo'), ['Reconciled=True Applied', 'Ready=True EndpointsReady']);
    await r.stop();
  });

  it("a name held by another key's Service is a conflict too", async () => {
    const held: [string, Obj] = [
      at.service(S),
      // Declared by pod annotations that are gone: kept empty for the retention period.
      { metadata: { labels: { [L.MANAGED_BY_LABEL]: L.MANAGED_BY_VALUE }, annotations: { [L.INTERFACE_ANNOTATION]: OTHER.interface, [L.GROUP_ANNOTATION]: '', [L.VERSION_ANNOTATION]: '' } } },
    ];
    const r = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1' }), held]);
    const status = r.kube.get(at.dubboService('demo'))?.['status'] as { conditions: { type: string; message: string }[] };
    assert.match(status.conditions.find((c) => c.type === 'Ready')?.message ?? '', /the Service of org\.example\.Other/);
    assert.deepEqual(events(r.kube), ['Warning NameConflict']);
    assert.equal(r.kube.get(at.service(S))?.metadata?.annotations?.[L.INTERFACE_ANNOTATION], OTHER.interface, 'still the other key\'s');
    await r.stop();
  });

  it('a DubboService deleted: its Service first, then its slices, are pruned', async () => {
    const r = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1' })]);
    r.writes();
    r.kube.remove(at.dubboService('demo'));
    await r.settle();
    const writes = r.writes();
    assert.equal(writes[0], 'DELETE Service S');
    assert.match(writes[1] ?? '', /^DELETE EndpointSlice S-/);
    assert.equal(writes.length, 2);
    await r.stop();
  });

  it('dubbo-go annotated pods: published; when all are gone the empty Service is kept for the retention, then pruned', async () => {
    const annotation = encodeDubboGoAnnotation(['tri://10.0.0.1:50051/org.apache.dubbo.demo.DemoService?group=gray&version=1.0.0&application=demo&token=secret']);
    const r = await run([pod('go-1', { ip: '10.0.0.1', labels: { app: 'go' }, annotations: { 'dubbo.io/annotation': annotation } })]);
    const first = r.writes();
    assert.equal(first[0], 'APPLY Service S');
    assert.match(first[1] ?? '', SLICE);
    assert.ok(!JSON.stringify(slicesOfS(r.kube)).includes('secret'), 'the token never reaches an object');
    r.kube.remove(at.pod('go-1'));
    await r.settle();
    assert.deepEqual(r.writes().map((w) => w.replace(/S-.*/, 'S-…')), ['APPLY Service S', 'DELETE EndpointSlice S-…']);
    assert.ok(r.kube.get(at.service(S))?.metadata !== undefined);
    const since = Date.parse(String(r.kube.get(at.service(S))?.metadata?.annotations?.[L.ORPHANED_SINCE_ANNOTATION]));
    await r.clock.advance(since + 600_000 - 1 - r.clock.now()); // the retention, less a millisecond
    assert.deepEqual(r.writes(), []);
    await r.settle(1_000);
    assert.deepEqual(r.writes(), ['DELETE Service S']);
    await r.stop();
  });

  it('a restart with nothing changed writes nothing', async () => {
    const clock = new FakeClock();
    const first = await run([dubboService('demo'), pod('p1', { ip: '10.0.0.1' }), pod('p2', { ip: 'fd00::2' })], { clock });
    await first.stop();
    const again = await run([], { kube: first.kube, clock });
    assert.deepEqual(again.writes(), []);
    await again.stop();
  });
});

describe('executor', () => {
  const svc = (name: string): Write => ({ verb: 'apply', kind: 'Service', manifest: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS, labels: {}, annotations: {} } } });

  it('checks leadership before every write: a plan cut off mid-way sends nothing more', async () => {
    const kube = new FakeKube();
    let leader = true;
    const executor = new Executor({ client: kube, mayWrite: () => leader });
    const writes = [svc('a'), svc('b'), svc('c')];
    kube.fail = (method, path) => {
      if (method === 'APPLY' && path.endsWith('/a')) leader = false; // leadership ends while the first write is on its way
      return undefined;
    };
    await assert.rejects(executor.execute(writes, undefined), NotLeaderError);
    assert.deepEqual(kube.calls, [`APPLY ${at.service('a')}`]);
  });

  it('binds slices to the uid of the Service applied before them', async () => {
    const kube = new FakeKube();
    const executor = new Executor({ client: kube, mayWrite: () => true });
    const slice: Write = {
      verb: 'apply',
      kind: 'EndpointSlice',
      bind: true,
      manifest: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'a-x', namespace: NS, labels: { [L.SLICE_SERVICE_LABEL]: 'a' }, annotations: {} }, endpoints: [] },
    };
    await executor.execute([svc('a'), slice], undefined);
    const uid = kube.get(at.service('a'))?.metadata?.uid;
    const refs = (kube.get(at.slice('a-x'))?.metadata as { ownerReferences: { uid: string }[]; annotations: Record<string, string> }) ?? {};
    assert.equal(refs.ownerReferences[0]?.uid, uid);
    assert.match(refs.annotations[L.DESIRED_HASH_ANNOTATION] ?? '', /^[0-9a-f]{16}$/);
  });
});
