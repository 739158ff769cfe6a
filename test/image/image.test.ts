import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, startServer, type ServerProcess } from '../support/server.ts';
import { dig, requireProgram, run, tempDir, type RunResult } from '../integration/helpers.ts';

// The container image as a cluster would run it, without a container runtime (crun/runc cannot
// start containers on these machines): scripts/build-image.sh builds it (cached by content hash,
// so reruns take seconds) and writes the OCI archive a user would load into kind or push; umoci
// unpacks it; its entrypoint runs from the unpacked root filesystem the way a runtime with
// `readOnlyRootFilesystem: true` and `runAsUser: 65532` does: a private mount namespace, the root
// bind-mounted read-only, /proc and a /dev tmpfs inside, the config's user, environment and working
// directory, nothing on the host's paths. Needs root (mounts, chroot); fails, never skips, without it.

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string; description: string; repository?: string | { url?: string }; dependencies?: Record<string, string> };
const ARCHIVE_REF = `docker.io/library/dubbo-dns:${pkg.version}`;
const SIZE_GOAL = 150_000_000; // bytes, uncompressed
const S = 'demoservice-gray-v1-0-0-gvbnf6n34g.shop.dubbo.internal';

/** What a runtime reads from the bundle umoci writes (OCI runtime spec `config.json`). */
interface RuntimeSpec {
  process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
}

/** The OCI image config (the part of it this test reads). */
interface ImageConfig {
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[] | null; Labels?: Record<string, string>; WorkingDir?: string };
}

// Inside a fresh mount namespace: mount what a runtime mounts, then exec the given command line.
// $1 the root filesystem, $2 a host directory to show read-only at /tmp ("" for none).
const LAUNCH = `set -eu
root=$1 data=$2; shift 2
mount --bind "$root" "$root"
mount -o remount,bind,ro,nosuid,nodev "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs "$root/dev"
for d in null zero full random urandom; do : >"$root/dev/$d"; mount --bind "/dev/$d" "$root/dev/$d"; done
if [ -n "$data" ]; then mount --bind "$data" "$root/tmp"; mount -o remount,bind,ro "$root/tmp"; fi
exec "$@"`;

let work: { dir: string; remove: () => void };
let built: Record<string, string>;
let rootfs: string;
let spec: RuntimeSpec;
let image: ImageConfig;
let indexRef: string | undefined;
/** A host directory shown read-only at /tmp inside: the registry file, as a ConfigMap would be. */
let dataDir: string;

/**
 * The command line that runs `args` (default: the image's entrypoint and cmd) as the image's
 * user, with its environment and working directory, on the read-only root filesystem.
 */
function inImage(args: readonly string[] = spec.process.args): string[] {
  const { uid, gid } = spec.process.user;
  return [
    'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', LAUNCH, 'launch', rootfs, dataDir,
    'env', '-i', ...spec.process.env,
    // nsenter, not chroot(1): it keeps the working directory (chroot always changes to /).
    'nsenter', `--root=${rootfs}`, `--wd=${join(rootfs, spec.process.cwd)}`, '-S', String(uid), '-G', String(gid), '--',
    ...args,
  ];
}

/** Runs the image's entrypoint with `cliArgs` to completion. */
function runImage(cliArgs: readonly string[], command: readonly string[] = spec.process.args): Promise<RunResult> {
  const [program, ...rest] = inImage([...command, ...cliArgs]);
  return run(program!, rest, 60_000);
}

/** Every path under `dir` with its type, mode, size and mtime: equal snapshots mean nothing was written. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: false }) as string[]) {
    const st = lstatSync(join(dir, entry));
    out.set(entry, `${st.mode}:${st.size}:${st.mtimeMs}:${st.uid}:${st.gid}`);
  }
  return out;
}

/** Bytes under `path` (files counted once, symlinks as links). */
function bytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, name) => n + bytes(join(path, name)), 0);
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

