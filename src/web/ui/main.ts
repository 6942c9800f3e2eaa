/// <reference lib="dom" />
/**
 * The dashboard page: Preact components written with `h()` (no JSX step), live
 * over Server-Sent Events (`/api/stream`), graphs with uPlot. Bundled by
 * src/web/bundle.ts. Buttons that act are rendered only for admins; the server
 * refuses them anyway for everyone else. No secret reaches this code except the
 * session's own CSRF token, kept in memory.
 */
import { h, render, type ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { CheckView, ClusterSnapshot, NodeView, Series, TimelineEntry } from '../facade.ts';

interface SessionInfo {
  user: string;
  role: 'admin' | 'readonly';
  csrf: string | null;
}

let csrf: string | null = null;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const data = (await r.json().catch(() => ({}))) as T & { error?: string };
  if (!r.ok) throw Object.assign(new Error(data.error ?? `HTTP ${r.status}`), { status: r.status });
  return data;
}

const fmtAgo = (t: number, now: number) => {
  if (t <= 0) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
};
const fmtTime = (t: number) => new Date(t).toLocaleTimeString();

function Badge(p: { state: string }) {
  return h('span', { class: `badge s-${p.state.toLowerCase().replace(/[^a-z]/g, '')}`, 'data-state': p.state }, p.state);
}

/** req/s and error-rate history per backend, from successive snapshots (client side: the server keeps no per-page state). */
class Rates {
  readonly #last = new Map<string, { t: number; req: number; fail: number }>();
  readonly rps = new Map<string, number[]>();
  readonly errPct = new Map<string, number>();
  update(s: ClusterSnapshot): void {
    for (const n of s.nodes) {
      for (const svc of n.status?.services ?? []) {
        for (const b of svc.backends) {
          const key = `${n.name}/${svc.name}/${b.id}`;
          const prev = this.#last.get(key);
          this.#last.set(key, { t: s.time, req: b.requests, fail: b.failures });
          if (prev === undefined || s.time <= prev.t) continue;
          const dt = (s.time - prev.t) / 1000;
          const dr = Math.max(0, b.requests - prev.req);
          const hist = this.rps.get(key) ?? [];
          hist.push(dr / dt);
          if (hist.length > 60) hist.shift();
          this.rps.set(key, hist);
          this.errPct.set(key, dr === 0 ? 0 : (100 * Math.max(0, b.failures - prev.fail)) / dr);
        }
      }
    }
  }
}

function Sparkline(p: { values: number[] }) {
  const v = p.values;
  if (v.length < 2) return h('svg', { class: 'spark', width: 80, height: 18 });
  const max = Math.max(1, ...v);
  const pts = v.map((x, i) => `${((i / (v.length - 1)) * 80).toFixed(1)},${(17 - (x / max) * 16).toFixed(1)}`).join(' ');
  return h('svg', { class: 'spark', width: 80, height: 18, viewBox: '0 0 80 18' }, h('polyline', { points: pts, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.2 }));
}

function ClusterMap(p: { snap: ClusterSnapshot }) {
  const { snap } = p;
  return h(
    'section',
    { class: 'card', id: 'cluster' },
    h('h2', null, 'Cluster ', h('small', null, snap.cluster)),
    snap.vrrp.some((v) => v.splitBrain) ? h('div', { class: 'alert', role: 'alert' }, `SPLIT BRAIN: ${snap.vrrp.filter((v) => v.splitBrain).map((v) => `${v.instance} held by ${v.holders.join(' and ')}`).join('; ')}`) : null,
    h(
      'div',
      { class: 'nodes' },
      snap.nodes.map((n) =>
        h(
          'div',
          { class: `node ${n.reachable ? '' : 'unreachable'}`, 'data-node': n.name },
          h('b', null, n.name),
          n.self ? h('small', null, ' (this dashboard)') : null,
          h('div', null, n.address, ' · ', n.roles.join(', ') || 'no roles'),
          h('div', null, n.reachable ? h(Badge, { state: 'UP' }) : h('span', { title: n.error }, h(Badge, { state: 'UNREACHABLE' }))),
        ),
      ),
    ),
    snap.vrrp.length === 0
      ? null
      : h(
          'table',
          { class: 'vrrp' },
          h('thead', null, h('tr', null, h('th', null, 'VRRP instance'), h('th', null, 'VIP holder'), h('th', null, 'members (state, priority)'))),
          h(
            'tbody',
            null,
            snap.vrrp.map((v) =>
              h(
                'tr',
                { key: v.instance, 'data-vrrp': v.instance },
                h('td', null, `${v.instance} (vrid ${v.vrid})`),
                h('td', { class: 'holder' }, v.holders.join(', ') || 'none'),
                h(
                  'td',
                  null,
                  v.members.map((m) => h('span', { class: 'member', key: m.node }, `${m.node} `, h(Badge, { state: m.reachable ? m.state : 'UNREACHABLE' }), ` ${m.effectivePriority === m.priority ? m.priority : `${m.effectivePriority}/${m.priority}`}`)),
                ),
              ),
            ),
          ),
        ),
  );
}

