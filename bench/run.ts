// Throughput harness (DESIGN §12): the same zone and query list served by dubbo-dns, CoreDNS
// (`file` plugin) and Knot, each pinned to core 0, loaded by dnsperf pinned to core 1, in the same
// run. One warm-up per server and transport, then --runs rounds (server order rotated each round),
// UDP and TCP separately; prints medians with min-max spread and dubbo-dns as a ratio to each peer.
//
//   node bench/run.ts [--services 1000] [--endpoints 3-10] [--runs 3] [--duration 10] [--warmup 3]
//                     [--quick] [--cores 1|2] [--transports udp,tcp] [--servers dubbo-dns,coredns,knot]
//                     [--clients 4] [--outstanding 100] [--no-edns] [--tcp-queries-per-conn N]
//                     [--quiet-load 0.15] [--quiet-wait 60] [--noisy-load 0.3] [--retry-noisy 2]
//                     [--profile] [--json FILE] [--keep] [--max-minutes 45]
//
// --quick: 200 services, 2 s runs (a smoke test). --cores 2: every server on cores 0-1 with two
// workers (dubbo-dns --workers 2, GOMAXPROCS=2, Knot 2 UDP/TCP workers) and dnsperf on the same two
// cores. --profile: afterwards, one extra dubbo-dns run per transport under node --cpu-prof, with
// its top self-time functions. Runs wait for a quiet machine and are redone (bounded) when other
// processes used more than --noisy-load cores during them.
//
// See bench/README.md for what is measured and the figures from our machine.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  dubboHasWorkersFlag,
  fmt,
  fmtInt,
  installCleanup,
  keepTempDirs,
  machine,
  makeTempDir,
  median,
  writeChart,
  queryUdp,
  runDnsperf,
  SERVER_NAMES,
  sleep,
  spread,
  startAndWait,
  table,
  unavailable,
  waitQuiet,
  type PerfResult,
  type RunningServer,
  type ServerConfig,
  type ServerName,
  printUsageAndExit,
} from './lib.ts';
import { formatSummary } from './profile.ts';
import { parseRange, writeZone, ZONE, type GeneratedZone } from './zone.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string' },
    endpoints: { type: 'string', default: '3-10' },
    seed: { type: 'string', default: '1' },
    queries: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    transports: { type: 'string', default: 'udp,tcp' },
    servers: { type: 'string', default: SERVER_NAMES.join(',') },
    cores: { type: 'string', default: '1' },
    clients: { type: 'string', default: '4' },
    outstanding: { type: 'string', default: '100' },
    'tcp-queries-per-conn': { type: 'string' },
    'no-edns': { type: 'boolean', default: false },
    'quiet-load': { type: 'string', default: '0.15' },
    'quiet-wait': { type: 'string', default: '60' },
    'noisy-load': { type: 'string', default: '0.3' },
    'retry-noisy': { type: 'string', default: '2' },
    verify: { type: 'boolean', default: true },
    'no-verify': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
    'max-minutes': { type: 'string', default: '45' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) printUsageAndExit(import.meta.url);

const quick = values.quick;
const services = Number(values.services ?? (quick ? 200 : 1000));
const runs = Number(values.runs ?? 3);
const duration = Number(values.duration ?? (quick ? 2 : 10));
const warmup = Number(values.warmup ?? (quick ? 1 : 3));
const queries = Number(values.queries ?? (quick ? 20000 : 100000));
const cores = Number(values.cores);
const clients = Number(values.clients);
const outstanding = Number(values.outstanding);
const transports = values.transports.split(',').map((t) => t.trim()) as ('udp' | 'tcp')[];
const [minEndpoints, maxEndpoints] = parseRange(values.endpoints);
const verify = values.verify && !values['no-verify'];
const edns = !values['no-edns'];
const quietLoad = Number(values['quiet-load']);
const quietWaitMs = Number(values['quiet-wait']) * 1000;
const noisyLoad = Number(values['noisy-load']);
const retryNoisy = Number(values['retry-noisy']);
for (const t of transports) if (t !== 'udp' && t !== 'tcp') throw new Error(`unknown transport ${t}`);
if (cores !== 1 && cores !== 2) throw new Error('--cores must be 1 or 2');
if (runs < 1 || duration < 1) throw new Error('--runs and --duration must be at least 1');

keepTempDirs(values.keep);
installCleanup(Number(values['max-minutes']) * 60_000);

const log = (s: string): void => void process.stderr.write(`${s}\n`);

// Single core: servers on core 0, dnsperf on core 1. Two cores: everything shares 0-1 (caveat in README).
const serverCpus = cores === 1 ? '0' : '0-1';
const clientCpus = cores === 1 ? '1' : '0-1';

