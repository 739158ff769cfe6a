import { readFile } from 'node:fs/promises';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';

// A thin REST client over the API server. Credentials and TLS come from client-node's KubeConfig
// (a kubeconfig file) or from the pod's service account (in-cluster.ts); requests are plain HTTP
// so that list, watch, server-side apply and error kinds are fully in our hands: client-node's informer stops after non-410 errors and
// caches whole objects, its generated API decodes every object into class instances we would
// only throw away for slim projections, and its agent opens a TLS connection per request.

/** An API error, classified at the boundary. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.reason = reason;
  }
  /** Worth retrying with backoff: the server or the network failed, or asked us to slow down. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500 || this.status === 409;
  }
}

/** Options of one request. */
export interface RequestInit {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * How often a token file is read again. Kubernetes rotates projected service-account tokens (an hour
 * by default) and the kubelet rewrites the file well before expiry; client-go re-reads it every minute.
 */
export const TOKEN_FILE_REFRESH_MS = 60_000;

/**
 * TCP keepalive on every API connection: a peer that vanished (a rebooted node, a dropped NAT entry)
 * is found by the kernel. A process that is alive but mute (frozen) still ACKs, so watches also
 * carry deadlines of their own (reflector.ts).
 */
const TCP_KEEPALIVE_MS = 15_000;

/** What the rest of the code needs of an API client (unit tests script a fake one). */
export interface KubeApi {
  request<T = unknown>(method: string, path: string, init?: RequestInit): Promise<T>;
  apply<T = unknown>(path: string, manifest: unknown, fieldManager: string, force?: boolean): Promise<T>;
  watch(path: string, query: RequestInit['query'], onEvent: (type: string, object: Record<string, unknown>) => void, signal: AbortSignal, onOpen?: () => void): Promise<void>;
}

/** What the client needs of its credentials: client-node's KubeConfig is one, in-cluster.ts makes another. */
export interface ApiCredentials {
  getCurrentCluster(): { readonly server: string } | null;
  getCurrentUser(): { readonly authProvider?: { readonly config?: Readonly<Record<string, unknown>> } | undefined } | null;
  /** Sets TLS settings and the Authorization header on `opts`. */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** Talks to one API server with one identity. */
export class KubeClient implements KubeApi {
  readonly server: string;
  #kc: ApiCredentials;
  /** TLS settings and the keep-alive agent: fixed for the client's life. */
  #base: RequestOptions | undefined;
  /** The bearer token file (in-cluster, or a kubeconfig `auth-provider: tokenFile`), read by us. */
  readonly #tokenFile: string | undefined;
  /** The Authorization header in use, and when it was obtained (ms). */
  #auth: { header: string | undefined; at: number } | undefined;
  #authRefresh: Promise<string | undefined> | undefined;

  constructor(kc: ApiCredentials) {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.#kc = kc;
    const tokenFile: unknown = kc.getCurrentUser()?.authProvider?.config?.tokenFile;
    this.#tokenFile = typeof tokenFile === 'string' && tokenFile !== '' ? tokenFile : undefined;
  }

  async #options(): Promise<RequestOptions> {
    if (this.#base === undefined) {
      const opts: RequestOptions = {};
      await this.#kc.applyToHTTPSOptions(opts);
      // client-node hands out an agent without keep-alive: a TLS handshake per request was ~40% of
      // the controller's CPU. Reuse connections with the same credentials.
      const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = opts as RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown; pfx?: unknown; passphrase?: string; rejectUnauthorized?: boolean; servername?: string };
      if (this.server.startsWith('https:')) opts.agent = new HttpsAgent({ keepAlive: true, ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } as AgentOptions);
      const headers = { ...(opts.headers as Record<string, string> | undefined) };
      this.#auth ??= { header: headers['Authorization'], at: Date.now() };
      delete headers['Authorization'];
      opts.headers = headers;
      this.#base = opts;
    }
    return this.#base;
  }

  /** The Authorization header for the next request: a token file is re-read every minute. */
  async #authorization(): Promise<string | undefined> {
    const auth = this.#auth;
    const due = auth === undefined || (this.#tokenFile !== undefined && Date.now() - auth.at >= TOKEN_FILE_REFRESH_MS);
    if (!due) return auth.header;
    this.#authRefresh ??= this.#readAuthorization().finally(() => (this.#authRefresh = undefined));
    return this.#authRefresh;
  }

  async #readAuthorization(): Promise<string | undefined> {
    let header: string | undefined;
    if (this.#tokenFile !== undefined) {
      const token = (await readFile(this.#tokenFile, 'utf8')).trim();
      header = token === '' ? undefined : `Bearer ${token}`;
    } else {
      // Static tokens, client certificates, exec plugins: client-node knows how (and caches exec output).
      const opts: RequestOptions = {};
      await this.#kc.applyToHTTPSOptions(opts);
      header = (opts.headers as Record<string, string> | undefined)?.['Authorization'];
    }
    this.#auth = { header, at: Date.now() };
    return header;
  }

  /** After a 401: the next request obtains credentials afresh (a rotated token, a new exec token). */
  #credentialsRejected(): void {
    this.#auth = undefined;
  }

