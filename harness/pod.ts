import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Running a command as it runs in a pod, for the tests and benches: no kubeconfig, the
// ServiceAccount's files where the kubelet mounts them, and the API server's address in the
// environment. The files are put in place in a private mount namespace (unshare, as root), so the
// machine's own /run is untouched.

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace. */
const SERVICE_ACCOUNT_DIR = '/run/secrets/kubernetes.io/serviceaccount';

/** Writes a ServiceAccount directory's three files into `dir`. */
export function writeServiceAccount(dir: string, sa: { token: string; caPem: string; namespace: string }): void {
  writeFileSync(join(dir, 'token'), sa.token);
  writeFileSync(join(dir, 'ca.crt'), sa.caPem);
  writeFileSync(join(dir, 'namespace'), sa.namespace);
}

/** The argv that runs `argv` with `serviceAccountDir`'s files mounted where the kubelet puts them. */
export function inPod(serviceAccountDir: string, argv: readonly string[]): string[] {
  const script = `mount -t tmpfs tmpfs /run && mkdir -p ${SERVICE_ACCOUNT_DIR} && cp -a "$0"/. ${SERVICE_ACCOUNT_DIR}/ && exec "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, serviceAccountDir, ...argv];
}

/** A pod's environment: the API server on this machine's `apiPort`, no kubeconfig, a `home` without ~/.kube. */
export function podEnv(apiPort: number, home: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'], HOME: home, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(apiPort) };
}
