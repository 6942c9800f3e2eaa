/**
 * Reaching the other nodes of the cluster from the dashboard and monitor node: their
 * status, operator actions on their backends, and their Palisade events.
 *
 * A peer is asked through its control socket when that socket exists on this host
 * (the demo: every node on one machine, one runtime directory), else through the node
 * API that every node whose cluster file has `agent:` serves on the agent's HTTPS
 * listener (`agent.port` at the node's `address`, the cluster token; src/agent/):
 * `GET /v1/status`, `POST /v1/backend`, `GET /v1/events?after=SEQ`.
 *
 * Events are polled (about every second, one request in flight per peer) with the
 * last sequence number seen per peer; `acceptPeerEvents` decides, in pure code, which
 * events of an answer are new — each (peer run, sequence number) is delivered once,
 * a peer that restarted (a new `boot`) is read again from its first event, and at
 * first contact only events from after this monitor started are delivered (older ones
 * are history, not alerts).
 */
import { AgentClient } from '../agent/client.ts';
import { parseEventsAnswer, type EventsAnswer } from '../agent/protocol.ts';
import { loadAgentTls, loadAgentToken } from '../agent/tls.ts';
import type { ClusterConfig } from '../config/schema.ts';
import { PalisadeError, errorMessage } from '../core/errors.ts';
import type { PalisadeEvent } from '../core/events.ts';
import type { Logger } from '../core/logger.ts';
import { controlRequest, controlSocketPath, defaultRuntimeDir } from './control.ts';
import type { DaemonStatus } from './daemon.ts';

/** Where the reader of one peer's events stands: the peer's run and the last sequence number taken. */
export interface PeerCursor {
  boot: string;
  seq: number;
}

export interface PeerEventsDecision {
  cursor: PeerCursor;
  /** New events, oldest first. */
  deliver: PalisadeEvent[];
  /** Events that rotated out of the peer's ring before we read them. */
  missed: number;
  /** The peer restarted: ask again at once from its first event. */
  again: boolean;
}

/**
 * Which events of a peer's answer are new (pure). `cursor` undefined = first contact
 * (asked from 0): only events at or after `startedAt` (this monitor's start, ms) are
 * delivered. A different `boot` = the peer restarted: nothing is delivered from this
 * answer (it was cut at the old run's number) and the cursor restarts at 0.
 */
export function acceptPeerEvents(cursor: PeerCursor | undefined, answer: EventsAnswer, startedAt: number): PeerEventsDecision {
  if (cursor === undefined) {
    return { cursor: { boot: answer.boot, seq: answer.last }, deliver: answer.events.filter((x) => x.event.time >= startedAt).map((x) => x.event), missed: 0, again: false };
  }
  if (answer.boot !== cursor.boot) return { cursor: { boot: answer.boot, seq: 0 }, deliver: [], missed: 0, again: true };
  const fresh = answer.events.filter((x) => x.seq > cursor.seq);
  const seq = Math.max(cursor.seq, fresh.at(-1)?.seq ?? 0);
  return { cursor: { boot: cursor.boot, seq }, deliver: fresh.map((x) => x.event), missed: answer.missed, again: false };
}

