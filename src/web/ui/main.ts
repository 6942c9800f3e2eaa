/// <reference lib="dom" />
/**
 * The dashboard page: Preact components written with `h()` (no JSX step), live
 * over Server-Sent Events (`/api/stream`), graphs with uPlot. Bundled by
 * src/web/bundle.ts. Buttons that act are rendered only for admins; the server
 * refuses them anyway for everyone else. No secret reaches this code except the
 * session's own CSRF token, kept in memory.
 *
 * Made to stay cheap with hundreds of backends and thousands of checks: the stream
 * is opened as the script starts (the session comes in it); after the first
 * snapshot only patches arrive, applied without copying what did not change, so
 * a service or check whose data did not change is not rendered again; blocks out
 * of sight are not re-rendered on each tick (rates, sparklines) and are not laid
 * out by the browser (`content-visibility: auto`); buttons share one click handler
 * per table. `performance.mark('pal:…')` milestones are read by bench/web.ts.
 */
import { Component, h, render, type ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { CheckView, ClusterSnapshot, DowntimeView, NodeView, Series, TimelineEntry } from '../facade.ts';
import { applyPatch, compareChecks, type PatchOp } from '../patch.ts';

performance.mark('pal:script');

interface SessionInfo {
  user: string;
  role: 'admin' | 'readonly';
  csrf: string | null;
}

type ServiceView = NonNullable<NodeView['status']>['services'][number];

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

/** Events of `/api/stream` (docs/dashboard.md). */
const STREAM_EVENTS = ['session', 'snapshot', 'snapshotPatch', 'checks', 'checksPatch', 'timelineAll', 'timeline'] as const;
interface StreamMessage {
  event: (typeof STREAM_EVENTS)[number] | 'open' | 'error';
  data: string;
}

/** An EventSource whose messages wait in a queue until someone listens (the stream opens before the page knows who is logged in). */
class LiveStream {
  readonly es: EventSource;
  #queue: StreamMessage[] = [];
  #fn: ((m: StreamMessage) => void) | undefined;
  constructor() {
    this.es = new EventSource('/api/stream');
    for (const event of STREAM_EVENTS) this.es.addEventListener(event, (e) => this.#on({ event, data: (e as MessageEvent<string>).data }));
    this.es.addEventListener('open', () => {
      performance.mark('pal:stream');
      this.#on({ event: 'open', data: '' });
    });
    this.es.addEventListener('error', () => this.#on({ event: 'error', data: '' }));
  }
  #on(m: StreamMessage): void {
    if (this.#fn !== undefined) this.#fn(m);
    else this.#queue.push(m);
  }
  /** Delivers the queued messages, then each as it comes; undefined queues them again. */
  listen(fn: ((m: StreamMessage) => void) | undefined): void {
    this.#fn = fn;
    if (fn === undefined) return;
    const q = this.#queue;
    this.#queue = [];
    for (const m of q) {
      if (this.#fn !== fn) {
        this.#queue.push(m);
        continue;
      }
      fn(m);
    }
  }
  get closed(): boolean {
    return this.es.readyState === EventSource.CLOSED;
  }
  close(): void {
    this.#fn = undefined;
    this.es.close();
  }
}

/** Opened as soon as the script runs, before the first render. */
let firstStream: LiveStream | undefined = new LiveStream();

const fmtAgo = (t: number, now: number) => {
  if (t <= 0) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
};
const fmtTime = (t: number) => new Date(t).toLocaleTimeString();
const fmtMinutes = (ms: number) => (ms >= 3_600_000 && ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);

/** A state badge (a plain element, not a component: there are hundreds). */
function badge(state: string) {
  return h('span', { class: `badge s-${state.toLowerCase().replace(/[^a-z]/g, '')}`, 'data-state': state }, state);
}

/** A component that renders again only when a prop changed (by identity). */
abstract class Pure<P extends object, S = object> extends Component<P, S> {
  override shouldComponentUpdate(next: P, nextState: S): boolean {
    if (nextState !== this.state) return true;
    for (const k in next) if (next[k] !== this.props[k]) return true;
    return false;
  }
}

/** One IntersectionObserver for every block that wants to know whether it is (nearly) on screen. */
const watchers = new Map<Element, (visible: boolean) => void>();
let observer: IntersectionObserver | undefined;
function watchVisibility(el: Element, fn: (visible: boolean) => void): () => void {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) watchers.get(e.target)?.(e.isIntersecting);
    },
    { rootMargin: '300px 0px' },
  );
  watchers.set(el, fn);
  observer.observe(el);
  return () => {
    watchers.delete(el);
    observer?.unobserve(el);
  };
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
          if (prev !== undefined && prev.t === s.time) continue;
          this.#last.set(key, { t: s.time, req: b.requests, fail: b.failures });
          if (prev === undefined || s.time <= prev.t) continue;
          const dt = (s.time - prev.t) / 1000;
          const dr = Math.max(0, b.requests - prev.req);
          let hist = this.rps.get(key);
          if (hist === undefined) this.rps.set(key, (hist = []));
          hist.push(dr / dt);
          if (hist.length > 120) hist.shift();
          this.errPct.set(key, dr === 0 ? 0 : (100 * Math.max(0, b.failures - prev.fail)) / dr);
        }
      }
    }
  }
}

