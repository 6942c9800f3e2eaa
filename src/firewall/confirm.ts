/**
 * The confirmation channel of `palisade firewall apply`: while it waits, apply
 * listens on a Unix socket (mode 0600 in the runtime directory); `palisade firewall
 * confirm` connects and writes `confirm`. Only one apply per node waits at a time.
 */
import { chmod, unlink } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface ConfirmListener {
  /** Resolves true when `palisade firewall confirm` arrives. */
  readonly confirmed: Promise<true>;
  close(): Promise<void>;
}

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.end('ping\n');
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Listens for confirmations on `path`; refuses if another apply is already waiting there. */
export async function listenForConfirm(path: string): Promise<ConfirmListener> {
  if (await probe(path)) throw new Error(`another \`palisade firewall apply\` is waiting for its confirmation (${path}); confirm it or let it roll back first`);
  await unlink(path).catch(() => {});
  let resolveConfirmed!: (v: true) => void;
  const confirmed = new Promise<true>((r) => {
    resolveConfirmed = r;
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 64) sock.destroy();
      else if (buf.includes('\n')) {
        if (buf.trim() === 'confirm') {
          sock.end('confirmed\n');
          resolveConfirmed(true);
        } else sock.end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    confirmed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(path).catch(() => {});
    },
  };
}

/** Confirms the apply waiting on `path`; rejects with the reason if none waits. */
export function sendConfirm(path: string, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let answer = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from the waiting apply within ${timeoutMs} ms (${path})`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.once('connect', () => s.write('confirm\n'));
    s.on('data', (d: string) => {
      answer += d;
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `no \`palisade firewall apply\` is waiting for a confirmation (${path})` : `could not reach the waiting apply at ${path}: ${err.message}`));
    });
    s.once('close', () => {
      clearTimeout(timer);
      if (answer.startsWith('confirmed')) resolve();
      else reject(new Error(`the waiting apply did not take the confirmation (${path})`));
    });
  });
}
