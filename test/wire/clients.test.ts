import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, test } from 'node:test';
import { startServer, type ServerProcess } from '../support/server.ts';
import { bare, DEMO_REGISTRY, names, run, tempDir, writeFile, type Transport } from './helpers.ts';

// Real clients against the real server: dig, kdig and drill (UDP and TCP, with and without EDNS),
// and Node's c-ares resolver. Their output is parsed minimally: status, flags, EDNS size, records.

const Z = 'dubbo.internal.';
const demo = names('org.apache.dubbo.demo.DemoService', 'gray', '1.0.0', 'shop', Z, 'tri');
const greeting = names('org.apache.dubbo.demo.GreetingService', undefined, '2.0.0', 'shop', Z);
const idle = names('org.apache.dubbo.demo.IdleService', undefined, undefined, 'shop', Z);
const order = names('org.apache.dubbo.demo.OrderService', undefined, undefined, 'shop', Z);
const D = bare(demo.service);

let server: ServerProcess;
const dir = tempDir('clients');
before(async () => {
  server = await startServer(['--registry', writeFile(dir.dir, 'registry.yaml', DEMO_REGISTRY)]);
});
after(async () => {
  await server?.stop();
  dir.remove();
});

interface Parsed {
  readonly status: string;
  readonly flags: ReadonlySet<string>;
  /** The EDNS UDP size the client printed from our OPT, if any. */
  readonly ednsSize: number | undefined;
  /** `TYPE rdata` per record (names without trailing dots), per section, sorted. */
  readonly answer: readonly string[];
  readonly authority: readonly string[];
  readonly additional: readonly string[];
  /** Owner names of the answer records. */
  readonly owners: readonly string[];
  readonly text: string;
}

/** Parses the presentation output dig, kdig and drill share (sections headed `;; X SECTION:`). */
function parse(text: string): Parsed {
  const status = /(?:status|rcode): ([A-Z]+)/.exec(text)?.[1] ?? '?';
  const flagText = /flags: ([a-z ]*?)\s*;/i.exec(text)?.[1] ?? '';
  const ednsSize = /udp(?: size)?: (\d+)/i.exec(text)?.[1];
  const sections: Record<string, string[]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  const owners: string[] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^;; ([A-Z]+) SECTION:/.exec(line);
    if (header !== null) {
      current = header[1];
      continue;
    }
    if (line.trim() === '' || line.startsWith(';')) {
      if (line.trim() === '') current = current === 'QUESTION' ? undefined : current;
      continue;
    }
    const fields = line.trim().split(/\s+/);
    const [owner, , , type, ...rdata] = fields;
    if (current === undefined || sections[current] === undefined || type === undefined || owner === undefined) continue;
    const data = type === 'SOA' ? [] : rdata.map((f) => f.replace(/\.$/, '').toLowerCase());
    sections[current]!.push([type, ...data].join(' '));
    if (current === 'ANSWER') owners.push(owner.toLowerCase().replace(/\.$/, ''));
  }
  return {
    status,
    flags: new Set(flagText.split(/\s+/).filter((f) => f !== '')),
    ednsSize: ednsSize === undefined ? undefined : Number(ednsSize),
    answer: sections['ANSWER']!.sort(),
    authority: sections['AUTHORITY']!.sort(),
    additional: sections['ADDITIONAL']!.sort(),
    owners,
    text,
  };
}

type Client = 'dig' | 'kdig' | 'drill';

function argv(client: Client, qname: string, qtype: string, transport: Transport, edns: boolean): string[] {
  const port = String(server.dnsPort);
  switch (client) {
    case 'dig':
      return ['@127.0.0.1', '-p', port, '+norec', '+tries=1', '+time=3', transport === 'tcp' ? '+tcp' : '+notcp', edns ? '+bufsize=1232' : '+noedns', qname, qtype];
    case 'kdig':
      return ['@127.0.0.1', '-p', port, '+norec', '+retry=0', '+time=3', ...(transport === 'tcp' ? ['+tcp'] : []), edns ? '+edns' : '+noedns', qname, qtype];
    case 'drill':
      return [...(transport === 'tcp' ? ['-t'] : ['-u']), ...(edns ? ['-b', '1232'] : []), '-o', 'rd', '-p', port, '@127.0.0.1', qname, qtype];
  }
}

