import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { LeaderElector } from '../../src/controller/leader.ts';
import type { KubeApi } from '../../src/kube/rest.ts';
import type { Clock } from '../../src/time/clock.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeKube, networkError } from '../support/fake-kube.ts';

// Leader election on a fake clock against a scripted API: clock skew between replicas, a leader
// that crashes or cannot reach the API server, a graceful hand-over, and a race for a new Lease.

const LEASE = '/apis/coordination.k8s.io/v1/namespaces/ns/leases/ctl';
const MINUTES = 60_000;
const TIMING = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

interface Replica {
  readonly elector: LeaderElector;
  /** Leadership changes, with the time (of the shared fake clock) they happened. */
  readonly changes: { leader: boolean; at: number }[];
  /** Cuts this replica off from the API server: its requests fail, or hang when `hang`. */
  cut(how: 'fail' | 'hang'): void;
}

function replica(api: FakeKube, clock: FakeClock, identity: string, own: Clock = clock): Replica {
  let cut: 'fail' | 'hang' | undefined;
  const client: Pick<KubeApi, 'request'> = {
    request: (method, path, init) => {
      if (cut === 'hang') return new Promise(() => undefined);
      if (cut === 'fail') return Promise.reject(networkError());
      return api.request(method, path, init);
    },
  };
  const changes: Replica['changes'] = [];
  const elector = new LeaderElector({ client, namespace: 'ns', name: 'ctl', identity, ...TIMING, log: pino({ level: 'silent' }), clock: own });
  elector.start((leader) => changes.push({ leader, at: clock.now() }));
  return { elector, changes, cut: (how) => (cut = how) };
}

/** A leads; B is a candidate that has watched A renew for five seconds. */
async function leaderAndCandidate() {
  const clock = new FakeClock();
  const api = new FakeKube();
  const a = replica(api, clock, 'a');
  await clock.advance(0);
  const b = replica(api, clock, 'b');
  await clock.advance(5_000);
  return { clock, api, a, b };
}

const holder = (api: FakeKube): unknown => (api.get(LEASE)?.['spec'] as { holderIdentity?: string } | undefined)?.holderIdentity;

describe('leader election', () => {
  it('a replica whose clock runs minutes ahead never takes over a lease that is being renewed', async () => {
    const clock = new FakeClock();
    const api = new FakeKube();
    const a = replica(api, clock, 'a');
    await clock.advance(0);
    assert.equal(a.elector.isLeader, true);
    // B reads A's renewTime as five minutes old: by comparing clocks it would take over at once.
    const b = replica(api, clock, 'b', clock.skewed(5 * MINUTES));
    const c = replica(api, clock, 'c', clock.skewed(-5 * MINUTES));
    await clock.advance(4 * TIMING.leaseDurationSeconds * 1000);
    assert.deepEqual(b.changes, []);
    assert.deepEqual(c.changes, []);
    assert.equal(a.elector.isLeader, true);
    assert.equal(holder(api), 'a');
  });

  for (const how of ['fail', 'hang'] as const) {
    it(`a leader whose requests ${how === 'fail' ? 'fail' : 'never answer'} steps down at the renew deadline, before anyone may take over`, async () => {
      const { clock, api, a, b } = await leaderAndCandidate();
      a.cut(how);
      // A's clock is the shared one, so the renewTime it wrote is when it last renewed.
      const lastRenewal = Date.parse(String((api.get(LEASE)?.['spec'] as { renewTime: string }).renewTime));
      await clock.until(() => b.elector.isLeader, 60_000);
      const lost = a.changes.find((c) => !c.leader);
      const won = b.changes.find((c) => c.leader);
      assert.ok(lost !== undefined && won !== undefined);
      // A stops writing within the renew deadline of its last renewal; B waits a whole lease
      // duration after it last saw the Lease change: never two leaders at once.
      assert.ok(lost.at - lastRenewal <= TIMING.renewDeadlineMs, `stepped down ${lost.at - lastRenewal} ms after the last renewal`);
      assert.ok(won.at - lastRenewal >= TIMING.leaseDurationSeconds * 1000, `took over ${won.at - lastRenewal} ms after the last renewal`);
      assert.ok(lost.at < won.at);
      assert.equal(a.elector.isLeader, false);
      assert.equal(holder(api), 'b');
    });
  }

  it('a leader that stops releases the lease: the next one takes over at its next retry', async () => {
    const { clock, a, b } = await leaderAndCandidate();
    const stopped = clock.now();
    await a.elector.stop();
    await clock.until(() => b.elector.isLeader, 60_000);
    assert.ok(b.changes[0]!.at - stopped <= TIMING.retryPeriodMs * 1.2, 'waited for the lease to expire instead of taking the released one');
  });

  it('two replicas racing for a new Lease: one wins', async () => {
    const clock = new FakeClock();
    const api = new FakeKube();
    const a = replica(api, clock, 'a');
    const b = replica(api, clock, 'b');
    await clock.advance(10_000);
    assert.equal([a, b].filter((r) => r.elector.isLeader).length, 1);
    assert.equal(holder(api), a.elector.isLeader ? 'a' : 'b');
  });
});
