// ZooKeeper as a source (issue 11): a private ZooKeeper 3.8 holding --interfaces × --providers
// provider nodes (default 1,000 × 10 = 10,000), written as Dubbo writes them (ephemeral, URL-encoded,
// one session of this process).
//
//   1. the floor: a plain node-zookeeper-client (the library dubbo-dns uses) reads the same tree
//      the way the mirror does (children of the root, then of every `providers`, 32 reads in flight);
//   2. initial sync: `dubbo-dns serve --zookeeper` started (servers on core 0), time until a sampled
//      name answers with all its providers; its RSS then;
//   3. propagation: --changes times, register a new provider node under one interface (then remove
//      it, next round): from ZooKeeper's acknowledgement of the write to the first UDP answer (polled
//      every 1 ms) that shows the change. p50/p99.
//
//   4. the controller (--skip-controller leaves it out): a kube-apiserver + etcd (harness), then
//      `dubbo-dns controller --zookeeper` mirrors the same tree into Services and EndpointSlices:
//      time to converge, writes against the ideal (one Service and one EndpointSlice per interface),
//      writes on a restart with nothing changed (ideal 0), and the writes of one new provider (ideal 1).
//
//   node bench/zookeeper.ts [--interfaces 1000] [--providers 10] [--changes 200] [--cpu 0] [--skip-controller]
// Writes bench/results/zookeeper-sync.chart.json and bench/results/zookeeper-propagation.chart.json.

import { once } from 'node:events';
import { parseArgs } from 'node:util';
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';
import { serviceKey } from '../src/dubbo/service-key.ts';
import { serviceLabel } from '../src/dubbo/naming.ts';
import { startZooKeeper } from '../test/support/zookeeper.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startControlPlane } from '../harness/control-plane.ts';
import { KubeClient } from '../src/kube/rest.ts';
import { fmtInt, freePort, httpGet, installCleanup, MAIN, memoryOf, ms, parseProm, PRODUCT_NODE_FLAGS, printUsageAndExit, queryUdp, ROOT, sleep, spawnTracked, summarize, table, writeChart, type Tracked } from './lib.ts';

