// A stand-in for a provider process in the ZooKeeper tests: reads a JSON list of znode paths on
// stdin, creates each (parents persistent, the node ephemeral, in this process's session), prints
// `registered`, and idles until killed. Run: node registrant.ts HOST:PORT SESSION_TIMEOUT_MS
import { once } from 'node:events';
import zookeeper from 'node-zookeeper-client';

const [servers, timeout] = process.argv.slice(2);
let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const paths = JSON.parse(input) as string[];
const client = zookeeper.createClient(servers!, { sessionTimeout: Number(timeout), retries: 2 });
const connected = once(client, 'connected');
client.connect();
await connected;
const call = (fn: (cb: (err: unknown) => void) => void): Promise<void> => new Promise((resolve, reject) => fn((err) => (err === null || err === undefined ? resolve() : reject(err))));
const parents = new Set(paths.map((p) => p.slice(0, p.lastIndexOf('/'))));
for (const parent of parents) await call((cb) => client.mkdirp(parent, cb));
// Many creates in flight at once over the one connection.
await Promise.all(paths.map((p) => call((cb) => client.create(p, Buffer.alloc(0), zookeeper.CreateMode.EPHEMERAL, cb))));
process.stdout.write('registered\n');
setInterval(() => {}, 1 << 30);
