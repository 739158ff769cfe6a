import { buildZoneIndex } from '../dist/src/dns/index/zone-index.js';
import { parseRegistry } from '../dist/src/source/registry-file.js';
import { readFileSync } from 'node:fs';
const mem = () => { globalThis.gc?.(); const m = process.memoryUsage(); return { rss: m.rss / 1048576, heap: m.heapUsed / 1048576, ext: (m.external + m.arrayBuffers) / 1048576 }; };
const f = process.argv[2]!;
const data = parseRegistry(readFileSync(f, 'utf8'));
const a = mem();
const t = buildZoneIndex(data, { zone: 'dubbo.internal.', ttl: 5 }, 1);
const b = mem();
console.log('services', data.services.length, 'names', t.names.size, 'records', t.stats.records);
console.log(`index: heap +${(b.heap - a.heap).toFixed(1)} MiB, ext +${(b.ext - a.ext).toFixed(1)} MiB, rss +${(b.rss - a.rss).toFixed(0)}`);
let maps = 0, prepared = 0, ends = 0, keyBytes = 0;
for (const [k, n] of t.names) { keyBytes += k.length; if (n.types.size > 0) maps++; for (const p of n.types.values()) { prepared++; ends += p.answerEnds.length + p.additionalEnds.length; } }
console.log({ maps, prepared, ends, keyMiB: keyBytes / 1048576 });
(globalThis as any).keep = [t, data];