const { values } = parseArgs({
  options: {
    interfaces: { type: 'string', default: '1000' },
    providers: { type: 'string', default: '10' },
    changes: { type: 'string', default: '200' },
    cpu: { type: 'string', default: '0' },
    'skip-controller': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printUsageAndExit(import.meta.url);
installCleanup(30 * 60_000);

const INTERFACES = Number(values.interfaces);
const PROVIDERS = Number(values.providers);
const CHANGES = Number(values.changes);
const NS = 'bench';
const log = (msg: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

const iface = (i: number): string => `com.example.bench.Service${i}`;
const url = (i: number, j: number): string =>
  `dubbo://10.${100 + (i >> 8)}.${i & 255}.${j + 1}:20880/${iface(i)}?anyhost=true&application=app-${i % 100}&interface=${iface(i)}&methods=get,list,put&side=provider&timeout=3000&release=3.3.0`;
const nodePath = (u: string, i: number): string => `/dubbo/${iface(i)}/providers/${encodeURIComponent(u)}`;
const name = (i: number): string => `${serviceLabel(serviceKey(iface(i)))}.${NS}.dubbo.internal`;

function call<T>(fn: (cb: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err === null || err === undefined ? resolve(value) : reject(err))));
}

async function connect(servers: string): Promise<Client> {
  const client = zookeeper.createClient(servers, { sessionTimeout: 30_000, retries: 2 });
  const connected = once(client, 'connected');
  client.connect();
  await connected;
  return client;
}

/** The floor: the same reads the mirror does, and nothing else. */
async function readTree(servers: string): Promise<{ ms: number; nodes: number }> {
  const started = performance.now();
  const client = await connect(servers);
  const ifaces = await call<string[]>((cb) => client.getChildren('/dubbo', cb));
  let nodes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ifaces.length) {
      const i = ifaces[next++]!;
      const children = await call<string[]>((cb) => client.getChildren(`/dubbo/${i}/providers`, cb));
      nodes += children.length;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const took = performance.now() - started;
  client.close();
  return { ms: took, nodes };
}

const zk = await startZooKeeper({ tickMs: 2000 });
try {
  log(`ZooKeeper on ${zk.address}; registering ${fmtInt(INTERFACES * PROVIDERS)} providers (${fmtInt(INTERFACES)} interfaces x ${PROVIDERS})`);
  const writer = await connect(zk.address);
  for (let i = 0; i < INTERFACES; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, INTERFACES - i) }, (_, k) => call<string>((cb) => writer.mkdirp(`/dubbo/${iface(i + k)}/providers`, cb))));
  }
  const creates: Promise<string>[] = [];
  for (let i = 0; i < INTERFACES; i++) {
    for (let j = 0; j < PROVIDERS; j++) creates.push(call<string>((cb) => writer.create(nodePath(url(i, j), i), Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb)));
    if (creates.length >= 2000) await Promise.all(creates.splice(0));
  }
  await Promise.all(creates);

  const floors = [];
  for (let k = 0; k < 3; k++) floors.push(await readTree(zk.address));
  const floor = [...floors].sort((a, b) => a.ms - b.ms)[1]!;
  log(`floor: a plain client reads ${fmtInt(floor.nodes)} provider nodes in ${ms(floor.ms)} ms (median of 3)`);

  const dnsPort = await freePort();
  const started = performance.now();
  const dns = spawnTracked([process.execPath, ...PRODUCT_NODE_FLAGS, MAIN, 'serve', '--zookeeper', zk.address, '--zookeeper-namespace', NS, '--listen', `127.0.0.1:${dnsPort}`, '--log-level', 'info', '--guard-grace', '0'], values.cpu);
  const sample = [0, Math.floor(INTERFACES / 2), INTERFACES - 1];
  let syncMs = NaN;
  for (;;) {
    if (!dns.alive()) throw new Error(`dubbo-dns exited: ${dns.output}`);
    const replies = await Promise.all(sample.map((i) => queryUdp(dnsPort, name(i), 'A', 200)));
    if (replies.every((r) => r !== undefined && r.answers.length === PROVIDERS)) {
      syncMs = performance.now() - started;
      break;
    }
    if (performance.now() - started > 180_000) throw new Error('dubbo-dns did not sync in 3 minutes');
    await sleep(5);
  }
  await sleep(2000);
  const rss = memoryOf(dns.pid);
  // The mirror's own read: from connected to the registry read, by the server's log times.
  const logTime = (msg: string): number => {
    const line = dns.stdout.split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    return line === undefined ? NaN : Date.parse((JSON.parse(line) as { time: string }).time);
  };
  const mirrorReadMs = logTime('registry read') - logTime('connected to ZooKeeper; reading the registry');
  log(`dubbo-dns answers with every sampled provider ${ms(syncMs)} ms after start; RSS ${(rss.rssKiB / 1024).toFixed(0)} MiB`);

  const latencies: (number | undefined)[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const i = (k * 7919) % INTERFACES;
    const extra = `dubbo://10.99.${k >> 8}.${k & 255}:20880/${iface(i)}?interface=${iface(i)}&side=provider`;
    const path = nodePath(extra, i);
    await call<string>((cb) => writer.create(path, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb));
    const t0 = performance.now();
    const want = `10.99.${k >> 8}.${k & 255}`;
    let seen: number | undefined;
    while (performance.now() - t0 < 5000) {
      const r = await queryUdp(dnsPort, name(i), 'A', 200);
      if (r !== undefined && r.answers.some((a) => a.endsWith(` A ${want}`))) {
        seen = performance.now() - t0;
        break;
      }
      await sleep(1);
    }
    latencies.push(seen);
    await call<void>((cb) => writer.remove(path, (err) => cb(err, undefined)));
  }
  const lat = summarize(latencies);
  await dns.stop();
  const controller = values['skip-controller'] ? undefined : await controllerPhase(zk.address, writer);
  writer.close();

  const out = [
    `== ZooKeeper source: ${fmtInt(INTERFACES * PROVIDERS)} provider nodes, ${fmtInt(INTERFACES)} interfaces; dubbo-dns on core ${values.cpu} ==`,
    '',
    table(
      ['measure', 'dubbo-dns', 'floor (plain client, same reads)', 'ratio'],
      [
        ['read the tree: connected -> read (ms)', ms(mirrorReadMs), ms(floor.ms), (mirrorReadMs / floor.ms).toFixed(1)],
        ['initial sync: process start -> answers (ms)', ms(syncMs), '', ''],
        [`ZooKeeper write -> new answer, p50 / p99 (ms, ${CHANGES} changes)`, `${ms(lat.p50)} / ${ms(lat.p99)}`, '', ''],
        ['RSS after sync (MiB)', (rss.rssKiB / 1024).toFixed(0), '', ''],
      ],
    ),
    `timeouts (no answer within 5 s): ${lat.timeouts}`,
    ...(controller === undefined
      ? []
      : [
          '',
          `controller --zookeeper into a kube-apiserver (${controller.workers} workers):`,
          table(
            ['phase', 'converged', 'writes (metric)', 'ideal'],
            [
              ['cold start', `${(controller.cold.ms / 1000).toFixed(1)} s`, fmtInt(controller.cold.writes), fmtInt(2 * INTERFACES)],
              ['restart, nothing changed', `${(controller.restart.ms / 1000).toFixed(1)} s`, fmtInt(controller.restart.writes), '0'],
              ['one new provider node', `${ms(controller.change.ms)} ms`, fmtInt(controller.change.writes), '1'],
            ],
          ),
          `controller RSS after the cold start ${(controller.rssKiB / 1024).toFixed(0)} MiB`,
        ]),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  writeChart('zookeeper-sync', {
    kind: 'bars',
    title: `Initial sync of ${fmtInt(INTERFACES * PROVIDERS)} ZooKeeper provider nodes`,
    unit: 'ms',
    groups: ['initial sync'],
    series: [
      { label: 'dubbo-dns: process start to answers', values: [Math.round(syncMs)] },
      { label: 'dubbo-dns: connected to tree read', values: [Math.round(mirrorReadMs)] },
      { label: 'plain client: connect and read the tree', values: [Math.round(floor.ms)] },
    ],
  });
  writeChart('zookeeper-propagation', {
    kind: 'cdf',
    title: `ZooKeeper write acknowledged -> new answer (${CHANGES} changes)`,
    unit: 'ms',
    series: [{ label: 'dubbo-dns', values: latencies.filter((v): v is number => v !== undefined).map((v) => Number(v.toFixed(3))) }],
  });
} finally {
  await zk.dispose();
}

