/**
 * Wiring of the monitor runtime into the daemon (the web role creates it): the
 * agents it calls, the status provider of the `vrrp` / `backends` checks,
 * Palisade's own events from `daemon.events` into the notification path, and the
 * state retained by the last run.
 */
import { resolve } from 'node:path';
import type { MonitorConfig } from '../config/monitor-schema.ts';
import { objectName } from '../monitor/notify/notice.ts';
import type { DeliveryOutcome } from '../monitor/notify/queue.ts';
import type { TimelineEntry } from '../web/facade.ts';
import { monitorAgents } from './agent.ts';
import type { Daemon } from './daemon.ts';
import { MonitorRuntime } from './monitor.ts';
import { statusProvider, type NodesView } from './palisade-status.ts';

/**
 * The monitor runtime of this daemon. `view` gives the cluster as the dashboard
 * sees it (this daemon and its peers), for the `vrrp` and `backends` checks.
 */
export async function createMonitorRuntime(daemon: Daemon, cfg: MonitorConfig, runtimeDir: string, view: () => Promise<NodesView>): Promise<MonitorRuntime> {
  const config = () => daemon.config.config;
  const agents = await monitorAgents(config(), resolve(daemon.file, '..'));
  const monitor = new MonitorRuntime(cfg, { log: daemon.log, runtimeDir, palisade: statusProvider(config, view), ...(agents !== undefined && { agents }) });
  monitor.own(daemon.events.on((e) => monitor.palisadeEvent(e)));
  // Before the first check runs (the caller starts it): acknowledgements and downtime survive a restart.
  await monitor.restore();
  return monitor;
}

/** A delivery, sent or given up, as a line of the dashboard's timeline. */
export function deliveryEntry(d: DeliveryOutcome): TimelineEntry {
  const subject = objectName(d.notice);
  return d.ok
    ? { time: Date.now(), kind: 'notification_sent', subject, state: d.notice.type, severity: 'info', message: `${d.notice.type} ${subject} (${d.notice.state}) sent to ${d.contact} by ${d.channel}${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}` }
    : { time: Date.now(), kind: 'notification_failed', subject, state: d.notice.type, severity: 'warning', message: `${d.notice.type} ${subject} (${d.notice.state}) NOT delivered to ${d.contact} by ${d.channel} after ${d.attempts} attempt(s): ${d.error ?? 'failed'}` };
}