function sparkline(v: number[]) {
  if (v.length < 2) return null;
  const max = Math.max(1, ...v);
  const pts = v.map((x, i) => `${((i / (v.length - 1)) * 80).toFixed(1)},${(17 - (x / max) * 16).toFixed(1)}`).join(' ');
  return h('svg', { class: 'spark', width: 80, height: 18, viewBox: '0 0 80 18' }, h('polyline', { points: pts, fill: 'none', stroke: 'currentColor', 'stroke-width': 1.2 }));
}

/** Calls `fn(data-* of the row, action)` for a click on a `button[data-action]` inside a row with `rowAttr`. */
function delegate(rowAttr: string, fn: (row: HTMLElement, action: string, button: HTMLElement) => void) {
  return (e: Event) => {
    const b = (e.target as HTMLElement).closest<HTMLElement>('button[data-action]');
    const row = b?.closest<HTMLElement>(`[${rowAttr}]`);
    if (b != null && row != null) fn(row, b.dataset.action!, b);
  };
}

const BACKEND_ACTIONS = ['drain', 'maint', 'enable', 'weight'];

interface ServiceBlockProps {
  svc: ServiceView;
  node: string;
  admin: boolean;
  rates: Rates;
  /** The snapshot's time: a block on screen renders again on each (rates, sparklines). */
  tick: number;
}

