/**
 * Monitoring history in node:sqlite (WAL): check results, performance data with
 * RRD-like rollups, events and an audit log (the pnp4nagios + Nagios log job).
 *
 * Tiers, each keeping min / avg / max per bucket and its own retention:
 *   raw samples (the value at its second) → 1 min → 5 min → 1 h → 6 h.
 * Every sample updates each tier's bucket with an UPSERT (count-weighted average),
 * so rollups are exact and survive restarts. A bucket whose min equals its max (one
 * sample, or a constant value) stores min and max as NULL: they read back as the
 * average and cost one header byte each instead of eight.
 *
 * What blocks: node:sqlite is synchronous. Writes are queued in memory and
 * committed in one transaction every `flushInterval` (default 1 s), and pruning runs
 * at most every 10 minutes, per metric through the primary key; each of these blocks
 * the monitor's event loop for as long as the transaction takes (bench/store.ts
 * measures it). The store belongs to the monitor role and never runs in a proxy
 * process. Queries are synchronous too, bounded by the point count of a tier.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { parseNagiosRange } from '../core/nagios-range.ts';
import type { CheckResult, PerfDatum } from '../core/check-result.ts';
import { VIEWS, type Series, type SeriesPoint, type TierName, type ViewName } from '../core/series.ts';

// The series contract lives in core (the dashboard reads it too); re-exported for the store's clients.
export { VIEWS, type Series, type SeriesPoint, type TierName, type ViewName } from '../core/series.ts';

/** Rollup tiers (every TierName but raw): bucket width in seconds and table name. */
export const TIERS = [
  { name: '1m', step: 60, table: 'r_1m' },
  { name: '5m', step: 300, table: 'r_5m' },
  { name: '1h', step: 3600, table: 'r_1h' },
  { name: '6h', step: 21600, table: 'r_6h' },
] as const satisfies readonly { name: Exclude<TierName, 'raw'>; step: number; table: string }[];

/** Retention per tier, ms. */
export interface Retention {
  raw: number;
  '1m': number;
  '5m': number;
  '1h': number;
  '6h': number;
  /** Events and audit entries. */
  events: number;
}

/**
 * Defaults (the cluster file's `monitor.store`): 2 d raw and 1 min, 7 d 5 min (the
 * week view), 32 d 1 h (the month view), 370 d 6 h (the year view): about 340 KiB
 * per metric at 1-minute results, under pnp4nagios' 382 KiB RRD (bench/store.ts).
 */
export const DEFAULT_RETENTION: Retention = {
  raw: 2 * 86_400_000,
  '1m': 2 * 86_400_000,
  '5m': 7 * 86_400_000,
  '1h': 32 * 86_400_000,
  '6h': 370 * 86_400_000,
  events: 400 * 86_400_000,
};

export interface StoreOptions {
  /** SQLite file; ':memory:' for tests. Its directory is created. */
  path: string;
  retention?: Partial<Retention>;
  /** Commit queued writes at least this often, ms; 0 = only on `flush()`. Default 1000. */
  flushInterval?: number;
  /** Wall clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** Called when a timed flush fails (disk full…); the writes stay queued. */
  onError?: (err: unknown) => void;
}

export interface StoredEvent {
  time: number;
  kind: string;
  object: string;
  state: string;
  detail: unknown;
}

export interface AuditEntry {
  time: number;
  actor: string;
  action: string;
  object: string;
  detail: unknown;
}

interface MetricRow {
  id: number;
  warn: string | null;
  crit: string | null;
  min: number | null;
  max: number | null;
  uom: string;
}

const PRUNE_EVERY = 10 * 60_000;

function lines(range: string | null): number[] {
  if (range === null) return [];
  const r = parseNagiosRange(range);
  if (typeof r === 'string') return [];
  // `10` means 0..10: only its upper end is a line worth drawing (as pnp4nagios does).
  const start = range.includes(':') && Number.isFinite(r.start) ? [r.start] : [];
  return Number.isFinite(r.end) ? [...start, r.end] : start;
}