let requested = values.servers.split(',').map((s) => s.trim()) as ServerName[];
for (const s of requested) if (!SERVER_NAMES.includes(s)) throw new Error(`unknown server ${s} (known: ${SERVER_NAMES.join(', ')})`);
const notes: string[] = [];
const hasWorkers = dubboHasWorkersFlag();
if (cores === 2 && !hasWorkers) {
  log('dubbo-dns serve has no --workers flag yet: it would run on one core, so the 2-core comparison is skipped.');
  log('(run without --cores 2 for the single-core comparison)');
  process.exit(0);
}
requested = requested.filter((s) => {
  const why = unavailable(s);
  if (why !== undefined) notes.push(`${s} skipped: ${why}`);
  return why === undefined;
});

const machineInfo = machine();
log(machineInfo);
const dir = makeTempDir('dubbo-dns-bench-');
const t0 = performance.now();
const zone: GeneratedZone = writeZone({ services, minEndpoints, maxEndpoints, seed: Number(values.seed), queries }, join(dir, 'zone'));
log(`zone: ${zone.services} services, ${zone.endpoints} endpoints, ${zone.records} records, ${zone.owners} owner names; ${queries} queries (${Math.round(performance.now() - t0)} ms to generate) in ${zone.dir}`);

const cfg: ServerConfig = {
  zoneFile: zone.zoneFile,
  registryFile: zone.registryFile,
  zone: ZONE,
  cpus: serverCpus,
  workers: cores,
  dir,
  dubboWorkersFlag: cores > 1 && hasWorkers,
};
// The last service in the file: once it answers, the whole zone is loaded.
const last = zone.names[zone.names.length - 1]!;
const probe = { name: last.base, type: 'TXT' };

const servers: RunningServer[] = [];
for (const name of requested) {
  const { server, readyMs } = await startAndWait(name, cfg, probe);
  servers.push(server);
  log(`${name}: answering on ${server.port} after ${Math.round(readyMs)} ms (pid ${server.pid}): ${server.command}`);
}

// Same zone? Ask every server the first 300 queries of the list, over UDP with the EDNS setting
// dnsperf uses. Compared: rcode, the answer RRsets, and for negative answers the SOA in authority
// (CoreDNS also puts NS in authority of positive answers; additional sections differ by design).
if (verify && servers.length > 1) {
  const lines = readFileSync(zone.queryFile, 'utf8').split('\n').filter((l) => l !== '').slice(0, 300);
  let mismatches = 0;
  let truncated = 0;
  const tcBy = servers.map(() => 0);
  const examples: string[] = [];
  for (const line of lines) {
    const [qname, qtype] = line.split(' ') as [string, string];
    const replies = await Promise.all(servers.map((s) => queryUdp(s.port, qname, qtype, 2000, edns ? 4096 : undefined)));
    const ref = replies[0];
    replies.forEach((r, i) => {
      if (r?.tc === true) tcBy[i]!++;
    });
    if (replies.some((r) => r?.tc === true)) {
      truncated++;
      if (replies.some((r) => r?.rcode !== ref?.rcode)) mismatches++;
      continue;
    }
    for (let i = 1; i < replies.length; i++) {
      const r = replies[i];
      const negative = ref !== undefined && ref.answers.length === 0;
      if (
        r === undefined ||
        ref === undefined ||
        r.rcode !== ref.rcode ||
        r.answers.join('\n') !== ref.answers.join('\n') ||
        (negative && (r.authority > 0) !== (ref.authority > 0))
      ) {
        mismatches++;
        if (examples.length < 5) {
          examples.push(`  ${line}: ${servers[0]!.name} ${JSON.stringify(ref)} vs ${servers[i]!.name} ${JSON.stringify(r)}`);
        }
      }
    }
  }
  const msg = `answer check (${edns ? 'EDNS 4096' : 'no EDNS'}): ${lines.length} queries x ${servers.length} servers, ${mismatches} differ in rcode/answer/negative SOA, ${truncated} truncated (TC) by some server (${servers.map((s, i) => `${s.name} ${tcBy[i]}`).join(', ')})`;
  log(msg);
  for (const e of examples) log(e);
  notes.push(msg);
}

type Key = `${ServerName}/${'udp' | 'tcp'}`;
const noisyRuns: string[] = [];
const results = new Map<Key, PerfResult[]>();
const perf = (s: RunningServer, transport: 'udp' | 'tcp', seconds: number): Promise<PerfResult> =>
  runDnsperf({
    port: s.port,
    queryFile: zone.queryFile,
    seconds,
    transport,
    clients,
    outstanding,
    cpus: clientCpus,
    serverPid: s.pid,
    serverCpus,
    edns,
    extra: transport === 'tcp' && values['tcp-queries-per-conn'] !== undefined ? ['-O', `num-queries-per-conn=${values['tcp-queries-per-conn']}`] : [],
  });

