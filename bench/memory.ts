// Memory and rebuild harness (issue: "RSS for 10k services x 10 endpoints and time to rebuild the
// index after one endpoint changes"):
//   1. rebuild: in a child process pinned to core 0, parse the registry, build the index cold with
//      ZoneHolder.update(), then change one endpoint's address in one service and update() again
//      (--changes times; median, min-max). Also: an update with unchanged data.
//   2. RSS: each server (dubbo-dns, CoreDNS `file`, Knot) serves the same zone, one at a time,
//      pinned to core 0: VmRSS/VmHWM once it answers, and again after a short dnsperf burst.
//   3. end to end: edit the registry file of a running dubbo-dns (write + rename, as editors and
//      ConfigMap updates do) and time until a UDP query sees the new address.
//
//   node bench/memory.ts [--services 10000] [--endpoints 10] [--changes 9] [--e2e 3]

import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  fmt,
  fmtInt,
  installCleanup,
  keepTempDirs,
  machine,
  makeTempDir,
  median,
  memoryOf,
  queryUdp,
  runDnsperf,
  SERVER_NAMES,
  sleep,
  spread,
  startAndWait,
  table,
  unavailable,
  type ServerConfig,
  type ServerName,
  printUsageAndExit,
  writeChart,
} from './lib.ts';
import { formatSummary } from './profile.ts';
import { parseRange, registryYaml, writeZone, ZONE, type Registry } from './zone.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    changes: { type: 'string', default: '9' },
    e2e: { type: 'string', default: '3' },
    burst: { type: 'string', default: '5' },
    servers: { type: 'string', default: SERVER_NAMES.join(',') },
    keep: { type: 'boolean', default: false },
    'max-minutes': { type: 'string', default: '30' },
    'rebuild-child': { type: 'string' },
    'profile-dir': { type: 'string' },
    profile: { type: 'boolean', default: false },
    /** The registry file's format: yaml, or json (the server's JSON fast path). */
    'registry-format': { type: 'string', default: 'yaml' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) printUsageAndExit(import.meta.url);

interface RebuildResult {
  parseMs: number;
  coldMs: number;
  coldBuildMs: number;
  unchangedMs: number;
  changeMs: number[];
  heapMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  names: number;
  records: number;
}

/** CPU profile of `fn` with the inspector (only that phase), written to `file` when profiling. */
async function profiled<T>(file: string | undefined, fn: () => T): Promise<T> {
  if (file === undefined) return fn();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const result = fn();
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(file, JSON.stringify(profile));
  session.disconnect();
  return result;
}

/** The in-process part, run in a pinned child so it gets its own core and a fresh heap. */
async function rebuildChild(file: string, changes: number, profileDir: string | undefined): Promise<RebuildResult> {
  const { parseRegistry } = await import('../src/source/registry-file.ts');
  const { ZoneHolder } = await import('../src/dns/index/zone-holder.ts');
  const text = readFileSync(file, 'utf8');
  const prof = (name: string): string | undefined => (profileDir === undefined ? undefined : join(profileDir, `${name}.cpuprofile`));
  let t = performance.now();
  const data = await profiled(prof('parse'), () => parseRegistry(text, file));
  const parseMs = performance.now() - t;
  const holder = new ZoneHolder({ zone: ZONE, ttl: 5 });
  t = performance.now();
  const cold = await profiled(prof('cold-build'), () => holder.update(data));
  const coldMs = performance.now() - t;
  if (!cold.changed) throw new Error('cold build reported no change');
  t = performance.now();
  const same = holder.update(data);
  const unchangedMs = performance.now() - t;
  if (same.changed) throw new Error('identical data reported a change');
  const changeMs: number[] = [];
  let current = data;
  const { Session } = await import('node:inspector/promises');
  const session = profileDir === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  for (let k = 0; k < changes; k++) {
    const idx = Math.floor(((k + 0.5) * current.services.length) / changes);
    const address = `10.200.${(k >> 8) & 255}.${k & 255}`;
    current = {
      services: current.services.map((s, i) => (i !== idx ? s : { ...s, endpoints: s.endpoints.map((e, j) => (j === 0 ? { ...e, address } : e)) })),
    };
    t = performance.now();
    const r = holder.update(current);
    changeMs.push(performance.now() - t);
    if (!r.changed) throw new Error(`change ${k} was not seen`);
  }
  if (session !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(prof('one-endpoint-change')!, JSON.stringify(profile));
    session.disconnect();
  }
  globalThis.gc?.();
  return {
    parseMs,
    coldMs,
    coldBuildMs: cold.buildMs,
    unchangedMs,
    changeMs,
    heapMiB: process.memoryUsage().heapUsed / 1048576,
    arrayBuffersMiB: process.memoryUsage().arrayBuffers / 1048576,
    rssMiB: process.memoryUsage().rss / 1048576,
    names: holder.current?.stats.names ?? 0,
    records: holder.current?.stats.records ?? 0,
  };
}