/** One service and its backends. Off screen it renders again only when its own data changed. */
class ServiceBlock extends Component<ServiceBlockProps, { visible: boolean }> {
  override state = { visible: false };
  #el: HTMLElement | null = null;
  #unwatch: (() => void) | undefined;
  readonly #ref = (el: HTMLElement | null) => {
    this.#el = el;
  };

  override componentDidMount(): void {
    if (this.#el !== null) this.#unwatch = watchVisibility(this.#el, (visible) => visible !== this.state.visible && this.setState({ visible }));
  }

  override componentWillUnmount(): void {
    this.#unwatch?.();
  }

  override shouldComponentUpdate(next: ServiceBlockProps, nextState: { visible: boolean }): boolean {
    const p = this.props;
    return nextState.visible !== this.state.visible || next.svc !== p.svc || next.admin !== p.admin || next.node !== p.node || (nextState.visible && next.tick !== p.tick);
  }

  override render() {
    const { svc: s, node, admin, rates } = this.props;
    const visible = this.state.visible;
    return h(
      'div',
      { class: 'service', key: s.name, 'data-service': s.name, ref: this.#ref },
      h('h3', null, s.name, ' ', h('small', null, `${s.listen.join(', ')} · ${s.scheduler} · ${s.requests} requests`), s.panic ? badge('PANIC') : null, s.quorumLost ? badge('QUORUM LOST') : null),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          null,
          h('thead', null, h('tr', null, ['backend', 'state', 'weight', 'active', 'inactive', 'req/s', 'errors', 'check', 'req/s (60 s)', admin ? 'actions' : null].filter((x) => x !== null).map((x) => h('th', { key: x }, x)))),
          h(
            'tbody',
            null,
            s.backends.map((b) => {
              const key = `${node}/${s.name}/${b.id}`;
              const hist = rates.rps.get(key);
              const rps = hist?.at(-1);
              return h(
                'tr',
                { key: b.id, 'data-backend': b.name, 'data-id': b.id },
                h('td', null, b.name === b.id ? b.id : `${b.name} `, b.name === b.id ? null : h('small', null, b.id), b.backup ? h('small', null, ' backup') : null),
                h('td', { class: 'state' }, badge(b.status)),
                h('td', null, b.effectiveWeight === b.weight ? b.weight : `${Math.round(b.effectiveWeight * 10) / 10}/${b.weight}`),
                h('td', null, b.active ?? '-'),
                h('td', null, b.inactive ?? '-'),
                h('td', null, rps === undefined ? '-' : rps.toFixed(1)),
                h('td', null, `${(rates.errPct.get(key) ?? 0).toFixed(1)}%`),
                h('td', { class: 'reason' }, b.check === undefined ? '' : `${b.check.type}${b.check.last ? `: ${b.check.last}` : ''}`),
                // Sparklines are drawn for blocks on screen only.
                h('td', { class: 'sparkcell' }, visible && hist !== undefined ? sparkline(hist) : null),
                admin ? h('td', { class: 'actions' }, BACKEND_ACTIONS.map((a) => h('button', { key: a, 'data-action': a }, a))) : null,
              );
            }),
          ),
        ),
      ),
    );
  }
}

function Services(p: { node: NodeView | undefined; rates: Rates; admin: boolean; tick: number; onAction: (svc: string, backend: string, action: string) => void }) {
  const n = p.node;
  const onAction = p.onAction;
  const onClick = useMemo(() => delegate('data-id', (row, action) => onAction(row.closest<HTMLElement>('[data-service]')!.dataset.service!, row.dataset.id!, action)), [onAction]);
  if (n?.status === undefined) return h('section', { class: 'card' }, h('h2', null, 'Services'), h('p', null, n === undefined ? 'no director' : `${n.name} is unreachable`));
  return h(
    'section',
    { class: 'card', id: 'services', onClick },
    h('h2', null, 'Services ', h('small', null, `on ${n.name}`)),
    n.status.services.map((s) => h(ServiceBlock, { key: s.name, svc: s, node: n.name, admin: p.admin, rates: p.rates, tick: p.tick })),
  );
}

const isProblem = (c: CheckView) => (c.state in { CRITICAL: 1, DOWN: 1, UNREACHABLE: 1, WARNING: 1, UNKNOWN: 1 });

function downtimeText(d: DowntimeView): string {
  const kind = d.fixed ? `fixed until ${fmtTime(d.end)}` : `flexible ${fmtMinutes(d.duration ?? 0)} within ${fmtTime(d.start)}-${fmtTime(d.end)}`;
  return `downtime #${d.id} ${d.startedAt === undefined ? 'pending' : 'running'}: ${kind} by ${d.author}${d.comment ? `: ${d.comment}` : ''}`;
}

