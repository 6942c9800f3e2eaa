/**
 * The content of `/metrics` (Prometheus text format 0.0.4): the monitor's check
 * states and last perfdata (src/store/prometheus.ts), then Palisade's traffic —
 * per service and backend requests, failures, active connections, state and
 * weight, VRRP state per instance — for every node the dashboard sees (this
 * daemon and its peers), labelled by node. The same snapshot the dashboard renders.
 */
import { prometheusText, type CheckSnapshot } from '../store/prometheus.ts';
import { refKey } from '../monitor/state/types.ts';
import type { MonitorRuntime } from './monitor.ts';
import type { NodesView } from './palisade-status.ts';

function esc(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Check states and perfdata of the monitor runtime. */
export function checkSnapshots(m: MonitorRuntime): CheckSnapshot[] {
  return m.snapshot().map((s) => ({
    host: s.ref.host,
    service: s.ref.service,
    state: s.state,
    stateType: s.stateType,
    attempt: s.attempt,
    isFlapping: s.isFlapping,
    acknowledged: s.ack !== undefined,
    inDowntime: s.inDowntime,
    lastCheck: s.lastCheck,
    perfdata: m.perfdata(refKey(s.ref)),
  }));
}

const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT'] as const;

/** Traffic and HA metrics of the nodes in `view`. */
export function trafficText(view: NodesView): string {
  const fams = new Map<string, { help: string; type: 'gauge' | 'counter'; rows: string[] }>();
  const row = (name: string, help: string, type: 'gauge' | 'counter', labels: Record<string, string>, value: number) => {
    let f = fams.get(name);
    if (f === undefined) {
      f = { help, type, rows: [] };
      fams.set(name, f);
    }
    f.rows.push(`${name}{${Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}} ${Number.isFinite(value) ? value : 0}`);
  };
  for (const n of view.nodes) {
    row('palisade_node_reachable', '1 when the node answered its status request.', 'gauge', { node: n.name }, n.reachable ? 1 : 0);
    const st = n.status;
    if (st === undefined) continue;
    for (const s of st.services) {
      const sl = { node: n.name, service: s.name };
      row('palisade_service_requests_total', 'Requests (connections for tcp/udp services) the service took.', 'counter', sl, s.requests);
      row('palisade_service_quorum_lost', '1 while the service has lost its quorum.', 'gauge', sl, s.quorumLost ? 1 : 0);
      row('palisade_service_panic', '1 while the service is in panic mode (routing to all backends).', 'gauge', sl, s.panic ? 1 : 0);
      const lim = s.limits;
      if (lim !== undefined) {
        const refused = { conn: 'limit_conn', connTotal: 'limit_conn_total', req: 'limit_req', deny: 'deny' } as const;
        for (const [k, reason] of Object.entries(refused)) {
          row('palisade_limit_refused_total', 'Requests or connections refused by a per-client limit, by reason (limit_conn, limit_conn_total, limit_req, deny).', 'counter', { ...sl, reason }, lim.refused[k as keyof typeof refused]);
        }
        row('palisade_limit_delayed_total', 'Requests delayed by limit_req (burst without nodelay).', 'counter', sl, lim.delayed);
        row('palisade_limit_clients', 'Client addresses in the limits table now.', 'gauge', sl, lim.clients);
        row('palisade_limit_evictions_total', 'Clients forgotten to keep the limits table within its size.', 'counter', sl, lim.evictions);
      }
      for (const b of s.backends) {
        const bl = { ...sl, backend: b.name };
        row('palisade_backend_requests_total', 'Requests sent to the backend.', 'counter', bl, b.requests);
        row('palisade_backend_failures_total', 'Failed attempts at the backend (connect errors, timeouts, resets, bad answers).', 'counter', bl, b.failures);
        // null: unknown (a kernel service in mode dr, say); no sample rather than a false 0
        if (b.active !== null) row('palisade_backend_active_connections', 'Connections or requests in flight to the backend.', 'gauge', bl, b.active);
        row('palisade_backend_up', '1 when the backend takes traffic (state up or full), else 0.', 'gauge', bl, b.status === 'up' || b.status === 'full' ? 1 : 0);
        row('palisade_backend_state', 'The backend state, 1 for the current one (up, full, down, drain, maint).', 'gauge', { ...bl, state: b.status }, 1);
        row('palisade_backend_weight', 'Weight in effect.', 'gauge', bl, b.effectiveWeight);
      }
    }
    for (const v of st.vrrp) {
      const vl = { node: n.name, instance: v.instance };
      for (const state of VRRP_STATES) row('palisade_vrrp_state', 'VRRP state of the instance on the node: 1 for the current state.', 'gauge', { ...vl, state }, v.state === state ? 1 : 0);
      row('palisade_vrrp_effective_priority', 'Priority advertised now (after trackers).', 'gauge', vl, v.effectivePriority);
      row('palisade_vrrp_split_brains_total', 'Times this MASTER heard another MASTER for its VRID.', 'counter', vl, v.splitBrains);
    }
  }
  const out: string[] = [];
  for (const [name, f] of fams) out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.rows);
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** The whole `/metrics` body. */
export function metricsText(monitor: MonitorRuntime | undefined, view: NodesView): string {
  const checks = monitor === undefined ? '' : prometheusText(checkSnapshots(monitor));
  const queue = monitor?.notifier === undefined ? '' : `# HELP palisade_notification_queue_size Notification deliveries waiting or in flight.\n# TYPE palisade_notification_queue_size gauge\npalisade_notification_queue_size ${monitor.notifier.queue.size}\n# HELP palisade_checks_run_total Check results applied since start (scheduled, re-checks and pushed).\n# TYPE palisade_checks_run_total counter\npalisade_checks_run_total ${monitor.checksRun}\n`;
  return checks + queue + trafficText(view);
}