if (values['rebuild-child'] !== undefined) {
  const r = await rebuildChild(values['rebuild-child'], Number(values.changes), values['profile-dir']);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

keepTempDirs(values.keep);
installCleanup(Number(values['max-minutes']) * 60_000);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const [minEndpoints, maxEndpoints] = parseRange(values.endpoints);
const notes: string[] = [];
const servers = (values.servers.split(',').map((s) => s.trim()) as ServerName[]).filter((s) => {
  const why = unavailable(s);
  if (why !== undefined) notes.push(`${s} skipped: ${why}`);
  return why === undefined;
});

const machineInfo = machine();
log(machineInfo);
const dir = makeTempDir('dubbo-dns-mem-');
const t0 = performance.now();
const generated = writeZone({ services: Number(values.services), minEndpoints, maxEndpoints, seed: Number(values.seed), queries: 20000 }, join(dir, 'zone'));
const format = values['registry-format'];
if (format !== 'yaml' && format !== 'json') throw new Error(`--registry-format ${format}: want yaml or json`);
/** The registry text in the chosen format (the same services either way). */
const registryText = (reg: Registry): string => (format === 'json' ? JSON.stringify(reg) : registryYaml(reg));
const zone = format === 'yaml' ? generated : { ...generated, registryFile: join(dir, 'zone', 'registry.json') };
if (format === 'json') writeFileSync(zone.registryFile, registryText(zone.registry));
const sizeMiB = (f: string): string => fmt(readFileSync(f).length / 1048576, 1);
log(
  `zone: ${zone.services} services, ${zone.endpoints} endpoints, ${zone.records} records, ${zone.owners} owner names; registry ${sizeMiB(zone.registryFile)} MiB, zone file ${sizeMiB(zone.zoneFile)} MiB (${Math.round(performance.now() - t0)} ms)`,
);

// 1. Rebuild times, in a pinned child.
log('rebuild: parse, cold build, unchanged update, one-endpoint changes (child pinned to core 0) ...');
const profileDir = values.profile ? makeTempDir('dubbo-dns-rebuild-prof-') : undefined;
const childArgs = ['--rebuild-child', zone.registryFile, '--changes', values.changes, ...(profileDir === undefined ? [] : ['--profile-dir', profileDir])];
const child = spawnSync('taskset', ['-c', '0', process.execPath, '--expose-gc', new URL(import.meta.url).pathname, ...childArgs], {
  encoding: 'utf8',
  timeout: 600_000,
  maxBuffer: 16 << 20,
});
if (child.status !== 0) throw new Error(`rebuild child failed (${child.status}): ${child.stderr}`);
const rebuild = JSON.parse(child.stdout.trim().split('\n').pop()!) as RebuildResult;
log(`rebuild: ${JSON.stringify(rebuild)}`);

// 2. RSS per server, one at a time.
const cfg: ServerConfig = { zoneFile: zone.zoneFile, registryFile: zone.registryFile, zone: ZONE, cpus: '0', workers: 1, dir, logLevel: 'info' };
const last = zone.names[zone.names.length - 1]!;
const probe = { name: last.base, type: 'TXT' };
interface MemRow {
  name: ServerName;
  readyMs: number;
  idle: { rssKiB: number; hwmKiB: number };
  loaded: { rssKiB: number; hwmKiB: number };
  qps: number;
}
const mem: MemRow[] = [];
for (const name of servers) {
  const { server, readyMs } = await startAndWait(name, cfg, probe, 300_000);
  await sleep(2000);
  const idle = memoryOf(server.pid);
  const p = await runDnsperf({
    port: server.port,
    queryFile: zone.queryFile,
    seconds: Number(values.burst),
    transport: 'udp',
    clients: 4,
    outstanding: 100,
    cpus: '1',
    serverPid: server.pid,
    serverCpus: '0',
    edns: true,
  });
  const loaded = memoryOf(server.pid);
  mem.push({ name, readyMs, idle, loaded, qps: p.qps });
  log(`${name}: ready after ${Math.round(readyMs)} ms; RSS ${fmt(idle.rssKiB / 1024, 0)} MiB (peak ${fmt(idle.hwmKiB / 1024, 0)}); after ${values.burst} s of UDP load (${fmtInt(p.qps)} qps) RSS ${fmt(loaded.rssKiB / 1024, 0)} MiB (peak ${fmt(loaded.hwmKiB / 1024, 0)})`);
  await server.stop();
}

// 3. End to end: file edit -> new answer, on a running dubbo-dns.
interface E2e {
  ms: number;
  buildMs: number | undefined;
}
const e2e: E2e[] = [];
let e2eHwm: { rssKiB: number; hwmKiB: number } | undefined;
if (servers.includes('dubbo-dns') && Number(values.e2e) > 0) {
  const { server } = await startAndWait('dubbo-dns', cfg, probe, 300_000);
  const registry: Registry = structuredClone(zone.registry);
  for (let k = 0; k < Number(values.e2e); k++) {
    const idx = Math.floor(((k + 0.5) * registry.services.length) / Number(values.e2e));
    const service = registry.services[idx]!;
    const e = service.endpoints.find((x) => x.hostname !== undefined && x.ready !== false && !x.address.includes(':'));
    if (e === undefined || e.hostname === undefined) continue;
    const address = `10.201.${(k >> 8) & 255}.${k & 255}`;
    e.address = address;
    const name = `${e.hostname}.${zone.names[idx]!.base}`;
    const text = registryText(registry);
    const tmp = `${zone.registryFile}.tmp`;
    writeFileSync(tmp, text);
    const logBefore = server.process.stdout.length;
    const started = performance.now();
    renameSync(tmp, zone.registryFile);
    let seen = false;
    while (performance.now() - started < 120_000) {
      const r = await queryUdp(server.port, name, 'A', 500, 4096);
      if (r?.answers.some((a) => a.endsWith(` ${address}`)) === true) {
        seen = true;
        break;
      }
      await sleep(10);
    }
    const ms = performance.now() - started;
    if (!seen) throw new Error(`edit ${k}: ${name} never answered ${address}`);
    await sleep(300);
    const reloaded = server.process.stdout
      .slice(Math.max(0, logBefore - 10))
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; buildMs?: number };
        } catch {
          return {};
        }
      })
      .find((l) => l.msg === 'zone reloaded');
    e2e.push({ ms, buildMs: reloaded?.buildMs });
    log(`edit ${k + 1}: ${name} -> ${address} answered after ${Math.round(ms)} ms (server-reported build ${reloaded?.buildMs ?? '?'} ms)`);
    await sleep(1000);
  }
  e2eHwm = memoryOf(server.pid);
  await server.stop();
}