  /** Request options with the current credentials. */
  async #requestOptions(): Promise<RequestOptions> {
    const base = await this.#options();
    const authorization = await this.#authorization();
    return authorization === undefined ? base : { ...base, headers: { ...(base.headers as Record<string, string>), Authorization: authorization } };
  }

  #url(path: string, query?: RequestInit['query']): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /**
   * One request; resolves with the decoded JSON body (undefined for empty), throws KubeError. A 401
   * is retried once with credentials read afresh: the token may have been rotated since we read it.
   */
  async request<T = unknown>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    try {
      return await this.#requestOnce<T>(method, path, init);
    } catch (err) {
      if (!(err instanceof KubeError) || err.status !== 401) throw err;
      this.#credentialsRejected();
      return this.#requestOnce<T>(method, path, init);
    }
  }

  async #requestOnce<T>(method: string, path: string, init: RequestInit): Promise<T> {
    const url = this.#url(path, init.query);
    const base = await this.#requestOptions();
    const payload = init.body === undefined ? undefined : Buffer.from(typeof init.body === 'string' ? init.body : JSON.stringify(init.body));
    return new Promise<T>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        url,
        {
          ...base,
          method,
          headers: {
            ...(base.headers ?? {}),
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': init.contentType ?? 'application/json', 'content-length': payload.length }),
          },
          timeout: init.timeoutMs ?? 30_000,
          signal: init.signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new KubeError(0, 'NetworkError', `${method} ${path}: ${err.message}`, { cause: err })));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text === '' ? undefined : JSON.parse(text);
            } catch {
              body = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(body as T);
            const s = (typeof body === 'object' && body !== null ? body : {}) as { reason?: string; message?: string };
            reject(new KubeError(status, s.reason ?? `HTTP${status}`, `${method} ${path}: ${status} ${s.message ?? text.slice(0, 200)}`));
          });
        },
      );
      req.on('socket', (socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', (err) => reject(new KubeError(0, 'NetworkError', `${method} ${path}: ${err.message}`, { cause: err })));
      req.end(payload);
    });
  }

  /** Server-side apply of a whole object (or of a subresource, with `subresource`). */
  apply<T = unknown>(path: string, manifest: unknown, fieldManager: string, force = true): Promise<T> {
    return this.request<T>('PATCH', path, {
      query: { fieldManager, force },
      body: manifest,
      contentType: 'application/apply-patch+yaml',
    });
  }

  /**
   * Streams a watch: calls `onEvent` per event until the server ends the stream (resolves), the
   * connection fails (rejects with KubeError), or `signal` aborts (resolves).
   */
  async watch(
    path: string,
    query: RequestInit['query'],
    onEvent: (type: string, object: Record<string, unknown>) => void,
    signal: AbortSignal,
    onOpen?: () => void,
  ): Promise<void> {
    const url = this.#url(path, { ...query, watch: true });
    const base = await this.#requestOptions();
    return new Promise<void>((resolve, reject) => {
      let failed = false;
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { ...base, method: 'GET', headers: { ...(base.headers ?? {}), accept: 'application/json' }, signal }, (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let reason = `HTTP${res.statusCode}`;
            try {
              reason = (JSON.parse(text) as { reason?: string }).reason ?? reason;
            } catch {
              /* not JSON */
            }
            // A rejected token: the watch is retried (by its reflector) with credentials read afresh.
            if (res.statusCode === 401) this.#credentialsRejected();
            reject(new KubeError(res.statusCode ?? 0, reason, `watch ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
          });
          return;
        }
        onOpen?.();
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        // readline re-emits the response's errors (an abort, a reset); the response handler below decides.
        lines.on('error', () => undefined);
        lines.on('line', (line) => {
          if (line.trim() === '') return;
          let event: { type?: string; object?: Record<string, unknown> };
          try {
            event = JSON.parse(line) as typeof event;
          } catch {
            req.destroy(new Error(`watch ${path}: undecodable event`));
            return;
          }
          if (event.type === undefined || event.object === undefined) return;
          try {
            onEvent(event.type, event.object);
          } catch (err) {
            // The handler refused the stream (e.g. an ERROR event): end it and report why.
            failed = true;
            reject(err);
            req.destroy();
          }
        });
        res.on('end', () => resolve());
        res.on('error', (err) => (signal.aborted || failed ? resolve() : reject(new KubeError(0, 'NetworkError', `watch ${path}: ${err.message}`, { cause: err }))));
      });
      req.on('socket', (socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_MS));
      req.on('error', (err) => (signal.aborted || failed ? resolve() : reject(new KubeError(0, 'NetworkError', `watch ${path}: ${err.message}`, { cause: err }))));
      req.end();
    });
  }
}
