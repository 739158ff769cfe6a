import { DnsQueryError, type DnsFailureCode } from './errors.ts';
import { formatServer, type ServerAddress } from './servers.ts';
import { exchange, type QuestionType, type Reply } from './transport.ts';

// Several servers, as a stub resolver uses them (resolv.conf `nameserver` lines): a question that
// times out, fails or is refused goes to the next server, for `tries` rounds. The server that last
// answered is asked first next time, so one dead server costs one timeout, not one per question.

/** Rcodes that mean "this server cannot answer now", not "the answer is no". */
const SERVER_FAILURE: Readonly<Record<string, DnsFailureCode>> = { SERVFAIL: 'ESERVFAIL', REFUSED: 'EREFUSED', NOTIMP: 'ENOTIMP', FORMERR: 'EFORMERR' };

/** Settings of a server pool. */
export interface PoolOptions {
  readonly timeoutMs: number;
  readonly tries: number;
  readonly udpPayloadSize: number;
}

/** The servers of one resolver. */
export class ServerPool {
  readonly #servers: readonly ServerAddress[];
  readonly #options: PoolOptions;
  #preferred = 0;

  constructor(servers: readonly ServerAddress[], options: PoolOptions) {
    this.#servers = servers;
    this.#options = options;
  }

  /** Asks until a server gives a definitive reply (NOERROR or NXDOMAIN); rejects with the last failure. */
  async ask(name: string, type: QuestionType, signal?: AbortSignal): Promise<Reply> {
    let last: DnsQueryError | undefined;
    const count = this.#servers.length;
    for (let attempt = 0; attempt < this.#options.tries * count; attempt++) {
      const index = (this.#preferred + attempt) % count;
      const server = this.#servers[index]!;
      try {
        const reply = await exchange(server, name, type, { timeoutMs: this.#options.timeoutMs, udpPayloadSize: this.#options.udpPayloadSize, signal });
        const failure = SERVER_FAILURE[reply.rcode];
        if (failure !== undefined) {
          last = new DnsQueryError(failure, name, formatServer(server), `${name} ${type} @${formatServer(server)}: server answered ${reply.rcode}`);
          continue;
        }
        if (reply.rcode !== 'NOERROR' && reply.rcode !== 'NXDOMAIN') {
          last = new DnsQueryError('EBADRESP', name, formatServer(server), `${name} ${type} @${formatServer(server)}: unexpected rcode ${reply.rcode}`);
          continue;
        }
        this.#preferred = index;
        return reply;
      } catch (err) {
        if (!(err instanceof DnsQueryError) || err.code === 'EABORTED') throw err;
        last = err;
      }
    }
    throw last ?? new DnsQueryError('ENETWORK', name, '', `${name} ${type}: no server to ask`);
  }
}
