import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Reflector, watchDeadlines } from '../../src/kube/reflector.ts';
import { Store } from '../../src/kube/store.ts';
import { FakeClock, settle } from '../support/fake-clock.ts';
import { FakeKube, networkError } from '../support/fake-kube.ts';

// The reflector on a fake clock against a scripted API server: paged lists, watch events, 410 Gone
// relists that replace state only once complete, bookmarks, and error backoff with its delays.

interface Item {
  readonly namespace: string;
  readonly name: string;
  readonly value: string;
}

const PODS = '/api/v1/pods';
const pod = (name: string): string => `/api/v1/namespaces/ns/pods/${name}`;

function setup(o: { backoff?: { initial: number; max: number }; livenessMs?: number } = {}) {
  const clock = new FakeClock();
  const kube = new FakeKube();
  const store = new Store<Item>({});
  const changes: string[] = [];
  const reflector = new Reflector<Item>({
    client: kube,
    path: PODS,
    namespace: undefined,
    project: (o) => {
      const m = o['metadata'] as { namespace: string; name: string };
      return { namespace: m.namespace, name: m.name, value: String(o['value']) };
    },
    store,
    changed: (key, a, b) => changes.push(`${key} ${a?.value ?? '-'} -> ${b?.value ?? '-'}`),
    log: pino({ level: 'silent' }),
    pageSize: 2,
    backoff: o.backoff,
    livenessMs: o.livenessMs,
    clock,
    random: () => 0.5, // no jitter: the delays are exact
  });
  const values = (): string[] => [...store.values()].map((v) => `${v.name}=${v.value}`).sort();
  return { clock, kube, store, changes, reflector, values };
}

/** When each list request was sent, on the fake clock. */
function listTimes(kube: FakeKube, clock: FakeClock): number[] {
  const times: number[] = [];
  const fail = kube.fail;
  kube.fail = (method, path) => {
    if (method === 'GET' && path === PODS) times.push(clock.now());
    return fail?.(method, path);
  };
  return times;
}

describe('reflector', () => {
  it('lists in pages, then follows the watch', async () => {
    const { kube, reflector, changes, values } = setup();
    for (const n of ['a', 'b', 'c']) kube.put(pod(n), { value: 1 });
    await reflector.start();
    assert.deepEqual(values(), ['a=1', 'b=1', 'c=1']);
    assert.equal(kube.calls.filter((c) => c === `GET ${PODS}`).length, 2, 'three items, pages of two');
    kube.put(pod('b'), { value: 2 });
    kube.remove(pod('a'));
    await settle();
    assert.deepEqual(values(), ['b=2', 'c=1']);
    assert.deepEqual(changes.slice(3), ['ns/b 1 -> 2', 'ns/a 1 -> -']);
    await reflector.stop();
  });

  it('410 Gone relists, and the relist replaces the state only once complete, reporting the differences', async () => {
    const { kube, clock, reflector, changes, values } = setup();
    for (const n of ['a', 'b']) kube.put(pod(n), { value: 1 });
    await reflector.start();
    changes.length = 0;
    // The watch breaks; while the reflector backs off, things change and the server compacts past
    // the version it had: resuming gets 410 Gone, and it lists again.
    kube.endWatches(networkError());
    kube.remove(pod('a'));
    kube.put(pod('c'), { value: 1 });
    kube.expire();
    await settle();
    assert.deepEqual(values(), ['a=1', 'b=1'], 'nothing replaced before the relist');
    await clock.advance(200);
    assert.deepEqual(values(), ['b=1', 'c=1']);
    assert.deepEqual(changes.sort(), ['ns/a 1 -> -', 'ns/c - -> 1']);
    assert.equal(kube.calls.filter((c) => c === `GET ${PODS}`).length, 2, 'the list at start, and the relist');
    await reflector.stop();
  });

  it('an ERROR event with 410 Gone on an open watch relists at once', async () => {
    const { kube, reflector, values } = setup();
    kube.put(pod('a'), { value: 1 });
    await reflector.start();
    kube.gone();
    await settle();
    assert.equal(kube.calls.filter((c) => c === `GET ${PODS}`).length, 2);
    kube.put(pod('b'), { value: 1 });
    await settle();
    assert.deepEqual(values(), ['a=1', 'b=1']);
    await reflector.stop();
  });

  it('a bookmark moves the resourceVersion on: after a compaction the watch resumes without a relist', async () => {
    const { kube, reflector, values } = setup();
    kube.put(pod('a'), { value: 1 });
    await reflector.start();
    kube.put('/api/v1/namespaces/other/services/x', { value: 1 }); // moves the server's version on, not ours
    kube.bookmark();
    kube.expire();
    kube.endWatches(); // the server's watch timeout: resume from the last version seen
    await settle();
    kube.put(pod('b'), { value: 1 });
    await settle();
    assert.deepEqual(values(), ['a=1', 'b=1']);
    assert.equal(kube.calls.filter((c) => c === `GET ${PODS}`).length, 1, 'no relist');
    await reflector.stop();
  });

  it('backs off exponentially between failed lists, capped, and starts over small once the server answers', async () => {
    const { kube, clock, reflector, values } = setup({ backoff: { initial: 200, max: 1500 } });
    kube.put(pod('a'), { value: 1 });
    const times = listTimes(kube, clock);
    const inner = kube.fail;
    let down = true;
    kube.fail = (method, path) => inner?.(method, path) ?? (down ? networkError() : undefined);
    const started = reflector.start();
    await clock.advance(200 + 400 + 800 + 1500 + 1500);
    assert.deepEqual(
      times.slice(1).map((t, i) => t - times[i]!),
      [200, 400, 800, 1500, 1500],
    );
    down = false;
    await clock.advance(1500);
    await started;
    assert.deepEqual(values(), ['a=1']);
    // A watch that opened resets the backoff: the next failure waits the initial delay again.
    down = true;
    kube.endWatches(networkError());
    const before = times.length;
    await clock.advance(200);
    assert.equal(times.length, before, 'a failed watch is retried as a watch, not a list');
    assert.ok(kube.calls.filter((c) => c === `WATCH ${PODS}`).length >= 2);
    await reflector.stop();
  });

  it('a stop before the first list completes rejects start()', async () => {
    const { kube, reflector } = setup();
    kube.fail = () => networkError();
    const started = reflector.start();
    await settle();
    await reflector.stop();
    await assert.rejects(started, { name: 'AbortError' });
  });
});