async function query(client: Client, qname: string, qtype: string, transport: Transport, edns: boolean): Promise<Parsed> {
  const r = await run(client, argv(client, qname, qtype, transport, edns), { timeoutMs: 10_000 });
  assert.equal(r.code, 0, `${client} exited ${r.code}: ${r.stderr}`);
  return parse(r.stdout);
}

interface Case {
  readonly qname: string;
  readonly qtype: string;
  readonly status: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  readonly answer: readonly string[];
  /** SOA for negative answers. */
  readonly authority: readonly string[];
  readonly additional: readonly string[];
}

const CASES: readonly Case[] = [
  {
    qname: demo.service,
    qtype: 'SRV',
    status: 'NOERROR',
    answer: [`SRV 0 100 50051 demo-0.${D}`, `SRV 0 200 50051 demo-1.${D}`, `SRV 0 50 50051 demo-2.${D}`],
    authority: [],
    additional: ['A 10.0.0.11', 'A 10.0.0.12', 'AAAA fd00::13'],
  },
  { qname: `demo-2.${demo.service}`, qtype: 'AAAA', status: 'NOERROR', answer: ['AAAA fd00::13'], authority: [], additional: [] },
  {
    qname: demo.browse,
    qtype: 'PTR',
    status: 'NOERROR',
    answer: [demo, greeting, idle, order].map((n) => `PTR ${bare(n.instance)}`).sort(),
    authority: [],
    additional: [],
  },
  { qname: `_tri._tcp.${demo.service}`, qtype: 'SRV', status: 'NOERROR', answer: [`SRV 0 100 50051 demo-0.${D}`, `SRV 0 200 50051 demo-1.${D}`, `SRV 0 50 50051 demo-2.${D}`], authority: [], additional: ['A 10.0.0.11', 'A 10.0.0.12', 'AAAA fd00::13'] },
  { qname: demo.service, qtype: 'PTR', status: 'NOERROR', answer: [], authority: ['SOA'], additional: [] },
  { qname: `shop.${Z}`, qtype: 'A', status: 'NOERROR', answer: [], authority: ['SOA'], additional: [] },
  { qname: `nope.shop.${Z}`, qtype: 'A', status: 'NXDOMAIN', answer: [], authority: ['SOA'], additional: [] },
  { qname: 'example.com.', qtype: 'A', status: 'REFUSED', answer: [], authority: [], additional: [] },
];

describe('dig, kdig and drill', () => {
  for (const client of ['dig', 'kdig', 'drill'] as const) {
    for (const c of CASES) {
      test(`${client}: ${c.qname} ${c.qtype} -> ${c.status}`, async () => {
        for (const transport of ['udp', 'tcp'] as const) {
          for (const edns of [false, true]) {
            const where = `${client} over ${transport}${edns ? ' with EDNS' : ''}`;
            const p = await query(client, c.qname, c.qtype, transport, edns);
            assert.equal(p.status, c.status, where);
            assert.ok(p.flags.has('qr'), `${where}: qr in ${[...p.flags].join(' ')}`);
            assert.equal(p.flags.has('aa'), c.status !== 'REFUSED', `${where}: aa`);
            assert.ok(!p.flags.has('tc') && !p.flags.has('ra') && !p.flags.has('rd'), `${where}: flags ${[...p.flags].join(' ')}`);
            assert.deepEqual(p.answer, c.answer, `${where}: answer`);
            assert.deepEqual(p.authority, c.authority, `${where}: authority`);
            if (transport === 'udp' && !edns) {
              // Without EDNS only the glue that fits in 512 bytes comes (never a reason for TC).
              for (const g of p.additional) assert.ok(c.additional.includes(g), `${where}: ${g} is expected glue`);
              assert.equal(p.additional.length > 0, c.additional.length > 0, `${where}: some glue`);
            } else assert.deepEqual(p.additional, c.additional, `${where}: additional`);
            for (const owner of p.owners) assert.equal(owner, bare(c.qname), `${where}: owner`);
            assert.equal(p.ednsSize, edns ? 1232 : undefined, `${where}: EDNS size in ${p.text}`);
            if (client !== 'drill') assert.match(p.text, transport === 'tcp' ? /\(TCP\)/ : /\(UDP\)/, where);
          }
        }
      });
    }
  }

  test('dig: TXT strings of the service and of one endpoint', async () => {
    const r = await run('dig', ['@127.0.0.1', '-p', String(server.dnsPort), '+norec', '+short', demo.service, 'TXT']);
    assert.equal(
      r.stdout.trim(),
      '"txtvers=1" "interface=org.apache.dubbo.demo.DemoService" "group=gray" "version=1.0.0" "protocol=tri" "serialization=hessian2" "timeout=3000" "application=demo-provider"',
    );
    const e = await run('dig', ['@127.0.0.1', '-p', String(server.dnsPort), '+norec', '+short', '+tcp', `demo-1.${demo.service}`, 'TXT']);
    assert.equal(e.stdout.trim(), '"txtvers=1" "application=demo-provider" "weight=200" "release=3.3.0" "serialization=hessian2"');
  });

  test('dig: SOA at the apex and the question echoed in mixed case', async () => {
    const r = await run('dig', ['@127.0.0.1', '-p', String(server.dnsPort), '+norec', '+short', 'DuBbO.InTeRnAl.', 'SOA']);
    assert.match(r.stdout.trim(), /^ns\.dns\.dubbo\.internal\. hostmaster\.dubbo\.internal\. \d+ \d+ \d+ \d+ 5$/i);
    const full = await run('dig', ['@127.0.0.1', '-p', String(server.dnsPort), '+norec', 'DuBbO.InTeRnAl.', 'NS']);
    assert.match(full.stdout, /^;DuBbO\.InTeRnAl\.\s+IN\s+NS$/m);
    assert.doesNotMatch(full.stdout, /WARNING|mismatch/i);
  });
});

