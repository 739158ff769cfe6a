import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ipaddr from 'ipaddr.js';
import { serviceRecords } from '../../src/dns/index/records.ts';
import { normalizeZone, serviceHash, serviceLabel, serviceNames } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { requireProgram, run } from '../integration/helpers.ts';
import { ROOT } from '../support/server.ts';

// docs/name-vectors.json is what docs/tools/name-vectors.py (an independent implementation of
// docs/naming.md, Python's standard library only) prints. Every vector must hold for the product's
// own naming code, and the script must still print exactly the committed file: so the Python and
// the TypeScript agree, and the vectors users implement against cannot rot.

interface Vector {
  readonly name: string;
  readonly interface: string;
  readonly group: string;
  readonly version: string;
  readonly namespace: string;
  readonly zone: string;
  readonly protocol: string;
  readonly hash: string;
  readonly label: string;
  readonly names: { readonly service: string; readonly srv: string; readonly instance: string; readonly browse: string };
  readonly endpoints: readonly { readonly address: string; readonly hostname: string | null; readonly canonical: string; readonly label: string; readonly name: string }[];
}

const FILE = join(ROOT, 'docs', 'name-vectors.json');
const text = readFileSync(FILE, 'utf8');
const vectors = (JSON.parse(text) as { vectors: Vector[] }).vectors;

describe('docs/name-vectors.json against src/dubbo/naming.ts', () => {
  it('has the vectors the spec promises', () => {
    assert.ok(vectors.length >= 20, `${vectors.length} vectors`);
    const all = vectors.flatMap((v) => v.endpoints);
    assert.ok(vectors.some((v) => v.group === '' && v.version === ''), 'empty group and version');
    assert.ok(vectors.some((v) => v.label.startsWith('d-') && /^[^a-z]/.test(v.label.slice(2))), 'a label that needed d-');
    assert.ok(vectors.some((v) => v.label === `d-${v.hash}`), 'a label whose parts are just d');
    assert.ok(vectors.some((v) => v.label.length === 63), 'a label cut to 52 + hash');
    assert.ok(vectors.some((v) => [...v.interface + v.group + v.version].some((c) => c.codePointAt(0)! > 0x7f)), 'non-ASCII input');
    assert.ok(all.some((e) => e.canonical.includes(':')), 'IPv6 endpoint labels');
  });

  for (const v of vectors) {
    it(v.name, () => {
      const key = serviceKey(v.interface, v.group, v.version);
      assert.equal(serviceHash(key), v.hash, 'hash h');
      assert.equal(serviceLabel(key), v.label, 'label S');
      const names = serviceNames(key, v.namespace, v.zone, v.protocol);
      assert.deepEqual(
        { service: names.service, srv: names.protocolSrv, instance: names.instance, browse: names.browse },
        v.names,
      );
      if (v.endpoints.length === 0) return;
      // The endpoint names as the zone publishes them: each one's address record, and the SRV targets.
      const zone = normalizeZone(v.zone);
      const { records } = serviceRecords(
        {
          namespace: v.namespace,
          key,
          protocol: v.protocol,
          params: {},
          endpoints: v.endpoints.map((e) => ({
            address: ipaddr.parse(e.address).toString(),
            hostname: e.hostname ?? undefined,
            port: 20880,
            protocol: v.protocol,
            ready: true,
            weight: 100,
            params: {},
          })),
        },
        zone,
      );
      for (const e of v.endpoints) {
        assert.equal(ipaddr.parse(e.address).toString(), e.canonical, `canonical form of ${e.address}`);
        const sets = records.get(e.name) ?? [];
        const address = sets.find((s) => s.type === 'A' || s.type === 'AAAA')?.records[0];
        assert.deepEqual(address, { type: e.canonical.includes(':') ? 'AAAA' : 'A', address: e.canonical }, `address record at ${e.name}`);
      }
      const srv = (records.get(v.names.service) ?? []).find((s) => s.type === 'SRV');
      assert.deepEqual(srv?.records.map((r) => (r.type === 'SRV' ? r.target : '')), v.endpoints.map((e) => e.name), 'SRV targets');
    });
  }

  it('docs/tools/name-vectors.py still prints exactly the committed file', async () => {
    const python = requireProgram('python3', 'python3');
    const r = await run(python, [join(ROOT, 'docs', 'tools', 'name-vectors.py')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, text, 'run `python3 docs/tools/name-vectors.py --write` and review the diff');
  });
});
