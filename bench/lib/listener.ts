/**
 * A TCP listener in its own process on 127.0.0.1 that accepts and closes at once:
 * the target of the check benchmarks (its work stays out of the measured process).
 */
import { spawn } from 'node:child_process';

/** Starts the listener; resolves its port and a stop function. */
export async function startClosingListener(): Promise<{ port: number; stop: () => void }> {
  const code = `
    const s = require('node:net').createServer((c) => { c.on('error', () => {}); c.end(); });
    s.listen(0, '127.0.0.1', 4096, () => process.stdout.write(String(s.address().port) + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', (c) => reject(new Error(`listener exited with ${c}`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}
