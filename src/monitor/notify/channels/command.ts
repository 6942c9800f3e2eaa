/**
 * A program per notice and contact: argument array with placeholders, no shell; the
 * notice also comes in PALISADE_* environment variables. On timeout the process
 * group is killed. A non-zero exit is a failed delivery.
 */
import { spawn } from 'node:child_process';
import type { ContactConfig, MonitorConfig } from '../../../config/monitor-schema.ts';
import { shortOf, type Notice } from '../notice.ts';
import { renderTemplate } from '../template.ts';
import { noticeVars, type Channel } from './types.ts';

const STDERR_CAP = 2048;

export class CommandChannel implements Channel {
  readonly name = 'command';
  readonly #cfg: MonitorConfig['channels']['command'];

  constructor(cfg: MonitorConfig['channels']['command']) {
    this.#cfg = cfg;
  }

  applies(contact: ContactConfig): boolean {
    return contact.command !== undefined;
  }

  deliver(n: Notice, name: string, contact: ContactConfig, signal: AbortSignal): Promise<void> {
    const vars = noticeVars(n, name, undefined, shortOf(n));
    const [program, ...args] = contact.command!.map((a) => renderTemplate(a, vars, 'text'));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const [k, v] of Object.entries(vars)) env[`PALISADE_${k.toUpperCase()}`] = v === undefined ? '' : String(v);
    return new Promise<void>((resolve, reject) => {
      const child = spawn(program!, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env });
      let stderr = '';
      let settled = false;
      const kill = () => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      };
      const timer = setTimeout(() => {
        kill();
        finish(new Error(`${program} timed out after ${this.#cfg.timeout} ms`));
      }, this.#cfg.timeout);
      const onAbort = () => {
        kill();
        finish(new Error(`${program} aborted`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => {
        if (stderr.length < STDERR_CAP) stderr += d.slice(0, STDERR_CAP - stderr.length);
      });
      child.on('error', (err) => finish(new Error(`cannot run ${program}: ${err.message}`)));
      child.on('close', (code, sig) => {
        if (code === 0) finish();
        else finish(new Error(`${program} exited with ${code ?? sig}${stderr ? `: ${stderr.trim()}` : ''}`));
      });
    });
  }
}
