import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RequestOptions } from 'node:https';
import { inClusterCredentials, usesInClusterCredentials } from '../../src/kube/in-cluster.ts';

// In-cluster credentials follow client-node's rules (KubeConfig.loadFromDefault / loadFromCluster):
// which source wins, the server URL, the CA and the bearer token.

const root = mkdtempSync(join(tmpdir(), 'in-cluster-'));
after(() => rmSync(root, { recursive: true, force: true }));

function serviceAccount(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'sa-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('in-cluster credentials', () => {
  const sa = serviceAccount({ token: 'tok-1\n', 'ca.crt': 'CA PEM' });
  const home = mkdtempSync(join(root, 'home-'));
  const env = { HOME: home, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('are used only without KUBECONFIG and ~/.kube/config, and with a token file', () => {
    assert.equal(usesInClusterCredentials(env, sa), true);
    assert.equal(usesInClusterCredentials({ ...env, KUBECONFIG: '/x/config' }, sa), false);
    assert.equal(usesInClusterCredentials(env, serviceAccount({})), false);
    const withConfig = mkdtempSync(join(root, 'home-'));
    mkdirSync(join(withConfig, '.kube'));
    writeFileSync(join(withConfig, '.kube', 'config'), '');
    assert.equal(usesInClusterCredentials({ ...env, HOME: withConfig }, sa), false);
  });

  it('name the API server as client-node does: https, http on 80/8080/8001, IPv6 in brackets', () => {
    assert.equal(inClusterCredentials(env, sa).getCurrentCluster()?.server, 'https://10.96.0.1:443');
    assert.equal(inClusterCredentials({ ...env, KUBERNETES_SERVICE_PORT: '8080' }, sa).getCurrentCluster()?.server, 'http://10.96.0.1:8080');
    assert.equal(inClusterCredentials({ ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, sa).getCurrentCluster()?.server, 'https://[fd00::1]:443');
  });

  it('set the CA and the bearer token, and name the token file for rotation', async () => {
    const creds = inClusterCredentials(env, sa);
    const opts: RequestOptions & { ca?: Buffer } = {};
    await creds.applyToHTTPSOptions(opts);
    assert.equal(opts.ca?.toString(), 'CA PEM');
    assert.equal((opts.headers as Record<string, string>)['Authorization'], 'Bearer tok-1');
    assert.equal(creds.getCurrentUser()?.authProvider?.config?.['tokenFile'], join(sa, 'token'));
  });

  it('say what is missing: the service variables, or a readable token', () => {
    assert.throws(() => inClusterCredentials({ HOME: home }, sa), /KUBERNETES_SERVICE_HOST/);
    const broken = serviceAccount({});
    mkdirSync(join(broken, 'token'));
    assert.throws(() => inClusterCredentials(env, broken), /cannot read the ServiceAccount token .*token/);
  });
});
