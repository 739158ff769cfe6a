import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';

/** What `/readyz` reports: ready or not, with a human-readable detail. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: string;
}

/** Serves `/healthz` (the process runs), `/readyz` (ready to answer) and `/metrics` (Prometheus). */
export async function startHttp(
  listen: { host: string; port: number },
  metrics: () => Promise<{ text: string; contentType: string }>,
  readiness: () => Readiness,
  log: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.ready ? 'ok' : 'not ready'}: ${r.detail}\n`);
    } else if (path === '/metrics') {
      metrics().then(
        ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
