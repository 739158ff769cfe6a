// Helpers of the chart tests: the pinned Helm binary (test/tools/build-helm.sh), the chart rendered
// into objects, and those objects sent to the test API server.
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../../src/kube/rest.ts';
import { objectPath, ROOT } from '../controller/helpers.ts';
import { run, type RunResult } from '../wire/helpers.ts';
import { existsSync } from 'node:fs';

/** The pinned Helm version (test/tools/paths.sh HELM_VERSION). */
export const HELM_VERSION = 'v4.3.2';
export const CHART = join(ROOT, 'charts', 'dubbo-dns');
/** The release every test renders: name and namespace as in the docs. */
export const RELEASE = 'dubbo-dns';
export const RELEASE_NAMESPACE = 'dubbo-dns';

/** A values file of charts/dubbo-dns/ci/ by its short name (`namespaced`, `kustomize`, `all-features`). */
export function ciValues(name: string): string {
  return join(CHART, 'ci', `${name}-values.yaml`);
}

/** The Helm binary: $HELM_BIN or the cache path test/tools/build-helm.sh writes. */
export function helmBin(): string {
  const cache = process.env['DUBBO_DNS_CACHE'] || join(process.env['HOME'] || homedir(), '.cache', 'dubbo-dns');
  const bin = process.env['HELM_BIN'] || join(cache, 'bin', `helm-${HELM_VERSION}`);
  if (!existsSync(bin)) throw new Error(`helm ${HELM_VERSION} not found at ${bin}; \`bash test/setup.sh\` builds it (or directly: bash test/tools/build-helm.sh)`);
  return bin;
}

/** Runs helm with `args` (never rejects on a non-zero exit). */
export function helm(args: readonly string[]): Promise<RunResult> {
  return run(helmBin(), args, { timeoutMs: 60_000 });
}

/** A rendered Kubernetes object (as much as the tests read). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The helm template arguments for the test release with these values files and --set pairs. */
export function templateArgs(values: readonly string[] = [], set: readonly string[] = []): string[] {
  return ['template', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE, ...values.flatMap((v) => ['--values', v]), ...set.flatMap((s) => ['--set', s])];
}

/** Every object `helm template` renders for the test release (fails the test on a helm error). */
export async function render(values: readonly string[] = [], set: readonly string[] = []): Promise<K8sObject[]> {
  const r = await helm(templateArgs(values, set));
  assert.equal(r.code, 0, `helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => {
      assert.deepEqual(d.errors, [], 'helm output parses');
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** The one object of a kind (and component, when given); fails unless exactly one matches. */
export function only(objects: readonly K8sObject[], kind: string, component?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (component === undefined || o.metadata.labels?.['app.kubernetes.io/component'] === component));
  assert.equal(found.length, 1, `one ${kind}${component === undefined ? '' : ` of ${component}`} (found ${found.length})`);
  return found[0]!;
}

/** The pod template of a Deployment. */
export interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: { name: string; args?: string[]; resources?: { limits?: Record<string, string | number> } }[]; [key: string]: unknown };
}

/** A Deployment's pod template. */
export function podTemplate(deployment: K8sObject): PodTemplate {
  return (deployment['spec'] as { template: PodTemplate }).template;
}

/** The arguments of a Deployment's first container. */
export function argsOf(deployment: K8sObject): string[] {
  return podTemplate(deployment).spec.containers[0]!.args ?? [];
}

/** Server-side applies an object with dryRun=All; resolves with what the server would store. */
export async function dryRunApply(k: KubeClient, o: K8sObject, fieldManager: string): Promise<K8sObject> {
  return k.request<K8sObject>('PATCH', await objectPath(k, o), {
    query: { fieldManager, force: true, dryRun: 'All' },
    body: o,
    contentType: 'application/apply-patch+yaml',
  });
}
