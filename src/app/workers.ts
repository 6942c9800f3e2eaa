/**
 * N proxy worker processes sharing the listening sockets (node:cluster with the
 * kernel distributing connections: SCHED_NONE), supervised by the primary, which
 * restarts a crashed worker with the current config.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { ServiceSnapshot } from '../proxy/http/server.ts';
import type { Outcome } from '../proxy/http/service.ts';
import type { HealthPush } from './health.ts';
import type { PrimaryMessage, WorkerMessage } from './messages.ts';

export interface WorkerHooks {
  /** A worker saw a passive outcome. */
  onOutcome(service: string, backend: string, outcome: Outcome): void;
  /** The health state a (re)started worker must be told after applying the config. */
  pushes(): HealthPush[];
}

interface Current {
  config: ClusterConfig;
  services: string[];
  baseDir: string;
  vipHosts: string[];
}

export class WorkerPool {
  readonly #log: Logger;
  readonly #count: number;
  readonly #workers = new Set<Worker>();
  #current: Current | undefined;
  #nextId = 1;
  #stopping = false;
  #recentCrashes: number[] = [];
  readonly #pending = new Map<number, { left: number; results: WorkerMessage[]; done: (r: WorkerMessage[]) => void }>();

  readonly #hooks: WorkerHooks;

  constructor(count: number, log: Logger, hooks: WorkerHooks) {
    this.#count = count;
    this.#log = log;
    this.#hooks = hooks;
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.ts', import.meta.url)), args: [] });
  }

  /** Starts the workers with `config`; rejects if any of them cannot apply it. */
  async start(config: ClusterConfig, services: string[], baseDir: string, vipHosts: string[] = []): Promise<void> {
    this.#current = { config, services, baseDir, vipHosts };
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.#count; i++) started.push(this.#fork());
    await Promise.all(started);
  }

  #fork(): Promise<void> {
    const w = cluster.fork();
    this.#workers.add(w);
    w.on('message', (m: WorkerMessage) => this.#onMessage(m));
    w.on('exit', (code, signal) => this.#onExit(w, code, signal));
    return new Promise((resolve, reject) => {
      w.once('online', () => {
        const cur = this.#current!;
        this.#ask(w, { type: 'apply', id: 0, config: cur.config, services: cur.services, baseDir: cur.baseDir, vipHosts: cur.vipHosts }).then((r) => {
          const m = r[0];
          if (m?.type === 'applied' && !m.ok) {
            reject(new Error(m.error));
            return;
          }
          const pushes = this.#hooks.pushes();
          if (pushes.length > 0) w.send({ type: 'health', pushes } satisfies PrimaryMessage);
          if (this.#heldVips.size > 0) w.send({ type: 'vips', addresses: [...this.#heldVips], held: true } satisfies PrimaryMessage);
          resolve();
        }, reject);
      });
    });
  }

  #onExit(w: Worker, code: number | null, signal: string | null): void {
    this.#workers.delete(w);
    if (this.#stopping) return;
    const t = Date.now();
    this.#recentCrashes = this.#recentCrashes.filter((x) => t - x < 60_000);
    this.#recentCrashes.push(t);
    const delay = Math.min(5_000, 100 * 2 ** Math.max(0, this.#recentCrashes.length - 1));
    this.#log.error({ worker: w.id, pid: w.process.pid, code, signal, restart_in_ms: delay }, 'proxy worker exited; restarting it');
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().catch((err: unknown) => this.#log.error({ err: String(err) }, 'restarted worker failed to apply the config'));
    }, delay).unref();
  }

  #onMessage(m: WorkerMessage): void {
    if (m.type === 'outcome') {
      this.#hooks.onOutcome(m.service, m.backend, m.outcome);
      return;
    }
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    p.results.push(m);
    if (--p.left === 0) {
      this.#pending.delete(m.id);
      p.done(p.results);
    }
  }

