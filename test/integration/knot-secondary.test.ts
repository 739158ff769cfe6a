import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { startServer, type ServerProcess } from '../support/server.ts';
import {
  bare,
  buildQuery,
  decode,
  dig,
  freePort,
  lines,
  names,
  poll,
  replaceFile,
  requireProgram,
  serialOf,
  soaSerial,
  startDaemon,
  tcpExchange,
  tempDir,
  udpExchange,
  type Daemon,
} from './helpers.ts';

// DESIGN §5 zone transfers and NOTIFY against a real secondary: Knot DNS (knotd) runs as a
// secondary of our zone, bootstraps it by AXFR, and follows a registry edit after our NOTIFY,
// without a restart. Also: who may transfer (REFUSED otherwise), AXFR over UDP, IXFR answered with
// the full zone, AXFR content against individual answers, and NOTIFY retried until answered.

const ZONE = 'dubbo.internal.';
const hello = names('org.example.Hello', 'shop');
const H = bare(hello.service);

const registry = (endpoints: readonly [address: string, hostname: string][]): string => `namespace: shop
services:
  - interface: org.example.Hello
    port: 20880
    metadata: { application: hello }
    endpoints:
${endpoints.map(([a, h]) => `      - { address: ${a}, hostname: ${h} }`).join('\n')}
  - interface: org.example.Other
    protocol: tri
    port: 50051
    endpoints:
      - { address: "fd00::7", hostname: other-0 }
`;
const TWO: [string, string][] = [
  ['10.1.0.1', 'hello-0'],
  ['10.1.0.2', 'hello-1'],
];
const THREE: [string, string][] = [...TWO, ['10.1.0.3', 'hello-2']];

function knotConfig(dir: string, knotPort: number, primaryPort: number): string {
  return `server:
    rundir: "${dir}"
    pidfile: "${join(dir, 'knot.pid')}"
    listen: 127.0.0.1@${knotPort}
database:
    storage: "${dir}"
    journal-db: "${join(dir, 'journal')}"
    timer-db: "${join(dir, 'timer')}"
    kasp-db: "${join(dir, 'kasp')}"
    catalog-db: "${join(dir, 'catalog')}"
control:
    listen: "${join(dir, 'knot.sock')}"
log:
  - target: stdout
    any: info
remote:
  - id: dubbo-dns
    address: 127.0.0.1@${primaryPort}
acl:
  - id: notify-from-dubbo-dns
    address: 127.0.0.1
    action: notify
zone:
  - domain: ${ZONE}
    master: dubbo-dns
    acl: notify-from-dubbo-dns
    storage: "${dir}"
    zonefile-load: none
    zonefile-sync: -1
    journal-content: none
`;
}

/** Our records and Knot's for the same question, as comparable lines. */
async function answerLines(port: number, name: string, type: string): Promise<string[]> {
  const msg = decode(await udpExchange(port, buildQuery(name, type, { edns: 1232 })));
  assert.equal(msg.rcode, 'NOERROR', `${name} ${type} at port ${port}`);
  return lines(msg.answers);
}