for (const transport of transports) {
  for (const s of servers) {
    const w = await perf(s, transport, warmup);
    log(`warm-up ${transport} ${s.name}: ${fmtInt(w.qps)} qps`);
  }
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < servers.length; i++) {
      const s = servers[(i + r) % servers.length]!;
      // The machine is shared: wait for a quiet moment, and redo a run (bounded) when other
      // processes took more than --noisy-load cores during it.
      let p: PerfResult | undefined;
      for (let attempt = 0; attempt <= retryNoisy; attempt++) {
        await sleep(300);
        const quiet = await waitQuiet(quietLoad, quietWaitMs);
        if (quiet.load > quietLoad) log(`  (machine busy: other processes used ${fmt(quiet.load * 100, 0)}% of a core after ${Math.round(quiet.waitedMs / 1000)} s of waiting; running anyway)`);
        p = await perf(s, transport, duration);
        if (p.foreignCpu <= noisyLoad) break;
        log(`  ${s.name} ${transport}: ${fmtInt(p.qps)} qps, but other processes used ${fmt(p.foreignCpu * 100, 0)}% of a core during the run${attempt < retryNoisy ? ': discarded, running again' : ': kept (retries used up), marked noisy'}`);
      }
      if (p === undefined) throw new Error('unreachable: no run');
      if (p.foreignCpu > noisyLoad) noisyRuns.push(`${transport} ${s.name} run ${r + 1} (other processes ${fmt(p.foreignCpu * 100, 0)}% of a core)`);
      const key: Key = `${s.name}/${transport}`;
      results.set(key, [...(results.get(key) ?? []), p]);
      log(
        `run ${r + 1}/${runs} ${transport} ${s.name.padEnd(9)}: ${fmtInt(p.qps)} qps, ${fmt(p.avgLatencyMs, 3)} ms avg, lost ${p.lost} (${p.lostPct}%), server cpu ${fmt(p.serverCpu * 100, 0)}% (core ${fmt(p.serverCoreBusy * 100, 0)}% busy), dnsperf cpu ${fmt(p.clientCpu * 100, 0)}%, other ${fmt(p.foreignCpu * 100, 0)}%, ${p.rcodes}`,
      );
    }
  }
}

for (const s of servers) await s.stop();

