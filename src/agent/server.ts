/**
 * The agent's HTTPS endpoint (and, on the monitor node, the endpoint that takes
 * pushed results). What runs is decided by the caller's `run` (the checks of the
 * cluster file for this node, found by name); this file only authenticates, routes,
 * bounds bodies and answers. Order on every request: token first (401, nothing else
 * happens), then the path, then the body.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import type { CheckResult } from '../core/check-result.ts';
import { BACKEND_PATH, EVENTS_PATH, parseAfter, parsePush, parseRunPath, RESULTS_PATH, splitUrl, STATUS_PATH, tokenDigestOf, tokenMatches, type PushedResult } from './protocol.ts';
import type { AgentTls } from './tls.ts';

export interface AgentServerOptions {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  token: string;
  tls: AgentTls;
  log: Logger;
  /** Largest request body, bytes. */
  maxBody: number;
  /** Runs the named check of this node; undefined when this node has no such check (404, nothing runs). */
  run?: (host: string, service: string | undefined) => Promise<CheckResult> | undefined;
  /** Takes pushed results (the monitor node); returns how many were taken and why others were not. */
  receive?: (node: string, results: PushedResult[]) => { accepted: number; rejected: string[] };
  /** The node API (the daemon's status, backend actions, Palisade events); absent = those paths are 404. */
  node?: NodeApi;
}

/**
 * What a node serves to the dashboard and monitor of other hosts (src/app/peers.ts):
 * `GET /v1/status`, `POST /v1/backend`, `GET /v1/events?after=SEQ`.
 */
export interface NodeApi {
  /** The daemon's DaemonStatus. */
  status(): Promise<unknown>;
  /** The control socket's `backend` command: `{ service, backend, action, weight? }` → `{ ok, message? , error? }`. */
  backend(body: unknown): Promise<unknown>;
  /** Palisade events after sequence number `after` (EventBus.since). */
  events(after: number): unknown;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** Reads a JSON body of at most `max` bytes; undefined (and a 413 / 400 answered) when it is not one. */
function readJson(req: IncomingMessage, res: ServerResponse, max: number): Promise<unknown> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      send(res, 413, { error: `body larger than ${max} bytes` }, { connection: 'close' });
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        done = true;
        send(res, 413, { error: `body larger than ${max} bytes` }, { connection: 'close' });
        req.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        send(res, 400, { error: 'expected a JSON body' });
        resolve(undefined);
      }
    });
    req.on('error', () => {
      done = true;
      resolve(undefined);
    });
  });
}

/** Connections an agent keeps at once (the monitor needs a few; more is a misbehaving peer). */
const MAX_CONNECTIONS = 256;

export class AgentServer {
  readonly #o: AgentServerOptions;
  readonly #digest: Buffer;
  #server: Server | undefined;
  /** Runs in flight by object: a second request for the same check shares the first run. */
  readonly #inFlight = new Map<string, Promise<CheckResult>>();

  constructor(o: AgentServerOptions) {
    this.#o = o;
    this.#digest = tokenDigestOf(o.token);
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { tls } = this.#o;
    // Timeouts are enforced every connectionsCheckingInterval (30 s by default: FIELD-NOTES); check every second.
    const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', connectionsCheckingInterval: 1_000 }, (req, res) => void this.#handle(req, res));
    server.maxConnections = MAX_CONNECTIONS;
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 30_000;
    // A broken TLS handshake (a scanner, a wrong client) is the peer's problem, not ours.
    server.on('tlsClientError', (err) => this.#o.log.debug({ err: errorMessage(err) }, 'agent: TLS handshake failed'));
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(this.#o.port, this.#o.host, () => {
        server.off('error', fail);
        ok();
      });
    });
    server.on('error', (err) => this.#o.log.error({ err: errorMessage(err) }, 'agent: server error'));
    this.#server = server;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const client = req.socket.remoteAddress ?? '?';
    try {
      if (!tokenMatches(req.headers.authorization, this.#digest)) {
        this.#o.log.warn({ client, path: req.url }, 'agent: request with a wrong or missing token refused');
        req.resume();
        send(res, 401, { error: 'wrong or missing token' }, { 'www-authenticate': 'Bearer' });
        return;
      }
      const [path, query] = splitUrl(req.url ?? '/');
      if (path === STATUS_PATH || path === EVENTS_PATH || path === BACKEND_PATH) {
        await this.#nodeApi(req, res, path, query, client);
        return;
      }
      if (req.method !== 'POST') {
        req.resume();
        send(res, 405, { error: 'expected POST' }, { allow: 'POST' });
        return;
      }
      if (path === RESULTS_PATH) {
        const receive = this.#o.receive;
        if (receive === undefined) {
          req.resume();
          send(res, 404, { error: 'this node is not the monitor: it takes no pushed results' });
          return;
        }
        const body = await readJson(req, res, this.#o.maxBody);
        if (body === undefined) return;
        const push = parsePush(body);
        if (typeof push === 'string') {
          send(res, 400, { error: push });
          return;
        }
        const r = receive(push.node, push.results);
        if (r.rejected.length > 0) this.#o.log.warn({ client, node: push.node, rejected: r.rejected }, 'agent: pushed results refused');
        send(res, 200, r);
        return;
      }
      const target = parseRunPath(path);
      req.resume();
      if (target === undefined) {
        send(res, 404, { error: 'expected POST /v1/run/HOST[/SERVICE], POST /v1/results, GET /v1/status, GET /v1/events or POST /v1/backend' });
        return;
      }
      const key = target.service === undefined ? target.host : `${target.host}/${target.service}`;
      let p = this.#inFlight.get(key);
      if (p === undefined) {
        const started = this.#o.run?.(target.host, target.service);
        if (started === undefined) {
          this.#o.log.warn({ client, object: key }, 'agent: request for a check this node does not have; nothing run');
          send(res, 404, { error: `no check ${key} for this node in the cluster file` });
          return;
        }
        p = started.finally(() => this.#inFlight.delete(key));
        this.#inFlight.set(key, p);
      }
      const result = await p;
      if (!res.destroyed) send(res, 200, result);
    } catch (err) {
      this.#o.log.error({ err: errorMessage(err), client }, 'agent: request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }

  /** The node API paths (token already checked). */
  async #nodeApi(req: IncomingMessage, res: ServerResponse, path: string, query: string, client: string): Promise<void> {
    const api = this.#o.node;
    const method = path === BACKEND_PATH ? 'POST' : 'GET';
    if (api === undefined) {
      req.resume();
      send(res, 404, { error: 'this node serves no node API' });
      return;
    }
    if (req.method !== method) {
      req.resume();
      send(res, 405, { error: `expected ${method}` }, { allow: method });
      return;
    }
    if (path === STATUS_PATH) {
      send(res, 200, await api.status());
      return;
    }
    if (path === EVENTS_PATH) {
      const after = parseAfter(query);
      if (after === undefined) {
        send(res, 400, { error: 'expected ?after=SEQ (a whole number, 0 for all kept events)' });
        return;
      }
      send(res, 200, api.events(after));
      return;
    }
    const body = await readJson(req, res, this.#o.maxBody);
    if (body === undefined) return;
    const r = await api.backend(body);
    this.#o.log.info({ client, request: body, answer: r }, 'agent: backend action from a peer (node API)');
    send(res, 200, r);
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (s === undefined) return;
    this.#server = undefined;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}
