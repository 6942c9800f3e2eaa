/**
 * What the web layer needs from the application, and nothing more. `app`
 * implements it over the running daemon (src/app/web-facade.ts); tests and the
 * page-load benchmark implement it over made-up state. The dashboard, the JSON API
 * and the SSE stream all render these same objects (STYLE rule 11).
 */
import type { DaemonStatus } from '../app/daemon.ts';
import type { WebConfig, WebUserConfig } from '../config/web-schema.ts';
import type { Series, ViewName } from '../core/series.ts';

export type { Series, ViewName };

/** One node of the cluster file, as this node sees it. */
export interface NodeView {
  name: string;
  address: string;
  roles: string[];
  /** The node serving this dashboard. */
  self: boolean;
  /** Its status answered (the local daemon, or a peer's control socket on this host). */
  reachable: boolean;
  /** Why it is not reachable. */
  error?: string;
  status?: DaemonStatus;
}

/** A VRRP instance across the nodes that answered. */
export interface VrrpView {
  instance: string;
  vrid: number;
  /** Nodes in MASTER state; more than one is a split brain. */
  holders: string[];
  splitBrain: boolean;
  members: { node: string; state: string; priority: number; effectivePriority: number; reachable: boolean }[];
}

export interface ClusterSnapshot {
  cluster: string;
  /** The node serving the dashboard. */
  node: string;
  time: number;
  nodes: NodeView[];
  vrrp: VrrpView[];
  /** Check totals by state (hosts counted as UP / DOWN / UNREACHABLE). */
  checkTotals: Record<string, number>;
}

/** A host (`service` undefined) or service check, as the dashboard lists it. */
export interface CheckView {
  /** `host` or `host/service`. */
  object: string;
  host: string;
  service?: string;
  kind: string;
  state: string;
  stateType: 'SOFT' | 'HARD';
  attempt: number;
  maxAttempts: number;
  output: string;
  lastCheck: number;
  lastStateChange: number;
  flapping: boolean;
  ack?: { author: string; comment: string; time: number; sticky: boolean };
  inDowntime: boolean;
  /** Its scheduled downtime, pending and running. */
  downtimes: DowntimeView[];
}

/** A scheduled downtime (Nagios SCHEDULE_*_DOWNTIME), pending or running. */
export interface DowntimeView {
  id: number;
  /** `host` or `host/service`. */
  object: string;
  /** The window, ms since the epoch: fixed downtime runs from start to end; flexible downtime may start inside it. */
  start: number;
  end: number;
  fixed: boolean;
  /** Flexible downtime: how long it lasts once started, ms. */
  duration?: number;
  /** When it started, ms since the epoch; absent while pending. */
  startedAt?: number;
  author: string;
  comment: string;
}

export interface DowntimeOrder {
  /** Fixed: from now for this long. Flexible: this long from when the object enters a problem state. ms. */
  durationMs: number;
  comment: string;
  /** Flexible downtime: it may start within this long from now, ms. Absent: fixed downtime from now. */
  flexibleWithinMs?: number;
}

/** One line of the event timeline: Palisade's events, monitoring events, audit entries. */
export interface TimelineEntry {
  time: number;
  /** vrrp_transition, backend_state, STATE, NOTIFICATION, audit … */
  kind: string;
  subject: string;
  state: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  /** For audit entries: who. */
  actor?: string;
}

export interface ActionResult {
  ok: boolean;
  message: string;
  /** HTTP status for a refusal: 404 unknown object, 409 wrong state, 400 bad input. */
  status?: 400 | 404 | 409 | 502;
}

export type BackendAction = 'drain' | 'maint' | 'enable' | 'weight';

export interface WebFacade {
  /** The `web:` section in force (it follows reloads). */
  webConfig(): WebConfig;
  /** Every user: `web.users` merged with the users file (re-read at reload). */
  users(): Promise<Record<string, WebUserConfig>>;
  snapshot(): Promise<ClusterSnapshot>;
  /** Every check, problems first (CRITICAL, WARNING, UNKNOWN, then by how long). */
  checks(): CheckView[];
  timeline(limit?: number): TimelineEntry[];
  /** Called for each new timeline entry; returns the unsubscribe function. */
  onTimeline(listener: (e: TimelineEntry) => void): () => void;
  /** On every director that runs the service (this node and its peers on this host). */
  operateBackend(actor: string, service: string, backend: string, action: BackendAction, weight?: number): Promise<ActionResult>;
  acknowledge(actor: string, object: string, comment: string, sticky: boolean): ActionResult;
  /** Removes an acknowledgement (409 when there is none). */
  removeAcknowledgement(actor: string, object: string): ActionResult;
  scheduleDowntime(actor: string, object: string, order: DowntimeOrder): ActionResult;
  /** Cancels a pending or running downtime (404 when there is no such id). */
  cancelDowntime(actor: string, id: number): ActionResult;
  /** Every scheduled downtime, pending and running. */
  downtimes(): DowntimeView[];
  recheck(actor: string, object: string): Promise<ActionResult>;
  /** Performance-data labels stored for an object. */
  metrics(object: string): Promise<string[]>;
  series(object: string, label: string, view: ViewName): Promise<Series | undefined>;
  /** Records an audit entry (logins, logouts); actions record their own. */
  audit(actor: string, action: string, object: string, detail?: unknown): void;
  /** `/metrics` in Prometheus text format (check states, perfdata, traffic, VRRP); absent = empty. */
  prometheus?(): Promise<string>;
}
