// A Node consumer finding Dubbo providers through dubbo-dns (docs/consumers/node.md). With
// `npm start` serving examples/registry.yaml in another terminal:
//
//   node examples/node-client.ts                  # resolve, pick, then watch until Ctrl-C
//   node examples/node-client.ts --once           # stop after the watch's first event
//   node examples/node-client.ts --server 127.0.0.1:5353 --namespace shop
//
// In your own code the import is `from 'dubbo-dns/client'`; this file uses the source path so it
// runs from a checkout without a build.
import { parseArgs } from 'node:util';
import { createResolver, NoReadyProviderError, NoSuchServiceError, pick } from '../src/client/index.ts';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: '127.0.0.1:5353' },
    namespace: { type: 'string', default: 'shop' },
    once: { type: 'boolean', default: false },
  },
});

const resolver = createResolver({ server: values.server, namespace: values.namespace });
const demo = { interface: 'org.apache.dubbo.demo.DemoService', group: 'gray', version: '1.0.0' };

// 1. Resolve: the ready providers, their Dubbo URLs, and how long the answer is good for.
const { providers, stale, ttl } = await resolver.resolve(demo);
console.log(`${providers.length} providers (ttl ${ttl} s${stale ? ', stale' : ''}):`);
for (const p of providers) console.log(`  ${p.url}`);

// 2. Pick one per call, by weight (RFC 2782): demo-1 (weight 200) twice as often as the others.
const counts = new Map<string, number>();
for (let i = 0; i < 1000; i++) {
  const p = pick(providers)!;
  counts.set(p.address, (counts.get(p.address) ?? 0) + 1);
}
console.log(`1000 picks: ${JSON.stringify(Object.fromEntries(counts))}`);

// 3. Errors say which "no" it was.
try {
  await resolver.resolve({ interface: 'org.example.NoSuchService' });
} catch (err) {
  if (err instanceof NoSuchServiceError) console.log(`${err.code}: ${err.message}`);
  else if (err instanceof NoReadyProviderError) console.log(`${err.code}: ${err.message}`);
  else throw err;
}

// 4. Watch: called with the first answer, then whenever the providers change (edit
// examples/registry.yaml while this runs); the returned function stops it.
const stop = resolver.watch(
  demo,
  (event) => {
    if (event.error !== undefined) console.log(`watch: no providers (${event.error.code})`);
    else console.log(`watch: ${event.providers.map((p) => `${p.address}:${p.port}`).join(', ')}`);
    if (values.once) void stop();
  },
  { onError: (err) => console.error('watch: DNS failed, keeping the last answer:', err) },
);
process.once('SIGINT', () => void stop());
