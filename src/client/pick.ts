// RFC 2782's weighted choice among targets of equal priority (dubbo-dns publishes priority 0 for
// every provider): each is chosen with probability weight / sum of weights. RFC 2782 lets a
// weight-0 target win only rarely; here it is never chosen while any other has weight, and all are
// equally likely when every weight is 0 (a service whose providers are all warming up still works).

/**
 * Picks one item with probability proportional to its `weight`; `random` returns a number in
 * [0, 1) (default `Math.random`). Undefined for an empty list.
 */
export function pick<T extends { readonly weight: number }>(items: readonly T[], random: () => number = Math.random): T | undefined {
  if (items.length === 0) return undefined;
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  const total = items.reduce((sum, item) => sum + Math.max(0, item.weight), 0);
  if (total === 0) return items[Math.floor(r * items.length)];
  const point = r * total;
  let running = 0;
  let last: T | undefined;
  for (const item of items) {
    if (item.weight <= 0) continue;
    running += item.weight;
    last = item;
    if (point < running) return item;
  }
  return last; // floating-point rounding at the very top of the range
}
