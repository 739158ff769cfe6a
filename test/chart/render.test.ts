// The chart without a cluster: lint, the schema, what the values turn into, and that deploy/ and
// the README's values table are what the chart renders (no drift).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isMap, isScalar, parse, parseDocument, type YAMLMap } from 'yaml';
import { documentedValues, valuesTable, withValuesTable } from '../../scripts/chart-values-table.ts';
import { ROOT } from '../controller/helpers.ts';
import { run } from '../wire/helpers.ts';
import { argsOf, CHART, ciValues, helm, helmBin, only, podTemplate, RELEASE, RELEASE_NAMESPACE, render, templateArgs } from './helpers.ts';

const DEPLOY = join(ROOT, 'deploy');

describe('chart', { timeout: 120_000 }, () => {
  it('Chart.yaml: appVersion is the package version', () => {
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, pkg.version);
  });

  for (const values of ['', 'namespaced', 'all-features', 'kustomize']) {
    it(`helm lint --strict passes (${values === '' ? 'default values' : `ci/${values}-values.yaml`})`, async () => {
      const r = await helm(['lint', '--strict', CHART, ...(values === '' ? [] : ['--values', ciValues(values)])]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }

  it('values.schema.json and the templates reject bad values with a message', async () => {
    const cases: [string[], RegExp][] = [
      [['dns.workers=0'], /\/dns\/workers.*minimum/],
      [['dns.wrokers=2'], /\/dns.*additional properties 'wrokers' not allowed/],
      [['watchNamespaces={Team_A}'], /\/watchNamespaces\/0.*does not match pattern/],
      [['logLevel=verbose'], /\/logLevel/],
      [['image.pullPolicy=Sometimes'], /\/image\/pullPolicy/],
      [['commonLabels.app\\.kubernetes\\.io/managed-by=dubbo-dns'], /managed-by/],
      [['dns.lameduckSeconds=30'], /terminationGracePeriodSeconds \(30\) must exceed dns.lameduckSeconds \(30\)/],
      [['metrics.service.enabled=false', 'metrics.serviceMonitor.enabled=true'], /serviceMonitor.enabled needs metrics.service.enabled/],
      [['controller.zookeeper.servers=zk-0:2181'], /\/controller\/zookeeper\/namespace.*minLength/],
      [['controller.zookeeper.servers=zk-0'], /\/controller\/zookeeper\/servers.*does not match pattern/],
      [['controller.zookeeper.servers=zk-0:2181', 'controller.zookeeper.namespace=shop', 'watchNamespaces={team-a}'], /controller.zookeeper.namespace shop is not among watchNamespaces/],
    ];
    for (const [set, message] of cases) {
      const r = await helm(templateArgs([], set));
      assert.notEqual(r.code, 0, `--set ${set.join(' ')} is rejected`);
      assert.match(r.stderr, message, `--set ${set.join(' ')}`);
    }
  });

  it('default values: cluster-wide RBAC, the controller elects a leader, the DNS workers fit the CPU limit', async () => {
    const objects = await render();
    assert.deepEqual(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name).sort(), ['dubbo-dns', 'dubbo-dns-controller']);
    assert.deepEqual(objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ['dubbo-dns/dubbo-dns-controller-leader-election']);
    const controller = only(objects, 'Deployment', 'controller');
    const dns = only(objects, 'Deployment', 'dns');
    assert.equal((controller['spec'] as { replicas: number }).replicas, 2);
    assert.deepEqual(argsOf(controller).slice(0, 4), ['controller', '--leader-elect', '--lease-namespace=dubbo-dns', '--lease-name=dubbo-dns-controller']);
    for (const d of [controller, dns]) assert.ok(!argsOf(d).some((a) => a.startsWith('--namespace')), `${d.metadata.name}: no --namespace`);
    assert.ok(argsOf(dns).includes('--workers=2'));
    assert.ok(argsOf(dns).includes('--lameduck=5'));
    const limits = podTemplate(dns).spec.containers[0]!.resources?.limits;
    assert.equal(limits?.['cpu'], '2', 'CPU limit = workers');
    assert.equal(limits?.['memory'], '512Mi');
    const withFour = only(await render([], ['dns.workers=4']), 'Deployment', 'dns');
    assert.equal(podTemplate(withFour).spec.containers[0]!.resources?.limits?.['cpu'], '4');
    const service = only(objects, 'Service', 'dns');
    assert.deepEqual((service['spec'] as { ports: unknown[] }).ports, [
      { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 'dns-tcp', protocol: 'TCP' },
    ]);
    for (const d of [controller, dns]) {
      const annotations = podTemplate(d).metadata.annotations ?? {};
      assert.equal(annotations['prometheus.io/scrape'], 'true');
      assert.equal(annotations['prometheus.io/port'], String(d === dns ? 8080 : 8081));
      assert.equal(annotations['prometheus.io/path'], '/metrics');
    }
    assert.ok(!objects.some((o) => ['ServiceMonitor', 'NetworkPolicy', 'ConfigMap', 'Namespace'].includes(o.kind)), 'optional objects are off by default');
  });

  it('watchNamespaces: Roles in each listed namespace, nothing cluster-wide, --namespace for both components', async () => {
    const objects = await render([ciValues('namespaced')]);
    assert.ok(!objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'), 'no ClusterRole or ClusterRoleBinding');
    const roles = objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
    assert.deepEqual(roles, ['dubbo-dns/dubbo-dns-controller-leader-election', 'team-a/dubbo-dns', 'team-a/dubbo-dns-controller', 'team-b/dubbo-dns', 'team-b/dubbo-dns-controller']);
    const bindings = objects.filter((o) => o.kind === 'RoleBinding').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
    assert.deepEqual(bindings, ['dubbo-dns/dubbo-dns-controller-leader-election', 'team-a/dubbo-dns', 'team-a/dubbo-dns-controller', 'team-b/dubbo-dns', 'team-b/dubbo-dns-controller']);
    for (const component of ['controller', 'dns']) assert.ok(argsOf(only(objects, 'Deployment', component)).includes('--namespace=team-a,team-b'), component);
  });

  it('controller.zookeeper: the --zookeeper flags, and the auth Secret mounted read-only as the file the flag names', async () => {
    const set = ['controller.zookeeper.servers=zk-0:2181\\,zk-1:2181', 'controller.zookeeper.namespace=shop', 'controller.zookeeper.authSecret.name=zk-auth'];
    const controller = only(await render([], set), 'Deployment', 'controller');
    const args = argsOf(controller);
    for (const flag of ['--zookeeper=zk-0:2181,zk-1:2181', '--zookeeper-root=/dubbo', '--zookeeper-namespace=shop', '--zookeeper-auth-file=/etc/dubbo-dns/zookeeper/auth']) assert.ok(args.includes(flag), `${flag} in ${args.join(' ')}`);
    const spec = podTemplate(controller).spec as unknown as { volumes: { name: string; secret?: { secretName: string } }[]; containers: { volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[] }[] };
    assert.deepEqual(spec.volumes.map((v) => [v.name, v.secret?.secretName]), [['zookeeper-auth', 'zk-auth']]);
    assert.deepEqual(spec.containers[0]!.volumeMounts, [{ name: 'zookeeper-auth', mountPath: '/etc/dubbo-dns/zookeeper', readOnly: true }]);
    const plain = argsOf(only(await render(), 'Deployment', 'controller'));
    assert.ok(!plain.some((a) => a.startsWith('--zookeeper')), 'no --zookeeper by default');
  });

  it('every pod runs as 65532, non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp', async () => {
    for (const d of (await render([ciValues('all-features')])).filter((o) => o.kind === 'Deployment')) {
      const spec = podTemplate(d).spec as unknown as { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[]; enableServiceLinks: boolean };
      assert.deepEqual(
        { user: spec.securityContext['runAsUser'], group: spec.securityContext['runAsGroup'], nonRoot: spec.securityContext['runAsNonRoot'], seccomp: spec.securityContext['seccompProfile'] },
        { user: 65532, group: 65532, nonRoot: true, seccomp: { type: 'RuntimeDefault' } },
        d.metadata.name,
      );
      for (const c of spec.containers) {
        assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } }, d.metadata.name);
      }
      assert.equal(spec.enableServiceLinks, false, `${d.metadata.name}: no DUBBO_DNS_* Service variables`);
    }
  });

  it('the install notes print the CoreDNS server block of deploy/coredns/Corefile.dubbo with the Service address', async () => {
    const r = await helm(['install', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, '--dry-run=client', '--set', 'dns.service.clusterIP=10.96.0.53']);
    assert.equal(r.code, 0, r.stderr);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    const block = readFileSync(join(ROOT, 'deploy', 'coredns', 'Corefile.dubbo'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => `    ${l.replace('DUBBO_DNS_CLUSTER_IP', '10.96.0.53')}`)
      .join('\n');
    assert.ok(notes.includes(block), `NOTES hold\n${block}\n---\n${notes}`);
  });

  it('values.yaml documents every key (`# --`), and the README table is generated from it', () => {
    const text = readFileSync(join(CHART, 'values.yaml'), 'utf8');
    const documented = new Set(documentedValues(text).map((v) => v.key));
    const undocumented: string[] = [];
    const walk = (map: YAMLMap, path: readonly string[], covered: boolean): void => {
      for (const pair of map.items) {
        const key = [...path, String(isScalar(pair.key) ? pair.key.value : pair.key)];
        const here = covered || documented.has(key.join('.'));
        if (isMap(pair.value) && pair.value.items.length > 0) walk(pair.value, key, here);
        else if (!here) undocumented.push(key.join('.'));
      }
    };
    const doc = parseDocument(text);
    assert.ok(isMap(doc.contents));
    walk(doc.contents, [], false);
    assert.deepEqual(undocumented, []);
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    assert.equal(readme, withValuesTable(readme, valuesTable(text)), 'charts/dubbo-dns/README.md is current: npm run render-deploy');
  });

  it('deploy/ is exactly what the chart renders with ci/kustomize-values.yaml (npm run render-deploy)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'dubbo-dns-render-'));
    try {
      const r = await run('bash', [join(ROOT, 'scripts', 'render-deploy.sh'), out], { env: { ...process.env, HELM: helmBin() }, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const yamls = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
      assert.deepEqual(yamls(DEPLOY), yamls(out), 'the same files');
      for (const f of yamls(out)) assert.equal(readFileSync(join(DEPLOY, f), 'utf8'), readFileSync(join(out, f), 'utf8'), `deploy/${f} is current: npm run render-deploy`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
