/**
 * The agent role (NRPE's job): on a node with `roles: [agent]` or named by a monitor
 * host's `run_on`, an HTTPS endpoint (src/agent/server.ts) that runs, by name, the
 * checks the cluster file assigns to this node's hosts — nothing else, and never with
 * arguments from the request. With `agent.push`, the node also runs them on its own
 * schedule and sends the results to the monitor. On the monitor node the same
 * endpoint takes those pushed results.
 *
 * The same listener serves the node API (src/app/peers.ts) on EVERY node whose
 * cluster file has `agent:` — directors without the agent role included, since the
 * dashboard and monitor on another host reach them only this way: `GET /v1/status`,
 * `POST /v1/backend`, `GET /v1/events?after=SEQ`, with the same token.
 */
import { resolve } from 'node:path';
import type { AgentConfig } from '../config/agent-schema.ts';
import type { ClusterConfig } from '../config/schema.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { AgentClient } from '../agent/client.ts';
import type { PushedResult } from '../agent/protocol.ts';
import { AgentServer, type NodeApi } from '../agent/server.ts';
import { loadAgentTls, loadAgentToken } from '../agent/tls.ts';
import type { PalisadeStatusProvider } from '../monitor/builtin/palisade.ts';
import type { CheckResult } from '../monitor/result.ts';
import { createCheck, type MonitorCheck } from '../monitor/run.ts';
import type { Daemon } from './daemon.ts';
import type { MonitorAgents, MonitorRuntime } from './monitor.ts';
import { selfView, statusProvider } from './palisade-status.ts';
import { webNodeOf } from './web-facade.ts';

/** Whether `node` runs an agent: the agent role, or hosts that run on it. */
export function runsAgent(config: ClusterConfig, node: string): boolean {
  if (config.agent === undefined) return false;
  if (config.nodes[node]?.roles.includes('agent') === true) return true;
  return Object.values(config.monitor?.hosts ?? {}).some((h) => h.run_on === node);
}

/** Whether some monitor host runs on an agent (the monitor then takes pushed results). */
export function hasAgentHosts(config: ClusterConfig): boolean {
  return config.agent !== undefined && Object.values(config.monitor?.hosts ?? {}).some((h) => h.run_on !== 'monitor');
}

function clientOf(a: AgentConfig, token: string, ca: string | undefined): AgentClient {
  return new AgentClient({ token, port: a.port, ca, maxBody: a.max_body });
}

/** How the monitor reaches the agents (undefined when no host runs on one). */
export async function monitorAgents(config: ClusterConfig, baseDir: string): Promise<MonitorAgents | undefined> {
  const a = config.agent;
  if (a === undefined || !hasAgentHosts(config)) return undefined;
  const token = await loadAgentToken(a, baseDir);
  const ca = a.tls?.ca === undefined ? undefined : (await loadAgentTls(a, baseDir, '', '')).ca;
  return { client: clientOf(a, token, ca), addresses: Object.fromEntries(Object.entries(config.nodes).map(([n, c]) => [n, c.address])), callTimeout: a.call_timeout };
}

interface AgentObject {
  key: string;
  host: string;
  service: string | undefined;
  check: MonitorCheck;
  interval: number;
  next: number;
  running: boolean;
}

export interface AgentRoleOptions {
  config: ClusterConfig;
  node: string;
  /** Directory of the cluster file (token_file and tls files are relative to it). */
  baseDir: string;
  log: Logger;
  /** The monitor runtime when this node is the monitor (it takes pushed results). */
  monitor: MonitorRuntime | undefined;
  /** The monitor's node (where pushes go). */
  monitorNode: string | undefined;
  palisade?: PalisadeStatusProvider;
  /** Listen port override (tests: 0). Default `agent.port`. */
  port?: number;
  /** The node API of this daemon; given, the listener runs on every node with `agent:`. */
  nodeApi?: NodeApi;
}

export class AgentRole {
  readonly server: AgentServer;
  readonly #objects = new Map<string, AgentObject>();
  readonly #log: Logger;
  #pushTimer: NodeJS.Timeout | undefined;
  #client: AgentClient | undefined;
  #pushFailing = false;

  private constructor(server: AgentServer, log: Logger) {
    this.server = server;
    this.#log = log;
  }

