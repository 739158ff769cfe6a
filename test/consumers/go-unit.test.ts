// The Go module clients/go in CI: gofmt, `go vet ./...` and `go test ./...` must pass (its table
// tests, and naming vectors the server computes here for generated keys, so the Go port of the
// naming rules (docs/naming.md) cannot drift from src/dubbo/naming.ts). Go comes from PATH or
// /usr/local/go; the module's go.sum pins every dependency (-mod=readonly), fetched from the Go
// module proxy.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { serviceLabel } from '../../src/dubbo/naming.ts';
import { serviceKey } from '../../src/dubbo/service-key.ts';
import { tempDir } from '../integration/helpers.ts';
import { ROOT } from '../support/server.ts';

const MODULE = join(ROOT, 'clients/go');
const dir = tempDir('go-unit');
after(() => dir.remove());

function goBin(): string {
  for (const d of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/go/bin']) {
    if (d === '') continue;
    try {
      accessSync(join(d, 'go'), constants.X_OK);
      return join(d, 'go');
    } catch {
      // next
    }
  }
  throw new Error('go not found on PATH nor in /usr/local/go/bin');
}

/** Runs the go tool in the module, the way test/tools/go-env.sh sets it up (shares its build cache). */
function go(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      goBin(),
      args,
      { cwd: MODULE, timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', ...env } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
        resolve({ code, out: `${String(stdout)}${String(stderr)}` });
      },
    );
  });
}

/** Interfaces shaped like Java names, groups and versions, with any Unicode in them. */
const part = fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.stringMatching(/^[A-Za-z0-9._-]{0,70}$/));
const iface = fc.array(part, { minLength: 1, maxLength: 4 }).map((p) => p.join('.'));

describe('Go module clients/go', { timeout: 20 * 60_000 }, () => {
  it('is gofmt-clean and passes go vet', async () => {
    const fmt = await new Promise<string>((resolve, reject) =>
      execFile(join(goBin(), '..', 'gofmt'), ['-l', '.'], { cwd: MODULE }, (err, stdout) => (err === null ? resolve(String(stdout)) : reject(err))),
    );
    assert.equal(fmt.trim(), '', `gofmt -l lists files to format:\n${fmt}`);
    const vet = await go(['vet', './...']);
    assert.equal(vet.code, 0, `go vet ./... failed:\n${vet.out}`);
  });

  it('passes go test, naming vectors from the server included', async () => {
    const keys = fc.sample(fc.tuple(iface, part, part), { numRuns: 400, seed: 6763 });
    const rows = keys.map(([i, g, v]) => ({ Interface: i, Group: g, Version: v, Label: serviceLabel(serviceKey(i, g, v)) }));
    const vectors = join(dir.dir, 'naming-vectors.json');
    writeFileSync(vectors, JSON.stringify(rows));
    const test = await go(['test', '-count=1', '-v', '-run', '.', './...'], { DUBBO_DNS_NAMING_VECTORS: vectors });
    assert.equal(test.code, 0, `go test ./... failed:\n${test.out.slice(-8000)}`);
    assert.match(test.out, /--- PASS: TestNamingVectorsFile/, 'the vectors were compared, not skipped');
    assert.doesNotMatch(test.out, /--- SKIP/, 'no Go test skipped');
  });
});
