/**
 * The monitor's side of the agent protocol (and the agent's, for pushing): HTTPS
 * requests with the token, kept-alive connections per peer, a time limit, and the
 * answer validated before it is believed. Every failure is a PalisadeError
 * `PALISADE_AGENT` whose message says what went wrong (refused token, unknown check,
 * no answer, garbage).
 */
import { Agent, request } from 'node:https';
import { PalisadeError, errorMessage } from '../core/errors.ts';
import type { CheckResult } from '../core/check-result.ts';
import { BACKEND_PATH, EVENTS_PATH, parseEventsAnswer, parseResult, RESULTS_PATH, runPath, STATUS_PATH, type EventsAnswer, type PushedResult } from './protocol.ts';

export interface AgentClientOptions {
  token: string;
  port: number;
  /** CA for the peers' certificates; undefined = not verified (self-signed peers). */
  ca: string | undefined;
  /** Largest answer read, bytes. */
  maxBody: number;
}

function agentError(message: string, cause?: unknown): PalisadeError {
  return new PalisadeError('PALISADE_AGENT', 'upstream', message, cause === undefined ? {} : { cause });
}

export class AgentClient {
  readonly #o: AgentClientOptions;
  readonly #agent: Agent;

  constructor(o: AgentClientOptions) {
    this.#o = o;
    this.#agent = new Agent({ keepAlive: true, maxSockets: 16, ...(o.ca !== undefined ? { ca: o.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }) });
  }

  url(address: string): string {
    return `https://${address.includes(':') ? `[${address}]` : address}:${this.#o.port}`;
  }

  #post(address: string, path: string, body: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const where = `${this.url(address)}${path.split('?')[0]}`;
      const req = request(
        {
          host: address,
          port: this.#o.port,
          path,
          method: body === undefined ? 'GET' : 'POST',
          agent: this.#agent,
          headers: body === undefined ? { authorization: `Bearer ${this.#o.token}` } : { authorization: `Bearer ${this.#o.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: timeoutMs,
          ...(signal !== undefined && { signal }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.#o.maxBody) {
              res.destroy();
              reject(agentError(`${where}: answer larger than ${this.#o.maxBody} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) => reject(agentError(`${where}: ${errorMessage(err)}`, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text) as unknown;
            } catch {
              reject(agentError(`${where}: HTTP ${res.statusCode} with a body that is not JSON`));
              return;
            }
            if (res.statusCode !== 200) {
              const e = typeof json === 'object' && json !== null && typeof (json as { error?: unknown }).error === 'string' ? (json as { error: string }).error : 'refused';
              reject(agentError(`${where}: HTTP ${res.statusCode}: ${e}`));
              return;
            }
            resolve(json);
          });
        },
      );
      req.on('timeout', () => req.destroy(agentError(`${where}: no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof PalisadeError ? err : agentError(`${where}: ${errorMessage(err)}`, err)));
      req.end(body);
    });
  }

  /** Asks the agent at `address` to run the check of `host` (and `service`). */
  async run(address: string, host: string, service: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
    const v = await this.#post(address, runPath(host, service), '{}', timeoutMs, signal);
    const r = parseResult(v);
    if (typeof r === 'string') throw agentError(`${this.url(address)}: bad result: ${r}`);
    return r;
  }

  /** Sends results to the monitor at `address`. */
  async push(address: string, node: string, results: readonly PushedResult[], timeoutMs: number): Promise<{ accepted: number; rejected: string[] }> {
    const v = (await this.#post(address, RESULTS_PATH, JSON.stringify({ node, results }), timeoutMs)) as { accepted?: unknown; rejected?: unknown };
    return { accepted: typeof v.accepted === 'number' ? v.accepted : 0, rejected: Array.isArray(v.rejected) ? v.rejected.map(String) : [] };
  }

  /** Node API: the daemon's status at `address` (shape checked by the caller). */
  status(address: string, timeoutMs: number): Promise<unknown> {
    return this.#post(address, STATUS_PATH, undefined, timeoutMs);
  }

  /** Node API: a backend action on the daemon at `address`; its answer `{ ok, message?, error? }`. */
  async backend(address: string, req: { service: string; backend: string; action: string; weight?: number | undefined }, timeoutMs: number): Promise<{ ok: boolean; message?: string; error?: string }> {
    const v = (await this.#post(address, BACKEND_PATH, JSON.stringify(req), timeoutMs)) as { ok?: unknown; message?: unknown; error?: unknown } | null;
    if (typeof v !== 'object' || v === null || typeof v.ok !== 'boolean') throw agentError(`${this.url(address)}${BACKEND_PATH}: expected { ok, message?, error? }`);
    return { ok: v.ok, ...(typeof v.message === 'string' && { message: v.message }), ...(typeof v.error === 'string' && { error: v.error }) };
  }

  /** Node API: Palisade events after `after` at `address`, validated. */
  async events(address: string, after: number, timeoutMs: number): Promise<EventsAnswer> {
    const v = parseEventsAnswer(await this.#post(address, `${EVENTS_PATH}?after=${after}`, undefined, timeoutMs));
    if (typeof v === 'string') throw agentError(`${this.url(address)}${EVENTS_PATH}: ${v}`);
    return v;
  }

  close(): void {
    this.#agent.destroy();
  }
}