interface ControllerFigures {
  readonly workers: number;
  readonly cold: { ms: number; writes: number };
  readonly restart: { ms: number; writes: number };
  readonly change: { ms: number; writes: number };
  readonly rssKiB: number;
}

/** The controller mirroring the same tree into a real API server; see the header. */
async function controllerPhase(servers: string, writer: Client): Promise<ControllerFigures> {
  log('controller: starting etcd + kube-apiserver');
  const cp = await startControlPlane();
  try {
    const k = new KubeClient(cp.kubeConfig);
    const crd = parseYaml(readFileSync(join(ROOT, 'deploy', 'crd.yaml'), 'utf8')) as object;
    await k.apply('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dubboservices.dubbo-dns.io', crd, 'dubbo-dns-bench');
    const ns = await cp.newNamespace('zkbench');
    const workers = 4;
    const start = async (): Promise<{ proc: Tracked; port: number; t0: number }> => {
      const port = await freePort();
      const t0 = performance.now();
      const proc = spawnTracked(
        [process.execPath, ...PRODUCT_NODE_FLAGS, MAIN, 'controller', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--zookeeper', servers, '--zookeeper-namespace', ns, '--http-listen', `127.0.0.1:${port}`, '--workers', String(workers), '--log-level', 'warn'],
        values.cpu,
      );
      return { proc, port, t0 };
    };
    const metrics = async (port: number): Promise<{ writes: number; services: number; slices: number; depth: number; synced: number }> => {
      const r = await httpGet(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      const all = parseProm(typeof r?.body === 'string' ? r.body : '');
      const sum = (name: string, label?: [string, string]): number =>
        all.filter((m) => m.name === name && (label === undefined || m.labels[label[0]] === label[1])).reduce((n, m) => n + m.value, 0);
      return {
        writes: sum('dubbo_dns_controller_api_writes_total'),
        services: sum('dubbo_dns_controller_managed_objects', ['kind', 'Service']),
        slices: sum('dubbo_dns_controller_managed_objects', ['kind', 'EndpointSlice']),
        depth: sum('dubbo_dns_controller_queue_depth'),
        synced: sum('dubbo_dns_controller_registry_synced'),
      };
    };
    /** Until every interface has its Service and slice, the registry is read and the queue has been empty for a while. */
    const converge = async (c: { proc: Tracked; port: number; t0: number }): Promise<{ ms: number; writes: number }> => {
      let quietSince: number | undefined;
      let last = -1;
      for (;;) {
        if (!c.proc.alive()) throw new Error(`controller exited: ${c.proc.output.slice(-3000)}`);
        const m = await metrics(c.port);
        const done = m.synced === 1 && m.services === INTERFACES && m.slices === INTERFACES && m.depth === 0;
        if (done && m.writes === last) quietSince ??= performance.now();
        else quietSince = undefined;
        last = m.writes;
        // Settled: 2 s with the same writes and an empty queue; the time is when it first got there.
        if (quietSince !== undefined && performance.now() - quietSince > 2000) return { ms: quietSince - c.t0, writes: m.writes };
        if (performance.now() - c.t0 > 600_000) throw new Error(`controller did not converge in 10 minutes: ${JSON.stringify(m)}`);
        await sleep(100);
      }
    };
    let c = await start();
    const cold = await converge(c);
    const rssKiB = memoryOf(c.proc.pid).rssKiB;
    log(`controller: cold start converged in ${ms(cold.ms)} ms with ${cold.writes} writes (ideal ${2 * INTERFACES})`);
    await c.proc.stop();
    c = await start();
    const restart = await converge(c);
    log(`controller: restart settled in ${ms(restart.ms)} ms with ${restart.writes} writes (ideal 0)`);
    // One provider more under one interface, with the parameters its peers have (so the Service's
    // shared metadata stays as it is): one EndpointSlice write.
    const before = (await metrics(c.port)).writes;
    const extra = url(0, 200);
    const t0 = performance.now();
    await call<string>((cb) => writer.create(nodePath(extra, 0), Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb));
    let changeMs = NaN;
    for (;;) {
      const m = await metrics(c.port);
      if (m.writes > before && m.depth === 0) {
        changeMs = performance.now() - t0;
        break;
      }
      if (performance.now() - t0 > 30_000) throw new Error('the new provider was not written in 30 s');
      await sleep(5);
    }
    await sleep(2000);
    const change = { ms: changeMs, writes: (await metrics(c.port)).writes - before };
    await c.proc.stop();
    return { workers, cold, restart, change, rssKiB };
  } finally {
    await cp.stop();
  }
}
