/**
 * Test helpers: real backends on 127.0.0.1 port 0, a proxy started from cluster
 * file text, and plain HTTP clients. Everything registers its own cleanup.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Daemon } from '../../src/app/daemon.ts';
import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.ts';

export interface Backend {
  name: string;
  server: Server;
  port: number;
  address: string;
  /** Requests this backend received, in order (method + url). */
  seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string, b: Backend) => void;

const defaultHandler: Handler = (_req, res, _body, b) => {
  const text = `${b.name}\n`;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

/** A real HTTP server on 127.0.0.1 that names itself in its answers and records requests. */
export async function startBackend(t: TestContext | undefined, name: string, handler: Handler = defaultHandler, port = 0): Promise<Backend> {
  const b = { name, seen: [] } as unknown as Backend;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      b.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body, b);
    });
  });
  server.keepAliveTimeout = 5_000;
  // closeAllConnections() does not know upgraded (WebSocket) sockets: track every socket.
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  b.server = server;
  b.port = (server.address() as AddressInfo).port;
  b.address = `127.0.0.1:${b.port}`;
  let closed = false;
  b.close = () => {
    if (closed) return Promise.resolve();
    closed = true;
    return new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const sock of sockets) sock.destroy();
    });
  };
  t?.after(() => b.close());
  return b;
}

export interface ProxyHandle {
  daemon: Daemon;
  file: string;
  dir: string;
  port: number;
  url: string;
  logs: Record<string, unknown>[];
  /** Rewrites the cluster file (for reload tests). */
  rewrite(text: string): Promise<void>;
}

class MemoryStream {
  lines: Record<string, unknown>[] = [];
  write(s: string): boolean {
    for (const line of s.split('\n')) if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  }
}

function makeMemoryLogger(stream: MemoryStream): Logger {
  return pino({ level: 'debug' }, stream);
}

/** Starts a daemon (single process, no control socket unless asked) from cluster-file text; `${PORT}` is not special. */
export async function startProxy(t: TestContext, yaml: string, opts: { controlSocket?: boolean } = {}): Promise<ProxyHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-test-'));
  const file = join(dir, 'cluster.yaml');
  await writeFile(file, yaml);
  const stream = new MemoryStream();
  const daemon = await Daemon.start({ file, log: makeMemoryLogger(stream), controlSocket: opts.controlSocket ? join(dir, 'control.sock') : false });
  t.after(async () => {
    await daemon.stop(1_000);
    await rm(dir, { recursive: true, force: true });
  });
  const svc = Object.keys(daemon.config.config.services)[0]!;
  const port = daemon.proxy!.boundPort(svc);
  return {
    daemon,
    file,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    logs: stream.lines,
    rewrite: (text) => writeFile(file, text),
  };
}

export interface SimpleResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request on a fresh connection, read until the server closes or the body is complete. */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (err) => {
      if (chunks.length > 0) finish(true);
      else {
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}

/** Parses the first response out of raw bytes. */
export function parseRaw(text: string): SimpleResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end).split('\r\n');
  const status = Number(head[0]!.split(' ')[1]);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers, body: text.slice(end + 4) };
}

/** GET (or another method) with fetch; never throws for HTTP statuses. */
export async function request(url: string, init: RequestInit = {}): Promise<SimpleResponse> {
  const res = await fetch(url, init);
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, body: await res.text() };
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for a daemon started as a child process). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until `cond()` holds, checking every 20 ms, up to `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
