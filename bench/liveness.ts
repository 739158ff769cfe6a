// A frozen API server (issue 10: "frozen API server -> Stale Answer EDE + /readyz detail: <= 60 s,
// and fresh again <= 10 s after it thaws"). etcd + kube-apiserver (harness/control-plane.ts), one
// managed Service with its EndpointSlice, and `dubbo-dns serve --kubernetes` with its default
// settings (or --watch-liveness-seconds N). Each round: the server is current; after a random idle
// time (so the freeze falls anywhere in the watch cycle) the apiserver is frozen (SIGSTOP), and
// dubbo_dns_data_stale is polled every 100 ms until it reads 1 (freeze -> stale); then it is thawed
// (SIGCONT) and polled until 0 (thaw -> fresh). CoreDNS's `kubernetes` plugin has no staleness
// signal to compare with.
//
//   node bench/liveness.ts [--rounds 3] [--liveness SECONDS] [--json]

import { parseArgs } from 'node:util';
import { httpGet, startControlPlane } from '../harness/control-plane.ts';
import { KubeClient } from '../src/kube/rest.ts';
import { benchService, serviceManifest, sliceManifest } from './propagation-lib.ts';
import { freePort, HOST, installCleanup, killAllChildren, MAIN, sleep, spawnTracked } from './lib.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, liveness: { type: 'string' }, json: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
installCleanup((rounds * 120 + 120) * 1000);

const cp = await startControlPlane();
try {
  const ns = await cp.newNamespace('bench-liveness');
  const k = new KubeClient(cp.kubeConfig);
  const b = benchService(ns, 0, 3);
  const service = serviceManifest(b) as { metadata: { name: string } };
  const created = await k.apply<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/services/${service.metadata.name}`, service, 'bench');
  b.uid = created.metadata.uid;
  const slice = sliceManifest(b) as { metadata: { name: string } };
  await k.apply(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${slice.metadata.name}`, slice, 'bench');

  const [dnsPort, httpPort] = [await freePort(), await freePort()];
  const extra = values.liveness === undefined ? [] : ['--watch-liveness-seconds', values.liveness];
  const dns = spawnTracked([process.execPath, MAIN, 'serve', '--kubernetes', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--listen', `${HOST}:${dnsPort}`, '--http-listen', `${HOST}:${httpPort}`, ...extra]);
  const stale = async (): Promise<number | undefined> => {
    try {
      const text = (await httpGet(`http://${HOST}:${httpPort}/metrics`, { timeoutMs: 2000 })).body;
      const m = /^dubbo_dns_data_stale (\S+)$/m.exec(text);
      return m === null ? undefined : Number(m[1]);
    } catch {
      return undefined;
    }
  };
  /** Seconds until dubbo_dns_data_stale reads `want`. */
  const until = async (want: number, maxMs: number): Promise<number> => {
    const start = performance.now();
    while ((await stale()) !== want) {
      if (!dns.alive()) throw new Error(`dubbo-dns exited: ${dns.output.slice(-2000)}`);
      if (performance.now() - start > maxMs) return Infinity;
      await sleep(100);
    }
    return (performance.now() - start) / 1000;
  };
  await until(0, 60_000);
  const results: { idleS: number; freezeToStaleS: number; thawToFreshS: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const idleS = Math.round(Math.random() * 30);
    await sleep(idleS * 1000);
    cp.freezeApiServer();
    const freezeToStaleS = await until(1, 120_000);
    cp.thawApiServer();
    const thawToFreshS = await until(0, 60_000);
    results.push({ idleS, freezeToStaleS, thawToFreshS });
    if (!values.json) process.stdout.write(`round ${r + 1}: idle ${idleS} s, freeze -> stale ${freezeToStaleS.toFixed(1)} s, thaw -> fresh ${thawToFreshS.toFixed(1)} s\n`);
  }
  if (values.json) process.stdout.write(JSON.stringify({ liveness: values.liveness ?? 'default', results }) + '\n');
  await dns.stop();
} finally {
  cp.thawApiServer();
  killAllChildren();
  await cp.stop();
}