describe('Knot DNS as a secondary of our zone', () => {
  let server: ServerProcess | undefined;
  let knot: Daemon | undefined;
  let knotPort = 0;
  let registryFile = '';
  const tmp = tempDir('knot');

  before(async () => {
    const knotd = requireProgram('knotd', 'knot');
    requireProgram('dig', 'bind9-dnsutils');
    knotPort = await freePort();
    registryFile = join(tmp.dir, 'registry.yaml');
    writeFileSync(registryFile, registry(TWO));
    server = await startServer(['--registry', registryFile, '--allow-transfer', '127.0.0.1/32', '--notify', `127.0.0.1:${knotPort}`]);
    const knotDir = join(tmp.dir, 'knot');
    const conf = join(tmp.dir, 'knot.conf');
    writeFileSync(conf, knotConfig(knotDir, knotPort, server.dnsPort));
    mkdirSync(knotDir, { recursive: true });
    knot = startDaemon(knotd, ['-c', conf]);
  });

  after(async () => {
    await knot?.stop();
    await server?.stop();
    tmp.remove();
  });

  test('knot bootstraps the zone by AXFR and serves our SOA serial and records', async () => {
    assert.ok(server !== undefined && knot !== undefined);
    const ours = await soaSerial(server.dnsPort);
    assert.ok(ours !== undefined && ours > 0);
    await poll(`knot serving serial ${ours}`, async () => ((await soaSerial(knotPort)) === ours ? true : undefined), 20_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\nknot output:\n${knot?.output()}`);
    });
    for (const [name, type] of [
      [hello.service, 'A'],
      [hello.service, 'SRV'],
      [hello.service, 'TXT'],
      [hello.protocolSrv, 'SRV'],
      [`hello-0.${hello.service}`, 'A'],
      [names('org.example.Other', 'shop').service, 'AAAA'],
      [hello.browse, 'PTR'],
      [ZONE, 'NS'],
    ] as const) {
      const mine = await answerLines(server.dnsPort, name, type);
      assert.ok(mine.length > 0, `${name} ${type} has records`);
      assert.deepEqual(await answerLines(knotPort, name, type), mine, `${name} ${type}: knot serves what we serve`);
    }
    assert.deepEqual(await answerLines(knotPort, hello.service, 'A'), [`${H} 5 A 10.1.0.1`, `${H} 5 A 10.1.0.2`]);
  });

  test('a registry edit reaches knot through NOTIFY, without restarting knot', async () => {
    assert.ok(server !== undefined && knot !== undefined);
    const pid = knot.pid;
    const before = await soaSerial(server.dnsPort);
    assert.ok(before !== undefined);
    const outputBefore = knot.output().length;
    replaceFile(registryFile, registry(THREE));
    const after = await poll('our serial to rise', async () => {
      const s = await soaSerial(server!.dnsPort);
      return s !== undefined && s !== before ? s : undefined;
    });
    assert.ok(after > before, `serial ${before} -> ${after} rises`);
    // Knot's own refresh timer is the SOA refresh (60 s): seeing the change well before that means
    // the NOTIFY triggered it.
    await poll(
      `knot serving serial ${after} and the new address`,
      async () => {
        if ((await soaSerial(knotPort)) !== after) return undefined;
        const a = await answerLines(knotPort, hello.service, 'A');
        return a.includes(`${H} 5 A 10.1.0.3`) ? true : undefined;
      },
      20_000,
      200,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nknot output:\n${knot?.output()}`);
    });
    assert.deepEqual(await answerLines(knotPort, hello.service, 'A'), [`${H} 5 A 10.1.0.1`, `${H} 5 A 10.1.0.2`, `${H} 5 A 10.1.0.3`]);
    assert.deepEqual(await answerLines(knotPort, hello.service, 'SRV'), await answerLines(server.dnsPort, hello.service, 'SRV'));
    assert.deepEqual(await answerLines(knotPort, `hello-2.${hello.service}`, 'A'), [`hello-2.${H} 5 A 10.1.0.3`]);

    assert.equal(knot.exited(), false, 'knot still running');
    assert.equal(knot.pid, pid);
    assert.equal(knot.output().match(/Knot DNS [\d.]+ starting/g)?.length, 1, 'knot started once');
    const since = knot.output().slice(outputBefore);
    assert.match(since, /notify, incoming/, 'knot received our NOTIFY');
    assert.match(since, new RegExp(`serial ${before} -> ${after}`), 'knot refreshed to the new serial');
    await server.waitForLog((l) => l['msg'] === 'secondary notified' && l['serial'] === after, 10_000);
  });

  test('dig AXFR over TCP: SOA first and last, and every name as answered by individual queries', async () => {
    assert.ok(server !== undefined);
    const axfr = await dig(server.dnsPort, ['+noall', '+answer', ZONE, 'AXFR']);
    const records = [...axfr.answer];
    assert.ok(records.length > 10, axfr.text);
    const raw = axfr.text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
    assert.match(raw[0] ?? '', /\sSOA\s/);
    assert.match(raw[raw.length - 1] ?? '', /\sSOA\s/);
    const serial = await soaSerial(server.dnsPort);
    const soaLines = records.filter((r) => r.split(' ')[2] === 'SOA');
    assert.equal(soaLines.length, 2);
    assert.match(soaLines[0]!, new RegExp(` ${serial} `));
    const unique = [...new Set(records.filter((r) => r.split(' ')[2] !== 'SOA'))];
    assert.equal(unique.length, records.length - 2, 'no record twice (but the SOA)');

    const checked = [bare(ZONE), H, bare(hello.protocolSrv), `hello-1.${H}`, bare(hello.instance), bare(hello.browse), bare(names('org.example.Other', 'shop').service)];
    for (const owner of checked) {
      const fromAxfr = [...new Set(records.filter((r) => r.startsWith(`${owner} `)))].sort();
      assert.ok(fromAxfr.length > 0, `${owner} is in the transfer`);
      const individual: string[] = [];
      for (const type of ['SOA', 'NS', 'A', 'AAAA', 'SRV', 'TXT', 'PTR']) {
        const one = await dig(server.dnsPort, ['+norec', `${owner}.`, type]);
        assert.equal(one.status, 'NOERROR', `${owner} ${type}`);
        individual.push(...one.answer.filter((r) => r.startsWith(`${owner} `)));
      }
      assert.deepEqual([...new Set(individual)].sort(), fromAxfr, `${owner}: AXFR equals the individual answers`);
    }
  });

  test('IXFR over TCP is answered with the full zone; IXFR over UDP with the SOA alone', async () => {
    assert.ok(server !== undefined);
    const serial = await soaSerial(server.dnsPort);
    assert.ok(serial !== undefined);
    const axfr = await dig(server.dnsPort, ['+noall', '+answer', ZONE, 'AXFR']);
    const ixfr = await dig(server.dnsPort, ['+noall', '+answer', '+tcp', ZONE, `IXFR=${serial - 1}`]);
    assert.deepEqual(ixfr.answer, axfr.answer, 'an AXFR-style IXFR: the whole zone');

    const udp = decode(await udpExchange(server.dnsPort, ixfrQuery(serial - 1)));
    assert.equal(udp.rcode, 'NOERROR');
    assert.equal(udp.answers?.length, 1);
    assert.equal(udp.answers?.[0]?.type, 'SOA');
    assert.equal(serialOf(udp), serial);
  });

  test('AXFR over UDP is refused, even from an allowed address', async () => {
    assert.ok(server !== undefined);
    const msg = decode(await udpExchange(server.dnsPort, buildQuery(ZONE, 'AXFR')));
    assert.equal(msg.rcode, 'REFUSED');
    assert.equal(msg.answers?.length ?? 0, 0);
  });
});

