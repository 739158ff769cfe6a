// Time as a dependency: the leader elector, the reflector and the key queue take a Clock, so their
// unit tests run on a fake one (no sleeps, and clock skew between replicas can be staged).

/** A timer handle, as setTimeout returns it. */
export type Timer = { unref?(): unknown } | number;

/** What the time-driven parts need of a clock. */
export interface Clock {
  /** Milliseconds since the epoch, by this machine's clock (which may be skewed against others'). */
  now(): number;
  /** Calls `fn` after `ms`. */
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
}

/** The process's own clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
};

/** Waits `ms` on `clock`; resolves early (without error) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
