/**
 * The daemon: the composition root that turns a validated cluster file into
 * running roles, reloads it safely, and stops gracefully.
 *
 * Reload validates first; an invalid file changes nothing (the old config keeps
 * serving and the problems are logged and returned). A valid one is applied in
 * place: unchanged backends keep their state, in-flight requests finish.
 */
import { loadClusterFile, type LoadedConfig } from '../config/load.ts';
import type { ClusterConfig } from '../config/schema.ts';
import { ConfigError, errorMessage, formatProblem } from '../core/errors.ts';
import { EventBus } from '../core/events.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { configBaseDir, HttpProxy, type ServiceSnapshot } from '../proxy/http/server.ts';
import type { L4ServiceSnapshot } from '../proxy/tcp/proxy.ts';
import { ControlServer, controlSocketPath, defaultRuntimeDir, type ControlRequest } from './control.ts';
import { hostAddresses, selectNode, type SelectedNode } from './node.ts';
import { WorkerPool } from './workers.ts';
import { takesPartInVrrp, vipHostsOf, VrrpSupervisor } from './vrrp.ts';
import type { InstanceStatus } from '../ha/vrrp/instance.ts';
import { HealthBridge, healthReason, type HealthPush, type HealthSink, type OperatorAction } from './health.ts';
import { startL4, withL4 } from './l4.ts';
import type { L4Runtime } from './l4-kernel.ts';
import { WebRole } from './web-facade.ts';
import { startAgentRole, type AgentRole } from './agent.ts';

export interface DaemonOptions {
  /** The cluster file (re-read on reload). */
  file: string;
  /** Node name (`--node`); default: recognised from this host's addresses. */
  node?: string;
  /** An already loaded config for `file` (saves reading it twice at start). */
  loaded?: LoadedConfig;
  /** Logger; default one made from the config's `log` section. */
  log?: Logger;
  /** Control socket path; default in the runtime directory. `false` = none. */
  controlSocket?: string | false;
}

export interface ReloadResult {
  ok: boolean;
  /** What was wrong (each with file:line:column and path for config problems). */
  errors: string[];
  summary?: string;
}

/**
 * A service in the status: an HTTP service, or a tcp/udp one with what it adds
 * (`protocol`, `flows`, `kernel`). A kernel service's backends have null
 * `active`/`inactive` where this node cannot know them (src/proxy/backends.ts).
 */
export type StatusService = Omit<ServiceSnapshot, 'backends'> & Partial<Omit<L4ServiceSnapshot, keyof ServiceSnapshot>> & { backends: L4ServiceSnapshot['backends'] };

export interface DaemonStatus {
  cluster: string;
  node: string;
  pid: number;
  workers: number;
  config: string;
  /** HTTP services, then tcp/udp services. */
  services: StatusService[];
  vrrp: InstanceStatus[];
}

const NULL_SINK: HealthSink = {
  setBackendState: () => undefined,
  setBackendWeight: () => undefined,
  setPanic: () => undefined,
  setQuorum: () => undefined,
};

/** Health decisions for every worker, sent as they are made. */
function broadcastSink(pool: WorkerPool): HealthSink {
  const send = (p: HealthPush) => pool.broadcast([p]);
  return {
    setBackendState: (service, backend, state) => send({ op: 'state', service, backend, state }),
    setBackendWeight: (service, backend, weight) => send({ op: 'weight', service, backend, weight }),
    setPanic: (service, panic) => send({ op: 'panic', service, panic }),
    setQuorum: (service, up) => send({ op: 'quorum', service, up }),
  };
}

export class Daemon {
  readonly file: string;
  readonly log: Logger;
  #loaded: LoadedConfig;
  #node: SelectedNode;
  readonly #requestedNode: string | undefined;
  #proxy: HttpProxy | undefined;
  /** tcp/udp services, in this (primary) process; see app/l4.ts. */
  #l4: L4Runtime | undefined;
  #pool: WorkerPool | undefined;
  #health: HealthBridge | undefined;
  #vrrp: VrrpSupervisor | undefined;
  #control: ControlServer | undefined;
  /** The dashboard, admin API and monitor runtime, on the node that serves them (app/web-facade.ts). */
  #web: WebRole | undefined;
  /** The agent endpoint (app/agent.ts): checks run here for the monitor, pushed results taken on the monitor. */
  #agent: AgentRole | undefined;
  #reloading: Promise<ReloadResult> | undefined;
  #stopped = false;
  /** Palisade's own events (VRRP, backends, quorum) for alerting and the dashboard. */
  readonly events: EventBus;

