// The cost of one change against the size of the zone (issue: "cost of one endpoint change:
// O(changed records), shown by a bench at 1k, 10k, 50k services").
//
// For each size, in a fresh child process (so sizes do not share a heap), pinned to --cpu:
//   1. generate the registry (bench/zone.ts), parse it (the JSON path of parseRegistry) and build
//      the zone cold (ZoneHolder.update of the whole data);
//   2. --changes times, move the first endpoint of one service (spread over the zone) to a new
//      address and apply it as a delta, the way the Kubernetes source sends a change
//      (`{delta: {put: [service]}}`): the time of ZoneHolder.update plus the first read of the
//      service's name, which encodes its answers;
//   3. the same number of changes as whole data, the way the registry-file source sends a new
//      version (`{full: data}` with one service replaced): diffing all services by fingerprint
//      plus the same patch;
//   4. checks that the last change is what the table answers (the new address is in the zone).
// A constant cost across sizes is O(changed); the whole-data path grows with the number of services
// (the diff), which is why the Kubernetes source sends deltas.
//
// Each application has --app-size services at every size (10 by default), so the application
// answer a change also re-encodes is the same size in every zone; `--app-size 0` uses the
// generator's default, where applications grow with the zone (about services / 800 each).
//
//   node bench/churn.ts [--sizes 1000,10000,50000] [--endpoints 10] [--changes 200] [--cpu 0] [--app-size 10]
//     [--json]   (print the results as JSON on the last line)
//     [--cpu-prof DIR]   (a CPU profile of each size's delta changes: DIR/churn-<services>.cpuprofile)
// Writes bench/results/churn.chart.json (bars: median per size and path).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmtInt, machine, ms, printUsageAndExit, summarize, table, writeChart, type Summary } from './lib.ts';
import { generateRegistry, ZONE } from './zone.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,50000' },
    endpoints: { type: 'string', default: '10' },
    changes: { type: 'string', default: '200' },
    cpu: { type: 'string', default: '0' },
    'app-size': { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) printUsageAndExit(import.meta.url);

/** What one size measured. */
interface SizeResult {
  readonly services: number;
  readonly endpoints: number;
  readonly names: number;
  readonly coldMs: number;
  readonly delta: Summary;
  readonly full: Summary;
  readonly heapMiB: number;
}

async function measureSize(services: number, endpoints: number, changes: number, profile: string | undefined): Promise<SizeResult> {
  const { parseRegistry } = await import('../src/source/registry-file.ts');
  const { ZoneHolder } = await import('../src/dns/index/zone-holder.ts');
  const { wireKey } = await import('../src/dns/index/zone-index.ts');
  const { serviceLabel } = await import('../src/dubbo/naming.ts');
  const perApp = Number(values['app-size']);
  const registry = generateRegistry({ services, minEndpoints: endpoints, maxEndpoints: endpoints, seed: 1, queries: 0, ...(perApp > 0 ? { servicesPerApplication: perApp } : {}) });
  const data = parseRegistry(JSON.stringify(registry), 'bench.json');
  const holder = new ZoneHolder({ zone: ZONE, ttl: 5 });
  let t = performance.now();
  holder.update({ full: data });
  const coldMs = performance.now() - t;
  const current = [...data.services];
  let counter = 0;
  // One endpoint of the service at `idx` moves to an address no other endpoint has.
  const moved = (idx: number) => {
    counter++;
    const s = current[idx]!;
    const address = `10.250.${(counter >> 8) & 255}.${counter & 255}`;
    const next = { ...s, endpoints: s.endpoints.map((e, j) => (j === 0 ? { ...e, address } : e)) };
    current[idx] = next;
    return { next, address };
  };
  const timed = (apply: () => boolean): number => {
    const started = performance.now();
    const changed = apply();
    const took = performance.now() - started;
    if (!changed) throw new Error('a change was not seen');
    return took;
  };
  const deltaMs: number[] = [];
  const fullMs: number[] = [];
  let last = '';
  const { Session } = await import('node:inspector/promises');
  const session = profile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  // A service's answers are encoded when first read: each timed change ends with a read of the
  // changed service's name, as the first query after the change would do.
  const read = (s: (typeof current)[number]): void => void holder.current!.names.get(wireKey(`${serviceLabel(s.key)}.${s.namespace}.${ZONE}`))?.types;
  for (let k = 0; k < changes; k++) {
    const { next, address } = moved(Math.floor(((k + 0.5) * current.length) / changes));
    deltaMs.push(
      timed(() => {
        const changed = holder.update({ delta: { put: [next], drop: [] } }).changed;
        read(next);
        return changed;
      }),
    );
    last = address;
  }
  if (session !== undefined) {
    const { profile: taken } = await session.post('Profiler.stop');
    writeFileSync(profile!, JSON.stringify(taken));
    session.disconnect();
  }
  for (let k = 0; k < changes; k++) {
    const { address } = moved(Math.floor(((k + 0.25) * current.length) / changes));
    const whole = { services: [...current] };
    const idx = Math.floor(((k + 0.25) * current.length) / changes);
    fullMs.push(
      timed(() => {
        const changed = holder.update({ full: whole }).changed;
        read(current[idx]!);
        return changed;
      }),
    );
    last = address;
  }
  // The last change must be answerable: some name of the zone has an A/AAAA answer holding it.
  const zone = holder.current!;
  if (!zone.names.has(wireKey(ZONE))) throw new Error('the apex is missing');
  const found = [...zone.transferRecords()].some((r) => r.includes(Buffer.from(last.split('.').map(Number))));
  if (!found) throw new Error(`the last change (${last}) is not in the zone`);
  globalThis.gc?.();
  return {
    services,
    endpoints,
    names: zone.stats.names,
    coldMs,
    delta: summarize(deltaMs),
    full: summarize(fullMs),
    heapMiB: process.memoryUsage().heapUsed / 1048576,
  };
}

