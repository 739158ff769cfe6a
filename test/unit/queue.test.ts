import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyQueue } from '../../src/controller/queue.ts';
import { FakeClock } from '../support/fake-clock.ts';

// The key queue (client-go workqueue semantics) on a fake clock: bursts merge, a key is never
// handed out twice at once, failures back off per key, exponentially and capped.

describe('key queue', () => {
  it('merges bursts and never hands out a key twice at once', async () => {
    const q = new KeyQueue({ baseDelayMs: 1, maxDelayMs: 10, clock: new FakeClock() });
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.depth, 2);
    assert.equal(await q.next(), 'a');
    q.add('a'); // while processing: runs once more afterwards, not now
    assert.equal(await q.next(), 'b');
    q.done('b', { kind: 'done' });
    q.done('a', { kind: 'done' });
    assert.equal(await q.next(), 'a');
    q.done('a', { kind: 'done' });
    assert.equal(q.depth, 0);
    q.close();
    assert.equal(await q.next(), undefined);
  });

  it('backs off per key: 5, 10, 20, 40 ms ... capped, and a success resets it', async () => {
    const clock = new FakeClock();
    const q = new KeyQueue({ baseDelayMs: 5, maxDelayMs: 60, clock });
    q.add('k');
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      assert.equal(await q.next(), 'k');
      q.done('k', { kind: 'retry', error: new Error('x') });
      const sent = clock.now();
      await clock.until(() => q.depth > 0, 1000, 1);
      delays.push(clock.now() - sent);
    }
    assert.deepEqual(delays, [5, 10, 20, 40, 60, 60]);
    assert.equal(q.failures('k'), 6);
    assert.equal(await q.next(), 'k');
    q.done('k', { kind: 'done' });
    assert.equal(q.failures('k'), 0);
    q.add('k');
    assert.equal(await q.next(), 'k');
    q.done('k', { kind: 'retry', error: new Error('x') });
    const sent = clock.now();
    await clock.until(() => q.depth > 0, 1000, 1);
    assert.equal(clock.now() - sent, 5);
    q.close();
  });

  it('another key is not slowed by one that fails', async () => {
    const clock = new FakeClock();
    const q = new KeyQueue({ baseDelayMs: 1000, maxDelayMs: 1000, clock });
    q.add('bad');
    assert.equal(await q.next(), 'bad');
    q.done('bad', { kind: 'retry', error: new Error('x') });
    q.add('good');
    assert.equal(await q.next(), 'good');
    q.close();
  });

  it('requeueAfter: the key comes back after the delay; an earlier request wins', async () => {
    const clock = new FakeClock();
    const q = new KeyQueue({ baseDelayMs: 5, maxDelayMs: 60, clock });
    q.addAfter('k', 500);
    q.addAfter('k', 200);
    q.addAfter('k', 900);
    const waited = await clock.until(() => q.depth > 0, 2000, 10);
    assert.equal(waited, 200);
    q.close();
  });
});