  private constructor(file: string, loaded: LoadedConfig, node: SelectedNode, requested: string | undefined, log: Logger) {
    this.file = file;
    this.#loaded = loaded;
    this.#node = node;
    this.#requestedNode = requested;
    this.log = log;
    this.events = new EventBus(node.name, { onListenerError: (err, e) => log.error({ err: errorMessage(err), event: e.kind }, 'an event listener failed') });
  }

  /** Loads, validates and starts. Throws (starting nothing) if the file is invalid or a listener cannot open. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const loaded = opts.loaded ?? (await loadClusterFile(opts.file));
    const node = selectNode(loaded.config, opts.node, hostAddresses());
    const log = opts.log ?? createLogger({ level: loaded.config.log.level, format: loaded.config.log.format });
    const d = new Daemon(opts.file, loaded, node, opts.node, log);
    await d.#startRoles();
    if (opts.controlSocket !== false) {
      const path = opts.controlSocket ?? controlSocketPath(loaded.config.runtime_dir ?? defaultRuntimeDir(), loaded.config.cluster.name, node.name);
      try {
        d.#control = await ControlServer.open(path, (req) => d.#onControl(req));
      } catch (err) {
        await d.stop(0);
        throw err;
      }
    }
    try {
      d.#web = await WebRole.start(d);
      d.#agent = await startAgentRole(d, d.#web?.monitor);
    } catch (err) {
      await d.stop(0);
      throw err;
    }
    log.info(
      { cluster: loaded.config.cluster.name, node: node.name, services: node.services, workers: node.workers, control: d.#control?.path },
      `palisade started: node ${node.name}, ${node.services.length} service(s), ${node.workers} worker(s)`,
    );
    return d;
  }

  async #startRoles(): Promise<void> {
    const { config } = this.#loaded;
    const baseDir = configBaseDir(this.file);
    const vipHosts = vipHostsOf(config, this.#node.name);
    if (this.#node.services.length > 0) await this.#startProxy(config, baseDir, vipHosts);
    if (takesPartInVrrp(config, this.#node.name)) {
      try {
        await this.#startVrrp(config);
      } catch (err) {
        await this.stop(0);
        throw err;
      }
    }
  }

  /** Starts this node's VRRP process; rejects with its reason if the instances cannot run. */
  async #startVrrp(config: ClusterConfig): Promise<void> {
    const vrrp = new VrrpSupervisor(config, this.#node.name, this.log, {
      events: this.events,
      onVips: (addresses, held) => {
        void this.#l4?.setVipsHeld(addresses, held);
        if (this.#pool !== undefined) this.#pool.setVipsHeld(addresses, held);
        else void this.#proxy?.setVipsHeld(addresses, held);
      },
    });
    this.#vrrp = vrrp;
    vrrp.setProxy(this.#proxyServing());
    try {
      await vrrp.start();
    } catch (err) {
      this.#vrrp = undefined;
      await vrrp.stop();
      throw err;
    }
    // The built-in `proxy` tracker: a director whose proxy cannot serve hands the VIP over.
    if (this.#proxyTimer !== undefined) clearInterval(this.#proxyTimer);
    this.#proxyTimer = setInterval(() => vrrp.setProxy(this.#proxyServing()), 500);
    this.#proxyTimer.unref();
  }

  async #startProxy(config: ClusterConfig, baseDir: string, vipHosts: string[]): Promise<void> {
    this.#l4 = await startL4(config, this.#node.services, this.log, vipHosts, (service, backend, outcome) => this.#health?.report(service, backend, outcome));
    if (this.#node.workers > 1) {
      const health = new HealthBridge(this.log, NULL_SINK, this.events);
      this.#health = health;
      const pool = new WorkerPool(this.#node.workers, this.log, {
        onOutcome: (service, backend, outcome) => health.report(service, backend, outcome),
        pushes: () => health.pushes(),
      });
      this.#pool = pool;
      // Workers that have not applied the config yet ignore pushes; they get the whole state once they have.
      health.sink = withL4(this.#l4, broadcastSink(pool));
      health.update(config, this.#node.services);
      try {
        await pool.start(config, this.#node.services, baseDir, vipHosts);
      } catch (err) {
        await pool.stop(0);
        await health.close();
        throw err;
      }
    } else {
      const proxy = new HttpProxy({ log: this.log, baseDir, onOutcome: (service, backend, outcome) => this.#health?.report(service, backend, outcome) });
      this.#proxy = proxy;
      proxy.setVipHosts(vipHosts);
      await proxy.apply(config, this.#node.services, baseDir);
      this.#health = new HealthBridge(this.log, withL4(this.#l4, proxy), this.events);
      this.#health.update(config, this.#node.services);
    }
  }

  get config(): LoadedConfig {
    return this.#loaded;
  }

  get node(): SelectedNode {
    return this.#node;
  }

  /** The in-process proxy (single-worker mode), for tests and the demo. */
  get proxy(): HttpProxy | undefined {
    return this.#proxy;
  }

  #proxyTimer: NodeJS.Timeout | undefined;

  /**
   * Whether this node's proxy can serve: its workers run (or it runs in-process) and
   * every service has at least one backend up. A node without services serves trivially.
   */
  #proxyServing(): boolean {
    if (this.#node.services.length === 0) return true;
    if (this.#pool !== undefined && this.#pool.size === 0) return false;
    if (this.#pool === undefined && this.#proxy === undefined) return false;
    const snap = this.#health?.snapshot();
    if (snap === undefined) return true;
    return this.#node.services.every((name) => {
      const svc = snap.services.find((x) => x.service === name);
      return svc === undefined || svc.backends.some((b) => b.state === 'up');
    });
  }

  /** PID of the VRRP child process, while it runs (tests, status). */
  vrrpPid(): number | undefined {
    return this.#vrrp?.pid;
  }

  get controlPath(): string | undefined {
    return this.#control?.path;
  }

  /** Re-reads the cluster file; concurrent calls share one reload. */
  reload(): Promise<ReloadResult> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<ReloadResult> {
    let loaded: LoadedConfig;
    let node: SelectedNode;
    try {
      loaded = await loadClusterFile(this.file);
      node = selectNode(loaded.config, this.#requestedNode ?? this.#node.name, hostAddresses());
    } catch (err) {
      const errors = err instanceof ConfigError ? err.problems.map(formatProblem) : [errorMessage(err)];
      this.log.error({ file: this.file, errors }, `reload refused, still running the previous config: ${errors.length} problem(s)`);
      for (const e of errors) this.log.error(e);
      return { ok: false, errors };
    }
    if (node.workers !== this.#node.workers) {
      this.log.warn({ workers: node.workers, running: this.#node.workers }, 'a change of workers takes effect at restart');
    }
    const baseDir = configBaseDir(this.file);
    // Listeners on VIPs open only while the VIP is held: the proxies learn the new VIP list first.
    const vipHosts = vipHostsOf(loaded.config, node.name);
    this.#proxy?.setVipHosts(vipHosts);
    this.#l4?.setVipHosts(vipHosts);
    try {
      if (this.#pool !== undefined) {
        const errors = await this.#pool.apply(loaded.config, node.services, baseDir, vipHosts);
        if (errors.length > 0) throw new Error(errors.join('; '));
      } else if (this.#proxy !== undefined) {
        await this.#proxy.apply(loaded.config, node.services, baseDir);
      }
      await this.#l4?.apply(loaded.config, node.services);
      this.#health?.update(loaded.config, node.services);
    } catch (err) {
      const errors = [errorMessage(err)];
      this.log.error({ file: this.file, errors }, 'reload failed to apply, still running the previous config');
      return { ok: false, errors };
    }
    const vrrpNote = await this.#reloadVrrp(loaded.config);
    this.#loaded = loaded;
    this.#node = { ...node, workers: this.#node.workers };
    await this.#web?.reloaded();
    const summary = `reloaded ${this.file}: ${node.services.length} service(s)${vrrpNote}`;
    this.log.info({ file: this.file, services: node.services }, summary);
    return { ok: true, errors: [], summary };
  }

  async status(): Promise<DaemonStatus> {
    await this.#l4?.refresh(); // kernel (mode nat / dr) counters, read fresh
    const services = [...(this.#pool !== undefined ? await this.#pool.snapshot() : (this.#proxy?.snapshot() ?? [])), ...(this.#l4?.snapshot() ?? [])];
    const health = this.#health?.snapshot();
    for (const s of services) {
      const hs = health?.services.find((x) => x.service === s.name);
      if (hs === undefined) continue;
      for (const b of s.backends) {
        const hb = hs.backends.find((x) => x.backend === b.id);
        if (hb === undefined) continue;
        b.check = { type: hb.check ?? 'none', last: healthReason(hb), since: hb.since };
      }
    }
    return {
      vrrp: (await this.#vrrp?.status()) ?? [],
      cluster: this.#loaded.config.cluster.name,
      node: this.#node.name,
      pid: process.pid,
      workers: this.#node.workers,
      config: this.file,
      services,
    };
  }

  /**
   * VRRP on reload: unchanged instances keep running, a priority change applies in
   * place, other changes restart the instance; a node that joins or leaves every
   * instance starts or stops its VRRP process. Returns a note for the summary.
   */
  async #reloadVrrp(config: ClusterConfig): Promise<string> {
    const node = this.#node.name;
    const was = this.#vrrp;
    const now = takesPartInVrrp(config, node);
    if (was === undefined && !now) return '';
    if (JSON.stringify(config.vrrp) === JSON.stringify(this.#loaded.config.vrrp) && JSON.stringify(config.nodes) === JSON.stringify(this.#loaded.config.nodes)) return '';
    if (was !== undefined && !now) {
      await was.stop();
      this.#vrrp = undefined;
      if (this.#proxyTimer !== undefined) clearInterval(this.#proxyTimer);
      this.log.info('this node is in no VRRP instance any more: its VRRP process stopped');
      return '; vrrp: stopped';
    }
    if (was === undefined) {
      await this.#startVrrp(config);
      return '; vrrp: started';
    }
    const r = await was.reload(config);
    const parts = [
      r.reprioritized.length > 0 ? `${r.reprioritized.join(', ')} priority changed` : '',
      r.restarted.length > 0 ? `${r.restarted.join(', ')} restarted` : '',
      r.started.length > 0 ? `${r.started.join(', ')} started` : '',
      r.stopped.length > 0 ? `${r.stopped.join(', ')} stopped` : '',
      r.kept.length > 0 ? `${r.kept.join(', ')} unchanged` : '',
      r.error !== undefined ? `error: ${r.error}` : '',
    ].filter((p) => p !== '');
    this.log[r.error === undefined ? 'info' : 'error']({ vrrp: r }, `VRRP reloaded: ${parts.join('; ')}`);
    return `; vrrp: ${parts.join('; ')}`;
  }

  /** An operator action on a backend: the control socket's `backend` command, and POST /v1/backend of the node API (app/agent.ts). */
  operateBackend(req: unknown): { ok: true; message: string } | { ok: false; error: string } {
    if (this.#health === undefined) return { ok: false, error: 'this node runs no services' };
    const { service, backend, action, weight } = (typeof req === 'object' && req !== null ? req : {}) as { service?: unknown; backend?: unknown; action?: unknown; weight?: unknown };
    if (typeof service !== 'string' || typeof backend !== 'string' || !['drain', 'maint', 'enable', 'weight'].includes(String(action))) {
      return { ok: false, error: 'expected { service, backend, action: drain|maint|enable|weight, weight? }' };
    }
    const r = this.#health.operate(service, backend, action as OperatorAction, typeof weight === 'number' ? weight : undefined);
    return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message };
  }

  async #onControl(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'reload':
        return this.reload();
      case 'status':
        return { ok: true, status: await this.status() };
      case 'events': {
        const { limit, after } = req as { limit?: unknown; after?: unknown };
        // With `after`: numbered events for a peer's dashboard (app/peers.ts), as GET /v1/events.
        if (typeof after === 'number') return { ok: true, ...this.events.since(after) };
        return { ok: true, events: this.events.recent(typeof limit === 'number' && limit > 0 ? limit : undefined) };
      }
      case 'backend':
        return this.operateBackend(req);
      default: {
        const r = await this.#web?.control(req);
        if (r !== undefined) return r;
        return { ok: false, error: `unknown command ${JSON.stringify(req.cmd)}` };
      }
    }
  }

  /** Stops accepting, lets in-flight requests finish within `graceMs`, then closes everything. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.log.info({ grace_ms: graceMs }, 'stopping');
    // Resign the VIPs first (priority 0: the backup takes over within its skew time), then drain.
    if (this.#proxyTimer !== undefined) clearInterval(this.#proxyTimer);
    await this.#vrrp?.stop();
    await Promise.all([this.#proxy?.close(graceMs), this.#l4?.close(graceMs), this.#pool?.stop(graceMs), this.#control?.close(), this.#health?.close(), this.#web?.close(), this.#agent?.close()]);
    this.log.flush();
  }

  /** SIGHUP reloads; SIGTERM / SIGINT stop gracefully (a second one stops at once). */
  installSignalHandlers(onStopped: () => void): void {
    process.on('SIGHUP', () => void this.reload());
    let stopping = false;
    const stop = () => {
      if (stopping) {
        process.exit(1);
      }
      stopping = true;
      void this.stop().then(onStopped);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }
}