/** Whether a control request failed because no daemon listens on that socket on this host. */
function noSocketHere(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

function isDaemonStatus(v: unknown): v is DaemonStatus {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<Record<keyof DaemonStatus, unknown>>;
  return typeof s.node === 'string' && Array.isArray(s.services) && Array.isArray(s.vrrp);
}

/** HTTPS node API calls wait this long at most, ms (a TLS handshake on a busy host; the dashboard waits for it). */
export const PEER_HTTPS_TIMEOUT_MS = 2_000;

export interface PeerLinkOptions {
  config: () => ClusterConfig;
  /** Directory of the cluster file (agent token_file and TLS files are relative to it). */
  baseDir: string;
  log: Logger;
}

/** The ways to one peer: its control socket on this host, else the node API over HTTPS. */
export class PeerLink {
  readonly #o: PeerLinkOptions;
  #client: Promise<AgentClient | undefined> | undefined;

  constructor(o: PeerLinkOptions) {
    this.#o = o;
  }

  /** The HTTPS client (token and CA read once); undefined when the cluster file has no `agent:`. */
  #https(): Promise<AgentClient | undefined> {
    this.#client ??= (async () => {
      const a = this.#o.config().agent;
      if (a === undefined) return undefined;
      const token = await loadAgentToken(a, this.#o.baseDir);
      const ca = a.tls?.ca === undefined ? undefined : (await loadAgentTls(a, this.#o.baseDir, '', '')).ca;
      return new AgentClient({ token, port: a.port, ca, maxBody: a.max_body });
    })().catch((err: unknown) => {
      this.#client = undefined; // a token file fixed later is read on the next call
      throw err;
    });
    return this.#client;
  }

  #socket(node: string): string {
    const c = this.#o.config();
    return controlSocketPath(c.runtime_dir ?? defaultRuntimeDir(), c.cluster.name, node);
  }

  /** Runs `local` on the peer's control socket; when none is on this host, `remote` over HTTPS at the node's address. */
  async #either<T>(node: string, local: (socket: string) => Promise<T>, remote: (client: AgentClient, address: string) => Promise<T>): Promise<T> {
    try {
      return await local(this.#socket(node));
    } catch (err) {
      if (!noSocketHere(err)) throw err;
      const address = this.#o.config().nodes[node]?.address;
      const client = await this.#https();
      if (client === undefined || address === undefined) {
        throw new PalisadeError('PALISADE_CONTROL', 'internal', `node ${node} has no control socket on this host, and nodes on other hosts are reached through the agent's HTTPS, which needs an agent: section (docs/agent.md)`, { cause: err });
      }
      return await remote(client, address);
    }
  }

  /** The peer's DaemonStatus. */
  status(node: string, controlTimeoutMs: number): Promise<DaemonStatus> {
    return this.#either(
      node,
      async (socket) => {
        const st = ((await controlRequest(socket, { cmd: 'status' }, controlTimeoutMs)) as { status?: unknown }).status;
        if (!isDaemonStatus(st)) throw new Error('no status in the answer');
        return st;
      },
      async (client, address) => {
        const st = await client.status(address, PEER_HTTPS_TIMEOUT_MS);
        if (!isDaemonStatus(st)) throw new Error(`${client.url(address)}/v1/status: the answer is not a daemon status`);
        return st;
      },
    );
  }

  /** A backend action on the peer: `{ ok, message }` or `{ ok: false, error }`. */
  backend(node: string, req: { service: string; backend: string; action: string; weight?: number | undefined }, timeoutMs: number): Promise<{ ok: boolean; message?: string; error?: string }> {
    return this.#either(
      node,
      async (socket) => (await controlRequest(socket, { cmd: 'backend', ...req }, timeoutMs)) as { ok: boolean; message?: string; error?: string },
      (client, address) => client.backend(address, req, timeoutMs),
    );
  }

  /** The peer's events after `after`, validated. */
  events(node: string, after: number, controlTimeoutMs: number): Promise<EventsAnswer> {
    return this.#either(
      node,
      async (socket) => {
        const v = parseEventsAnswer(await controlRequest(socket, { cmd: 'events', after }, controlTimeoutMs));
        if (typeof v === 'string') throw new Error(`events from ${socket}: ${v}`);
        return v;
      },
      (client, address) => client.events(address, after, PEER_HTTPS_TIMEOUT_MS),
    );
  }

  close(): void {
    void this.#client?.then((c) => c?.close(), () => undefined);
    this.#client = undefined;
  }
}

/** Nodes whose events the monitor reads: directors and VRRP members, other than `self`. */
export function eventPeers(config: ClusterConfig, self: string): string[] {
  const vrrpMembers = new Set(Object.values(config.vrrp.instances).flatMap((i) => Object.keys(i.members)));
  return Object.entries(config.nodes)
    .filter(([name, n]) => name !== self && (n.roles.includes('director') || vrrpMembers.has(name)))
    .map(([name]) => name);
}

export interface PeerEventPollerOptions {
  link: PeerLink;
  /** The nodes to read (asked again on every round: a reload may change them). */
  peers: () => string[];
  /** This monitor's start, ms: at first contact, older events of a peer are not delivered. */
  startedAt: number;
  /** Time between rounds, ms. */
  intervalMs: number;
  deliver: (e: PalisadeEvent) => void;
  log: Logger;
}

/** Polls every peer's events and delivers each new one once. */
export class PeerEventPoller {
  readonly #o: PeerEventPollerOptions;
  readonly #cursors = new Map<string, PeerCursor>();
  readonly #busy = new Set<string>();
  /** Peers whose last poll failed (logged once per failure streak). */
  readonly #failing = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: PeerEventPollerOptions) {
    this.#o = o;
  }

  start(): void {
    this.#timer = setInterval(() => this.poll(), this.#o.intervalMs);
    this.#timer.unref();
    this.poll();
  }

  /** One round: every peer not already being asked. */
  poll(): void {
    for (const node of this.#o.peers()) {
      if (this.#busy.has(node)) continue;
      this.#busy.add(node);
      void this.#pollOne(node).finally(() => this.#busy.delete(node));
    }
  }

  async #pollOne(node: string): Promise<void> {
    for (let round = 0; round < 2 && !this.#closed; round++) {
      const cursor = this.#cursors.get(node);
      let answer: EventsAnswer;
      try {
        answer = await this.#o.link.events(node, cursor?.seq ?? 0, 1_000);
      } catch (err) {
        if (!this.#failing.has(node)) this.#o.log.info({ peer: node, err: errorMessage(err) }, `monitor: cannot read node ${node}'s events (will keep trying): ${errorMessage(err)}`);
        this.#failing.add(node);
        return;
      }
      if (this.#closed) return;
      if (this.#failing.delete(node)) this.#o.log.info({ peer: node }, `monitor: reading node ${node}'s events again`);
      const d = acceptPeerEvents(cursor, answer, this.#o.startedAt);
      this.#cursors.set(node, d.cursor);
      if (d.missed > 0) this.#o.log.warn({ peer: node, missed: d.missed }, `monitor: ${d.missed} event(s) of node ${node} rotated out before they were read`);
      if (d.again) this.#o.log.info({ peer: node, boot: d.cursor.boot }, `monitor: node ${node} restarted; reading its events from the start`);
      for (const e of d.deliver) {
        try {
          this.#o.deliver(e);
        } catch (err) {
          this.#o.log.error({ peer: node, err: errorMessage(err) }, 'monitor: a peer event could not be handled');
        }
      }
      if (!d.again) return;
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