function Services(p: { node: NodeView | undefined; rates: Rates; admin: boolean; onAction: (svc: string, backend: string, action: string) => void }) {
  const n = p.node;
  if (n?.status === undefined) return h('section', { class: 'card' }, h('h2', null, 'Services'), h('p', null, n === undefined ? 'no director' : `${n.name} is unreachable`));
  return h(
    'section',
    { class: 'card', id: 'services' },
    h('h2', null, 'Services ', h('small', null, `on ${n.name}`)),
    n.status.services.map((s) =>
      h(
        'div',
        { class: 'service', key: s.name, 'data-service': s.name },
        h('h3', null, s.name, ' ', h('small', null, `${s.listen.join(', ')} · ${s.scheduler} · ${s.requests} requests`), s.panic ? h(Badge, { state: 'PANIC' }) : null, s.quorumLost ? h(Badge, { state: 'QUORUM LOST' }) : null),
        h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            null,
            h('thead', null, h('tr', null, ['backend', 'state', 'weight', 'active', 'inactive', 'req/s', 'errors', 'check', 'req/s (60 s)', p.admin ? 'actions' : null].filter((x) => x !== null).map((x) => h('th', { key: x }, x)))),
            h(
              'tbody',
              null,
              s.backends.map((b) => {
                const key = `${n.name}/${s.name}/${b.id}`;
                const hist = p.rates.rps.get(key) ?? [];
                const rps = hist.at(-1);
                return h(
                  'tr',
                  { key: b.id, 'data-backend': b.name, 'data-id': b.id },
                  h('td', null, b.name === b.id ? b.id : `${b.name} `, b.name === b.id ? null : h('small', null, b.id), b.backup ? h('small', null, ' backup') : null),
                  h('td', { class: 'state' }, h(Badge, { state: b.status })),
                  h('td', null, b.effectiveWeight === b.weight ? b.weight : `${Math.round(b.effectiveWeight * 10) / 10}/${b.weight}`),
                  h('td', null, b.active),
                  h('td', null, b.inactive),
                  h('td', null, rps === undefined ? '-' : rps.toFixed(1)),
                  h('td', null, `${(p.rates.errPct.get(key) ?? 0).toFixed(1)}%`),
                  h('td', { class: 'reason' }, b.check === undefined ? '' : `${b.check.type}${b.check.last ? `: ${b.check.last}` : ''}`),
                  h('td', null, h(Sparkline, { values: hist })),
                  p.admin
                    ? h(
                        'td',
                        { class: 'actions' },
                        ['drain', 'maint', 'enable', 'weight'].map((a) => h('button', { key: a, 'data-action': a, onClick: () => p.onAction(s.name, b.id, a) }, a)),
                      )
                    : null,
                );
              }),
            ),
          ),
        ),
      ),
    ),
  );
}

const STATE_ORDER: Record<string, number> = { CRITICAL: 0, DOWN: 0, UNREACHABLE: 1, WARNING: 2, UNKNOWN: 3, OK: 4, UP: 4 };

