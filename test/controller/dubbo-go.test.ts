// The dubbo-go path (DESIGN §7): pods annotated the way dubbo-go's Kubernetes registry does it
// declare providers without any DubboService. Real annotation format (test/fixtures holds one
// captured from a dubbo-go 1.5 provider); invalid annotations give a Warning Event on that pod only;
// an empty Service outlives its last pod for the orphan retention, then is pruned.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import type { KubeClient } from '../../src/kube/rest.ts';
import { encodeDubboGoAnnotation } from '../../src/dubbo/dubbo-go-annotation.ts';
import { startControlPlane, type ControlPlane } from '../../harness/control-plane.ts';
import {
  ROOT,
  adminClient,
  allAnnotationText,
  createPod,
  deletePod,
  endpointsOf,
  eventually,
  eventsFor,
  getService,
  installCrd,
  slicesOf,
  startInProcess,
} from './helpers.ts';

const FIXTURE = readFileSync(`${ROOT}/test/fixtures/dubbo-go-1.5-provider.annotation`, 'utf8').trim();
const USER_SVC = serviceLabel(serviceKey('com.ikurento.user.UserProvider'));
const GREETER_SVC = serviceLabel(serviceKey('org.example.Greeter', 'g1', '2.0'));
const AUDIT_SVC = serviceLabel(serviceKey('org.example.Audit'));
const GO_SECRET = 'gosecret-4242';

let cp: ControlPlane;
let k: KubeClient;

before(async () => {
  cp = await startControlPlane();
  k = adminClient(cp);
  await installCrd(k); // the controller watches DubboServices too
});
after(async () => {
  await cp?.stop();
});

const goLabels = (version: 'dubbo.io-value' | 'dubbo.io.provider' = 'dubbo.io-value'): Record<string, string> => ({ 'dubbo.io/label': version });