  /** Starts the role when this node runs an agent or is the monitor of agent hosts; undefined otherwise. */
  static async start(o: AgentRoleOptions): Promise<AgentRole | undefined> {
    const a = o.config.agent;
    const isAgent = runsAgent(o.config, o.node);
    const takesPushes = o.monitor !== undefined && hasAgentHosts(o.config);
    if (a === undefined || (!isAgent && !takesPushes && o.nodeApi === undefined)) return undefined;
    const address = o.config.nodes[o.node]?.address ?? '127.0.0.1';
    const [token, tls] = await Promise.all([loadAgentToken(a, o.baseDir), loadAgentTls(a, o.baseDir, o.node, address)]);
    const ref: { role?: AgentRole } = {};
    const server = new AgentServer({
      host: address,
      port: o.port ?? a.port,
      token,
      tls,
      log: o.log,
      maxBody: a.max_body,
      run: (host, service) => ref.role?.runNamed(host, service),
      ...(takesPushes && { receive: (node: string, results: PushedResult[]) => o.monitor!.pushed(node, results) }),
      ...(o.nodeApi !== undefined && { node: o.nodeApi }),
    });
    const role = new AgentRole(server, o.log);
    ref.role = role;
    for (const [hn, h] of Object.entries(o.config.monitor?.hosts ?? {})) {
      if (h.run_on !== o.node) continue;
      const deps = o.palisade === undefined ? {} : { palisade: o.palisade };
      if (h.check !== undefined) role.#objects.set(hn, { key: hn, host: hn, service: undefined, check: createCheck(h.check, deps), interval: h.check_interval, next: 0, running: false });
      for (const [sn, s] of Object.entries(h.services)) role.#objects.set(`${hn}/${sn}`, { key: `${hn}/${sn}`, host: hn, service: sn, check: createCheck(s.check, deps), interval: s.check_interval, next: 0, running: false });
    }
    await server.start();
    o.log.info({ port: server.port, address, checks: role.#objects.size, self_signed: tls.selfSigned, push: a.push, monitor: takesPushes, node_api: o.nodeApi !== undefined }, `agent listening on https://${address}:${server.port} (${role.#objects.size} check(s)${o.nodeApi !== undefined ? ', node API' : ''})`);
    if (tls.selfSigned) o.log.warn('agent: self-signed TLS certificate (not verified by peers); set agent.tls with your own certificates and ca beyond a lab');
    const monitorAddress = o.monitorNode === undefined ? undefined : o.config.nodes[o.monitorNode]?.address;
    if (a.push && isAgent && role.#objects.size > 0 && monitorAddress !== undefined) role.#startPush(clientOf(a, token, tls.ca), monitorAddress, o.node, a.call_timeout);
    return role;
  }

  /** Runs this node's check of `host` (and `service`); undefined when the cluster file gives it no such check. */
  runNamed(host: string, service: string | undefined): Promise<CheckResult> | undefined {
    const o = this.#objects.get(service === undefined ? host : `${host}/${service}`);
    return o?.check.run();
  }

  /** Push mode: each check at its `check_interval` (first runs spread over the first interval), results sent as they come. */
  #startPush(client: AgentClient, monitorAddress: string, node: string, timeout: number): void {
    this.#client = client;
    const now = Date.now();
    for (const o of this.#objects.values()) o.next = now + Math.random() * Math.min(o.interval, 5_000);
    const tick = () => {
      const t = Date.now();
      for (const o of this.#objects.values()) {
        if (o.running || o.next > t) continue;
        o.running = true;
        o.next = t + o.interval;
        void o.check
          .run()
          .then((result) => client.push(monitorAddress, node, [{ host: o.host, ...(o.service !== undefined && { service: o.service }), result }], timeout))
          .then(
            (r) => {
              if (this.#pushFailing) this.#log.info({ monitor: monitorAddress }, 'agent: pushing results to the monitor works again');
              this.#pushFailing = false;
              if (r.rejected.length > 0) this.#log.warn({ rejected: r.rejected }, 'agent: the monitor refused pushed results');
            },
            (err: unknown) => {
              if (!this.#pushFailing) this.#log.warn({ err: errorMessage(err), monitor: monitorAddress }, 'agent: cannot push results to the monitor (will keep trying)');
              this.#pushFailing = true;
            },
          )
          .finally(() => {
            o.running = false;
          });
      }
    };
    this.#pushTimer = setInterval(tick, 1_000);
    this.#pushTimer.unref();
    tick();
  }

  async close(): Promise<void> {
    if (this.#pushTimer !== undefined) clearInterval(this.#pushTimer);
    this.#client?.close();
    await this.server.close();
  }
}

/** The cluster file's directory, for the files `agent:` names. */
export function agentBaseDir(file: string): string {
  return resolve(file, '..');
}

/** The agent role of a running daemon (undefined when this node runs none). */
export function startAgentRole(daemon: Daemon, monitor: MonitorRuntime | undefined): Promise<AgentRole | undefined> {
  const config = daemon.config.config;
  return AgentRole.start({
    config,
    node: daemon.node.name,
    baseDir: agentBaseDir(daemon.file),
    log: daemon.log,
    monitor,
    monitorNode: webNodeOf(config),
    palisade: statusProvider(() => daemon.config.config, selfView(daemon.node.name, () => daemon.status())),
    nodeApi: {
      status: () => daemon.status(),
      backend: (body) => Promise.resolve(daemon.operateBackend(body)),
      events: (after) => daemon.events.since(after),
    },
  });
}
