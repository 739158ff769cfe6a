import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { followJsonLogs } from '../support/json-logs.ts';
import { poll } from '../support/poll.ts';
import { MAIN, ROOT } from '../support/server.ts';
import { tempDir, writeFile } from '../wire/helpers.ts';

// SIGTERM while start-up still waits for an API server that does not answer: both long-running
// commands must exit 0 at once. Kubernetes sends SIGTERM and, after the pod's grace period (30 s by
// default), SIGKILL: the test's timeout is that grace period.

const dir = tempDir('shutdown');
const children = new Set<ChildProcess>();
after(() => {
  // A child that never exited (the bug) must not keep the test process alive.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  dir.remove();
});

/** A kubeconfig whose API server refuses every connection (port 1 on loopback). */
const kubeconfig = writeFile(
  dir.dir,
  'unreachable.kubeconfig',
  [
    'apiVersion: v1',
    'kind: Config',
    'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1", insecure-skip-tls-verify: true } }]',
    'users: [{ name: u, user: { token: t } }]',
    'contexts: [{ name: x, context: { cluster: c, user: u } }]',
    'current-context: x',
    '',
  ].join('\n'),
);

const commands: Record<string, string[]> = {
  controller: ['controller', '--kubeconfig', kubeconfig, '--http-listen', '127.0.0.1:0'],
  'serve --kubernetes': ['serve', '--kubernetes', '--kubeconfig', kubeconfig, '--sync-timeout', '3600', '--listen', '127.0.0.1:0', '--lameduck', '0'],
  'serve --kubernetes --workers 2': ['serve', '--kubernetes', '--kubeconfig', kubeconfig, '--sync-timeout', '3600', '--listen', '127.0.0.1:0', '--lameduck', '0', '--workers', '2'],
};

describe('SIGTERM during start-up, API server unreachable', () => {
  for (const [name, args] of Object.entries(commands)) {
    it(`${name} exits 0`, { timeout: 30_000 }, async () => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const exited = once(child, 'exit');
      const followed = followJsonLogs(child);
      {
        // Start-up is under way and stuck on the API server: its first list has failed.
        await poll('a failed list', async () => followed.logs.find((l) => l['msg'] === 'list/watch failed; retrying'), 20_000);
        child.kill('SIGTERM');
        const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
        assert.equal(signal, null, followed.stderr());
        assert.equal(code, 0, followed.stderr());
        assert.ok(followed.logs.some((l) => l['msg'] === 'shutting down'));
        assert.equal(followed.stderr(), '');
      }
    });
  }
});
