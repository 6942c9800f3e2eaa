/**
 * The web role: the dashboard and admin API of src/web, served by one node of the
 * cluster (`web.node`, default the first node declared), over the facade below.
 *
 * The facade reads the running daemon (its status and event bus), the other nodes
 * (src/app/peers.ts: through their control sockets when they run on this host, as in
 * the demo, else through the node API on the agent's HTTPS listener), and the
 * monitor runtime (src/app/monitor.ts) that runs on the same node. The other
 * directors' Palisade events are polled and join the timeline and the monitor's
 * notifications like this daemon's own. Every action is
 * recorded in the audit log (who, what, when) and shown in the timeline.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { ClusterConfig } from '../config/schema.ts';
import { usersFileSchema, type WebConfig, type WebUserConfig } from '../config/web-schema.ts';
import { errorMessage } from '../core/errors.ts';
import type { PalisadeEvent } from '../core/events.ts';
import type { AuditEntry } from '../store/history.ts';
import type { MonitorEvent } from '../monitor/state/types.ts';
import { refKey } from '../monitor/state/types.ts';
import type { ActionResult, BackendAction, CheckView, ClusterSnapshot, DowntimeOrder, DowntimeView, NodeView, Series, TimelineEntry, ViewName, VrrpView, WebFacade } from '../web/facade.ts';
import { WebServer } from '../web/server.ts';
import { defaultRuntimeDir } from './control.ts';
import type { Daemon, DaemonStatus } from './daemon.ts';
import { eventPeers, PeerEventPoller, PeerLink } from './peers.ts';
import { MonitorRuntime } from './monitor.ts';
import { metricsText } from './metrics.ts';
import { createMonitorRuntime, deliveryEntry } from './monitor-role.ts';

// The views `palisade status`, `ack` and `downtime` (src/cli) print: the front ends
// reach the web layer through app, not web's insides (DESIGN).
export type { CheckView, DowntimeView } from '../web/facade.ts';

const TIMELINE_KEEP = 500;
const PEER_TIMEOUT_MS = 700;
/** Peer statuses are reused this long, ms (several pages, one request). */
const PEER_CACHE_MS = 400;
/** Traffic samples (requests per second per backend) go to the history store this often, ms. */
const TRAFFIC_EVERY_MS = 10_000;
/** Other directors' events are asked for this often, ms. */
const PEER_EVENTS_EVERY_MS = 1_000;

const SEVERITY: Record<string, TimelineEntry['severity']> = { CRITICAL: 'critical', DOWN: 'critical', UNREACHABLE: 'critical', WARNING: 'warning', UNKNOWN: 'warning' };
const ORDER: Record<string, number> = { CRITICAL: 0, DOWN: 0, UNREACHABLE: 1, WARNING: 2, UNKNOWN: 3 };

/** The node that serves the dashboard: `web.node`, or the first node declared (or `local`). */
export function webNodeOf(config: ClusterConfig): string | undefined {
  if (config.web === undefined) return undefined;
  return config.web.node ?? Object.keys(config.nodes)[0] ?? 'local';
}

export function monitorEventEntry(e: MonitorEvent): TimelineEntry {
  const subject = refKey(e.ref);
  switch (e.kind) {
    case 'STATE':
      return { time: e.time, kind: 'check_state', subject, state: e.state, severity: SEVERITY[e.state] ?? 'info', message: `${subject} ${e.state} (${e.stateType} ${e.attempt}): ${e.output}` };
    case 'NOTIFICATION':
      return { time: e.time, kind: 'notification', subject, state: e.type, severity: SEVERITY[e.state] ?? 'info', message: `notification ${e.type} for ${subject} (${e.state}) due to ${e.contacts.join(', ') || 'no contact'}` };
    case 'ACKNOWLEDGEMENT':
    case 'ACKREMOVED':
      return { time: e.time, kind: 'ack', subject, state: e.kind, severity: 'info', message: e.kind === 'ACKNOWLEDGEMENT' ? `${subject} acknowledged by ${e.author}: ${e.comment}` : `acknowledgement of ${subject} removed` };
    case 'FLAPPINGSTART':
    case 'FLAPPINGSTOP':
      return { time: e.time, kind: 'flapping', subject, state: e.kind, severity: e.kind === 'FLAPPINGSTART' ? 'warning' : 'info', message: `${subject} ${e.kind === 'FLAPPINGSTART' ? 'started' : 'stopped'} flapping (${e.percent.toFixed(1)}% state change)` };
    default:
      return { time: e.time, kind: 'downtime', subject, state: e.kind, severity: 'info', message: `${subject}: ${e.kind.toLowerCase().replace('downtime', 'downtime ')} (#${e.downtime})` };
  }
}

