/**
 * Resources that follow the VIP (heartbeat's resource groups): started in list
 * order once this node is MASTER and holds the VIPs, stopped in reverse order before
 * it gives them up. While they run, each `status` command is checked every
 * `interval`; a resource that fails to start or whose status fails puts the
 * instance in FAULT, so the VIP and the group move to another director. The fault is
 * held for `FAULT_HOLD_MS`, then cleared, so a repaired node can take part again.
 */
import { spawn } from 'node:child_process';
import type { VrrpResourceConfig } from '../../config/ha-schema.ts';
import type { Logger } from '../../core/logger.ts';

export const FAULT_HOLD_MS = 30_000;

/** Runs one command (argument array, no shell) with a timeout; kills its process group past it. */
export function runCommand(argv: readonly string[], timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    let done = false;
    let out = '';
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const grab = (d: Buffer) => {
      if (out.length < 2000) out += d.toString();
    };
    child.stdout?.on('data', grab);
    child.stderr?.on('data', grab);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      finish(false, `timed out after ${timeoutMs} ms`);
    }, timeoutMs);
    function finish(ok: boolean, detail: string) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, detail });
    }
    child.on('error', (err) => finish(false, err.message));
    child.on('exit', (code, signal) => finish(code === 0, code === 0 ? '' : `exit ${code ?? signal}${out.trim() ? `: ${out.trim().split('\n').slice(-1)[0]}` : ''}`));
  });
}

export class ResourceGroup {
  readonly #resources: readonly VrrpResourceConfig[];
  readonly #log: Logger;
  readonly #onFault: (reason: string, on: boolean) => void;
  /** How many of the resources (a prefix of the list) are started. */
  #started = 0;
  #timer: NodeJS.Timeout | undefined;
  #active = false;

  constructor(resources: readonly VrrpResourceConfig[], log: Logger, onFault: (reason: string, on: boolean) => void) {
    this.#resources = resources;
    this.#log = log;
    this.#onFault = onFault;
  }

  get started(): string[] {
    return this.#resources.slice(0, this.#started).map((r) => r.name);
  }

  /** Starts the resources in order; on a failure stops what was started and reports a fault. */
  async acquire(): Promise<void> {
    if (this.#active) return;
    this.#active = true;
    for (const r of this.#resources.slice(this.#started)) {
      const res = await runCommand(r.start, r.timeout);
      if (!res.ok) {
        this.#log.error({ resource: r.name, detail: res.detail }, `resource ${r.name} failed to start: ${res.detail}`);
        await this.release();
        this.#fault(r.name);
        return;
      }
      this.#started++;
      this.#log.info({ resource: r.name }, `resource ${r.name} started`);
    }
    this.#watch();
  }

  /** Stops the started resources in reverse order. */
  async release(): Promise<void> {
    this.#active = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#started > 0) {
      const r = this.#resources[this.#started - 1]!;
      const res = await runCommand(r.stop, r.timeout);
      if (res.ok) this.#log.info({ resource: r.name }, `resource ${r.name} stopped`);
      else this.#log.error({ resource: r.name, detail: res.detail }, `resource ${r.name} failed to stop: ${res.detail}`);
      this.#started--;
    }
  }

  #watch(): void {
    const watched = this.#resources.filter((r) => r.status !== undefined);
    if (!this.#active || watched.length === 0) return;
    this.#timer = setTimeout(() => void this.#check(), Math.min(...watched.map((r) => r.interval)));
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    for (const r of this.#resources.slice(0, this.#started)) {
      if (r.status === undefined || !this.#active) continue;
      const res = await runCommand(r.status, r.timeout);
      if (!res.ok && this.#active) {
        this.#log.error({ resource: r.name, detail: res.detail }, `resource ${r.name} is not running (${res.detail}): fault`);
        this.#fault(r.name);
        return;
      }
    }
    this.#watch();
  }

  #fault(name: string): void {
    const reason = `resource:${name}`;
    this.#onFault(reason, true);
    setTimeout(() => this.#onFault(reason, false), FAULT_HOLD_MS).unref();
  }

  stop(): void {
    this.#active = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
