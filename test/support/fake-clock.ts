import type { Clock, Timer } from '../../src/time/clock.ts';

// A clock that moves only when a test says so. Timers fire in time order; after each, pending
// promise work runs to completion, so code that awaits a (fake) API between timers keeps up.

interface Pending {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** Lets every queued promise callback (and what it queues) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A fake clock shared by every replica of a test; `skewed` gives a replica its own wrong time. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const t = { id: ++this.#seq, at: this.#now + Math.max(0, ms), fn };
    this.#timers.push(t);
    return t.id;
  }

  clearTimeout(timer: Timer | undefined): void {
    this.#timers = this.#timers.filter((t) => t.id !== timer);
  }

  /** Timers waiting to fire, as delays from now (sorted). */
  pending(): number[] {
    return this.#timers.map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** The same timers, read through a clock that runs `offsetMs` ahead (negative: behind). */
  skewed(offsetMs: number): Clock {
    return {
      now: () => this.#now + offsetMs,
      setTimeout: (fn, ms) => this.setTimeout(fn, ms),
      clearTimeout: (t) => this.clearTimeout(t),
    };
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = next.at;
      next.fn();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /** Advances in steps of `stepMs` until `check` holds; throws after `maxMs` of fake time. */
  async until(check: () => boolean, maxMs: number, stepMs = 100): Promise<number> {
    const start = this.#now;
    while (!check()) {
      if (this.#now - start >= maxMs) throw new Error(`condition not reached within ${maxMs} ms of fake time`);
      await this.advance(stepMs);
    }
    return this.#now - start;
  }
}