class CheckRow extends Pure<{ c: CheckView; ago: string; admin: boolean }> {
  override render() {
    const { c, ago, admin } = this.props;
    const problem = isProblem(c);
    return h(
      'tr',
      { 'data-check': c.object, class: problem ? 'problem' : '' },
      h('td', null, badge(c.state)),
      h('td', null, c.object, h('small', null, ` ${c.kind}`)),
      h('td', null, `${c.stateType} ${c.attempt}/${c.maxAttempts}`),
      h('td', null, ago),
      h('td', { class: 'output' }, c.output),
      h(
        'td',
        { class: 'flags' },
        c.flapping ? h('span', { class: 'flag' }, 'flapping') : null,
        c.ack ? h('span', { class: 'flag ack', title: `${c.ack.author}: ${c.ack.comment}` }, `acknowledged by ${c.ack.author}`, admin ? h('button', { class: 'inline', 'data-action': 'unack', title: 'remove the acknowledgement' }, '×') : null) : null,
        c.inDowntime ? h('span', { class: 'flag downtime-flag' }, 'in downtime') : null,
        c.downtimes.map((d) =>
          h(
            'span',
            { key: d.id, class: `flag downtime ${d.startedAt === undefined ? 'pending' : 'running'}`, 'data-downtime': d.id, title: downtimeText(d) },
            `#${d.id} ${d.fixed ? 'fixed' : 'flexible'} ${d.startedAt === undefined ? 'pending' : 'running'}`,
            admin ? h('button', { class: 'inline', 'data-action': 'cancel-downtime', 'data-id': d.id, title: `cancel downtime #${d.id}` }, '×') : null,
          ),
        ),
      ),
      h(
        'td',
        { class: 'actions' },
        h('button', { 'data-action': 'graph' }, 'graph'),
        admin ? h('button', { 'data-action': 'recheck' }, 're-check') : null,
        admin && problem && c.ack === undefined ? h('button', { 'data-action': 'ack' }, 'ack') : null,
        admin ? h('button', { 'data-action': 'downtime' }, 'downtime') : null,
      ),
    );
  }
}

const CHECK_ROWS = 300;

interface ChecksProps {
  checks: CheckView[];
  now: number;
  admin: boolean;
  onAction: (object: string, action: string, button: HTMLElement) => void;
}

/** The check table (problems first). Off screen it renders again only when the checks changed, not on each tick. */
class Checks extends Component<ChecksProps, { visible: boolean }> {
  override state = { visible: true };
  #el: HTMLElement | null = null;
  #unwatch: (() => void) | undefined;
  readonly #ref = (el: HTMLElement | null) => {
    this.#el = el;
  };
  #onClick = delegate('data-check', (row, action, button) => this.props.onAction(row.dataset.check!, action, button));

  override componentDidMount(): void {
    if (this.#el !== null) this.#unwatch = watchVisibility(this.#el, (visible) => visible !== this.state.visible && this.setState({ visible }));
  }

  override componentWillUnmount(): void {
    this.#unwatch?.();
  }

  override shouldComponentUpdate(next: ChecksProps, nextState: { visible: boolean }): boolean {
    const p = this.props;
    return nextState.visible !== this.state.visible || next.checks !== p.checks || next.admin !== p.admin || (nextState.visible && next.now !== p.now);
  }

  override render() {
    const p = this.props;
    let problems = 0;
    for (const c of p.checks) if (isProblem(c)) problems++;
    return h(
      'section',
      { class: 'card', id: 'checks', ref: this.#ref, onClick: this.#onClick },
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
            p.checks.slice(0, CHECK_ROWS).map((c) => h(CheckRow, { key: c.object, c, ago: fmtAgo(c.lastStateChange, p.now), admin: p.admin })),
          ),
        ),
      ),
      p.checks.length > CHECK_ROWS ? h('p', null, `… and ${p.checks.length - CHECK_ROWS} more OK checks (GET /api/checks lists all)`) : null,
    );
  }
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
          h('div', null, n.reachable ? badge('UP') : h('span', { title: n.error }, badge('UNREACHABLE'))),
        ),
      ),
    ),
    snap.vrrp.length === 0
      ? null
      : h(
          'div',
          { class: 'scroll' },
          h(
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
                    v.members.map((m) => h('span', { class: 'member', key: m.node }, `${m.node} `, badge(m.reachable ? m.state : 'UNREACHABLE'), ` ${m.effectivePriority === m.priority ? m.priority : `${m.effectivePriority}/${m.priority}`}`)),
                  ),
                ),
              ),
            ),
          ),
        ),
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

class PureTimeline extends Pure<{ entries: TimelineEntry[] }> {
  override render() {
    return Timeline(this.props);
  }
}

type Dialog = { kind: 'ack'; object: string } | { kind: 'downtime'; object: string } | { kind: 'weight'; service: string; backend: string };

