/**
 * The daemon's local control socket: a Unix socket, authenticated by file
 * permissions (the runtime directory is 0700), one JSON request and one JSON
 * answer per line. `palisade reload` and `palisade status` use it.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PalisadeError, errorMessage } from '../core/errors.ts';

export interface ControlRequest {
  cmd: string;
  [key: string]: unknown;
}

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

/** Default runtime directory: /run/palisade as root, else $XDG_RUNTIME_DIR/palisade or /tmp/palisade-$UID. */
export function defaultRuntimeDir(): string {
  if (process.getuid?.() === 0) return '/run/palisade';
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, 'palisade');
  return `/tmp/palisade-${process.getuid?.() ?? 'user'}`;
}

export function controlSocketPath(runtimeDir: string, cluster: string, node: string): string {
  return join(runtimeDir, `${cluster}-${node}.sock`);
}

/** Sends one request to a running daemon; resolves with its answer. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let data = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new PalisadeError('PALISADE_CONTROL', 'internal', `no answer from the daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (d: string) => {
      data += d;
      const nl = data.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        s.end();
        try {
          resolve(JSON.parse(data.slice(0, nl)));
        } catch (err) {
          reject(err);
        }
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no palisade daemon is running there' : err.message;
      reject(new PalisadeError('PALISADE_CONTROL', 'internal', `cannot reach the daemon at ${path}: ${why}`, { cause: err }));
    });
  });
}

export class ControlServer {
  readonly path: string;
  readonly #server: Server;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on `path`, replacing a stale socket but refusing if a live daemon owns it. */
  static async open(path: string, handler: ControlHandler): Promise<ControlServer> {
    await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
    const live = await new Promise<boolean>((resolve) => {
      const s = createConnection(path);
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (live) throw new PalisadeError('PALISADE_CONTROL', 'internal', `another palisade daemon is running with control socket ${path}`);
    await unlink(path).catch(() => undefined);
    const server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('error', () => undefined);
      sock.on('data', (d: string) => {
        buf += d;
        if (buf.length > 1 << 20) {
          sock.destroy();
          return;
        }
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = '';
        let req: ControlRequest;
        try {
          req = JSON.parse(line) as ControlRequest;
        } catch {
          sock.end(`${JSON.stringify({ ok: false, error: 'request is not JSON' })}\n`);
          return;
        }
        handler(req).then(
          (answer) => sock.end(`${JSON.stringify(answer)}\n`),
          (err: unknown) => sock.end(`${JSON.stringify({ ok: false, error: errorMessage(err) })}\n`),
        );
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    return new ControlServer(path, server);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }
}