// Summary.
const out: string[] = [];
out.push('', `== dubbo-dns memory and rebuild: ${zone.services} services x ${values.endpoints} endpoints, registry file in ${format.toUpperCase()} (${zone.endpoints} endpoints, ${zone.records} records, ${zone.owners} names) ==`);
out.push(machineInfo, '');
out.push(
  table(
    ['server', 'ready after', 'RSS idle MiB', 'RSS after load MiB', 'VmHWM MiB', 'burst qps'],
    mem.map((m) => [
      m.name,
      `${fmtInt(m.readyMs)} ms`,
      fmt(m.idle.rssKiB / 1024, 0),
      fmt(m.loaded.rssKiB / 1024, 0),
      fmt(m.loaded.hwmKiB / 1024, 0),
      fmtInt(m.qps),
    ]),
  ),
);
if (mem.length > 0) {
  writeChart(`memory-file-${zone.services}${format === 'json' ? '-json' : ''}`, {
    kind: 'bars',
    title: `RSS, file mode, ${fmtInt(zone.services)} services x ${values.endpoints} endpoints (registry in ${format.toUpperCase()})`,
    unit: 'MiB',
    groups: ['ready', 'after UDP load', 'peak (VmHWM)'],
    series: mem.map((m) => ({ label: m.name, values: [m.idle.rssKiB, m.loaded.rssKiB, m.loaded.hwmKiB].map((k) => Math.round(k / 1024)) })),
  });
}
const ours = mem.find((m) => m.name === 'dubbo-dns');
if (ours !== undefined) {
  const ratios = mem.filter((m) => m.name !== 'dubbo-dns').map((m) => `${fmt(ours.loaded.rssKiB / m.loaded.rssKiB, 1)}x ${m.name}`);
  if (ratios.length > 0) out.push(`dubbo-dns RSS after load: ${ratios.join(', ')}`);
}
const [clo, chi] = spread(rebuild.changeMs);
out.push(
  '',
  table(
    ['index rebuild (ZoneHolder.update, in process, core 0)', 'ms'],
    [
      [`parse registry file (parseRegistry, ${format.toUpperCase()})`, fmtInt(rebuild.parseMs)],
      ['cold build (first update)', fmtInt(rebuild.coldMs)],
      ['update with unchanged data (detects "no change")', fmtInt(rebuild.unchangedMs)],
      [`one endpoint's address changed (median of ${rebuild.changeMs.length}; min-max)`, `${fmtInt(median(rebuild.changeMs))} (${fmtInt(clo)}-${fmtInt(chi)})`],
    ],
  ),
  `index: ${fmtInt(rebuild.names)} names, ${fmtInt(rebuild.records)} records; after the builds and a gc the builder process holds ${fmt(rebuild.heapMiB, 0)} MiB JS heap + ${fmt(rebuild.arrayBuffersMiB, 0)} MiB Buffers (RSS ${fmt(rebuild.rssMiB, 0)} MiB; two snapshots may be alive: current and the one it replaced)`,
);
if (e2e.length > 0) {
  const [lo, hi] = spread(e2e.map((e) => e.ms));
  out.push(
    '',
    `end to end (edit registry file, rename over it -> a UDP query sees the new address): median ${fmtInt(median(e2e.map((e) => e.ms)))} ms (${fmtInt(lo)}-${fmtInt(hi)}, ${e2e.length} edits); server-reported index build ${e2e.map((e) => e.buildMs ?? '?').join(', ')} ms; dubbo-dns VmHWM after the reloads ${fmt((e2eHwm?.hwmKiB ?? NaN) / 1024, 0)} MiB (RSS ${fmt((e2eHwm?.rssKiB ?? NaN) / 1024, 0)} MiB)`,
  );
}
if (profileDir !== undefined) {
  for (const phase of ['parse', 'cold-build', 'one-endpoint-change']) {
    out.push('', `profile of ${phase} (timings above are without the profiler):`, formatSummary(join(profileDir, `${phase}.cpuprofile`), 15));
  }
}
if (notes.length > 0) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
process.stdout.write(`${out.join('\n')}\n`);
