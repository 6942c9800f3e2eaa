/**
 * The monitor runtime inside a running daemon: a service check that turns CRITICAL
 * is delivered to a contact's webhook, and so is one of Palisade's own events (a
 * backend going down); the deliveries show in the timeline; the `backends` check
 * reads the daemon's own state; `/metrics` serves check states, perfdata and traffic
 * in Prometheus text, to a token only.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { webhookReceiver } from '../helpers/webhook.ts';
import { freePort, request, startBackend, startProxy, waitFor } from '../helpers/http.ts';

const API_TOKEN = 'metrics-test-token-0123456789';

test('notifications and Palisade events are delivered, the backends check reads the daemon, /metrics answers a token', { timeout: 60_000 }, async (t) => {
  const hook = await webhookReceiver(t);
  const up = await startBackend(t, 'up');
  const [dead, webPort, nowhere] = await Promise.all([freePort(), freePort(), freePort()]);
  const sha = createHash('sha256').update(API_TOKEN).digest('hex');
  // Its own runtime directory: the monitor's store and retained state would otherwise carry over from the last run (local/dead already notified).
  const dir = await mkdtemp(join(tmpdir(), 'palisade-monitor-runtime-'));
  const p = await startProxy(
    t,
    `runtime_dir: ${dir}
services:
  www:
    listen: 127.0.0.1:0
    backends: [${up.address}, 127.0.0.1:${dead}]
    health: { type: tcp, interval: 100ms, timeout: 200ms, fall: 1, jitter: 0 }
web:
  listen: 127.0.0.1:${webPort}
  tokens: [{ name: prom, role: readonly, sha256: ${sha} }]
monitor:
  contacts:
    ops: { webhook: "${hook.url}" }
    broken: { webhook: "http://127.0.0.1:${nowhere}/hook" }
  palisade_events: { contacts: [ops], kinds: [backend] }
  delivery: { backoff: 100ms, attempts: 2 }
  hosts:
    local:
      address: 127.0.0.1
      services:
        dead: { check: { builtin: tcp, port: ${dead}, timeout: 1s }, max_check_attempts: 1, check_interval: 1s, contacts: [ops, broken] }
        pool: { check: { builtin: backends, service: www, warning: "2:" }, max_check_attempts: 1, check_interval: 1s }
`,
  );
  t.after(() => rm(dir, { recursive: true, force: true })); // after the daemon has stopped (hooks run in order)
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const base = `http://127.0.0.1:${webPort}`;
  await request(`${p.url}/`); // one request through the proxy, for the traffic counters

  // The check's hard CRITICAL reaches the webhook, as does the backend going down.
  await waitFor(() => hook.got.some((h) => h.type === 'PROBLEM' && h.host === 'local' && h.service === 'dead' && h.state === 'CRITICAL'), 20_000, 'PROBLEM local/dead at the webhook');
  await waitFor(() => hook.got.some((h) => h.type === 'EVENT' && h.service === 'backend' && h.state === 'DOWN' && h.host.includes(String(dead))), 20_000, `the backend-down event at the webhook (got ${JSON.stringify(hook.got)})`);

  // The deliveries are in the timeline: sent to ops; given up for broken after its 2 attempts.
  let tl: Array<{ kind: string; subject: string; message: string }> = [];
  const inTimeline = waitFor(
    async () => {
      const r = await request(`${base}/api/timeline`, { headers: auth });
      tl = JSON.parse(r.body) as typeof tl;
      return (
        tl.some((e) => e.kind === 'notification_sent' && e.subject === 'local/dead' && /sent to ops by webhook/.test(e.message)) &&
        tl.some((e) => e.kind === 'notification_failed' && e.subject === 'local/dead' && /NOT delivered to broken by webhook after 2 attempt\(s\): .*ECONNREFUSED/.test(e.message))
      );
    },
    10_000,
    'notification_sent and notification_failed in the timeline',
  );
  await inTimeline.catch((err: unknown) => {
    throw new Error(`${String(err)}; notification lines: ${JSON.stringify(tl.filter((e) => e.kind.startsWith('notification')))}`);
  });

  // The backends check sees one of two backends up: WARNING under "2:".
  await waitFor(
    async () => {
      const r = await request(`${base}/api/checks`, { headers: auth });
      return (JSON.parse(r.body) as Array<{ object: string; state: string; output: string }>).some((c) => c.object === 'local/pool' && c.state === 'WARNING' && /www: 1 of 2 up \(.* down\)/.test(c.output));
    },
    20_000,
    'local/pool WARNING: 1 of 2 up',
  );

  // /metrics: a token is needed; then check states, perfdata and traffic in Prometheus text.
  const refused = await request(`${base}/metrics`);
  assert.equal(refused.status, 401);
  const m = await request(`${base}/metrics`, { headers: auth });
  assert.equal(m.status, 200);
  assert.match(m.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  assert.match(m.body, /^palisade_check_state\{host="local",service="dead",state="CRITICAL",state_type="hard"\} 2$/m);
  assert.match(m.body, /^palisade_perfdata_value\{host="local",service="pool",label="up",uom=""\} 1$/m);
  assert.match(m.body, /^palisade_backend_requests_total\{node="local",service="www",backend="[^"]+"\} 1$/m);
  assert.match(m.body, new RegExp(`^palisade_backend_up\\{node="local",service="www",backend="127\\.0\\.0\\.1:${dead}"\\} 0$`, 'm'));
  assert.match(m.body, /^palisade_service_requests_total\{node="local",service="www"\} 1$/m);
  assert.match(m.body, /^# TYPE palisade_backend_requests_total counter$/m);
  assert.match(m.body, /^palisade_notification_queue_size \d+$/m);
});