before(async () => {
  if (process.getuid?.() !== 0) {
    throw new Error('test/image needs root: it builds with buildah and runs the unpacked image in its own mount namespace, chrooted (run the tests as root, as CI does)');
  }
  for (const [program, debian] of [['buildah', 'buildah'], ['skopeo', 'skopeo'], ['umoci', 'umoci'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['dig', 'bind9-dnsutils']] as const) {
    requireProgram(program, debian);
  }
  work = tempDir('image');
  const archive = join(work.dir, 'image.oci.tar');
  // A hang guard only: a cold build takes a few minutes, a cached one seconds.
  const result = await run('bash', [join(ROOT, 'scripts/build-image.sh'), '--oci-archive', archive], 30 * 60_000);
  assert.equal(result.code, 0, `scripts/build-image.sh failed:\n${result.stderr}`);
  built = Object.fromEntries(result.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

  // The archive is an OCI image layout in a tar: unpack it as kind's containerd or a registry would read it.
  const layout = join(work.dir, 'layout');
  mkdirSync(layout);
  execFileSync('tar', ['-xf', archive, '-C', layout]);
  const blob = (digest: string): string => readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8');
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  assert.equal(index.manifests.length, 1);
  indexRef = index.manifests[0]!.annotations?.['org.opencontainers.image.ref.name'];
  const manifest = JSON.parse(blob(index.manifests[0]!.digest)) as { config: { digest: string } };
  image = JSON.parse(blob(manifest.config.digest)) as ImageConfig;

  const bundle = join(work.dir, 'bundle');
  execFileSync('umoci', ['unpack', '--image', `${layout}:${ARCHIVE_REF}`, bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
  rootfs = join(bundle, 'rootfs');
  spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
  dataDir = join(work.dir, 'data');
  mkdirSync(dataDir);
  copyFileSync(join(ROOT, 'examples/registry.yaml'), join(dataDir, 'registry.yaml'));
});

after(() => work?.remove());

describe('the container image', () => {
  test('is configured to run dubbo-dns as 65532:65532 and carries the OCI labels', () => {
    const c = image.config;
    assert.equal(c.User, '65532:65532');
    // A small young generation (Containerfile): the same throughput, a third less memory.
    assert.deepEqual(c.Entrypoint, ['/usr/local/bin/node', '--max-semi-space-size=4', '/app/bin/dubbo-dns.js']);
    assert.ok(c.Cmd === undefined || c.Cmd === null || c.Cmd.length === 0, `no default arguments, got ${JSON.stringify(c.Cmd)}`);
    const labels = c.Labels ?? {};
    assert.equal(labels['org.opencontainers.image.title'], 'dubbo-dns');
    assert.equal(labels['org.opencontainers.image.version'], pkg.version);
    assert.equal(labels['org.opencontainers.image.licenses'], pkg.license);
    assert.equal(labels['org.opencontainers.image.description'], pkg.description);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    assert.match(labels['org.opencontainers.image.revision'] ?? '', new RegExp(`^${head}(-dirty)?$`));
    const repository = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
    let origin = '';
    try {
      origin = execFileSync('git', ['remote', 'get-url', 'origin'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      // no origin: the label says what package.json says, or nothing
    }
    assert.equal(labels['org.opencontainers.image.source'], repository ?? origin);
    // The name a Pod's `image: dubbo-dns:<version>` resolves to, so `kind load image-archive` and
    // `ctr images import` store it under that name.
    assert.equal(indexRef, ARCHIVE_REF);
    assert.equal(built['IMAGE'], `localhost/dubbo-dns:${pkg.version}`);
  });

  test(`holds only what runs, within ${mb(SIZE_GOAL)} uncompressed`, (t) => {
    // Names of everything that is not a directory (/var/lib/dpkg holds the package list, not dpkg).
    const names = new Set(readdirSync(rootfs, { recursive: true, withFileTypes: true }).filter((d) => !d.isDirectory()).map((d) => d.name));
    for (const shell of ['sh', 'bash', 'dash', 'ash', 'busybox', 'apt', 'apt-get', 'dpkg', 'npm', 'npx', 'corepack']) {
      assert.ok(!names.has(shell), `${shell} is in the image`);
    }
    assert.ok(!existsSync(join(rootfs, 'bin/sh')));
    assert.ok(existsSync(join(rootfs, 'app/dist/src/main.js')), 'the compiled CLI');
    assert.ok(!existsSync(join(rootfs, 'app/src')), 'no TypeScript sources');
    assert.ok(![...names].some((n) => n.endsWith('.d.ts') || n.endsWith('.js.map')), 'no declarations or source maps');
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
    assert.match(readFileSync(join(rootfs, 'etc/group'), 'utf8'), /^nonroot:x:65532:/m);

    const size = Number(built['IMAGE_SIZE']);
    const node = bytes(join(rootfs, 'usr/local/bin/node'));
    const modules = bytes(join(rootfs, 'app/node_modules'));
    const client = bytes(join(rootfs, 'app/node_modules/@kubernetes/client-node'));
    const app = bytes(join(rootfs, 'app/dist'));
    const libs = bytes(join(rootfs, 'lib')) + bytes(join(rootfs, 'usr/lib'));
    const all = bytes(rootfs);
    t.diagnostic(`image ${mb(size)} uncompressed (layers); files ${mb(all)}: node ${mb(node)}, node_modules ${mb(modules)} ` +
      `(@kubernetes/client-node ${mb(client)}), shared libraries ${mb(libs)}, dist ${mb(app)}, the rest ${mb(all - node - modules - libs - app)}`);
    assert.ok(size <= SIZE_GOAL, `the image is ${mb(size)}, over the ${mb(SIZE_GOAL)} goal`);
  });

  test('--version prints the package version', async () => {
    const r = await runImage(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('controller --help exits 0', async () => {
    const r = await runImage(['controller', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: dubbo-dns controller/);
  });

  test('every production dependency loads from what the pruning left', async () => {
    // The deps stage deletes files nothing should load; a dependency that did load one fails here.
    const deps = Object.keys(pkg.dependencies ?? {});
    assert.ok(deps.includes('node-zookeeper-client'), deps.join(' '));
    const probe = `(async () => { for (const d of ${JSON.stringify(deps)}) await import(d); process.stdout.write('ok'); })()` +
      `.catch((e) => { process.stdout.write(String(e)); process.exitCode = 1; })`;
    const r = await runImage(['--input-type=module', '-e', probe], ['/usr/local/bin/node']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'ok');
  });

  test('the root filesystem is read-only to the process: a write fails with EROFS', async () => {
    // /home/nonroot belongs to 65532: only the read-only mount can refuse the write.
    const probe = "try { require('fs').writeFileSync('/home/nonroot/probe', 'x'); } catch (e) { process.stdout.write(e.code); }";
    const r = await runImage(['-e', probe], ['/usr/local/bin/node']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'EROFS');
  });

  describe('serve on a registry file', () => {
    let server: ServerProcess | undefined;
    after(async () => {
      await server?.stop();
    });

    test('answers dig with the providers, as 65532, on a read-only root, writing nothing', async () => {
      const initial = snapshot(rootfs);
      // Several workers, as the Deployment runs it (--workers=0: one per CPU).
      server = await startServer(['--registry', '/tmp/registry.yaml', '--workers', '2'], { command: inImage() });
      const pid = server.child.pid!;
      // The process that answers is the image's Node, chrooted, as nonroot, with no capabilities.
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
      assert.match(status, /^Gid:\s+65532\s+65532\s+65532\s+65532$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.equal(readlinkSync(`/proc/${pid}/root`), rootfs);
      const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
      assert.match(rootMount ?? '', /^\S+ \S+ \S+ \S+ \/ (ro|ro,\S*) /, `root mount: ${rootMount}`);

      const srv = await dig(server.dnsPort, [`${S}.`, 'SRV']);
      assert.equal(srv.status, 'NOERROR');
      assert.deepEqual(srv.answer, [
        `${S} 5 SRV 0 100 50051 10-0-0-13.${S}`,
        `${S} 5 SRV 0 100 50051 demo-0.${S}`,
        `${S} 5 SRV 0 200 50051 demo-1.${S}`,
      ]);
      assert.deepEqual(srv.additional, [`10-0-0-13.${S} 5 A 10.0.0.13`, `demo-0.${S} 5 A 10.0.0.11`, `demo-1.${S} 5 A 10.0.0.12`]);
      const a = await dig(server.dnsPort, [`${S}.`, 'A']);
      assert.deepEqual(a.answer, [`${S} 5 A 10.0.0.11`, `${S} 5 A 10.0.0.12`, `${S} 5 A 10.0.0.13`]);
      const ready = await fetch(`http://127.0.0.1:${server.httpPort}/readyz`);
      assert.equal(ready.status, 200);

      assert.equal(await server.stop(), 0);
      assert.deepEqual(snapshot(rootfs), initial, 'the root filesystem changed');
      assert.deepEqual(readdirSync(dataDir), ['registry.yaml']);
    });
  });
});