function Dashboard(p: { session: SessionInfo; stream: LiveStream | undefined; onSession: (s: SessionInfo) => void; onLogout: () => void }) {
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
    let stream: LiveStream | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    // The page's copy of the server's state; patches apply to these.
    let cur: ClusterSnapshot | undefined;
    let byObject = new Map<string, CheckView>();
    let checksQueued = false;
    const publishChecks = () => {
      // Several check patches in one task render once.
      if (checksQueued) return;
      checksQueued = true;
      queueMicrotask(() => {
        checksQueued = false;
        setChecks([...byObject.values()].toSorted(compareChecks));
      });
    };
    const takeSnapshot = (s: ClusterSnapshot) => {
      cur = s;
      rates.update(s);
      setSnap(s);
    };
    const onMessage = (m: StreamMessage) => {
      switch (m.event) {
        case 'open':
          setLive(true);
          return;
        case 'session': {
          const s = JSON.parse(m.data) as SessionInfo;
          csrf = s.csrf;
          if (s.user !== p.session.user || s.role !== p.session.role) p.onSession(s);
          return;
        }
        case 'snapshot':
          performance.mark('pal:snapshot');
          takeSnapshot(JSON.parse(m.data) as ClusterSnapshot);
          return;
        case 'snapshotPatch':
          if (cur !== undefined) takeSnapshot(applyPatch(cur, JSON.parse(m.data) as PatchOp[]));
          return;
        case 'checks':
          performance.mark('pal:checks');
          byObject = new Map((JSON.parse(m.data) as CheckView[]).map((c) => [c.object, c]));
          publishChecks();
          return;
        case 'checksPatch': {
          const d = JSON.parse(m.data) as { set: CheckView[]; del: string[] };
          for (const c of d.set) byObject.set(c.object, c);
          for (const o of d.del) byObject.delete(o);
          publishChecks();
          return;
        }
        case 'timelineAll':
          setTimeline(JSON.parse(m.data) as TimelineEntry[]);
          return;
        case 'timeline': {
          const e = JSON.parse(m.data) as TimelineEntry;
          setTimeline((t) => [...t.slice(-499), e]);
          return;
        }
        case 'error':
          setLive(false);
          // The browser retries by itself while the stream is only broken; a refused one (logged out, server restarted) is CLOSED.
          if (stream?.closed === true && !closed) {
            stream.close();
            retry = setTimeout(() => {
              api<SessionInfo>('GET', '/api/session').then(connect, (err: { status?: number }) => (err.status === 401 ? p.onLogout() : connect()));
            }, 2000);
          }
          return;
      }
    };
    const connect = () => {
      stream = new LiveStream();
      stream.listen(onMessage);
    };
    if (p.stream !== undefined && !p.stream.closed) {
      stream = p.stream;
      stream.listen(onMessage);
      if (stream.es.readyState === EventSource.OPEN) setLive(true);
    } else {
      connect();
    }
    return () => {
      closed = true;
      stream?.close();
      clearTimeout(retry);
    };
  }, []);

  const act = (promise: Promise<{ message?: string }>) =>
    promise.then(
      (r) => setNotice(r.message ?? 'done'),
      (e: Error) => setNotice(`refused: ${e.message}`),
    );
  const onBackend = useMemo(
    () => (service: string, backend: string, action: string) => {
      if (action === 'weight') setDialog({ kind: 'weight', service, backend });
      else void act(api('POST', `/api/backends/${encodeURIComponent(service)}/${encodeURIComponent(backend)}/${action}`));
    },
    [],
  );
  const onCheck = useMemo(
    () => (object: string, action: string, button: HTMLElement) => {
      if (action === 'graph') setGraph(object);
      else if (action === 'recheck') void act(api('POST', '/api/checks/recheck', { object }));
      else if (action === 'ack') setDialog({ kind: 'ack', object });
      else if (action === 'downtime') setDialog({ kind: 'downtime', object });
      else if (action === 'unack') void act(api('POST', '/api/checks/unack', { object }));
      else if (action === 'cancel-downtime') void act(api('POST', `/api/downtimes/${encodeURIComponent(button.dataset.id ?? '')}/cancel`));
    },
    [],
  );
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
          h(Services, { node, rates, admin, tick: snap.time, onAction: onBackend }),
          graph !== undefined ? h(Graph, { object: graph, onClose: () => setGraph(undefined) }) : null,
          h(Checks, { checks, now: snap.time, admin, onAction: onCheck }),
          h(PureTimeline, { entries: timeline }),
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
          const checked = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).checked;
          const d = dlg;
          setDialog(undefined);
          if (d.kind === 'ack') void act(api('POST', '/api/checks/ack', { object: d.object, comment: v('comment'), sticky: checked('sticky') }));
          else if (d.kind === 'downtime') {
            const flexible = checked('flexible');
            void act(api('POST', '/api/checks/downtime', { object: d.object, minutes: Number(v('minutes')), comment: v('comment'), ...(flexible && { flexible: true, within_minutes: Number(v('within')) }) }));
          } else void act(api('POST', `/api/backends/${encodeURIComponent(d.service)}/${encodeURIComponent(d.backend)}/weight`, { weight: Number(v('weight')) }));
        },
      },
      dlg.kind === 'weight'
        ? h('label', null, 'weight (0-1000) ', h('input', { name: 'weight', type: 'number', min: 0, max: 1000, required: true }))
        : dlg.kind === 'downtime'
          ? h(DowntimeFields, null)
          : [
              h('label', { key: 'c' }, 'comment ', h('input', { name: 'comment', required: true })),
              h('label', { key: 's' }, h('input', { name: 'sticky', type: 'checkbox' }), ' sticky (until OK)'),
            ],
    );
  }
}

