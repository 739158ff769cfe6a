// A test host in its own network namespace, for programs that must listen on an address that is
// not loopback: Kubernetes refuses loopback addresses in EndpointSlices, so a provider published
// from a pod has to be reachable at a "real" address. The namespace gets a veth pair to this
// machine with addresses from 198.18.0.0/15 (RFC 2544's benchmarking range): only this machine
// and the namespace ever see them. Needs root (CI runs as root). Removed by dispose(), when the
// test process exits, or by a watchdog shell if it dies without exit handlers.
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';

/** A network namespace reachable from this machine at a few addresses. */
export interface TestHost {
  /** The namespace's name (for `ip netns exec`). */
  readonly name: string;
  /** Addresses inside the namespace, reachable from this machine. */
  readonly addresses: readonly string[];
  /** This machine's address as seen from inside the namespace. */
  readonly gateway: string;
  /** The command and arguments that run `command args...` inside the namespace. */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Deletes the namespace (its veth pair goes with it). Idempotent. */
  dispose(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** Creates a namespace with `count` addresses (198.18.N.2, .3, ...) routed from this machine. */
export function createTestHost(count = 1): TestHost {
  if (process.getuid?.() !== 0) throw new Error('a network-namespace test host needs root (CI runs as root)');
  for (let attempt = 0; ; attempt++) {
    const n = randomInt(0, 512);
    const subnet = `198.${18 + (n >> 8)}.${n & 255}`;
    const name = `dubbo-dns-${process.pid}-${n}`;
    const hostSide = `ddh${process.pid % 100000}x${n}`.slice(0, 15);
    const nsSide = `ddn${process.pid % 100000}x${n}`.slice(0, 15);
    try {
      ip('netns', 'add', name);
    } catch (err) {
      if (attempt < 5) continue;
      throw err;
    }
    const dispose = (): void => {
      process.removeListener('exit', dispose);
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    };
    process.once('exit', dispose);
    spawn('sh', ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ip netns del "$2" 2>/dev/null', 'netns-watchdog', String(process.pid), name], {
      stdio: 'ignore',
      detached: true,
    }).unref();
    try {
      ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
      ip('link', 'set', nsSide, 'netns', name);
      ip('addr', 'add', `${subnet}.1/24`, 'dev', hostSide);
      ip('link', 'set', hostSide, 'up');
      const addresses = Array.from({ length: count }, (_, i) => `${subnet}.${i + 2}`);
      for (const a of addresses) ip('netns', 'exec', name, 'ip', 'addr', 'add', `${a}/24`, 'dev', nsSide);
      ip('netns', 'exec', name, 'ip', 'link', 'set', nsSide, 'up');
      ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
      return { name, addresses, gateway: `${subnet}.1`, wrap: (command, args) => ['ip', ['netns', 'exec', name, command, ...args]], dispose };
    } catch (err) {
      dispose();
      try {
        ip('link', 'del', hostSide);
      } catch {
        // moved into the namespace and gone with it
      }
      // The subnet may be taken by another test's host: try another.
      if (attempt < 5) continue;
      throw err;
    }
  }
}
