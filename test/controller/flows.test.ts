// DubboService create, update and delete flows against a real API server, each checked by reading
// back the Services, EndpointSlices, status and Events the controller wrote (DESIGN §7).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  CRD,
  adminClient,
  allAnnotationText,
  applyDubboService,
  condition,
  createPod,
  deletePod,
  endpointsOf,
  eventually,
  eventsFor,
  getDubboService,
  getService,
  installCrd,
  listAll,
  resourceVersions,
  setPodStatus,
  slicesOf,
  startInProcess,
  type DubboServiceObj,
  type Meta,
  type ServiceObj,
  settled,
} from './helpers.ts';

/** DESIGN §4's worked example. */
const DEMO_SVC = 'demoservice-gray-v1-0-0-gvbnf6n34g';
const GREETING_SVC = serviceLabel(serviceKey('org.apache.dubbo.demo.GreetingService', '', '2.0.0'));
const ECHO_SVC = serviceLabel(serviceKey('org.example.EchoService', 'blue', ''));
const CR_SECRET = 'cr-secret-7731';

const DEMO_SPEC = {
  application: 'demo-app',
  selector: { matchLabels: { app: 'demo' } },
  ports: [
    { name: 'dubbo', port: 20880 },
    { name: 'tri', port: 50051 },
  ],
  interfaces: [
    { interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0', metadata: { serialization: 'hessian2', timeout: '3000', token: CR_SECRET } },
    { interface: 'org.apache.dubbo.demo.GreetingService', version: '2.0.0', protocol: 'tri' },
  ],
};

const CAMEL = /^[A-Z][A-Za-z0-9]*$/;

let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
  await installCrd(k);
});
after(async () => {
  await cp?.stop();
});

/** p1 ready (node-a, hostname p1-host), p2 not ready (node-b), p3 ready but not selected. */
async function demoPods(ns: string): Promise<void> {
  await Promise.all([
    createPod(k, ns, 'p1', { labels: { app: 'demo' }, ip: '10.10.0.1', ready: true, nodeName: 'node-a', hostname: 'p1-host' }),
    createPod(k, ns, 'p2', { labels: { app: 'demo' }, ip: '10.10.0.2', ready: false, nodeName: 'node-b' }),
    createPod(k, ns, 'p3', { labels: { app: 'other' }, ip: '10.10.0.3', ready: true }),
  ]);
}

/** Waits until the DubboService's status says Ready=want for its current generation. */
async function waitReady(ns: string, name: string, want: 'True' | 'False', reason?: string, ms = 15_000): Promise<DubboServiceObj> {
  return eventually(
    async () => {
      const ds = await getDubboService(k, ns, name);
      const ready = condition(ds, 'Ready');
      if (ds.status?.observedGeneration !== ds.metadata.generation) return undefined;
      if (ready?.status !== want || (reason !== undefined && ready.reason !== reason)) return undefined;
      return ds;
    },
    ms,
    `${ns}/${name} Ready=${want}${reason === undefined ? '' : ` (${reason})`}`,
  );
}