// Profile dubbo-dns under the same load, on its own (profiling slows it: never mixed with the figures).
const profiles: string[] = [];
if (values.profile && requested.includes('dubbo-dns')) {
  for (const transport of transports) {
    const profDir = makeTempDir('dubbo-dns-prof-');
    const { server } = await startAndWait('dubbo-dns', { ...cfg, nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=200'] }, probe);
    await perf(server, transport, Math.min(warmup, 2));
    const p = await perf(server, transport, duration);
    await server.stop();
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) {
      notes.push(`profile (${transport}): no .cpuprofile written`);
      continue;
    }
    profiles.push(`dubbo-dns under dnsperf ${transport} (${fmtInt(p.qps)} qps while profiling):\n${formatSummary(join(profDir, file), 20)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Summary.

const out: string[] = [];
out.push('', `== dubbo-dns benchmark: ${zone.services} services, ${zone.endpoints} endpoints, ${zone.records} records; ${runs} runs x ${duration} s per server and transport ==`);
out.push(
  `servers on cpu ${serverCpus}${cores === 1 ? ' (1 worker each)' : ` (${cores} workers each)`}, dnsperf on cpu ${clientCpus}: dnsperf ${edns ? '-e ' : ''}-t 1 -c ${clients} -q ${outstanding}, no -Q cap`,
);
out.push(machineInfo);
out.push('');
const rows: string[][] = [];
for (const transport of transports) {
  for (const s of servers) {
    const rs = results.get(`${s.name}/${transport}`) ?? [];
    const q = rs.map((r) => r.qps);
    const [lo, hi] = spread(q);
    const [llo, lhi] = spread(rs.map((r) => r.avgLatencyMs));
    rows.push([
      transport.toUpperCase(),
      s.name,
      fmtInt(median(q)),
      `${fmtInt(lo)}-${fmtInt(hi)}`,
      fmt(median(rs.map((r) => r.avgLatencyMs)), 3),
      `${fmt(llo, 3)}-${fmt(lhi, 3)}`,
      fmt(median(rs.map((r) => r.lostPct)), 3),
      `${fmt(median(rs.map((r) => r.serverCpu * 100)), 0)}/${fmt(median(rs.map((r) => r.serverCoreBusy * 100)), 0)}`,
      fmt(median(rs.map((r) => r.clientCpu * 100)), 0),
      fmt(median(rs.map((r) => r.foreignCpu * 100)), 0),
      fmtInt(median(rs.map((r) => r.responseBytes))),
    ]);
  }
}
out.push(table(['proto', 'server', 'qps (median)', 'qps min-max', 'avg ms', 'avg ms min-max', 'lost %', 'server/core %', 'dnsperf %', 'other %', 'resp B'], rows));
writeChart(`qps-${edns ? 'edns' : 'no-edns'}-${cores}-core${cores === 1 ? '' : 's'}`, {
  kind: 'bars',
  title: `Queries per second, ${fmtInt(zone.services)} services, ${cores === 1 ? 'one core' : `${cores} cores (${cores} workers each)`}, ${edns ? 'EDNS' : 'no EDNS'} (median of ${runs})`,
  unit: 'qps',
  groups: transports.map((t) => t.toUpperCase()),
  series: servers.map((s) => ({ label: s.name, values: transports.map((t) => Math.round(median((results.get(`${s.name}/${t}`) ?? []).map((r) => r.qps)))) })),
});

// Ratios: medians, and the spread of the per-round ratio (each round measures all servers back to back).
const ratioRows: string[][] = [];
if (servers.some((s) => s.name === 'dubbo-dns')) {
  for (const transport of transports) {
    const ours = results.get(`dubbo-dns/${transport}`) ?? [];
    for (const peer of servers.filter((s) => s.name !== 'dubbo-dns')) {
      const theirs = results.get(`${peer.name}/${transport}`) ?? [];
      const perRound = ours.map((o, i) => o.qps / (theirs[i]?.qps ?? NaN));
      const [lo, hi] = spread(perRound);
      const ratio = median(ours.map((o) => o.qps)) / median(theirs.map((t) => t.qps));
      // Issue 10's goals: on UDP, 0.6x Knot on one core and with two workers, 5x CoreDNS on one core.
      const target = transport !== 'udp' ? undefined : peer.name === 'knot' ? 0.6 : cores === 1 ? 5 : undefined;
      ratioRows.push([
        transport.toUpperCase(),
        `dubbo-dns / ${peer.name}`,
        fmt(ratio, 2),
        `${fmt(lo, 2)}-${fmt(hi, 2)}`,
        target === undefined ? '' : `>= ${target} ${ratio >= target ? 'met' : 'MISSED'}`,
        fmt(median(ours.map((o) => o.avgLatencyMs)) / median(theirs.map((t) => t.avgLatencyMs)), 2),
      ]);
    }
  }
  out.push('', table(['proto', 'qps ratio', 'median', 'per-round min-max', 'target', 'latency ratio'], ratioRows));
}

for (const transport of transports) {
  for (const s of servers) {
    const rs = results.get(`${s.name}/${transport}`) ?? [];
    if (median(rs.map((r) => r.clientCpu)) > 0.9) {
      notes.push(`${transport} ${s.name}: dnsperf used >90% of its core: the load generator may be the limit, so this figure is a lower bound`);
    }
    const busy = median(rs.map((r) => r.serverCoreBusy));
    if (cores === 1 && busy < 0.9) {
      notes.push(
        `${transport} ${s.name}: the server's core was only ${fmt(busy * 100, 0)}% busy (server process ${fmt(median(rs.map((r) => r.serverCpu)) * 100, 0)}%): not saturated, so its qps is a lower bound of its capacity`,
      );
    }
    const recon = median(rs.map((r) => r.reconnections));
    if (transport === 'tcp' && recon > 0) notes.push(`tcp ${s.name}: dnsperf reconnected ${recon} times per run (median): the server closed connections; queries in flight then are lost`);
  }
}
if (cores > 1) {
  notes.push('2 cores: servers and dnsperf share cores 0-1 (a 2-core machine has no third core for the load generator), so every server loses the CPU dnsperf uses; "server/core %" is the server processes\' CPU (100 = one core) / how busy cores 0-1 were on average');
}
if (noisyRuns.length > 0) notes.push(`runs kept although other processes used over ${noisyLoad * 100}% of a core: ${noisyRuns.join('; ')}`);
if (notes.length > 0) out.push('', 'notes:', ...notes.map((n) => `  - ${n}`));
if (profiles.length > 0) out.push('', ...profiles);
process.stdout.write(`${out.join('\n')}\n`);

if (values.json !== undefined) {
  const json = {
    services: zone.services,
    endpoints: zone.endpoints,
    records: zone.records,
    runs,
    duration,
    cores,
    results: Object.fromEntries([...results].map(([k, rs]) => [k, rs.map(({ raw: _raw, ...r }) => r)])),
    notes,
  };
  writeFileSync(values.json, `${JSON.stringify(json, null, 2)}\n`);
}