/** An IXFR query carrying the client's SOA in the authority section (RFC 1995 §3). */
function ixfrQuery(serial: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: 4242,
    flags: 0,
    questions: [{ name: ZONE, type: 'IXFR', class: 'IN' }],
    authorities: [
      {
        name: ZONE,
        type: 'SOA',
        ttl: 0,
        class: 'IN',
        data: { mname: 'ns.dns.dubbo.internal.', rname: 'hostmaster.dubbo.internal.', serial, refresh: 60, retry: 10, expire: 86400, minimum: 5 },
      },
    ],
  });
}

describe('transfers to addresses outside --allow-transfer are REFUSED', () => {
  let closed: ServerProcess | undefined;
  let elsewhere: ServerProcess | undefined;
  const tmp = tempDir('xfr-refused');

  before(async () => {
    requireProgram('dig', 'bind9-dnsutils');
    const file = join(tmp.dir, 'registry.yaml');
    writeFileSync(file, registry(TWO));
    closed = await startServer(['--registry', file]);
    elsewhere = await startServer(['--registry', file, '--allow-transfer', '10.0.0.0/8,fd00::/8']);
  });

  after(async () => {
    await closed?.stop();
    await elsewhere?.stop();
    tmp.remove();
  });

  for (const which of ['no --allow-transfer', '--allow-transfer without loopback'] as const) {
    test(`${which}: AXFR and IXFR over TCP get REFUSED, and nothing of the zone`, async () => {
      const server = which === 'no --allow-transfer' ? closed : elsewhere;
      assert.ok(server !== undefined);
      for (const type of ['AXFR', 'IXFR']) {
        const replies = await tcpExchange(server.dnsPort, buildQuery(ZONE, type));
        assert.equal(replies.length, 1);
        const msg = decode(replies[0]!);
        assert.equal(msg.rcode, 'REFUSED', type);
        assert.equal(msg.answers?.length ?? 0, 0, type);
      }
      const udp = decode(await udpExchange(server.dnsPort, buildQuery(ZONE, 'IXFR')));
      assert.equal(udp.rcode, 'REFUSED', 'IXFR over UDP');
      const viaDig = await dig(server.dnsPort, [ZONE, 'AXFR']);
      assert.match(viaDig.text, /Transfer failed/);
      assert.equal(viaDig.answer.length, 0);
      // Ordinary questions are still answered.
      assert.ok((await soaSerial(server.dnsPort)) !== undefined);
    });
  }
});