function Checks(p: { checks: CheckView[]; now: number; admin: boolean; onAck: (o: string) => void; onDowntime: (o: string) => void; onRecheck: (o: string) => void; onGraph: (o: string) => void }) {
  const problems = p.checks.filter((c) => (STATE_ORDER[c.state] ?? 4) < 4).length;
  return h(
    'section',
    { class: 'card', id: 'checks' },
    h('h2', null, 'Checks ', h('small', null, `${problems} problem(s) of ${p.checks.length}`)),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        null,
        h('thead', null, h('tr', null, ['state', 'object', 'type', 'for', 'output', 'flags', ''].map((x, i) => h('th', { key: i }, x)))),
        h(
          'tbody',
          null,
          p.checks.slice(0, 300).map((c) =>
            h(
              'tr',
              { key: c.object, 'data-check': c.object, class: (STATE_ORDER[c.state] ?? 4) < 4 ? 'problem' : '' },
              h('td', null, h(Badge, { state: c.state })),
              h('td', null, c.object, h('small', null, ` ${c.kind}`)),
              h('td', null, `${c.stateType} ${c.attempt}/${c.maxAttempts}`),
              h('td', null, fmtAgo(c.lastStateChange, p.now)),
              h('td', { class: 'output' }, c.output),
              h(
                'td',
                { class: 'flags' },
                c.flapping ? h('span', { class: 'flag' }, 'flapping') : null,
                c.ack ? h('span', { class: 'flag ack', title: `${c.ack.author}: ${c.ack.comment}` }, `acknowledged by ${c.ack.author}`) : null,
                c.inDowntime ? h('span', { class: 'flag' }, 'in downtime') : null,
              ),
              h(
                'td',
                { class: 'actions' },
                h('button', { 'data-action': 'graph', onClick: () => p.onGraph(c.object) }, 'graph'),
                p.admin ? h('button', { 'data-action': 'recheck', onClick: () => p.onRecheck(c.object) }, 're-check') : null,
                p.admin && (STATE_ORDER[c.state] ?? 4) < 4 && c.ack === undefined ? h('button', { 'data-action': 'ack', onClick: () => p.onAck(c.object) }, 'ack') : null,
                p.admin ? h('button', { 'data-action': 'downtime', onClick: () => p.onDowntime(c.object) }, 'downtime') : null,
              ),
            ),
          ),
        ),
      ),
    ),
    p.checks.length > 300 ? h('p', null, `… and ${p.checks.length - 300} more OK checks (GET /api/checks lists all)`) : null,
  );
}

function Timeline(p: { entries: TimelineEntry[] }) {
  return h(
    'section',
    { class: 'card', id: 'timeline' },
    h('h2', null, 'Timeline'),
    h(
      'ul',
      { class: 'timeline' },
      p.entries
        .slice(-100)
        .toReversed()
        .map((e, i) => h('li', { key: `${e.time}-${i}`, class: `sev-${e.severity} kind-${e.kind}` }, h('time', null, fmtTime(e.time)), ' ', e.actor !== undefined ? h('b', null, `${e.actor}: `) : null, e.message)),
    ),
  );
}

const VIEWS = ['4h', '25h', 'week', 'month', 'year'] as const;