describe("Node's dns.Resolver (c-ares)", () => {
  const resolver = (): Resolver => {
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${server.dnsPort}`]);
    return r;
  };

  test('resolveSrv at S.N.Z and _P._tcp.S.N.Z', async () => {
    for (const qname of [demo.service, demo.protocolSrv, demo.instance]) {
      const srv = await resolver().resolveSrv(bare(qname));
      assert.deepEqual(
        srv.map((s) => `${s.priority} ${s.weight} ${s.port} ${s.name}`).sort(),
        [`0 100 50051 demo-0.${D}`, `0 200 50051 demo-1.${D}`, `0 50 50051 demo-2.${D}`],
        qname,
      );
    }
  });

  test('resolveTxt gives the service metadata', async () => {
    const txt = await resolver().resolveTxt(bare(demo.service));
    assert.deepEqual(txt, [
      ['txtvers=1', 'interface=org.apache.dubbo.demo.DemoService', 'group=gray', 'version=1.0.0', 'protocol=tri', 'serialization=hessian2', 'timeout=3000', 'application=demo-provider'],
    ]);
  });

  test('resolve4 and resolve6 at S.N.Z and E.S.N.Z', async () => {
    assert.deepEqual((await resolver().resolve4(D)).sort(), ['10.0.0.11', '10.0.0.12']);
    assert.deepEqual(await resolver().resolve6(D), ['fd00::13']);
    assert.deepEqual(await resolver().resolve4(`10-0-1-5.${bare(greeting.service)}`), ['10.0.1.5']);
    const withTtl = await resolver().resolve4(`demo-0.${D}`, { ttl: true });
    assert.deepEqual(withTtl, [{ address: '10.0.0.11', ttl: 5 }]);
  });

  test('resolvePtr browses DNS-SD and resolveSoa reads the apex', async () => {
    assert.deepEqual((await resolver().resolvePtr(bare(demo.browse))).sort(), [demo, greeting, idle, order].map((n) => bare(n.instance)).sort());
    const soa = await resolver().resolveSoa('dubbo.internal');
    assert.equal(soa.nsname, 'ns.dns.dubbo.internal');
    assert.equal(soa.minttl, 5);
  });

  test('NXDOMAIN is ENOTFOUND, NODATA is ENODATA, REFUSED is EREFUSED', async () => {
    await assert.rejects(resolver().resolve4(`nope.shop.dubbo.internal`), { code: 'ENOTFOUND' });
    await assert.rejects(resolver().resolveSrv(`nope.${D}`), { code: 'ENOTFOUND' });
    await assert.rejects(resolver().resolveSrv(bare(idle.service)), { code: 'ENODATA' });
    await assert.rejects(resolver().resolve6(`demo-0.${D}`), { code: 'ENODATA' });
    await assert.rejects(resolver().resolve4('example.com'), { code: 'EREFUSED' });
  });
});
