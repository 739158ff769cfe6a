import { systemClock, type Clock, type Timer } from '../time/clock.ts';

// A work queue of keys (client-go workqueue semantics): adding a key that is already
// waiting merges with it; a key being processed is not handed out again until done, and if it was
// added meanwhile it runs once more after; failures back off per key, exponentially.

/** Per-key backoff bounds (ms), and the clock delays run on. */
export interface QueueOptions {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly clock?: Clock;
}

/** The outcome of processing a key. */
export type Outcome = { readonly kind: 'done' } | { readonly kind: 'retry'; readonly error: unknown } | { readonly kind: 'requeueAfter'; readonly ms: number };

/** A rate-limited, deduplicating key queue. */
export class KeyQueue {
  readonly #opts: QueueOptions;
  readonly #waiting = new Set<string>();
  readonly #order: string[] = [];
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, Timer>();
  readonly #clock: Clock;
  readonly #due = new Map<string, number>();
  #wakeups: (() => void)[] = [];
  #closed = false;

  constructor(options: QueueOptions = { baseDelayMs: 5, maxDelayMs: 300_000 }) {
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Keys waiting or being processed. */
  get depth(): number {
    return this.#waiting.size + this.#processing.size;
  }

  /** Adds a key now. */
  add(key: string): void {
    if (this.#closed) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#waiting.has(key)) return;
    this.#waiting.add(key);
    this.#order.push(key);
    this.#wakeups.shift()?.();
  }

  /** Adds a key after a delay; when one is already pending, the earlier of the two wins (no starvation). */
  addAfter(key: string, ms: number): void {
    const due = this.#clock.now() + ms;
    const pending = this.#due.get(key);
    if (pending !== undefined && pending <= due) return;
    this.#clock.clearTimeout(this.#timers.get(key));
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(key);
      this.#due.delete(key);
      this.add(key);
    }, ms);
    this.#timers.set(key, timer);
    this.#due.set(key, due);
  }

  /** Waits for the next key; undefined once the queue is closed. */
  async next(): Promise<string | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const key = this.#order.shift();
      if (key !== undefined) {
        this.#waiting.delete(key);
        this.#processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.#wakeups.push(resolve));
    }
  }

  /** Marks a key processed, with what happened. */
  done(key: string, outcome: Outcome): void {
    this.#processing.delete(key);
    if (outcome.kind === 'retry') {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.addAfter(key, Math.min(this.#opts.baseDelayMs * 2 ** (failures - 1), this.#opts.maxDelayMs));
    } else {
      this.#failures.delete(key);
      if (outcome.kind === 'requeueAfter') this.addAfter(key, outcome.ms);
    }
    if (this.#dirty.delete(key)) this.add(key);
  }

  /** Failures in a row for a key (for logs). */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Stops handing out keys; waiting workers get undefined. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t);
    this.#timers.clear();
    this.#due.clear();
    for (const w of this.#wakeups.splice(0)) w();
  }
}
