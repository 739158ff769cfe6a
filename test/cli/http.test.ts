import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { ask, DEMO_REGISTRY, names, serialOf, tempDir, writeFile } from '../wire/helpers.ts';

// `--http-listen`: /healthz, /readyz (200 once the zone is loaded) and /metrics (Prometheus).

const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', 'dubbo.internal.');
let server: ServerProcess;
const dir = tempDir('cli-http');
before(async () => {
  server = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', DEMO_REGISTRY)]);
});
after(async () => {
  await server?.stop();
  dir.remove();
});

const get = async (path: string, method = 'GET'): Promise<{ status: number; text: string; type: string | null }> => {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
};

/** The value of one sample, `name{labels}` exactly as written (labels in registration order). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/healthz is 200', async () => {
  const r = await get('/healthz');
  assert.equal(r.status, 200);
  assert.match(r.text, /ok/);
});

test('/readyz is 200 once the zone is loaded, and says which serial', async () => {
  const r = await get('/readyz');
  assert.equal(r.status, 200);
  const soa = await ask(server.dnsPort, 'dubbo.internal.', 'SOA', 'udp');
  assert.ok(r.text.includes(String(serialOf(soa.msg))), r.text);
});

test('/metrics counts queries by transport, qtype and rcode, and shows the zone', async () => {
  const before = await get('/metrics');
  assert.equal(before.status, 200);
  assert.match(before.type ?? '', /text\/plain/);
  const srvOk = 'dubbo_dns_queries_total{transport="udp",qtype="SRV",rcode="NOERROR"}';
  const nx = 'dubbo_dns_queries_total{transport="tcp",qtype="A",rcode="NXDOMAIN"}';
  const refused = 'dubbo_dns_queries_total{transport="udp",qtype="A",rcode="REFUSED"}';
  const start = { srvOk: sample(before.text, srvOk) ?? 0, nx: sample(before.text, nx) ?? 0, refused: sample(before.text, refused) ?? 0 };
  for (let i = 0; i < 3; i++) await ask(server.dnsPort, demo.service, 'SRV', 'udp');
  await ask(server.dnsPort, `nope.${demo.service}`, 'A', 'tcp');
  await ask(server.dnsPort, 'example.com.', 'A', 'udp');
  const m = await get('/metrics');
  assert.equal(sample(m.text, srvOk), start.srvOk + 3, srvOk);
  assert.equal(sample(m.text, nx), start.nx + 1, nx);
  assert.equal(sample(m.text, refused), start.refused + 1, refused);
  assert.match(m.text, /^# TYPE dubbo_dns_queries_total counter$/m);
  const soa = await ask(server.dnsPort, 'dubbo.internal.', 'SOA', 'udp');
  assert.equal(sample(m.text, 'dubbo_dns_zone_serial'), serialOf(soa.msg));
  assert.equal(sample(m.text, 'dubbo_dns_reloads_total'), 1);
  assert.equal(sample(m.text, 'dubbo_dns_reload_failures_total'), 0);
});

test('unknown paths are 404, other methods 405', async () => {
  assert.equal((await get('/nope')).status, 404);
  assert.equal((await get('/metrics', 'POST')).status, 405);
});

test('/metrics: CoreDNS-shaped duration and size histograms, build info, standard process metrics', async () => {
  const count = (text: string, series: string): number => sample(text, series) ?? 0;
  const durUdpSrv = 'dubbo_dns_request_duration_seconds_count{transport="udp",type="SRV"}';
  const sizeUdp = 'dubbo_dns_response_size_bytes_count{transport="udp"}';
  const before = (await get('/metrics')).text;
  const reply = await ask(server.dnsPort, demo.service, 'SRV', 'udp');
  const m = (await get('/metrics')).text;
  assert.equal(count(m, durUdpSrv), count(before, durUdpSrv) + 1, durUdpSrv);
  assert.equal(count(m, sizeUdp), count(before, sizeUdp) + 1, sizeUdp);
  // The reply's size lands in its bucket: one more in every bucket at or above its length.
  const sizeSum = 'dubbo_dns_response_size_bytes_sum{transport="udp"}';
  assert.equal(count(m, sizeSum) - count(before, sizeSum), reply.raw.length);
  assert.equal(count(m, 'dubbo_dns_response_size_bytes_bucket{le="511",transport="udp"}') - count(before, 'dubbo_dns_response_size_bytes_bucket{le="511",transport="udp"}'), reply.raw.length <= 511 ? 1 : 0);
  assert.match(m, /^# TYPE dubbo_dns_request_duration_seconds histogram$/m);
  assert.match(m, /^dubbo_dns_request_duration_seconds_bucket\{le="0\.00025",transport="udp",type="SRV"\} \d+$/m);
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(sample(m, `dubbo_dns_build_info{version="${version}",nodejs="${process.version}"}`), 1);
  assert.ok((sample(m, 'process_resident_memory_bytes') ?? 0) > 0, 'process_resident_memory_bytes');
  assert.match(m, /^nodejs_eventloop_lag_seconds /m);
  assert.doesNotMatch(m, /^dubbo_dns_process_/m, 'process metrics carry no custom prefix');
});
