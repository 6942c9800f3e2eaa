/**
 * The monitor's side of the agent protocol (and the agent's, for pushing): HTTPS
 * requests with the token, kept-alive connections per peer, a time limit, and the
 * answer validated before it is believed. Every failure is a PalisadeError
 * `PALISADE_AGENT` whose message says what went wrong (refused token, unknown check,
 * no answer, garbage).
 */
import { Agent, request } from 'node:https';
import { PalisadeError, errorMessage } from '../core/errors.ts';
import type { CheckResult } from '../monitor/result.ts';
import { parseResult, RESULTS_PATH, runPath, type PushedResult } from './protocol.ts';

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

  #post(address: string, path: string, body: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const where = `${this.url(address)}${path}`;
      const req = request(
        {
          host: address,
          port: this.#o.port,
          path,
          method: 'POST',
          agent: this.#agent,
          headers: { authorization: `Bearer ${this.#o.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
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

  close(): void {
    this.#agent.destroy();
  }
}