export class HistoryStore {
  readonly db: DatabaseSync;
  readonly retention: Retention;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  readonly #objects = new Map<string, number>();
  readonly #metrics = new Map<string, MetricRow>();
  #queue: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #lastPrune = 0;
  readonly #s: {
    object: StatementSync;
    objectGet: StatementSync;
    metric: StatementSync;
    metricGet: StatementSync;
    metricMeta: StatementSync;
    result: StatementSync;
    sample: StatementSync;
    tiers: StatementSync[];
    event: StatementSync;
    audit: StatementSync;
  };

  constructor(o: StoreOptions) {
    if (o.path !== ':memory:') mkdirSync(dirname(o.path), { recursive: true });
    this.db = new DatabaseSync(o.path);
    this.retention = { ...DEFAULT_RETENTION, ...o.retention };
    this.#now = o.now ?? Date.now;
    this.#onError = o.onError ?? (() => {});
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS object (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS metric (id INTEGER PRIMARY KEY, object INTEGER NOT NULL, label TEXT NOT NULL, uom TEXT NOT NULL, warn TEXT, crit TEXT, min REAL, max REAL, UNIQUE (object, label));
      CREATE TABLE IF NOT EXISTS result (object INTEGER NOT NULL, t INTEGER NOT NULL, state INTEGER NOT NULL, duration INTEGER NOT NULL, summary TEXT NOT NULL, long_output TEXT, PRIMARY KEY (object, t)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS sample (m INTEGER NOT NULL, t INTEGER NOT NULL, v REAL NOT NULL, PRIMARY KEY (m, t)) WITHOUT ROWID;
      ${TIERS.map((t) => `CREATE TABLE IF NOT EXISTS ${t.table} (m INTEGER NOT NULL, b INTEGER NOT NULL, n INTEGER NOT NULL, avg REAL NOT NULL, min REAL, max REAL, PRIMARY KEY (m, b)) WITHOUT ROWID;`).join('\n')}
      CREATE TABLE IF NOT EXISTS event (id INTEGER PRIMARY KEY, t INTEGER NOT NULL, kind TEXT NOT NULL, object TEXT NOT NULL, state TEXT NOT NULL, detail TEXT);
      CREATE INDEX IF NOT EXISTS event_t ON event (t);
      CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, t INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL, detail TEXT);
      CREATE INDEX IF NOT EXISTS audit_t ON audit (t);
    `);
    const upsert = (table: string) =>
      this.db.prepare(`INSERT INTO ${table} (m, b, n, avg, min, max) VALUES (?, ?, 1, ?, NULL, NULL)
        ON CONFLICT (m, b) DO UPDATE SET
          n = n + 1,
          avg = (avg * n + excluded.avg) / (n + 1),
          min = CASE WHEN min(coalesce(min, avg), excluded.avg) = max(coalesce(max, avg), excluded.avg) THEN NULL ELSE min(coalesce(min, avg), excluded.avg) END,
          max = CASE WHEN min(coalesce(min, avg), excluded.avg) = max(coalesce(max, avg), excluded.avg) THEN NULL ELSE max(coalesce(max, avg), excluded.avg) END`);
    this.#s = {
      object: this.db.prepare('INSERT INTO object (name) VALUES (?) ON CONFLICT (name) DO NOTHING'),
      objectGet: this.db.prepare('SELECT id FROM object WHERE name = ?'),
      metric: this.db.prepare('INSERT INTO metric (object, label, uom, warn, crit, min, max) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (object, label) DO NOTHING'),
      metricGet: this.db.prepare('SELECT id, uom, warn, crit, min, max FROM metric WHERE object = ? AND label = ?'),
      metricMeta: this.db.prepare('UPDATE metric SET uom = ?, warn = ?, crit = ?, min = ?, max = ? WHERE id = ?'),
      result: this.db.prepare('INSERT OR REPLACE INTO result (object, t, state, duration, summary, long_output) VALUES (?, ?, ?, ?, ?, ?)'),
      sample: this.db.prepare('INSERT OR REPLACE INTO sample (m, t, v) VALUES (?, ?, ?)'),
      tiers: TIERS.map((t) => upsert(t.table)),
      event: this.db.prepare('INSERT INTO event (t, kind, object, state, detail) VALUES (?, ?, ?, ?, ?)'),
      audit: this.db.prepare('INSERT INTO audit (t, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)'),
    };
    const every = o.flushInterval ?? 1000;
    if (every > 0) {
      this.#timer = setInterval(() => {
        try {
          this.flush();
        } catch (err) {
          this.#onError(err);
        }
      }, every);
      this.#timer.unref();
    }
  }

  /** Writes waiting for the next flush. */
  get pending(): number {
    return this.#queue.length;
  }

  #objectId(name: string): number {
    let id = this.#objects.get(name);
    if (id === undefined) {
      this.#s.object.run(name);
      id = Number((this.#s.objectGet.get(name) as { id: number | bigint }).id);
      this.#objects.set(name, id);
    }
    return id;
  }

  #metric(objectId: number, objectName: string, p: PerfDatum): MetricRow {
    const key = `${objectName}\u0000${p.label}`;
    let m = this.#metrics.get(key);
    const warn = p.warn ?? null;
    const crit = p.crit ?? null;
    const min = p.min ?? null;
    const max = p.max ?? null;
    if (m === undefined) {
      this.#s.metric.run(objectId, p.label, p.uom, warn, crit, min, max);
      const row = this.#s.metricGet.get(objectId, p.label) as { id: number | bigint; uom: string; warn: string | null; crit: string | null; min: number | null; max: number | null };
      m = { id: Number(row.id), uom: row.uom, warn: row.warn, crit: row.crit, min: row.min, max: row.max };
      this.#metrics.set(key, m);
    }
    if (m.uom !== p.uom || m.warn !== warn || m.crit !== crit || m.min !== min || m.max !== max) {
      this.#s.metricMeta.run(p.uom, warn, crit, min, max, m.id);
      Object.assign(m, { uom: p.uom, warn, crit, min, max });
    }
    return m;
  }

  /** Queues a check result and its perfdata (`object` is `host` or `host/service`). */
  record(object: string, r: CheckResult): void {
    this.#queue.push(() => {
      const oid = this.#objectId(object);
      const t = Math.floor(r.startedAt / 1000);
      this.#s.result.run(oid, t, r.code, Math.round(r.durationMs), r.summary, r.longOutput === '' ? null : r.longOutput);
      for (const p of r.perfdata) {
        if (!Number.isFinite(p.value)) continue;
        const m = this.#metric(oid, object, p);
        this.#s.sample.run(m.id, t, p.value);
        for (let i = 0; i < TIERS.length; i++) this.#s.tiers[i]!.run(m.id, Math.floor(t / TIERS[i]!.step), p.value);
      }
    });
  }

  /** Queues an event (state change, notification, flapping, downtime, Palisade's own). */
  event(e: StoredEvent): void {
    this.#queue.push(() => this.#s.event.run(e.time, e.kind, e.object, e.state, e.detail === undefined ? null : JSON.stringify(e.detail)));
  }

  /** Queues an audit entry (who acknowledged, scheduled downtime, reloaded…). */
  audit(a: AuditEntry): void {
    this.#queue.push(() => this.#s.audit.run(a.time, a.actor, a.action, a.object, a.detail === undefined ? null : JSON.stringify(a.detail)));
  }

  /** Commits every queued write in one transaction (and prunes when due). Returns the number of writes. */
  flush(): number {
    const q = this.#queue;
    if (q.length > 0) {
      this.#queue = [];
      this.db.exec('BEGIN');
      try {
        for (const w of q) w();
        this.db.exec('COMMIT');
      } catch (err) {
        this.db.exec('ROLLBACK');
        this.#queue = [...q, ...this.#queue];
        throw err;
      }
    }
    const now = this.#now();
    if (now - this.#lastPrune >= PRUNE_EVERY) this.prune(now);
    return q.length;
  }

  /** Deletes what is past each tier's retention, metric by metric through the primary key. */
  prune(now = this.#now()): void {
    this.#lastPrune = now;
    const nowS = Math.floor(now / 1000);
    const metrics = this.db.prepare('SELECT id FROM metric').all() as Array<{ id: number | bigint }>;
    const objects = this.db.prepare('SELECT id FROM object').all() as Array<{ id: number | bigint }>;
    const delSample = this.db.prepare('DELETE FROM sample WHERE m = ? AND t < ?');
    const delResult = this.db.prepare('DELETE FROM result WHERE object = ? AND t < ?');
    const delTier = TIERS.map((t) => this.db.prepare(`DELETE FROM ${t.table} WHERE m = ? AND b < ?`));
    this.db.exec('BEGIN');
    try {
      const rawCut = nowS - Math.floor(this.retention.raw / 1000);
      for (const o of objects) delResult.run(o.id, rawCut);
      for (const m of metrics) {
        delSample.run(m.id, rawCut);
        TIERS.forEach((t, i) => delTier[i]!.run(m.id, Math.floor((nowS - this.retention[t.name] / 1000) / t.step)));
      }
      const evCut = now - this.retention.events;
      this.db.prepare('DELETE FROM event WHERE t < ?').run(evCut);
      this.db.prepare('DELETE FROM audit WHERE t < ?').run(evCut);
      this.db.exec('COMMIT');
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** The tier a query of [from, to] reads: the finest that still holds `from` and gives at most `maxPoints` buckets. */
  tierFor(from: number, to: number, maxPoints = 2100, now = this.#now()): TierName {
    const span = to - from;
    if (now - this.retention.raw <= from && span / 60_000 <= maxPoints) return 'raw';
    for (const t of TIERS) if (now - this.retention[t.name] <= from && span / (t.step * 1000) <= maxPoints) return t.name;
    return TIERS[TIERS.length - 1]!.name;
  }

  /** A metric's series over [from, to] (ms), rolled up to fit, with its warn / crit lines. */
  series(object: string, label: string, from: number, to: number, opts: { tier?: TierName; maxPoints?: number } = {}): Series | undefined {
    const oid = this.#objects.get(object) ?? (this.#s.objectGet.get(object) as { id: number } | undefined)?.id;
    if (oid === undefined) return undefined;
    const m = this.#s.metricGet.get(oid, label) as { id: number; uom: string; warn: string | null; crit: string | null; min: number | null; max: number | null } | undefined;
    if (m === undefined) return undefined;
    const tier = opts.tier ?? this.tierFor(from, to, opts.maxPoints);
    const fromS = Math.floor(from / 1000);
    const toS = Math.floor(to / 1000);
    let points: SeriesPoint[];
    let step = 0;
    if (tier === 'raw') {
      const rows = this.db.prepare('SELECT t, v FROM sample WHERE m = ? AND t >= ? AND t <= ? ORDER BY t').all(m.id, fromS, toS) as Array<{ t: number; v: number }>;
      points = rows.map((r) => ({ t: r.t * 1000, min: r.v, avg: r.v, max: r.v }));
    } else {
      const t = TIERS.find((x) => x.name === tier)!;
      step = t.step * 1000;
      const rows = this.db
        .prepare(`SELECT b, avg, coalesce(min, avg) AS min, coalesce(max, avg) AS max FROM ${t.table} WHERE m = ? AND b >= ? AND b <= ? ORDER BY b`)
        .all(m.id, Math.floor(fromS / t.step), Math.floor(toS / t.step)) as Array<{ b: number; avg: number; min: number; max: number }>;
      points = rows.map((r) => ({ t: r.b * step, min: r.min, avg: r.avg, max: r.max }));
    }
    return { object, label, uom: m.uom, tier, step, points, warn: lines(m.warn), crit: lines(m.crit), min: m.min ?? undefined, max: m.max ?? undefined };
  }

  /** A pnp4nagios view (4h, 25h, week, month, year) ending now. */
  view(object: string, label: string, view: ViewName, now = this.#now()): Series | undefined {
    return this.series(object, label, now - VIEWS[view], now);
  }

  /** Labels stored for an object. */
  labels(object: string): string[] {
    const rows = this.db.prepare('SELECT m.label FROM metric m JOIN object o ON o.id = m.object WHERE o.name = ? ORDER BY m.label').all(object) as Array<{ label: string }>;
    return rows.map((r) => r.label);
  }

  /** Events in [from, to], oldest first, at most `limit`. */
  events(from: number, to: number, limit = 1000): StoredEvent[] {
    const rows = this.db.prepare('SELECT t, kind, object, state, detail FROM event WHERE t >= ? AND t <= ? ORDER BY t, id LIMIT ?').all(from, to, limit) as Array<{ t: number; kind: string; object: string; state: string; detail: string | null }>;
    return rows.map((r) => ({ time: r.t, kind: r.kind, object: r.object, state: r.state, detail: r.detail === null ? undefined : JSON.parse(r.detail) }));
  }

  auditLog(from: number, to: number, limit = 1000): AuditEntry[] {
    const rows = this.db.prepare('SELECT t, actor, action, object, detail FROM audit WHERE t >= ? AND t <= ? ORDER BY t, id LIMIT ?').all(from, to, limit) as Array<{ t: number; actor: string; action: string; object: string; detail: string | null }>;
    return rows.map((r) => ({ time: r.t, actor: r.actor, action: r.action, object: r.object, detail: r.detail === null ? undefined : JSON.parse(r.detail) }));
  }

  /** Bytes in use (pages not on the free list) and the file's pages, after a WAL checkpoint. */
  size(): { used: number; file: number } {
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const get = (p: string) => Number((this.db.prepare(`PRAGMA ${p}`).get() as Record<string, number>)[p]);
    const pageSize = get('page_size');
    const pages = get('page_count');
    const free = get('freelist_count');
    return { used: (pages - free) * pageSize, file: pages * pageSize };
  }

  /** Flushes and closes. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      this.flush();
    } finally {
      this.db.close();
    }
  }
}
