/**
 * Wiring health checking to the proxy: the monitor runs in the daemon's primary
 * process, and every state change it decides is pushed to the proxy (in-process, or
 * to every worker): a health flip becomes a scheduler `down(backend)` call. Passive
 * outcomes come back the other way. Operator drain / maint / weight live here too,
 * so that they survive a reload.
 */
import type { EventSink } from '../core/events.ts';
import type { AnyServiceConfig, ClusterConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import { HealthMonitor, serviceHealthSpec, type AdminState, type HealthSnapshot, type ServiceHealthSpec } from '../health/index.ts';
import type { BackendState, Outcome } from '../proxy/http/service.ts';

/** Where health decisions go: the in-process proxy, or a broadcast to the workers. */
export interface HealthSink {
  setBackendState(service: string, backend: string, state: BackendState): void;
  setBackendWeight(service: string, backend: string, weight: number): void;
  setPanic(service: string, panic: boolean): void;
  setQuorum(service: string, up: boolean): void;
}

/** A state push, as sent to a worker that starts after the monitor decided it. */
export type HealthPush =
  | { op: 'state'; service: string; backend: string; state: BackendState }
  | { op: 'weight'; service: string; backend: string; weight: number }
  | { op: 'panic'; service: string; panic: boolean }
  | { op: 'quorum'; service: string; up: boolean };

export function applyPush(sink: HealthSink, p: HealthPush): void {
  switch (p.op) {
    case 'state':
      sink.setBackendState(p.service, p.backend, p.state);
      return;
    case 'weight':
      sink.setBackendWeight(p.service, p.backend, p.weight);
      return;
    case 'panic':
      sink.setPanic(p.service, p.panic);
      return;
    case 'quorum':
      sink.setQuorum(p.service, p.up);
      return;
  }
}

export type OperatorAction = 'drain' | 'maint' | 'enable' | 'weight';

export class HealthBridge {
  readonly monitor: HealthMonitor;
  readonly #log: Logger;
  #sink: HealthSink;
  /** Operator weights by `service\0backend id`, applied over the configured ones. */
  readonly #weights = new Map<string, number>();
  readonly #quorumLost = new Set<string>();
  readonly #quorumSeen = new Set<string>();
  #config: ClusterConfig | undefined;
  #services: string[] = [];

  /** @param events where backend flips and quorum changes go as Palisade events (alerting, dashboard) */
  constructor(log: Logger, sink: HealthSink, events?: EventSink) {
    this.#log = log;
    this.#sink = sink;
    this.monitor = new HealthMonitor({
      logger: log,
      onFlip: (e) => {
        this.#sink.setBackendState(e.service, e.backend, e.to);
        events?.emit({
          kind: 'backend_state',
          subject: `service/${e.service}/${e.backend}`,
          state: e.to.toUpperCase(),
          severity: e.to === 'down' ? 'critical' : e.to === 'up' ? 'info' : 'warning',
          message: `backend ${e.backend} of ${e.service}: ${e.from} -> ${e.to} (${e.reason})`,
          fields: { service: e.service, backend: e.backend, from: e.from, to: e.to, source: e.source, reason: e.reason },
        });
      },
      onWeight: (e) => this.#sink.setBackendWeight(e.service, e.backend, e.weight),
      // The monitor logs panic changes itself.
      onPanic: (e) => this.#sink.setPanic(e.service, e.panic),
      onQuorum: (e) => {
        const first = !this.#quorumSeen.has(e.service);
        this.#quorumSeen.add(e.service);
        if (e.up) this.#quorumLost.delete(e.service);
        else this.#quorumLost.add(e.service);
        // A service that starts with its quorum is not news.
        if (first && e.up) return;
        const svc = this.#config?.services[e.service];
        const to = svc?.sorry_server !== undefined ? `the sorry server ${svc.sorry_server}` : 'the error page (503)';
        const message = e.up ? `service ${e.service} quorum up (${e.sum} >= ${e.quorum}): traffic back to its backends` : `service ${e.service} quorum down (${e.sum} < ${e.quorum}): traffic to ${to}`;
        if (e.up) this.#log.info({ service: e.service, sum: e.sum, quorum: e.quorum }, message);
        else this.#log.error({ service: e.service, sum: e.sum, quorum: e.quorum }, message);
        events?.emit({ kind: 'quorum', subject: `service/${e.service}`, state: e.up ? 'QUORUM_UP' : 'QUORUM_LOST', severity: e.up ? 'info' : 'critical', message, fields: { service: e.service, sum: e.sum, quorum: e.quorum } });
        this.#sink.setQuorum(e.service, e.up);
      },
    });
  }

  /** Replaces the sink (the workers are ready), without losing anything decided. */
  set sink(s: HealthSink) {
    this.#sink = s;
  }

  #spec(name: string, svc: AnyServiceConfig): ServiceHealthSpec {
    const spec = serviceHealthSpec(name, svc);
    // nginx counts a status as a failed attempt when proxy_next_upstream lists it.
    const retryStatuses = (svc.protocol === 'http' ? svc.retry.on : []).filter((k) => k.startsWith('http_')).map((k) => Number(k.slice(5)));
    const passive = { ...svc.passive, fail_status: [...new Set([...svc.passive.fail_status, ...retryStatuses])] };
    const targets = spec.targets.map((t) => {
      const w = this.#weights.get(`${name}\0${t.backend}`);
      return w === undefined ? t : { ...t, weight: w };
    });
    return { ...spec, targets, passive };
  }

  /** Starts or updates the checks for a (re)loaded config; unchanged checks keep their state. */
  update(config: ClusterConfig, services: string[]): void {
    this.#config = config;
    this.#services = services;
    const specs = services.map((n) => this.#spec(n, config.services[n]!));
    for (const key of this.#weights.keys()) {
      const [svc, id] = key.split('\0') as [string, string];
      if (!config.services[svc]?.backends.some((b) => b.id === id)) this.#weights.delete(key);
    }
    const r = this.monitor.update(specs);
    for (const a of r.added) if (a.state !== 'up') this.#sink.setBackendState(a.service, a.backend, a.state);
  }

  /** A passive outcome from live traffic. */
  report(service: string, backend: string, outcome: Outcome): void {
    this.monitor.report(service, backend, outcome);
  }

  /** Resolves a backend given by id (`host:port`) or by name. */
  resolve(service: string, backend: string): string | undefined {
    const svc = this.#config?.services[service];
    if (svc === undefined) return undefined;
    return svc.backends.find((b) => b.id === backend || b.name === backend)?.id;
  }

  /** Operator action; returns what happened, for the CLI. */
  operate(service: string, backend: string, action: OperatorAction, weight?: number): { ok: boolean; message: string } {
    if (this.#config?.services[service] === undefined || !this.#services.includes(service)) return { ok: false, message: `no service ${JSON.stringify(service)} on this node` };
    const id = this.resolve(service, backend);
    if (id === undefined) return { ok: false, message: `service ${service} has no backend ${JSON.stringify(backend)}` };
    if (action === 'weight') {
      if (weight === undefined || !Number.isInteger(weight) || weight < 0 || weight > 1000) return { ok: false, message: 'expected a weight from 0 to 1000' };
      this.#weights.set(`${service}\0${id}`, weight);
      this.update(this.#config!, this.#services);
      this.#log.info({ service, backend: id, weight, operator: true }, `operator set the weight of ${id} to ${weight}`);
      return { ok: true, message: `${service} ${id}: weight ${weight}` };
    }
    const admin: AdminState = action === 'enable' ? 'up' : action;
    this.monitor.setAdmin(id, admin, service);
    this.#log.info({ service, backend: id, admin, operator: true }, `operator set ${id} to ${admin}`);
    return { ok: true, message: `${service} ${id}: ${this.monitor.state(service, id) ?? admin}` };
  }

  /** Everything a newly started worker must be told to match the others. */
  pushes(): HealthPush[] {
    const out: HealthPush[] = [];
    const snap = this.monitor.snapshot();
    for (const s of snap.services) {
      if (s.panic) out.push({ op: 'panic', service: s.service, panic: true });
      if (this.#quorumLost.has(s.service)) out.push({ op: 'quorum', service: s.service, up: false });
      for (const b of s.backends) {
        if (b.weight !== b.configuredWeight) out.push({ op: 'weight', service: s.service, backend: b.backend, weight: b.weight });
        if (b.state !== 'up') out.push({ op: 'state', service: s.service, backend: b.backend, state: b.state });
      }
    }
    return out;
  }

  snapshot(): HealthSnapshot {
    return this.monitor.snapshot();
  }

  close(): Promise<void> {
    return this.monitor.close();
  }
}

/** A one-line reason for a backend's health, for status output. */
export function healthReason(b: HealthSnapshot['services'][number]['backends'][number]): string {
  if (b.admin !== undefined) return `operator ${b.admin}`;
  if (b.agent !== undefined) return `agent ${b.agent}`;
  if (b.ejected !== undefined) return `ejected: ${b.ejected.reason}`;
  if (b.last !== undefined) return b.last.detail !== undefined && !b.last.ok ? `${b.last.status} (${b.last.detail})` : b.last.status;
  return '';
}