function paliEntry(e: PalisadeEvent): TimelineEntry {
  return { time: e.time, kind: e.kind, subject: e.subject, state: e.state, severity: e.severity, message: e.node === '' ? e.message : `${e.node}: ${e.message}` };
}

function auditEntry(a: AuditEntry): TimelineEntry {
  const detail = a.detail === undefined || a.detail === null ? '' : ` ${JSON.stringify(a.detail)}`;
  return { time: a.time, kind: 'audit', subject: a.object, state: a.action, severity: 'info', actor: a.actor, message: `${a.action} ${a.object}${detail}` };
}

export class DaemonWebFacade implements WebFacade {
  readonly #daemon: Daemon;
  readonly monitor: MonitorRuntime | undefined;
  readonly #timeline: TimelineEntry[] = [];
  readonly #listeners = new Set<(e: TimelineEntry) => void>();
  readonly #peers = new Map<string, { at: number; view: Promise<NodeView> }>();
  #fileUsers: Record<string, WebUserConfig> = {};
  readonly #unsub: Array<() => void> = [];
  #traffic: NodeJS.Timeout | undefined;
  readonly #lastTraffic = new Map<string, { t: number; n: number }>();
  /** How other nodes are reached (control socket here, else HTTPS node API). */
  readonly peers: PeerLink;

  constructor(daemon: Daemon, monitor: MonitorRuntime | undefined) {
    this.#daemon = daemon;
    this.monitor = monitor;
    this.peers = new PeerLink({ config: () => daemon.config.config, baseDir: resolve(daemon.file, '..'), log: daemon.log });
    for (const e of daemon.events.recent(100)) this.#push(paliEntry(e), false);
    this.#unsub.push(daemon.events.on((e) => this.#push(paliEntry(e))));
    if (monitor !== undefined) {
      this.#unsub.push(monitor.onEvent((e) => this.#push(monitorEventEntry(e))));
      this.#unsub.push(monitor.onDelivery((d) => this.#push(deliveryEntry(d))));
      this.#traffic = setInterval(() => void this.#recordTraffic(), TRAFFIC_EVERY_MS);
      this.#traffic.unref();
    }
  }

  /** A Palisade event of another node (PeerEventPoller): in the timeline like this daemon's own. */
  peerEvent(e: PalisadeEvent): void {
    this.#push(paliEntry(e));
  }

  #push(e: TimelineEntry, notify = true): void {
    this.#timeline.push(e);
    if (this.#timeline.length > TIMELINE_KEEP) this.#timeline.splice(0, this.#timeline.length - TIMELINE_KEEP);
    if (notify) for (const l of this.#listeners) l(e);
  }

  get #config(): ClusterConfig {
    return this.#daemon.config.config;
  }

  webConfig(): WebConfig {
    return this.#config.web!;
  }