describe('reflector liveness', () => {
  // livenessMs 10 s: a watch silent for 5 s is restarted; a restart unanswered for 5 s is stale.
  const watches = (kube: FakeKube): number => kube.calls.filter((c) => c === `WATCH ${PODS}`).length;

  it('the server ends each watch before the client would call it silent', () => {
    for (const liveness of [4000, 5000, 10_000, 60_000, 300_000]) {
      for (const random of [0, 0.5, 0.999]) {
        const d = watchDeadlines(liveness, random);
        assert.ok(d.timeoutSeconds >= 1 && d.timeoutSeconds * 1000 < d.silenceMs, `${liveness} ${random}: ${JSON.stringify(d)}`);
        assert.equal(d.silenceMs + d.answerMs, liveness, 'detection within the liveness window');
      }
    }
    assert.deepEqual(watchDeadlines(60_000, 0.5), { timeoutSeconds: 21, silenceMs: 30_000, answerMs: 30_000 });
  });

  it('events and bookmarks keep a watch alive; silence restarts it, and a restart answered at once keeps the data current', async () => {
    const { kube, clock, reflector } = setup({ livenessMs: 10_000 });
    kube.put(pod('a'), { value: 1 });
    await reflector.start();
    await clock.advance(4000);
    kube.bookmark();
    await clock.advance(4000);
    kube.put(pod('a'), { value: 2 });
    await clock.advance(4000);
    assert.equal(watches(kube), 1, 'a watch with events within the deadline is kept');
    await clock.advance(1000);
    assert.equal(watches(kube), 2, 'silent for 5 s: restarted');
    assert.equal(reflector.connected, true, 'quiet is not stale');
    await reflector.stop();
  });

  it('a restart unanswered within its deadline marks the store stale; an answer makes it current again', async () => {
    const { kube, clock, reflector } = setup({ livenessMs: 10_000, backoff: { initial: 200, max: 1000 } });
    kube.put(pod('a'), { value: 1 });
    await reflector.start();
    const frozenAt = clock.now();
    kube.fail = (method) => (method === 'WATCH' ? 'hang' : undefined);
    await clock.advance(5000);
    assert.equal(watches(kube), 2, 'restarted after 5 s of silence');
    assert.equal(reflector.connected, true, 'not stale while the restart may still be answered');
    await clock.advance(5000);
    assert.equal(reflector.connected, false, 'no answer within 5 s: stale');
    assert.equal(reflector.lastConnected, frozenAt, 'unreachable since its last word, before the silence');
    kube.fail = undefined;
    await clock.until(() => reflector.connected, 2000);
    assert.equal(watches(kube) >= 3, true);
    await reflector.stop();
  });
});