describe('NOTIFY is retried until the secondary answers', () => {
  let server: ServerProcess | undefined;
  let responder: Socket | undefined;
  const tmp = tempDir('notify');
  let registryFile = '';

  before(() => {
    registryFile = join(tmp.dir, 'registry.yaml');
    writeFileSync(registryFile, registry(TWO));
  });

  after(async () => {
    responder?.close();
    await server?.stop();
    tmp.remove();
  });

  test('nothing listens at first; a responder bound seconds later gets a NOTIFY for the SOA and the server logs it', async () => {
    const port = await freePort();
    server = await startServer(['--registry', registryFile, '--notify', `127.0.0.1:${port}`]);
    const serial = await soaSerial(server.dnsPort);
    assert.ok(serial !== undefined);
    // The first attempt went out at load, to a port where nothing listens, and went unanswered.
    await server.waitForLog((l) => l['msg'] === 'NOTIFY not answered yet' && l['attempt'] === 1);
    assert.equal(server.logs.filter((l) => l['msg'] === 'secondary notified').length, 0);

    const received: Buffer[] = [];
    const socket = createSocket('udp4');
    responder = socket;
    socket.on('message', (msg, rinfo) => {
      received.push(msg);
      if (msg.length < 12) return;
      const reply = Buffer.from(msg);
      reply[2] = 0x80 | (4 << 3) | 0x04; // QR, opcode NOTIFY, AA
      reply[3] = 0;
      socket.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '127.0.0.1', port }, () => resolve());
    });

    await poll('a NOTIFY at the responder', async () => (received.length > 0 ? true : undefined), 10_000, 50);
    const raw = received[0]!;
    assert.equal((raw[2]! >> 3) & 0x0f, 4, 'opcode NOTIFY');
    assert.equal(raw[2]! & 0x80, 0, 'a request, not a response');
    const msg = decode(raw);
    assert.equal(msg.flag_aa, true, 'AA set (RFC 1996 §3.7)');
    assert.equal(msg.questions?.length, 1);
    assert.equal(bare(msg.questions![0]!.name), bare(ZONE));
    assert.equal(msg.questions![0]!.type, 'SOA');
    assert.equal(msg.questions![0]!.class, 'IN');

    const logged = await server.waitForLog((l) => l['msg'] === 'secondary notified', 10_000);
    assert.equal(logged['serial'], serial);
    assert.equal(logged['target'], `127.0.0.1:${port}`);
    assert.ok(typeof logged['attempt'] === 'number' && logged['attempt'] >= 2, `answered on a retry (attempt ${String(logged['attempt'])})`);

    // The next serial rise is announced again, and answered at once.
    const count = received.length;
    replaceFile(registryFile, registry(THREE));
    const next = await poll('the serial to rise', async () => {
      const s = await soaSerial(server!.dnsPort);
      return s !== undefined && s !== serial ? s : undefined;
    });
    const again = await server.waitForLog((l) => l['msg'] === 'secondary notified' && l['serial'] === next, 10_000);
    assert.equal(again['attempt'], 1);
    assert.ok(received.length > count);
  });
});
