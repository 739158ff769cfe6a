import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { RequestOptions } from 'node:https';
import type { ApiCredentials } from './rest.ts';

// Credentials of a pod's ServiceAccount, read the way client-node's KubeConfig.loadFromCluster
// (and client-go's rest.InClusterConfig) reads them: the API server from KUBERNETES_SERVICE_HOST
// and _PORT, the cluster CA and the bearer token from the mounted service-account directory. Kept
// apart from client-node because loading client-node costs a process about 86 MiB and a third of
// a second, while a pod needs nothing else of it; kubeconfig files still go through client-node.

/** Where the kubelet mounts a pod's service-account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * True when client-node's default order (KUBECONFIG, then ~/.kube/config, then the service-account
 * token) would pick in-cluster credentials.
 */
export function usesInClusterCredentials(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): boolean {
  if ((env['KUBECONFIG'] ?? '') !== '') return false;
  const home = env['HOME'];
  if (home !== undefined && home !== '' && existsSync(join(home, '.kube', 'config'))) return false;
  return existsSync(join(dir, 'token'));
}

/** The pod's ServiceAccount credentials, in the shape the REST client takes. */
export function inClusterCredentials(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): ApiCredentials {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (host === undefined || host === '' || port === undefined || port === '') {
    throw new Error('in-cluster credentials need KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (are we in a pod?); or pass --kubeconfig');
  }
  // client-node's rule: these ports are the API server's plain-HTTP ones.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const tokenFile = join(dir, 'token');
  const caFile = join(dir, 'ca.crt');
  const ca = existsSync(caFile) ? readFileSync(caFile) : undefined;
  // Read once now, so a pod whose token cannot be read fails at start, saying which file.
  try {
    readFileSync(tokenFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ServiceAccount token ${tokenFile}: ${(err as Error).message}`, { cause: err });
  }
  return {
    getCurrentCluster: () => ({ server }),
    getCurrentUser: () => ({ authProvider: { name: 'tokenFile', config: { tokenFile } } }),
    async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
      if (ca !== undefined) (opts as RequestOptions & { ca?: Buffer }).ca = ca;
      const token = (await readFile(tokenFile, 'utf8')).trim();
      if (token !== '') opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${token}` };
    },
  };
}