  #ask(w: Worker | Set<Worker>, msg: PrimaryMessage & { id: number }): Promise<WorkerMessage[]> {
    const targets = w instanceof Set ? [...w] : [w];
    const id = this.#nextId++;
    const m = { ...msg, id };
    return new Promise((resolve) => {
      if (targets.length === 0) {
        resolve([]);
        return;
      }
      const timer = setTimeout(() => {
        const p = this.#pending.get(id);
        this.#pending.delete(id);
        resolve(p?.results ?? []);
      }, 30_000);
      timer.unref();
      this.#pending.set(id, {
        left: targets.length,
        results: [],
        done: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
      for (const t of targets) t.send(m);
    });
  }

  /** Sends a new config to every worker; resolves with the errors (empty when all applied it). */
  async apply(config: ClusterConfig, services: string[], baseDir: string, vipHosts: string[] = this.#current?.vipHosts ?? []): Promise<string[]> {
    const results = await this.#ask(this.#workers, { type: 'apply', id: 0, config, services, baseDir, vipHosts });
    const errors = results.flatMap((r) => (r.type === 'applied' && !r.ok ? [r.error ?? 'unknown error'] : []));
    if (errors.length === 0) this.#current = { config, services, baseDir, vipHosts };
    return errors;
  }

  /** Status of every worker, merged: counters summed per service and backend. */
  async snapshot(): Promise<ServiceSnapshot[]> {
    const results = await this.#ask(this.#workers, { type: 'status', id: 0 });
    const merged = new Map<string, ServiceSnapshot>();
    for (const r of results) {
      if (r.type !== 'status') continue;
      for (const s of r.services) {
        const m = merged.get(s.name);
        if (m === undefined) {
          merged.set(s.name, structuredClone(s));
          continue;
        }
        m.requests += s.requests;
        if (m.limits !== undefined && s.limits !== undefined) sumLimits(m.limits, s.limits);
        for (const b of s.backends) {
          const mb = m.backends.find((x) => x.id === b.id);
          if (mb === undefined) continue;
          mb.active += b.active;
          mb.inactive += b.inactive;
          mb.requests += b.requests;
          mb.failures += b.failures;
          if (b.status !== 'up') mb.status = b.status;
        }
      }
    }
    return [...merged.values()];
  }

  readonly #heldVips = new Set<string>();

  /** This node took or gave up VIPs: every worker opens or drains its listeners on them. */
  setVipsHeld(addresses: string[], held: boolean): void {
    for (const a of addresses) {
      if (held) this.#heldVips.add(a);
      else this.#heldVips.delete(a);
    }
    const m: PrimaryMessage = { type: 'vips', addresses, held };
    for (const w of this.#workers) if (w.isConnected()) w.send(m);
  }

  /** Sends health decisions to every worker. */
  broadcast(pushes: HealthPush[]): void {
    const m: PrimaryMessage = { type: 'health', pushes };
    for (const w of this.#workers) if (w.isConnected()) w.send(m);
  }

  get size(): number {
    return this.#workers.size;
  }

  /** Tells every worker to finish in-flight requests and exit; kills stragglers. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) {
            resolve();
            return;
          }
          const timer = setTimeout(() => {
            w.process.kill('SIGKILL');
          }, graceMs + 2_000);
          w.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          w.send({ type: 'stop', graceMs } satisfies PrimaryMessage);
        }),
    );
    await Promise.all(exits);
  }
}

/** Adds one worker's limit counters to the merged ones (each worker keeps its own table). */
function sumLimits(into: NonNullable<ServiceSnapshot['limits']>, add: NonNullable<ServiceSnapshot['limits']>): void {
  into.clients += add.clients;
  into.tableSize += add.tableSize;
  into.evictions += add.evictions;
  into.connections += add.connections;
  into.delayed += add.delayed;
  into.refused.conn += add.refused.conn;
  into.refused.connTotal += add.refused.connTotal;
  into.refused.req += add.refused.req;
  into.refused.deny += add.refused.deny;
}