function Graph(p: { object: string; onClose: () => void }) {
  const [labels, setLabels] = useState<string[]>([]);
  const [label, setLabel] = useState<string | undefined>(undefined);
  const [view, setView] = useState<string>('4h');
  const [series, setSeries] = useState<Series | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    api<string[]>('GET', `/api/metrics?object=${encodeURIComponent(p.object)}`).then(
      (l) => {
        setLabels(l);
        setLabel(l[0]);
        if (l.length === 0) setError('no performance data recorded yet');
      },
      (e: Error) => setError(e.message),
    );
  }, [p.object]);
  useEffect(() => {
    if (label === undefined) return undefined;
    let stop = false;
    const load = () =>
      api<Series>('GET', `/api/series?object=${encodeURIComponent(p.object)}&label=${encodeURIComponent(label)}&view=${view}`).then(
        (s) => {
          if (!stop) {
            setSeries(s);
            setError(undefined);
          }
        },
        (e: Error) => !stop && setError(e.message),
      );
    void load();
    const t = setInterval(load, 10_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [p.object, label, view]);
  useEffect(() => {
    const el = box.current;
    if (el === null || series === undefined) return undefined;
    const xs = series.points.map((q) => q.t / 1000);
    const lines = [...series.warn.map((w) => ({ v: w, label: 'warn', stroke: '#d69e2e' })), ...series.crit.map((c) => ({ v: c, label: 'crit', stroke: '#e53e3e' }))];
    const data: uPlot.AlignedData = [xs, series.points.map((q) => q.min), series.points.map((q) => q.avg), series.points.map((q) => q.max), ...lines.map((l) => xs.map(() => l.v))];
    const width = Math.max(280, el.clientWidth - 8);
    const plot = new uPlot(
      {
        width,
        height: 220,
        series: [
          {},
          { label: 'min', stroke: '#90cdf4' },
          { label: `avg ${series.uom}`, stroke: '#2b6cb0', width: 2 },
          { label: 'max', stroke: '#90cdf4' },
          ...lines.map((l) => ({ label: l.label, stroke: l.stroke, dash: [6, 4] })),
        ],
        axes: [{}, { size: 60 }],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [series]);
  const pts = series?.points ?? [];
  const stats =
    pts.length === 0
      ? null
      : {
          min: Math.min(...pts.map((q) => q.min)),
          avg: pts.reduce((a, q) => a + q.avg, 0) / pts.length,
          max: Math.max(...pts.map((q) => q.max)),
          last: pts.at(-1)!.avg,
        };
  return h(
    'section',
    { class: 'card graph', id: 'graph' },
    h('h2', null, `Graph: ${p.object}`, h('button', { class: 'close', onClick: p.onClose }, 'close')),
    h(
      'div',
      { class: 'controls' },
      h('select', { value: label, onChange: (e: Event) => setLabel((e.target as HTMLSelectElement).value), 'aria-label': 'metric' }, labels.map((l) => h('option', { key: l, value: l }, l))),
      VIEWS.map((v) => h('button', { key: v, class: v === view ? 'on' : '', onClick: () => setView(v) }, v)),
    ),
    error !== undefined ? h('p', { class: 'error' }, error) : null,
    h('div', { ref: box, class: 'plot', 'data-points': pts.length }),
    stats === null ? null : h('p', { class: 'stats' }, `${series!.tier} tier · ${pts.length} points · min ${stats.min.toFixed(2)} · avg ${stats.avg.toFixed(2)} · max ${stats.max.toFixed(2)} · last ${stats.last.toFixed(2)} ${series!.uom}`),
  );
}

function Login(p: { onLogin: (s: SessionInfo) => void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = (e: Event) => {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const user = (f.elements.namedItem('user') as HTMLInputElement).value;
    const password = (f.elements.namedItem('password') as HTMLInputElement).value;
    api<SessionInfo>('POST', '/api/login', { user, password }).then(p.onLogin, (err: Error) => setError(err.message));
  };
  return h(
    'form',
    { class: 'card login', onSubmit: submit },
    h('h1', null, 'Palisade'),
    h('label', null, 'user', h('input', { name: 'user', autocomplete: 'username', required: true })),
    h('label', null, 'password', h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    h('button', { type: 'submit' }, 'log in'),
    error !== undefined ? h('p', { class: 'error', role: 'alert' }, error) : null,
  );
}

function Modal(p: { title: string; children?: ComponentChildren; onSubmit: (f: HTMLFormElement) => void; onClose: () => void }) {
  return h(
    'div',
    { class: 'modal' },
    h(
      'form',
      {
        class: 'card',
        onSubmit: (e: Event) => {
          e.preventDefault();
          p.onSubmit(e.target as HTMLFormElement);
        },
      },
      h('h2', null, p.title),
      p.children,
      h('div', null, h('button', { type: 'submit', class: 'primary' }, 'OK'), ' ', h('button', { type: 'button', onClick: p.onClose }, 'cancel')),
    ),
  );
}

type Dialog = { kind: 'ack'; object: string } | { kind: 'downtime'; object: string } | { kind: 'weight'; service: string; backend: string };

function Dashboard(p: { session: SessionInfo; onLogout: () => void }) {
  const [snap, setSnap] = useState<ClusterSnapshot | undefined>(undefined);
  const [checks, setChecks] = useState<CheckView[]>([]);
  const [timeline, setTimeline] = useState<TimelineEntry[]>([]);
  const [live, setLive] = useState(false);
  const [director, setDirector] = useState<string | undefined>(undefined);
  const [graph, setGraph] = useState<string | undefined>(undefined);
  const [dialog, setDialog] = useState<Dialog | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const rates = useRef(new Rates()).current;
  const admin = p.session.role === 'admin';

  useEffect(() => {
    let es: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const connect = () => {
      es = new EventSource('/api/stream');
      es.addEventListener('open', () => setLive(true));
      es.addEventListener('snapshot', (e) => {
        const s = JSON.parse((e as MessageEvent<string>).data) as ClusterSnapshot;
        rates.update(s);
        setSnap(s);
      });
      es.addEventListener('checks', (e) => setChecks(JSON.parse((e as MessageEvent<string>).data) as CheckView[]));
      es.addEventListener('timelineAll', (e) => setTimeline(JSON.parse((e as MessageEvent<string>).data) as TimelineEntry[]));
      es.addEventListener('timeline', (e) => setTimeline((t) => [...t.slice(-499), JSON.parse((e as MessageEvent<string>).data) as TimelineEntry]));
      es.addEventListener('error', () => {
        setLive(false);
        // The browser retries by itself while the stream is only broken; a refused one (logged out, server restarted) is CLOSED.
        if (es?.readyState === EventSource.CLOSED && !closed) {
          retry = setTimeout(() => {
            api<SessionInfo>('GET', '/api/session').then(connect, (err: { status?: number }) => (err.status === 401 ? p.onLogout() : connect()));
          }, 2000);
        }
      });
    };
    connect();
    return () => {
      closed = true;
      es?.close();
      clearTimeout(retry);
    };
  }, []);

  const act = (promise: Promise<{ message?: string }>) =>
    promise.then(
      (r) => setNotice(r.message ?? 'done'),
      (e: Error) => setNotice(`refused: ${e.message}`),
    );
  const onAction = (service: string, backend: string, action: string) => {
    if (action === 'weight') setDialog({ kind: 'weight', service, backend });
    else void act(api('POST', `/api/backends/${encodeURIComponent(service)}/${encodeURIComponent(backend)}/${action}`));
  };
  const node = snap?.nodes.find((n) => n.name === (director ?? snap.node)) ?? snap?.nodes.find((n) => n.status !== undefined && n.status.services.length > 0);
  const directors = snap?.nodes.filter((n) => n.status !== undefined && n.status.services.length > 0) ?? [];

  return h(
    'div',
    { class: 'dash' },
    h(
      'header',
      null,
      h('h1', null, 'Palisade'),
      h('span', { class: `live ${live ? 'on' : 'off'}`, 'data-live': String(live) }, live ? 'live' : 'reconnecting…'),
      snap !== undefined ? h('span', null, `${snap.cluster} · served by ${snap.node}`) : null,
      h('span', { class: 'spacer' }),
      h('span', { class: 'who' }, `${p.session.user} (${p.session.role})`),
      h('button', { onClick: () => void api('POST', '/api/logout').finally(p.onLogout) }, 'log out'),
    ),
    notice !== undefined ? h('div', { class: 'notice', role: 'status', onClick: () => setNotice(undefined) }, notice) : null,
    snap === undefined
      ? h('p', null, 'loading…')
      : h(
          'main',
          null,
          h(ClusterMap, { snap }),
          directors.length > 1 ? h('nav', { class: 'directors' }, 'director: ', directors.map((d) => h('button', { key: d.name, class: d.name === node?.name ? 'on' : '', onClick: () => setDirector(d.name) }, d.name))) : null,
          h(Services, { node, rates, admin, onAction }),
          graph !== undefined ? h(Graph, { object: graph, onClose: () => setGraph(undefined) }) : null,
          h(Checks, {
            checks,
            now: snap.time,
            admin,
            onAck: (object) => setDialog({ kind: 'ack', object }),
            onDowntime: (object) => setDialog({ kind: 'downtime', object }),
            onRecheck: (object) => void act(api('POST', '/api/checks/recheck', { object })),
            onGraph: setGraph,
          }),
          h(Timeline, { entries: timeline }),
        ),
    dialog === undefined ? null : dialogView(dialog),
  );

  function dialogView(dlg: Dialog) {
    return h(
          Modal,
          {
            title: dlg.kind === 'weight' ? `Weight of ${dlg.backend}` : `${dlg.kind === 'ack' ? 'Acknowledge' : 'Downtime for'} ${dlg.object}`,
            onClose: () => setDialog(undefined),
            onSubmit: (f) => {
              const v = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;
              const d = dlg;
              setDialog(undefined);
              if (d.kind === 'ack') void act(api('POST', '/api/checks/ack', { object: d.object, comment: v('comment'), sticky: (f.elements.namedItem('sticky') as HTMLInputElement).checked }));
              else if (d.kind === 'downtime') void act(api('POST', '/api/checks/downtime', { object: d.object, minutes: Number(v('minutes')), comment: v('comment') }));
              else void act(api('POST', `/api/backends/${encodeURIComponent(d.service)}/${encodeURIComponent(d.backend)}/weight`, { weight: Number(v('weight')) }));
            },
          },
          dlg.kind === 'weight'
            ? h('label', null, 'weight (0-1000) ', h('input', { name: 'weight', type: 'number', min: 0, max: 1000, required: true }))
            : [
                dlg.kind === 'downtime' ? h('label', { key: 'm' }, 'minutes ', h('input', { name: 'minutes', type: 'number', min: 1, value: 60, required: true })) : null,
                h('label', { key: 'c' }, 'comment ', h('input', { name: 'comment', required: dlg.kind === 'ack' })),
                dlg.kind === 'ack' ? h('label', { key: 's' }, h('input', { name: 'sticky', type: 'checkbox' }), ' sticky (until OK)') : null,
              ],
    );
  }
}

function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  useEffect(() => {
    api<SessionInfo>('GET', '/api/session').then(
      (s) => {
        csrf = s.csrf;
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);
  if (session === undefined) return h('p', null, 'loading…');
  if (session === null)
    return h(Login, {
      onLogin: (s) => {
        csrf = s.csrf;
        setSession(s);
      },
    });
  return h(Dashboard, {
    session,
    onLogout: () => {
      csrf = null;
      setSession(null);
    },
  });
}

render(h(App, null), document.getElementById('app')!);