/** Fixed downtime runs from now; flexible downtime starts when the check enters a problem state within the window. Uncontrolled inputs: ticking "flexible" keeps what was typed. */
function DowntimeFields() {
  const [flexible, setFlexible] = useState(false);
  return h(
    'div',
    { class: 'fields' },
    h('label', null, 'minutes ', h('input', { name: 'minutes', type: 'number', min: 1, max: 525_600, defaultValue: 60, required: true })),
    h('label', { class: 'check' }, h('input', { name: 'flexible', type: 'checkbox', checked: flexible, onChange: (e: Event) => setFlexible((e.target as HTMLInputElement).checked) }), ' flexible: starts when the check fails'),
    flexible ? h('label', null, 'if it fails within (minutes) ', h('input', { name: 'within', type: 'number', min: 1, max: 525_600, defaultValue: 120, required: true })) : null,
    h('label', null, 'comment ', h('input', { name: 'comment' })),
  );
}

function App(p: { stream: LiveStream | undefined }) {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const stream = useRef(p.stream);
  useEffect(() => {
    const s = stream.current;
    const askServer = () =>
      api<SessionInfo>('GET', '/api/session').then(
        (x) => {
          csrf = x.csrf;
          setSession(x);
        },
        () => setSession(null),
      );
    if (s === undefined) {
      void askServer();
      return;
    }
    // The session is the stream's first message; a refused stream (401) closes: then the server says who we are (or the login form shows).
    s.listen((m) => {
      if (m.event === 'session') {
        performance.mark('pal:session');
        s.listen(undefined);
        const x = JSON.parse(m.data) as SessionInfo;
        csrf = x.csrf;
        setSession(x);
      } else if (m.event === 'error' && s.closed) {
        s.close();
        stream.current = undefined;
        void askServer();
      }
    });
  }, []);
  if (session === undefined) return h('p', null, 'loading…');
  if (session === null)
    return h(Login, {
      onLogin: (s) => {
        csrf = s.csrf;
        stream.current = undefined;
        setSession(s);
      },
    });
  const first = stream.current;
  stream.current = undefined;
  return h(Dashboard, {
    session,
    stream: first,
    onSession: setSession,
    onLogout: () => {
      csrf = null;
      setSession(null);
    },
  });
}

performance.mark('pal:app');
render(h(App, { stream: firstStream }), document.getElementById('app')!);
firstStream = undefined;
