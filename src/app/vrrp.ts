/**
 * The daemon's side of VRRP: starts the VRRP child process for this node's
 * instances, restarts it if it dies, and turns what it reports into actions here:
 * holding a VIP opens the proxy listeners on it, losing it drains them; transitions
 * and split brains are logged as events.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../config/schema.ts';
import type { EventSink } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import type { InstanceStatus } from '../ha/vrrp/instance.ts';
import type { FromVrrp, ToVrrp } from '../ha/vrrp/messages.ts';

const CHILD = fileURLToPath(new URL('../ha/vrrp/child.ts', import.meta.url));

export interface VrrpHooks {
  /** This node took or gave up these virtual addresses. */
  onVips(addresses: string[], held: boolean): void;
  /** Transitions and split brains as Palisade events (alerting, dashboard). */
  events?: EventSink;
}

/** The VIP addresses of the instances `node` takes part in. */
export function vipHostsOf(config: ClusterConfig, node: string): string[] {
  const out: string[] = [];
  for (const inst of Object.values(config.vrrp.instances)) {
    if (inst.members[node] === undefined) continue;
    for (const v of inst.virtual_ipaddress) out.push(v.address);
  }
  return out;
}

export function takesPartInVrrp(config: ClusterConfig, node: string): boolean {
  return Object.values(config.vrrp.instances).some((i) => i.members[node] !== undefined);
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** What a reload did to this node's VRRP instances. */
export interface VrrpReloadResult {
  kept: string[];
  reprioritized: string[];
  restarted: string[];
  started: string[];
  stopped: string[];
  error?: string;
}

export class VrrpSupervisor {
  readonly #log: Logger;
  readonly #hooks: VrrpHooks;
  #child: ChildProcess | undefined;
  #start: Extract<ToVrrp, { type: 'start' }>;
  #stopping = false;
  #nextId = 1;
  readonly #pending = new Map<number, (s: InstanceStatus[]) => void>();
  readonly #reloads = new Map<number, (r: VrrpReloadResult) => void>();
  #restarts: number[] = [];
  /** VIPs the child reported holding. */
  readonly #held = new Set<string>();

  #proxyOk: boolean | undefined;

  /** The local proxy serves (or not): `proxy` trackers follow it. Sent only on change. */
  setProxy(ok: boolean): void {
    if (ok === this.#proxyOk) return;
    const first = this.#proxyOk === undefined;
    this.#proxyOk = ok;
    if (!first || !ok) this.#log[ok ? 'info' : 'warn']({ proxy_ok: ok }, ok ? 'the local proxy serves again' : 'the local proxy does not serve (no backend up): proxy trackers fail');
    const child = this.#child;
    if (child?.connected) child.send({ type: 'proxy', ok } satisfies ToVrrp);
  }

  /** The VRRP child's PID, while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  constructor(config: ClusterConfig, node: string, log: Logger, hooks: VrrpHooks) {
    this.#log = log;
    this.#hooks = hooks;
    const nodeAddresses = Object.fromEntries(Object.entries(config.nodes).map(([n, c]) => [n, c.address]));
    this.#start = { type: 'start', vrrp: config.vrrp, node, nodeAddresses, logLevel: log.level ?? config.log.level, logFormat: config.log.format };
  }

  /** Starts the child; resolves once its instances run, rejects with its reason if they cannot. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      this.#child = child;
      let settled = false;
      child.on('message', (m: FromVrrp) => {
        if (!settled && (m.type === 'started' || m.type === 'failed')) {
          settled = true;
          if (m.type === 'started') {
            this.#log.info({ instances: m.instances, pid: child.pid }, `VRRP started: ${m.instances.join(', ')}`);
            if (this.#proxyOk !== undefined) child.send({ type: 'proxy', ok: this.#proxyOk } satisfies ToVrrp);
            resolve();
          } else reject(new Error(`VRRP could not start: ${m.error}`));
          return;
        }
        this.#onMessage(m);
      });
      child.on('exit', (code, signal) => {
        if (!settled) {
          settled = true;
          reject(new Error(`the VRRP process exited at start (code ${code}, signal ${signal})`));
          return;
        }
        this.#onExit(code, signal);
      });
      child.send(this.#start);
    });
  }

  #onMessage(m: FromVrrp): void {
    switch (m.type) {
      case 'vips':
        for (const a of m.addresses) {
          if (m.held) this.#held.add(a);
          else this.#held.delete(a);
        }
        this.#hooks.onVips(m.addresses, m.held);
        return;
      case 'transition': {
        const message = `VRRP ${m.instance}: ${m.from} -> ${m.to}`;
        this.#log.info({ vrrp: m.instance, from: m.from, to: m.to, priority: m.priority, event: 'vrrp_transition' }, message);
        this.#hooks.events?.emit({
          kind: 'vrrp_transition',
          subject: `vrrp/${m.instance}`,
          state: m.to,
          severity: m.to === 'FAULT' ? 'critical' : m.to === 'MASTER' || m.to === 'BACKUP' ? 'info' : 'warning',
          message,
          fields: { instance: m.instance, from: m.from, to: m.to, priority: m.priority },
        });
        return;
      }
      case 'splitBrain': {
        const message = `split brain on ${m.instance}: ${m.peer} is master too (priority ${m.peerPriority}, ours ${m.localPriority})`;
        this.#log.error({ vrrp: m.instance, peer: m.peer, peer_priority: m.peerPriority, priority: m.localPriority, event: 'split_brain' }, message);
        this.#hooks.events?.emit({
          kind: 'split_brain',
          subject: `vrrp/${m.instance}`,
          state: 'SPLIT_BRAIN',
          severity: 'critical',
          message,
          fields: { instance: m.instance, peer: m.peer, peerPriority: m.peerPriority, priority: m.localPriority },
        });
        return;
      }
      case 'status':
        this.#pending.get(m.id)?.(m.instances);
        this.#pending.delete(m.id);
        return;
      case 'log':
        this.#relayLog(m.line);
        return;
      case 'reloaded': {
        const { type: _t, id: _i, ...r } = m;
        this.#reloads.get(m.id)?.(r);
        this.#reloads.delete(m.id);
        return;
      }
      default:
        return;
    }
  }

  /** A log line of the VRRP process, written by our logger at its level (with the child's pid). */
  #relayLog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _t, pid, hostname: _h, ...fields } = rec;
    const name = LEVELS[typeof level === 'number' ? level : 30] ?? 'info';
    this.#log[name]({ ...fields, child_pid: pid }, typeof msg === 'string' ? msg : '');
  }

  #onExit(code: number | null, signal: string | null): void {
    this.#child = undefined;
    // Nobody defends the VIPs any more: stop serving on them (the restarted process
    // removes stale ones and starts as BACKUP).
    if (this.#held.size > 0) {
      const lost = [...this.#held];
      this.#held.clear();
      this.#hooks.onVips(lost, false);
    }
    if (this.#stopping) return;
    const t = Date.now();
    this.#restarts = this.#restarts.filter((x) => t - x < 60_000);
    this.#restarts.push(t);
    const delay = Math.min(10_000, 250 * 2 ** (this.#restarts.length - 1));
    this.#log.error({ code, signal, restart_in_ms: delay }, 'the VRRP process died; restarting it');
    setTimeout(() => {
      if (this.#stopping) return;
      this.start().catch((err: unknown) => this.#log.error({ err: String(err) }, 'the VRRP process failed to restart'));
    }, delay).unref();
  }

  /**
   * Applies a reloaded config: unchanged instances keep running (no failover), a
   * priority change is applied in place, other changes restart that instance. A
   * restarted child (after a crash) starts from the new config too.
   */
  reload(config: ClusterConfig): Promise<VrrpReloadResult> {
    const nodeAddresses = Object.fromEntries(Object.entries(config.nodes).map(([n, c]) => [n, c.address]));
    this.#start = { ...this.#start, vrrp: config.vrrp, nodeAddresses };
    const child = this.#child;
    if (child === undefined || !child.connected) return Promise.resolve({ kept: [], reprioritized: [], restarted: [], started: [], stopped: [], error: 'the VRRP process is not running; it restarts with the new settings' });
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#reloads.delete(id);
        resolve({ kept: [], reprioritized: [], restarted: [], started: [], stopped: [], error: 'the VRRP process did not answer the reload within 15 s' });
      }, 15_000);
      this.#reloads.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      child.send({ type: 'reload', id, vrrp: config.vrrp, node: this.#start.node, nodeAddresses } satisfies ToVrrp);
    });
  }

  status(): Promise<InstanceStatus[]> {
    const child = this.#child;
    if (child === undefined || !child.connected) return Promise.resolve([]);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve([]);
      }, 2_000);
      this.#pending.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      child.send({ type: 'status', id } satisfies ToVrrp);
    });
  }

  /** Resigns every instance (priority 0, VIPs removed) and waits for the child to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (child.connected) child.send({ type: 'stop' } satisfies ToVrrp);
      else child.kill('SIGTERM');
    });
  }
}