  /** Re-reads the users file (at start and after a reload); a broken file keeps the previous users and is logged. */
  async loadUsersFile(): Promise<void> {
    const f = this.#config.web?.users_file;
    if (f === undefined) {
      this.#fileUsers = {};
      return;
    }
    const path = resolve(this.#daemon.file, '..', f);
    try {
      const parsed = usersFileSchema.safeParse(parseYaml(await readFile(path, 'utf8')) ?? {});
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; '));
      this.#fileUsers = parsed.data;
    } catch (err) {
      this.#daemon.log.error({ file: path, err: errorMessage(err) }, `web: users file ${path} not loaded: ${errorMessage(err)}`);
    }
  }

  users(): Promise<Record<string, WebUserConfig>> {
    return Promise.resolve({ ...this.#fileUsers, ...this.#config.web?.users });
  }

  #peer(name: string, address: string, roles: string[]): Promise<NodeView> {
    const now = Date.now();
    const cached = this.#peers.get(name);
    if (cached !== undefined && now - cached.at < PEER_CACHE_MS) return cached.view;
    const view = this.peers.status(name, PEER_TIMEOUT_MS).then(
      (st): NodeView => ({ name, address, roles, self: false, reachable: true, status: st }),
      (err: unknown) => ({ name, address, roles, self: false, reachable: false, error: errorMessage(err) }),
    );
    this.#peers.set(name, { at: now, view });
    return view;
  }

  async snapshot(): Promise<ClusterSnapshot> {
    const c = this.#config;
    const self = this.#daemon.node.name;
    const declared = Object.entries(c.nodes);
    const nodes = await Promise.all(
      (declared.length === 0 ? [[self, { address: '127.0.0.1', roles: ['director'] }] as const] : declared).map(async ([name, n]): Promise<NodeView> => {
        const roles = [...n.roles, ...(name === webNodeOf(c) ? ['monitor', 'web'] : [])];
        if (name !== self) return this.#peer(name, n.address, roles);
        return { name, address: n.address, roles, self: true, reachable: true, status: await this.#daemon.status() };
      }),
    );
    const vrrp: VrrpView[] = Object.entries(c.vrrp.instances).map(([instance, inst]) => {
      const members = Object.entries(inst.members).map(([node, m]) => {
        const nv = nodes.find((x) => x.name === node);
        const st = nv?.status?.vrrp.find((v) => v.instance === instance);
        return { node, state: st?.state ?? (nv?.reachable === true ? 'STOPPED' : 'UNKNOWN'), priority: m.priority, effectivePriority: st?.effectivePriority ?? m.priority, reachable: nv?.reachable === true };
      });
      const holders = members.filter((m) => m.state === 'MASTER').map((m) => m.node);
      const reported = nodes.some((n) => n.status?.vrrp.some((v) => v.instance === instance && v.splitBrains > 0 && v.state === 'MASTER'));
      return { instance, vrid: inst.vrid, holders, splitBrain: holders.length > 1 || (reported && holders.length > 1), members };
    });
    const checkTotals: Record<string, number> = {};
    for (const s of this.monitor?.snapshot() ?? []) checkTotals[s.state] = (checkTotals[s.state] ?? 0) + 1;
    return { cluster: c.cluster.name, node: self, time: Date.now(), nodes, vrrp, checkTotals };
  }

  checks(): CheckView[] {
    const m = this.monitor;
    if (m === undefined) return [];
    const downtimes = new Map<string, DowntimeView[]>();
    for (const d of this.downtimes()) {
      const list = downtimes.get(d.object);
      if (list === undefined) downtimes.set(d.object, [d]);
      else list.push(d);
    }
    const out: CheckView[] = m.snapshot().map((s) => {
      const object = refKey(s.ref);
      return {
        object,
        host: s.ref.host,
        ...(s.ref.service !== undefined && { service: s.ref.service }),
        kind: m.kind(object),
        state: s.lastCheck === 0 ? 'PENDING' : s.state,
        stateType: s.stateType,
        attempt: s.attempt,
        maxAttempts: m.maxAttempts(object),
        output: s.output,
        lastCheck: s.lastCheck,
        lastStateChange: s.lastStateChange,
        flapping: s.isFlapping,
        ...(s.ack !== undefined && { ack: { author: s.ack.author, comment: s.ack.comment, time: s.ack.time, sticky: s.ack.sticky } }),
        inDowntime: s.inDowntime,
        downtimes: downtimes.get(object) ?? [],
      };
    });
    return out.toSorted((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || a.lastStateChange - b.lastStateChange || (a.object < b.object ? -1 : 1));
  }

  timeline(limit = 200): TimelineEntry[] {
    return this.#timeline.slice(-limit);
  }

  onTimeline(listener: (e: TimelineEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  audit(actor: string, action: string, object: string, detail?: unknown): void {
    const a: AuditEntry = { time: Date.now(), actor, action, object, detail };
    this.monitor?.store.audit(a);
    this.#daemon.log.info({ audit: true, actor, action, object, detail }, `audit: ${actor} ${action} ${object}`);
    this.#push(auditEntry(a));
  }

  async operateBackend(actor: string, service: string, backend: string, action: BackendAction, weight?: number): Promise<ActionResult> {
    const snap = await this.snapshot();
    const on = snap.nodes.filter((n) => n.status?.services.some((s) => s.name === service));
    if (on.length === 0) return { ok: false, status: 404, message: `no director runs service ${JSON.stringify(service)}` };
    const results = await Promise.all(
      on.map(async (n) => {
        try {
          const req = { service, backend, action, weight };
          const r = n.self ? this.#daemon.operateBackend(req) : await this.peers.backend(n.name, req, 5_000);
          return { node: n.name, ok: r.ok, message: r.ok ? (r.message ?? 'done') : (r.error ?? 'refused') };
        } catch (err) {
          return { node: n.name, ok: false, message: errorMessage(err) };
        }
      }),
    );
    const ok = results.some((r) => r.ok);
    const message = results.map((r) => `${r.node}: ${r.message}`).join('; ');
    this.audit(actor, `backend ${action}${action === 'weight' ? ` ${weight}` : ''}`, `${service}/${backend}`, { result: message });
    return ok ? { ok, message } : { ok, message, status: /no backend|no service/.test(message) ? 404 : 400 };
  }

  #object(object: string): ActionResult | undefined {
    if (this.monitor === undefined) return { ok: false, status: 404, message: 'this cluster has no monitor: section' };
    if (!this.monitor.has(object)) return { ok: false, status: 404, message: `no host or service ${JSON.stringify(object)}` };
    return undefined;
  }

  acknowledge(actor: string, object: string, comment: string, sticky: boolean): ActionResult {
    const bad = this.#object(object);
    if (bad !== undefined) return bad;
    try {
      this.monitor!.acknowledge(object, { author: actor, comment, sticky });
    } catch (err) {
      return { ok: false, status: 409, message: errorMessage(err) };
    }
    this.audit(actor, 'acknowledge', object, { comment, sticky });
    return { ok: true, message: `${object} acknowledged` };
  }

  removeAcknowledgement(actor: string, object: string): ActionResult {
    const bad = this.#object(object);
    if (bad !== undefined) return bad;
    if (!this.monitor!.removeAcknowledgement(object)) return { ok: false, status: 409, message: `${object} is not acknowledged` };
    this.audit(actor, 'remove acknowledgement', object);
    return { ok: true, message: `acknowledgement of ${object} removed` };
  }

  scheduleDowntime(actor: string, object: string, order: DowntimeOrder): ActionResult {
    const bad = this.#object(object);
    if (bad !== undefined) return bad;
    const now = Date.now();
    const minutes = Math.round(order.durationMs / 60_000);
    const flexible = order.flexibleWithinMs;
    let id: number;
    try {
      id = flexible === undefined ? this.monitor!.scheduleDowntime(object, now, now + order.durationMs, actor, order.comment) : this.monitor!.scheduleDowntime(object, now, now + flexible, actor, order.comment, order.durationMs);
    } catch (err) {
      return { ok: false, status: 400, message: errorMessage(err) };
    }
    const running = this.monitor!.engine.downtimes().find((d) => d.id === id)?.startedAt !== undefined;
    if (flexible === undefined) {
      this.audit(actor, 'downtime', object, { id, minutes, comment: order.comment });
      return { ok: true, message: `${object} in downtime for ${minutes} min (#${id})` };
    }
    const within = Math.round(flexible / 60_000);
    this.audit(actor, 'flexible downtime', object, { id, minutes, within_minutes: within, comment: order.comment, started: running });
    return { ok: true, message: `flexible downtime #${id} for ${object}: ${minutes} min from its first problem within ${within} min${running ? ' (a problem now: started)' : ''}` };
  }

  cancelDowntime(actor: string, id: number): ActionResult {
    if (this.monitor === undefined) return { ok: false, status: 404, message: 'this cluster has no monitor: section' };
    const d = this.monitor.engine.downtimes().find((x) => x.id === id);
    if (d === undefined || !this.monitor.cancelDowntime(id)) return { ok: false, status: 404, message: `no downtime #${id}` };
    const object = refKey(d.ref);
    this.audit(actor, 'cancel downtime', object, { id, was: d.startedAt === undefined ? 'pending' : 'running' });
    return { ok: true, message: `downtime #${id} of ${object} cancelled` };
  }

  downtimes(): DowntimeView[] {
    return (this.monitor?.engine.downtimes() ?? []).map((d) => ({
      id: d.id,
      object: refKey(d.ref),
      start: d.start,
      end: d.end,
      fixed: d.fixed,
      ...(d.duration !== undefined && { duration: d.duration }),
      ...(d.startedAt !== undefined && { startedAt: d.startedAt }),
      author: d.author,
      comment: d.comment,
    }));
  }

  async recheck(actor: string, object: string): Promise<ActionResult> {
    const bad = this.#object(object);
    if (bad !== undefined) return bad;
    this.audit(actor, 'recheck', object);
    await this.monitor!.recheck(object);
    const st = this.monitor!.engine.status(MonitorRuntime.refOf(object));
    return { ok: true, message: `${object}: ${st.state}: ${st.output}` };
  }

  async metrics(object: string): Promise<string[]> {
    return (await this.monitor?.store.labels(object)) ?? [];
  }

  async series(object: string, label: string, view: ViewName): Promise<Series | undefined> {
    return this.monitor?.store.view(object, label, view);
  }

  /** `/metrics`: check states, perfdata, traffic and VRRP of every node seen (app/metrics.ts). */
  async prometheus(): Promise<string> {
    return metricsText(this.monitor, await this.snapshot());
  }

  /** Requests per second per backend of this node's services, as perfdata of `traffic/SERVICE` (graphs). */
  async #recordTraffic(): Promise<void> {
    const m = this.monitor;
    if (m === undefined) return;
    const now = Date.now();
    let st: DaemonStatus;
    try {
      st = await this.#daemon.status();
    } catch {
      return;
    }
    for (const s of st.services) {
      const perfdata = [];
      for (const b of s.backends) {
        const key = `${s.name}\0${b.id}`;
        const prev = this.#lastTraffic.get(key);
        this.#lastTraffic.set(key, { t: now, n: b.requests });
        if (prev === undefined || now <= prev.t) continue;
        perfdata.push({ label: `${b.name} req/s`, value: (Math.max(0, b.requests - prev.n) * 1000) / (now - prev.t), uom: '' });
      }
      if (perfdata.length > 0) m.store.record(`traffic/${s.name}`, { state: 'OK', code: 0, summary: 'traffic', longOutput: '', perfdata, startedAt: now, durationMs: 0 });
    }
  }

  /** Runs `stop` when the facade closes. */
  own(stop: () => void): void {
    this.#unsub.push(stop);
  }

  close(): void {
    for (const u of this.#unsub) u();
    if (this.#traffic !== undefined) clearInterval(this.#traffic);
    this.#listeners.clear();
    this.peers.close();
  }
}

/** The web role of one daemon: facade + monitor runtime + server. */
export class WebRole {
  readonly facade: DaemonWebFacade;
  readonly server: WebServer;
  readonly monitor: MonitorRuntime | undefined;

  private constructor(facade: DaemonWebFacade, server: WebServer, monitor: MonitorRuntime | undefined) {
    this.facade = facade;
    this.server = server;
    this.monitor = monitor;
  }

  /** Starts the role when this node serves the dashboard; undefined otherwise. Throws (nothing left running) if it cannot listen. */
  static async start(daemon: Daemon): Promise<WebRole | undefined> {
    const config = daemon.config.config;
    if (config.web === undefined || webNodeOf(config) !== daemon.node.name) return undefined;
    const runtimeDir = config.runtime_dir ?? defaultRuntimeDir();
    const view: { facade?: DaemonWebFacade } = {};
    const monitor = config.monitor === undefined ? undefined : await createMonitorRuntime(daemon, config.monitor, runtimeDir, () => view.facade?.snapshot() ?? Promise.resolve({ nodes: [] }));
    const facade = new DaemonWebFacade(daemon, monitor);
    view.facade = facade;
    await facade.loadUsersFile();
    const server = new WebServer({ facade, log: daemon.log, baseDir: resolve(daemon.file, '..') });
    try {
      await server.start();
    } catch (err) {
      facade.close();
      await monitor?.close();
      throw new Error(`the dashboard cannot listen on ${config.web.listen.host}:${config.web.listen.port}: ${errorMessage(err)}`, { cause: err });
    }
    monitor?.start();
    // Other directors' events (VRRP, backends, quorum): timeline and notifications, like this daemon's own.
    const poller = new PeerEventPoller({
      link: facade.peers,
      peers: () => eventPeers(daemon.config.config, daemon.node.name),
      startedAt: Date.now(),
      intervalMs: PEER_EVENTS_EVERY_MS,
      log: daemon.log,
      deliver: (e) => {
        facade.peerEvent(e);
        monitor?.palisadeEvent(e);
      },
    });
    poller.start();
    facade.own(() => poller.close());
    const users = Object.keys(await facade.users()).length;
    daemon.log.info({ url: server.url, users, tokens: config.web.tokens.length, monitor: monitor !== undefined }, `dashboard on ${server.url}`);
    if (users === 0 && config.web.tokens.length === 0) daemon.log.warn('web: no users and no tokens: nobody can log in (see `palisade passwd`)');
    return new WebRole(facade, server, monitor);
  }

  /** After a reload: users (and the users file), session settings. The listen address and monitor checks change at restart. */
  async reloaded(): Promise<void> {
    await this.facade.loadUsersFile();
    this.server.reconfigured();
  }

  /** Control-socket commands of this role (`palisade ack`, `palisade downtime`, check summary); undefined = not ours. */
  async control(req: { cmd: string } & Record<string, unknown>): Promise<unknown> {
    const actor = typeof req.actor === 'string' && req.actor !== '' ? `cli:${req.actor}` : 'cli';
    switch (req.cmd) {
      case 'checks':
        return { ok: true, checks: this.facade.checks() };
      case 'ack': {
        const r = this.facade.acknowledge(actor, String(req.object ?? ''), String(req.comment ?? ''), req.sticky === true);
        return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message };
      }
      case 'unack': {
        const r = this.facade.removeAcknowledgement(actor, String(req.object ?? ''));
        return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message };
      }
      case 'downtime': {
        const minutes = Number(req.minutes);
        if (!(minutes > 0)) return { ok: false, error: 'expected minutes > 0' };
        const within = req.within === undefined ? undefined : Number(req.within);
        if (within !== undefined && !(within > 0)) return { ok: false, error: 'expected within > 0 (minutes)' };
        const r = this.facade.scheduleDowntime(actor, String(req.object ?? ''), { durationMs: minutes * 60_000, comment: String(req.comment ?? ''), ...(within !== undefined && { flexibleWithinMs: within * 60_000 }) });
        return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message };
      }
      case 'downtimes':
        return { ok: true, downtimes: this.facade.downtimes() };
      case 'cancel-downtime': {
        const r = this.facade.cancelDowntime(actor, Number(req.id));
        return r.ok ? { ok: true, message: r.message } : { ok: false, error: r.message };
      }
      default:
        return undefined;
    }
  }

  async close(): Promise<void> {
    await this.server.close();
    this.facade.close();
    await this.monitor?.close();
  }
}