describe('DubboService flows', { timeout: 60_000 }, () => {
  it('a DubboService with ready and unready pods gives the right Service, slices, ports, endpoints, status and Events', async () => {
    const ns = await cp.newNamespace('create');
    await demoPods(ns);
    const cr = await applyDubboService(k, ns, 'demo', DEMO_SPEC);
    const c = await startInProcess(cp, ns);
    try {
      const ds = await waitReady(ns, 'demo', 'True');

      // --- the Services: headless, no selector, one port per protocol named after it, owned by the CR
      const svc = (await getService(k, ns, DEMO_SVC))!;
      assert.ok(svc, `Service ${DEMO_SVC} exists`);
      assert.equal(svc.spec.clusterIP, 'None');
      assert.equal(svc.spec.selector, undefined);
      assert.deepEqual(
        svc.spec.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
        [{ name: 'dubbo', port: 20880, protocol: 'TCP' }],
      );
      assert.equal(svc.metadata.labels?.['app.kubernetes.io/managed-by'], 'dubbo-dns');
      assert.equal(svc.metadata.labels?.['dubbo-dns.io/service-hash'], 'gvbnf6n34g');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/interface'], 'org.apache.dubbo.demo.DemoService');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/group'], 'gray');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/version'], '1.0.0');
      assert.deepEqual(
        svc.metadata.ownerReferences?.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid })),
        [{ apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', name: 'demo', uid: cr.metadata.uid }],
      );
      const svcMetadata = JSON.parse(svc.metadata.annotations?.['dubbo-dns.io/metadata'] ?? '{}') as Record<string, string>;
      assert.equal(svcMetadata['serialization'], 'hessian2');
      assert.equal(svcMetadata['application'], 'demo-app');

      const greeting = (await getService(k, ns, GREETING_SVC))!;
      assert.ok(greeting, `Service ${GREETING_SVC} exists`);
      assert.deepEqual(
        greeting.spec.ports?.map((p) => ({ name: p.name, port: p.port })),
        [{ name: 'tri', port: 50051 }],
      );
      assert.equal(greeting.metadata.annotations?.['dubbo-dns.io/group'], '');
      assert.equal(greeting.metadata.ownerReferences?.[0]?.uid, cr.metadata.uid);

      // --- the slices: conventional labels, owned by the Service, endpoint fields and conditions
      const slices = await slicesOf(k, ns, DEMO_SVC);
      assert.equal(slices.length, 1);
      const slice = slices[0]!;
      assert.equal(slice.metadata.labels?.['kubernetes.io/service-name'], DEMO_SVC);
      assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'controller.dubbo-dns.io');
      assert.deepEqual(
        slice.metadata.ownerReferences?.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller })),
        [{ apiVersion: 'v1', kind: 'Service', name: DEMO_SVC, uid: svc.metadata.uid, controller: true }],
      );
      assert.equal(slice.addressType, 'IPv4');
      assert.deepEqual(slice.ports, [{ name: 'dubbo', port: 20880, protocol: 'TCP' }]);
      const pods = new Map((await listAll<{ metadata: Meta }>(k, `/api/v1/namespaces/${ns}/pods`)).map((p) => [p.metadata.name, p.metadata.uid]));
      assert.deepEqual(slice.endpoints, [
        {
          addresses: ['10.10.0.1'],
          conditions: { ready: true, serving: true, terminating: false },
          hostname: 'p1-host',
          nodeName: 'node-a',
          targetRef: { kind: 'Pod', namespace: ns, name: 'p1', uid: pods.get('p1') },
        },
        {
          addresses: ['10.10.0.2'],
          conditions: { ready: false, serving: false, terminating: false },
          hostname: 'p2',
          nodeName: 'node-b',
          targetRef: { kind: 'Pod', namespace: ns, name: 'p2', uid: pods.get('p2') },
        },
      ]);
      const perEndpoint = JSON.parse(slice.metadata.annotations?.['dubbo-dns.io/endpoints'] ?? '{}') as Record<string, Record<string, string>>;
      assert.deepEqual(Object.keys(perEndpoint).sort(), ['10.10.0.1', '10.10.0.2']);
      assert.equal(perEndpoint['10.10.0.1']?.['timeout'], '3000');
      const greetingSlices = await slicesOf(k, ns, GREETING_SVC);
      assert.deepEqual(
        greetingSlices.flatMap((s) => s.ports ?? []),
        [{ name: 'tri', port: 50051, protocol: 'TCP' }],
      );
      assert.deepEqual(greetingSlices.flatMap((s) => (s.endpoints ?? []).map((e) => e.addresses[0])).sort(), ['10.10.0.1', '10.10.0.2']);

      // --- the CR's `token` metadata never reaches an object others can read
      const text = await allAnnotationText(k, ns);
      assert.ok(!text.includes(CR_SECRET), 'the token value appears in no annotation');
      assert.ok(!/"token"/.test(text), 'no token key appears in any annotation');

      // --- status: observedGeneration, CamelCase reasons, the Services and their counts
      assert.equal(ds.status?.observedGeneration, ds.metadata.generation);
      assert.equal(ds.status?.serviceCount, 2);
      assert.equal(ds.status?.readyEndpoints, 2);
      assert.deepEqual(
        ds.status?.services?.map((s) => ({ name: s.name, interface: s.interface, endpoints: s.endpoints, readyEndpoints: s.readyEndpoints })).sort((a, b) => (a.name < b.name ? -1 : 1)),
        [
          { name: DEMO_SVC, interface: 'org.apache.dubbo.demo.DemoService', endpoints: 2, readyEndpoints: 1 },
          { name: GREETING_SVC, interface: 'org.apache.dubbo.demo.GreetingService', endpoints: 2, readyEndpoints: 1 },
        ].sort((a, b) => (a.name < b.name ? -1 : 1)),
      );
      const reconciled = condition(ds, 'Reconciled')!;
      const ready = condition(ds, 'Ready')!;
      assert.equal(reconciled.status, 'True');
      assert.equal(reconciled.reason, 'Applied');
      assert.equal(ready.reason, 'EndpointsReady');
      for (const cnd of ds.status?.conditions ?? []) {
        assert.match(cnd.reason, CAMEL);
        assert.equal(cnd.observedGeneration, ds.metadata.generation);
        assert.ok(!Number.isNaN(Date.parse(cnd.lastTransitionTime)));
      }

      // --- Events: one ServiceCreated (Normal) per Service, on the DubboService
      const events = await eventually(
        async () => {
          const ev = (await eventsFor(k, ns, 'demo')).filter((e) => e.reason === 'ServiceCreated');
          return ev.length >= 2 ? ev : undefined;
        },
        10_000,
        'ServiceCreated events',
      );
      assert.equal(events.length, 2);
      for (const e of events) {
        assert.equal(e.type, 'Normal');
        assert.equal(e.involvedObject.kind, 'DubboService');
        assert.equal(e.involvedObject.uid, cr.metadata.uid);
      }
      assert.deepEqual(events.map((e) => [DEMO_SVC, GREETING_SVC].find((n) => e.message.includes(n))).sort(), [DEMO_SVC, GREETING_SVC].sort());
    } finally {
      await c.stop();
    }
  });

  it('adding an interface adds its Service, removing one prunes it, and the rest is not rewritten', async () => {
    const ns = await cp.newNamespace('update');
    const c = await startInProcess(cp, ns);
    try {
      await demoPods(ns);
      await applyDubboService(k, ns, 'demo', DEMO_SPEC);
      await waitReady(ns, 'demo', 'True');
      await eventually(async () => ((await slicesOf(k, ns, GREETING_SVC)).length === 1 ? true : undefined), 10_000, 'greeting slice');
      const demoSvcRv = (await getService(k, ns, DEMO_SVC))!.metadata.resourceVersion;
      const demoSliceRv = (await slicesOf(k, ns, DEMO_SVC))[0]!.metadata.resourceVersion;

      // Add EchoService (group blue), served on dubbo.
      const added = await applyDubboService(k, ns, 'demo', { ...DEMO_SPEC, interfaces: [...DEMO_SPEC.interfaces, { interface: 'org.example.EchoService', group: 'blue' }] });
      assert.equal(added.metadata.generation, 2);
      const echo = await eventually(async () => {
        const e = await getService(k, ns, ECHO_SVC);
        return e?.spec.ports?.length === 1 ? e : undefined;
      }, 10_000, 'EchoService Service with its port');
      assert.equal(echo.metadata.annotations?.['dubbo-dns.io/interface'], 'org.example.EchoService');
      assert.equal(echo.metadata.annotations?.['dubbo-dns.io/group'], 'blue');
      assert.deepEqual(echo.spec.ports?.map((p) => [p.name, p.port]), [['dubbo', 20880]]);
      const echoEndpoints = await eventually(async () => {
        const eps = await endpointsOf(k, ns, ECHO_SVC);
        return eps.size === 2 ? eps : undefined;
      }, 10_000, 'EchoService endpoints');
      assert.equal(echoEndpoints.get('10.10.0.1')?.conditions?.ready, true);
      assert.equal(echoEndpoints.get('10.10.0.2')?.conditions?.ready, false);
      const ds2 = await eventually(async () => {
        const ds = await getDubboService(k, ns, 'demo');
        return ds.status?.observedGeneration === 2 && ds.status.serviceCount === 3 && condition(ds, 'Ready')?.status === 'True' ? ds : undefined;
      }, 10_000, 'status of generation 2 with 3 Services');
      assert.ok(ds2.status?.services?.some((s) => s.name === ECHO_SVC && s.endpoints === 2 && s.readyEndpoints === 1));

      // Remove GreetingService: its Service and slices go; nothing else is touched.
      await applyDubboService(k, ns, 'demo', { ...DEMO_SPEC, interfaces: [DEMO_SPEC.interfaces[0]!, { interface: 'org.example.EchoService', group: 'blue' }] });
      await eventually(async () => ((await getService(k, ns, GREETING_SVC)) === undefined && (await slicesOf(k, ns, GREETING_SVC)).length === 0 ? true : undefined), 10_000, 'GreetingService pruned');
      const ds3 = await eventually(async () => {
        const ds = await getDubboService(k, ns, 'demo');
        return ds.status?.observedGeneration === 3 ? ds : undefined;
      }, 10_000, 'status of generation 3');
      assert.equal(ds3.status?.serviceCount, 2);
      assert.deepEqual(ds3.status?.services?.map((s) => s.name).sort(), [DEMO_SVC, ECHO_SVC].sort());
      assert.ok(condition(ds3, 'Ready')?.observedGeneration === 3);
      assert.equal((await getService(k, ns, DEMO_SVC))!.metadata.resourceVersion, demoSvcRv, 'the DemoService Service was not rewritten');
      assert.equal((await slicesOf(k, ns, DEMO_SVC))[0]!.metadata.resourceVersion, demoSliceRv, 'the DemoService slice was not rewritten');
    } finally {
      await c.stop();
    }
  });

  it('a pod turning unready flips `ready`, and the Ready condition follows; a terminating pod is terminating', async () => {
    const ns = await cp.newNamespace('ready');
    const c = await startInProcess(cp, ns);
    try {
      await demoPods(ns);
      await applyDubboService(k, ns, 'demo', DEMO_SPEC);
      const before = await waitReady(ns, 'demo', 'True', 'EndpointsReady');
      await eventually(async () => ((await endpointsOf(k, ns, DEMO_SVC)).get('10.10.0.1')?.conditions?.ready === true ? true : undefined), 10_000, 'p1 ready');

      await setPodStatus(k, ns, 'p1', '10.10.0.1', false);
      const unready = await eventually(async () => {
        const e = (await endpointsOf(k, ns, DEMO_SVC)).get('10.10.0.1');
        return e?.conditions?.ready === false ? e : undefined;
      }, 10_000, 'p1 not ready in the slice');
      assert.deepEqual(unready.conditions, { ready: false, serving: false, terminating: false });
      const notReady = await waitReady(ns, 'demo', 'False', 'NoReadyEndpoints');
      assert.equal(notReady.status?.readyEndpoints, 0);
      assert.match(condition(notReady, 'Ready')!.message, /org\.apache\.dubbo\.demo\.DemoService/);
      assert.notEqual(condition(notReady, 'Ready')!.lastTransitionTime, undefined);

      await setPodStatus(k, ns, 'p2', '10.10.0.2', true);
      await eventually(async () => ((await endpointsOf(k, ns, DEMO_SVC)).get('10.10.0.2')?.conditions?.ready === true ? true : undefined), 10_000, 'p2 ready in the slice');
      const again = await waitReady(ns, 'demo', 'True', 'EndpointsReady');
      assert.equal(again.status?.readyEndpoints, 2);
      // Reconciled did not flip, so its lastTransitionTime is kept.
      assert.equal(condition(again, 'Reconciled')!.lastTransitionTime, condition(before, 'Reconciled')!.lastTransitionTime);

      // A pod being deleted (it has a node, so it waits for its grace period): terminating, not ready, still serving.
      await deletePod(k, ns, 'p2', 30);
      const terminating = await eventually(async () => {
        const e = (await endpointsOf(k, ns, DEMO_SVC)).get('10.10.0.2');
        return e?.conditions?.terminating === true ? e : undefined;
      }, 10_000, 'p2 terminating in the slice');
      assert.deepEqual(terminating.conditions, { ready: false, serving: true, terminating: true });
      await deletePod(k, ns, 'p2', 0);
      await eventually(async () => (!(await endpointsOf(k, ns, DEMO_SVC)).has('10.10.0.2') ? true : undefined), 10_000, 'p2 gone from the slice');

      // A pod whose labels stop matching the selector leaves.
      await k.request('PATCH', `/api/v1/namespaces/${ns}/pods/p1`, { body: { metadata: { labels: { app: 'elsewhere' } } }, contentType: 'application/merge-patch+json' });
      await eventually(async () => ((await slicesOf(k, ns, DEMO_SVC)).length === 0 ? true : undefined), 10_000, 'no endpoint left, so no slice');
      assert.ok(await getService(k, ns, DEMO_SVC), 'the Service stays while the DubboService declares it');
      const empty = await eventually(async () => {
        const ds = await getDubboService(k, ns, 'demo');
        return ds.status?.services?.every((s) => s.endpoints === 0) ? ds : undefined;
      }, 10_000, 'status with no endpoints');
      assert.equal(condition(empty, 'Ready')?.status, 'False');
    } finally {
      await c.stop();
    }
  });

  it('deleting a DubboService prunes its Services and slices (no garbage collector here)', async () => {
    const ns = await cp.newNamespace('delete');
    const c = await startInProcess(cp, ns);
    try {
      await demoPods(ns);
      await applyDubboService(k, ns, 'demo', DEMO_SPEC);
      await waitReady(ns, 'demo', 'True');
      await eventually(async () => ((await slicesOf(k, ns, GREETING_SVC)).length === 1 && (await slicesOf(k, ns, DEMO_SVC)).length === 1 ? true : undefined), 10_000, 'slices');
      // An unrelated Service in the namespace must survive.
      await k.request('POST', `/api/v1/namespaces/${ns}/services`, { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bystander' }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 80 }] } } });

      await k.request('DELETE', `${CRD}/namespaces/${ns}/dubboservices/demo`);
      await eventually(
        async () => {
          const services = (await listAll<ServiceObj>(k, `/api/v1/namespaces/${ns}/services`)).map((s) => s.metadata.name);
          const slices = await listAll<{ metadata: Meta }>(k, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`);
          return services.length === 1 && services[0] === 'bystander' && slices.length === 0 ? true : undefined;
        },
        10_000,
        'Services and slices pruned',
      );
    } finally {
      await c.stop();
    }
  });

  it('invalid DubboServices are rejected by the API server with a message naming the field', async () => {
    const ns = await cp.newNamespace('invalid');
    const base = DEMO_SPEC;
    const cases: { what: string; spec: Record<string, unknown> | undefined; field: string | RegExp }[] = [
      { what: 'empty selector', spec: { ...base, selector: {} }, field: 'spec.selector' },
      { what: 'port name not an IANA name', spec: { ...base, ports: [{ name: 'Dubbo_X', port: 20880 }] }, field: 'spec.ports[0].name' },
      { what: "port name with '--'", spec: { ...base, ports: [{ name: 'du--bo', port: 20880 }] }, field: 'spec.ports[0].name' },
      { what: 'port out of range', spec: { ...base, ports: [{ name: 'dubbo', port: 70000 }] }, field: 'spec.ports[0].port' },
      { what: 'no ports', spec: { ...base, ports: [] }, field: 'spec.ports' },
      { what: 'no interfaces', spec: { ...base, interfaces: [] }, field: 'spec.interfaces' },
      { what: 'not a Java interface name', spec: { ...base, interfaces: [{ interface: 'not a name!' }] }, field: 'spec.interfaces[0].interface' },
      { what: 'interface listed twice', spec: { ...base, interfaces: [{ interface: 'a.B', version: '1' }, { interface: 'a.B', version: '1' }] }, field: 'spec.interfaces' },
      { what: 'weight out of range', spec: { ...base, weight: 70000 }, field: 'spec.weight' },
      { what: 'metadata value not a string', spec: { ...base, interfaces: [{ interface: 'a.B', metadata: { timeout: 3000 } }] }, field: 'spec.interfaces[0].metadata.timeout' },
      { what: 'missing spec', spec: undefined, field: 'spec' },
      // The rule that an interface's protocol is one of the ports is a CEL rule on spec; its message
      // must still point at the interfaces (the field to fix).
      { what: 'protocol not among ports', spec: { ...base, interfaces: [{ interface: 'a.B', protocol: 'grpc' }] }, field: /spec\.interfaces/ },
    ];
    const failures: string[] = [];
    for (const t of cases) {
      const name = `bad-${cases.indexOf(t)}`;
      const body: Record<string, unknown> = { apiVersion: 'dubbo-dns.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace: ns } };
      if (t.spec !== undefined) body['spec'] = t.spec;
      let message = '';
      try {
        await k.request('POST', `${CRD}/namespaces/${ns}/dubboservices`, { body });
        failures.push(`${t.what}: accepted`);
        continue;
      } catch (err) {
        message = (err as Error).message;
        if (!/: 422 /.test(message)) failures.push(`${t.what}: not a 422: ${message}`);
      }
      const names = typeof t.field === 'string' ? message.includes(t.field) : t.field.test(message);
      if (!names) failures.push(`${t.what}: message does not name ${String(t.field)}: ${message}`);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(await listAll(k, `${CRD}/namespaces/${ns}/dubboservices`), [], 'nothing was stored');
  });

  it('a name conflict is reported (status and a Warning Event) and the foreign object is untouched', async () => {
    const ns = await cp.newNamespace('conflict');
    // Someone else's Service already holds the DemoService name; a forged "managed" Service of another
    // key holds the GreetingService name.
    const foreign = await k.request<ServiceObj>('POST', `/api/v1/namespaces/${ns}/services`, {
      body: { apiVersion: 'v1', kind: 'Service', metadata: { name: DEMO_SVC, labels: { team: 'payments' }, annotations: { note: 'mine' } }, spec: { clusterIP: 'None', ports: [{ name: 'http', port: 8080 }] } },
    });
    const forged = await k.request<ServiceObj>('POST', `/api/v1/namespaces/${ns}/services`, {
      body: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: {
          name: GREETING_SVC,
          labels: { 'app.kubernetes.io/managed-by': 'dubbo-dns' },
          annotations: { 'dubbo-dns.io/interface': 'org.example.Other', 'dubbo-dns.io/group': '', 'dubbo-dns.io/version': '' },
        },
        spec: { clusterIP: 'None', ports: [{ name: 'dubbo', port: 1 }] },
      },
    });
    const c = await startInProcess(cp, ns);
    try {
      await demoPods(ns);
      const cr = await applyDubboService(k, ns, 'demo', { ...DEMO_SPEC, interfaces: [...DEMO_SPEC.interfaces, { interface: 'org.example.EchoService', group: 'blue' }] });
      const ds = await waitReady(ns, 'demo', 'False', 'NameConflict');
      const ready = condition(ds, 'Ready')!;
      assert.match(ready.message, new RegExp(DEMO_SVC));
      assert.match(ready.message, new RegExp(GREETING_SVC));
      assert.match(ready.reason, CAMEL);

      const events = await eventually(
        async () => {
          const ev = (await eventsFor(k, ns, 'demo')).filter((e) => e.reason === 'NameConflict');
          return ev.length >= 2 ? ev : undefined;
        },
        10_000,
        'NameConflict events',
      );
      for (const e of events) {
        assert.equal(e.type, 'Warning');
        assert.equal(e.involvedObject.kind, 'DubboService');
        assert.equal(e.involvedObject.uid, cr.metadata.uid);
      }
      assert.ok(events.some((e) => e.message.includes(DEMO_SVC)));
      assert.ok(events.some((e) => e.message.includes(GREETING_SVC)));

      // The third interface is unaffected by its siblings' conflicts.
      await eventually(async () => ((await endpointsOf(k, ns, ECHO_SVC)).size === 2 ? true : undefined), 10_000, 'EchoService endpoints');

      // Once the controller has settled (queue empty, no more writes), nothing foreign has moved.
      await settled(() => c.metrics());
      const foreignNow = (await getService(k, ns, DEMO_SVC))!;
      assert.equal(foreignNow.metadata.resourceVersion, foreign.metadata.resourceVersion, 'foreign Service untouched');
      assert.deepEqual(foreignNow.metadata.labels, { team: 'payments' });
      assert.equal(foreignNow.metadata.ownerReferences, undefined);
      const forgedNow = (await getService(k, ns, GREETING_SVC))!;
      assert.equal(forgedNow.metadata.resourceVersion, forged.metadata.resourceVersion, 'Service of another key untouched');
      assert.deepEqual(await slicesOf(k, ns, DEMO_SVC), [], 'no slice for a name we do not own');
      assert.deepEqual(await slicesOf(k, ns, GREETING_SVC), [], 'no slice for a name of another key');
      const rvs = await resourceVersions(k, ns);
      assert.equal(rvs.get(`Service/${DEMO_SVC}`), foreign.metadata.resourceVersion);
    } finally {
      await c.stop();
    }
  });
});