if (values.child !== undefined) {
  const profile = values['cpu-prof'] === undefined ? undefined : join(values['cpu-prof'], `churn-${values.child}.cpuprofile`);
  const r = await measureSize(Number(values.child), Number(values.endpoints), Number(values.changes), profile);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

const log = (msg: string): void => void process.stderr.write(`[churn] ${msg}\n`);
const sizes = values.sizes.split(',').map(Number);
const results: SizeResult[] = [];
for (const size of sizes) {
  log(`${fmtInt(size)} services x ${values.endpoints} endpoints, ${values.changes} changes each way ...`);
  const self = fileURLToPath(import.meta.url);
  const argv = [process.execPath, '--expose-gc', '--max-old-space-size=8192', self, '--child', String(size), '--endpoints', values.endpoints, '--changes', values.changes, '--app-size', values['app-size'], ...(values['cpu-prof'] === undefined ? [] : ['--cpu-prof', values['cpu-prof']])];
  const child = spawnSync('taskset', ['-c', values.cpu, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`child for ${size} services failed (${child.status}): ${child.stderr}`);
  results.push(JSON.parse(child.stdout.trim().split('\n').pop()!) as SizeResult);
}

const first = results[0]!;
const out = [
  `== cost of one endpoint change against the zone size (${values.changes} changes per path, core ${values.cpu}, ${Number(values['app-size']) > 0 ? `${values['app-size']} services per application` : 'applications growing with the zone'}) ==`,
  machine(),
  '',
  table(
    ['services', 'names', 'cold build ms', 'delta p50 ms', 'delta p99 ms', 'whole data p50 ms', 'whole data p99 ms', 'delta p50 / smallest'],
    results.map((r) => [fmtInt(r.services), fmtInt(r.names), fmtInt(r.coldMs), ms(r.delta.p50), ms(r.delta.p99), ms(r.full.p50), ms(r.full.p99), (r.delta.p50 / first.delta.p50).toFixed(2)]),
  ),
];
process.stdout.write(`${out.join('\n')}\n`);

writeChart('churn', {
  kind: 'bars',
  title: `One endpoint change, median time to apply (${values.endpoints} endpoints per service)`,
  unit: 'ms',
  groups: results.map((r) => `${fmtInt(r.services)} services`),
  series: [
    { label: 'delta (Kubernetes source)', values: results.map((r) => Number(r.delta.p50.toFixed(3))) },
    { label: 'whole data (registry file)', values: results.map((r) => Number(r.full.p50.toFixed(3))) },
  ],
});
if (values.json) process.stdout.write(`${JSON.stringify(results)}\n`);