describe('dubbo-go annotated pods', { timeout: 60_000 }, () => {
  it('a real dubbo-go 1.5 annotation gives a Service and slice; the pod gives the address', async () => {
    const ns = await cp.newNamespace('dubbogo');
    const c = await startInProcess(cp, ns);
    try {
      const pod = await createPod(k, ns, 'user-provider-0', { labels: goLabels(), annotations: { 'dubbo.io/annotation': FIXTURE }, ip: '10.20.0.6', ready: true, nodeName: 'node-1' });
      // (The pod is created before its status gives it an IP, so the first Service may have no port yet.)
      const svc = await eventually(async () => {
        const s = await getService(k, ns, USER_SVC);
        return s?.spec.ports?.length === 1 ? s : undefined;
      }, 10_000, `Service ${USER_SVC} with its port`);
      assert.equal(svc.spec.clusterIP, 'None');
      assert.equal(svc.spec.selector, undefined);
      assert.deepEqual(svc.spec.ports?.map((p) => ({ name: p.name, port: p.port })), [{ name: 'dubbo', port: 20000 }]);
      assert.equal(svc.metadata.ownerReferences, undefined, 'no DubboService owns it');
      assert.equal(svc.metadata.labels?.['app.kubernetes.io/managed-by'], 'dubbo-dns');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/interface'], 'com.ikurento.user.UserProvider');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/group'], '');
      assert.equal(svc.metadata.annotations?.['dubbo-dns.io/version'], '');

      const slices = await eventually(async () => {
        const s = await slicesOf(k, ns, USER_SVC);
        return s.length === 1 ? s : undefined;
      }, 10_000, 'the slice');
      const slice = slices[0]!;
      assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'controller.dubbo-dns.io');
      assert.equal(slice.metadata.ownerReferences?.[0]?.uid, svc.metadata.uid);
      assert.deepEqual(slice.ports, [{ name: 'dubbo', port: 20000, protocol: 'TCP' }]);
      assert.deepEqual(slice.endpoints, [
        {
          addresses: ['10.20.0.6'], // the pod's IP, not the 172.17.0.6 written in the URL
          conditions: { ready: true, serving: true, terminating: false },
          hostname: 'user-provider-0',
          nodeName: 'node-1',
          targetRef: { kind: 'Pod', namespace: ns, name: 'user-provider-0', uid: pod.metadata.uid },
        },
      ]);
      const params = JSON.parse(slice.metadata.annotations?.['dubbo-dns.io/endpoints'] ?? '{}') as Record<string, Record<string, string>>;
      assert.equal(params['10.20.0.6']?.['application'], 'BDTService');
      assert.equal(params['10.20.0.6']?.['release'], 'dubbo-golang-1.3.0');
      assert.equal(await eventsFor(k, ns, 'user-provider-0').then((e) => e.filter((x) => x.type === 'Warning').length), 0, 'a valid annotation gives no Warning');
    } finally {
      await c.stop();
    }
  });

  it('several providers and protocols per pod: one Service per key with a port per protocol, and no token anywhere', async () => {
    const ns = await cp.newNamespace('dubbogo-multi');
    const c = await startInProcess(cp, ns);
    try {
      const q = `interface=org.example.Greeter&group=g1&version=2.0&token=${GO_SECRET}&application=greeter`;
      await createPod(k, ns, 'g1', {
        labels: goLabels('dubbo.io-value'),
        annotations: {
          'dubbo.io/annotation': encodeDubboGoAnnotation([
            `tri://10.20.1.1:50051/org.example.Greeter?${q}&weight=50`,
            `dubbo://10.20.1.1:20880/org.example.Greeter?${q}`,
            `dubbo://10.20.1.1:20880/org.example.Audit?interface=org.example.Audit&application=greeter&token=${GO_SECRET}`,
          ]),
        },
        ip: '10.20.1.1',
        ready: true,
      });
      await createPod(k, ns, 'g2', {
        labels: goLabels('dubbo.io.provider'),
        annotations: { 'dubbo.io/annotation': encodeDubboGoAnnotation([`tri://10.20.1.2:50051/org.example.Greeter?${q}`]) },
        ip: '10.20.1.2',
        ready: false,
      });
      const greeter = await eventually(async () => {
        const s = await getService(k, ns, GREETER_SVC);
        return s?.spec.ports?.length === 2 ? s : undefined;
      }, 10_000, 'Greeter Service with two ports');
      assert.deepEqual(greeter.spec.ports?.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })), [
        { name: 'dubbo', port: 20880, protocol: 'TCP' },
        { name: 'tri', port: 50051, protocol: 'TCP' },
      ]);
      assert.equal(greeter.metadata.annotations?.['dubbo-dns.io/group'], 'g1');
      assert.equal(greeter.metadata.annotations?.['dubbo-dns.io/version'], '2.0');
      const eps = await eventually(async () => {
        const e = await endpointsOf(k, ns, GREETER_SVC);
        return e.size === 2 ? e : undefined;
      }, 10_000, 'Greeter endpoints');
      assert.equal(eps.get('10.20.1.1')?.conditions?.ready, true);
      assert.equal(eps.get('10.20.1.2')?.conditions?.ready, false);
      // Endpoints with different port sets cannot share a slice.
      const slices = await slicesOf(k, ns, GREETER_SVC);
      assert.deepEqual(
        slices.map((s) => (s.ports ?? []).map((p) => `${p.name}:${p.port}`).sort().join(',')).sort(),
        ['dubbo:20880,tri:50051', 'tri:50051'],
      );
      const audit = await eventually(async () => {
        const a = await getService(k, ns, AUDIT_SVC);
        return a?.spec.ports?.length === 1 ? a : undefined;
      }, 10_000, 'Audit Service with its port');
      assert.deepEqual(audit.spec.ports?.map((p) => [p.name, p.port]), [['dubbo', 20880]]);
      await eventually(async () => ((await endpointsOf(k, ns, AUDIT_SVC)).size === 1 ? true : undefined), 10_000, 'Audit endpoint');

      const text = await allAnnotationText(k, ns);
      assert.ok(text.includes('greeter'), 'parameters are published');
      assert.ok(!text.includes(GO_SECRET), 'the provider token is in no annotation');
    } finally {
      await c.stop();
    }
  });

  it('an annotation that does not decode gives a Warning Event on that pod; other pods are unaffected', async () => {
    const ns = await cp.newNamespace('dubbogo-bad');
    const c = await startInProcess(cp, ns);
    try {
      const good = encodeDubboGoAnnotation(['dubbo://10.20.2.9:20000/com.ikurento.user.UserProvider?interface=com.ikurento.user.UserProvider']);
      const partial = Buffer.from(
        JSON.stringify([
          { k: '/dubbo/com.ikurento.user.UserProvider/providers/' + encodeURIComponent('dubbo://10.20.2.3:20000/com.ikurento.user.UserProvider?interface=com.ikurento.user.UserProvider'), v: '' },
          { k: '/dubbo/org.example.Broken/providers/' + encodeURIComponent('dubbo://nohost/org.example.Broken'), v: '' },
        ]),
      ).toString('base64');
      await Promise.all([
        createPod(k, ns, 'not-base64', { labels: goLabels(), annotations: { 'dubbo.io/annotation': '%%% not base64 %%%' }, ip: '10.20.2.1', ready: true }),
        createPod(k, ns, 'not-an-array', { labels: goLabels(), annotations: { 'dubbo.io/annotation': Buffer.from('{"k":"/dubbo/x"}').toString('base64') }, ip: '10.20.2.2', ready: true }),
        createPod(k, ns, 'partly-broken', { labels: goLabels(), annotations: { 'dubbo.io/annotation': partial }, ip: '10.20.2.3', ready: true }),
        createPod(k, ns, 'healthy', { labels: goLabels(), annotations: { 'dubbo.io/annotation': good }, ip: '10.20.2.9', ready: true }),
      ]);
      for (const pod of ['not-base64', 'not-an-array', 'partly-broken']) {
        const ev = await eventually(async () => (await eventsFor(k, ns, pod)).find((e) => e.reason === 'InvalidDubboAnnotation'), 10_000, `Warning Event on ${pod}`);
        assert.equal(ev.type, 'Warning');
        assert.equal(ev.involvedObject.kind, 'Pod');
        assert.equal(ev.involvedObject.name, pod);
        assert.match(ev.message, /dubbo\.io\/annotation/);
      }
      // The healthy pod and the good entry of the partly broken one are published.
      const eps = await eventually(async () => {
        const e = await endpointsOf(k, ns, USER_SVC);
        return e.size === 2 ? e : undefined;
      }, 10_000, 'UserProvider endpoints of the healthy and partly broken pods');
      assert.deepEqual([...eps.keys()].sort(), ['10.20.2.3', '10.20.2.9']);
      assert.equal((await eventsFor(k, ns, 'healthy')).length, 0, 'no Event on the healthy pod');
      assert.equal(await getService(k, ns, serviceLabel(serviceKey('org.example.Broken'))), undefined);
      // And a log line names each bad pod.
      for (const pod of ['not-base64', 'not-an-array', 'partly-broken']) {
        assert.ok(c.logs.some((l) => l['level'] === 40 && String(l['pod']).endsWith(`/${pod}`)), `log line for ${pod}`);
      }
    } finally {
      await c.stop();
    }
  });

  it('with leader election, a pod whose annotation was bad before the controller started still gets its Warning Event', async () => {
    // The shipped Deployment runs with --leader-elect: caches sync before the lease is won, so
    // the pods of the first list are seen while this replica may not write yet.
    const ns = await cp.newNamespace('dubbogo-leader');
    await createPod(k, ns, 'bad-early', { labels: goLabels(), annotations: { 'dubbo.io/annotation': 'still not base64 !!' }, ip: '10.20.4.1', ready: true });
    const c = await startInProcess(cp, ns, { leaderElection: { namespace: ns, name: 'dubbo-dns-controller', identity: 'only', leaseDurationSeconds: 2 } });
    try {
      await eventually(async () => (c.controller.canWrite ? true : undefined), 10_000, 'leadership');
      const ev = await eventually(async () => (await eventsFor(k, ns, 'bad-early')).find((e) => e.reason === 'InvalidDubboAnnotation'), 5_000, 'Warning Event on a pod listed before leadership');
      assert.equal(ev.type, 'Warning');
    } finally {
      await c.stop();
    }
  });

  it('a deleted dubbo-go pod leaves its empty Service until the orphan retention passes, then it is pruned', async () => {
    const ns = await cp.newNamespace('dubbogo-orphan');
    const retentionMs = 4000;
    const c = await startInProcess(cp, ns, { orphanRetentionMs: retentionMs });
    try {
      const gone = encodeDubboGoAnnotation(['dubbo://10.20.3.1:20000/org.example.Gone?interface=org.example.Gone']);
      const back = encodeDubboGoAnnotation(['dubbo://10.20.3.2:20000/org.example.Back?interface=org.example.Back']);
      const goneSvc = serviceLabel(serviceKey('org.example.Gone'));
      const backSvc = serviceLabel(serviceKey('org.example.Back'));
      await createPod(k, ns, 'gone-0', { labels: goLabels(), annotations: { 'dubbo.io/annotation': gone }, ip: '10.20.3.1', ready: true });
      await createPod(k, ns, 'back-0', { labels: goLabels(), annotations: { 'dubbo.io/annotation': back }, ip: '10.20.3.2', ready: true });
      await eventually(async () => ((await slicesOf(k, ns, goneSvc)).length === 1 && (await slicesOf(k, ns, backSvc)).length === 1 ? true : undefined), 10_000, 'both slices');

      const t0 = Date.now();
      await Promise.all([deletePod(k, ns, 'gone-0'), deletePod(k, ns, 'back-0')]);
      const orphan = await eventually(async () => {
        const s = await getService(k, ns, goneSvc);
        return s?.metadata.annotations?.['dubbo-dns.io/orphaned-since'] !== undefined && (await slicesOf(k, ns, goneSvc)).length === 0 ? s : undefined;
      }, 5_000, 'the orphaned, empty Service');
      assert.ok(Date.now() - t0 < retentionMs, 'seen before the retention ended');
      assert.ok(!Number.isNaN(Date.parse(orphan.metadata.annotations!['dubbo-dns.io/orphaned-since']!)));

      // A new pod of the other key comes back within the retention: that Service is kept.
      await createPod(k, ns, 'back-1', { labels: goLabels(), annotations: { 'dubbo.io/annotation': encodeDubboGoAnnotation(['dubbo://10.20.3.3:20000/org.example.Back?interface=org.example.Back']) }, ip: '10.20.3.3', ready: true });
      await eventually(async () => ((await endpointsOf(k, ns, backSvc)).has('10.20.3.3') ? true : undefined), 5_000, 'the returning pod');

      await eventually(async () => ((await getService(k, ns, goneSvc)) === undefined ? true : undefined), retentionMs + 10_000, 'the orphan pruned');
      assert.ok(Date.now() - t0 >= retentionMs, `pruned only after the retention (${Date.now() - t0} ms)`);
      assert.deepEqual(await slicesOf(k, ns, goneSvc), []);
      const kept = (await getService(k, ns, backSvc))!;
      assert.ok(kept, 'the Service whose pod came back is kept');
      assert.equal(kept.metadata.annotations?.['dubbo-dns.io/orphaned-since'], undefined, 'and is no longer marked orphaned');
    } finally {
      await c.stop();
    }
  });
});
