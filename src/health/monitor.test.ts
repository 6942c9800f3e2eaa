/**
 * HealthMonitor scenarios: a real HTTP backend flipping down and up, reload without
 * flapping, operator states, passive ejection, slow start, quorum, panic, close.
 * Timing assertions are generous (busy CI machines); order and cause are exact.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, test } from 'node:test';
import { healthSchema, outlierSchema, type HealthConfig, type OutlierConfig } from '../config/health-schema.ts';
import { HealthMonitor, type HealthMonitorOptions } from './monitor.ts';
import type { ServiceHealthSpec } from './targets.ts';
import { listen } from './testing.ts';
import type { Check, CheckResult, FlipEvent, PanicEvent, QuorumEvent, WeightEvent } from './types.ts';

/** Everything the monitor pushes, in order, with a way to wait for a particular event. */
class Recorder {
  readonly flips: FlipEvent[] = [];
  readonly weights: WeightEvent[] = [];
  readonly quorum: QuorumEvent[] = [];
  readonly panics: PanicEvent[] = [];
  readonly results: Array<{ backend: string; result: CheckResult; at: number }> = [];
  readonly log: string[] = [];
  #waiters: Array<() => void> = [];

  readonly listener: HealthMonitorOptions = {
    onFlip: (e) => this.#push(this.flips, e, `flip ${e.backend} ${e.from}>${e.to} (${e.source})`),
    onWeight: (e) => this.#push(this.weights, e, `weight ${e.backend} ${e.weight}`),
    onQuorum: (e) => this.#push(this.quorum, e, `quorum ${e.service} ${e.up ? 'up' : 'down'} ${e.sum}`),
    onPanic: (e) => this.#push(this.panics, e, `panic ${e.service} ${e.panic}`),
    onResult: (_s, backend, result) => this.#push(this.results, { backend, result, at: performance.now() }, `result ${backend} ${result.status}`),
  };

  #push<T>(list: T[], e: T, line: string): void {
    list.push(e);
    this.log.push(line);
    for (const w of this.#waiters.slice()) w();
  }

  /** Resolves once `pred` holds (checked now and after every event); rejects after `ms`. */
  until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; events:\n${this.log.join('\n')}`));
      }, ms);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }
}

/** Checks whose outcome per backend the test sets: 'ok', 'fail', or 'hang' (until aborted). */
class FakeChecks {
  readonly mode = new Map<string, 'ok' | 'fail' | 'hang'>();
  readonly extra = new Map<string, Partial<CheckResult>>();
  runs = 0;
  aborted = 0;
  readonly create = (_cfg: HealthConfig): Check => ({
    name: 'fake',
    run: (target, signal) => {
      this.runs++;
      const mode = this.mode.get(target.id) ?? 'ok';
      if (mode === 'hang') {
        return new Promise((resolve) => {
          const done = () => {
            this.aborted++;
            resolve({ ok: false, status: 'L7_TIMEOUT', durationMs: 0 });
          };
          if (signal.aborted) done();
          else signal.addEventListener('abort', done, { once: true });
        });
      }
      const base: CheckResult = mode === 'ok' ? { ok: true, status: 'L7_OK', code: 200, durationMs: 0 } : { ok: false, status: 'L7_STATUS', code: 503, durationMs: 0 };
      return Promise.resolve({ ...base, ...this.extra.get(target.id) });
    },
  });
}

const check = (o: Record<string, unknown> = {}) => healthSchema.parse({ type: 'http', interval: '20ms', timeout: '2s', jitter: 0, rise: 2, fall: 2, ...o });
const passive = (o: Record<string, unknown> = {}): OutlierConfig => outlierSchema.parse(o);

function spec(name: string, backends: Array<{ id: string; weight?: number; check?: HealthConfig }>, o: Partial<ServiceHealthSpec> = {}): ServiceHealthSpec {
  return {
    name,
    targets: backends.map((b) => {
      const [host, port] = b.id.split(':');
      return { backend: b.id, host: host!, port: Number(port), weight: b.weight ?? 1, check: b.check };
    }),
    ...o,
  };
}

function monitor(t: { after: (fn: () => Promise<void>) => void }, opts: HealthMonitorOptions): HealthMonitor {
  const m = new HealthMonitor(opts);
  t.after(() => m.close());
  return m;
}

describe('HealthMonitor with a real HTTP backend', () => {
  test('flips down within fall × interval after 503s start, and up within rise × interval after 200s', async (t) => {
    let status = 200;
    const server = http.createServer((_req, res) => res.writeHead(status).end());
    const port = await listen(t, server);
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener });
    const interval = 50;
    const id = `127.0.0.1:${port}`;
    m.update([spec('www', [{ id, check: check({ interval: `${interval}ms`, timeout: '1s', rise: 2, fall: 3 }) }])]);
    assert.equal(m.state('www', id), 'up');

    await rec.until(() => rec.results.some((r) => r.result.status === 'L7_OK'), 'a first successful check');
    status = 503;
    const downFrom = performance.now();
    const resultsBefore = rec.results.length;
    await rec.until(() => rec.flips.length === 1, 'the down flip');
    const downAfter = performance.now() - downFrom;
    const down = rec.flips[0]!;
    assert.deepEqual({ from: down.from, to: down.to, source: down.source }, { from: 'up', to: 'down', source: 'check' });
    assert.equal(down.reason, 'L7_STATUS 503: Service Unavailable (3 consecutive failures)');
    // Cause: exactly `fall` failed results since the switch, the last one being the flip.
    const failed = rec.results.slice(resultsBefore).filter((r) => r.result.status === 'L7_STATUS');
    assert.ok(failed.length >= 3 && failed.length <= 4, `${failed.length} failed results before the flip`);
    assert.ok(downAfter < 3 * interval * 20, `down after ${downAfter.toFixed(0)}ms`);
    assert.equal(m.state('www', id), 'down');

    status = 200;
    const upFrom = performance.now();
    await rec.until(() => rec.flips.length === 2, 'the up flip');
    const up = rec.flips[1]!;
    assert.deepEqual({ from: up.from, to: up.to, reason: up.reason }, { from: 'down', to: 'up', reason: 'L7_OK 200 (2 consecutive successes)' });
    assert.ok(performance.now() - upFrom < 2 * interval * 20);

    const snap = m.snapshot();
    const b = snap.services[0]!.backends[0]!;
    assert.equal(b.state, 'up');
    assert.equal(b.check, 'http');
    assert.equal(b.last?.status, 'L7_OK 200');
  });
});

describe('HealthMonitor behaviour', () => {
  test('a reload with unchanged identities keeps state: a down backend does not flap up', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    fake.mode.set('10.0.0.1:80', 'fail');
    const first = m.update([spec('www', [{ id: '10.0.0.1:80', check: check() }, { id: '10.0.0.2:80', check: check() }])]);
    assert.deepEqual(first.added.map((a) => `${a.backend} ${a.state}`), ['10.0.0.1:80 up', '10.0.0.2:80 up']);
    await rec.until(() => m.state('www', '10.0.0.1:80') === 'down', '10.0.0.1 down');
    const flipsBefore = rec.flips.length;

    // Same probe, different timing, new objects: nothing restarts, nothing flips.
    const second = m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ interval: '30ms', rise: 3 }) }, { id: '10.0.0.2:80', check: check() }])]);
    assert.deepEqual(second, { added: [], removed: [] });
    assert.equal(m.state('www', '10.0.0.1:80'), 'down');
    // A changed probe (other path) starts a new check from the current health: still no flip.
    m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ path: '/other' }) }, { id: '10.0.0.2:80', check: check() }])]);
    assert.equal(m.state('www', '10.0.0.1:80'), 'down');
    const runs = fake.runs;
    await rec.until(() => fake.runs >= runs + 6, 'more checks');
    assert.equal(rec.flips.length, flipsBefore, `no flips after the reloads: ${rec.log.join(', ')}`);

    // Removing and adding backends.
    const third = m.update([spec('www', [{ id: '10.0.0.2:80', check: check() }, { id: '10.0.0.3:80', check: check({ start: 'down' }) }])]);
    assert.deepEqual(third.removed, [{ service: 'www', backend: '10.0.0.1:80' }]);
    assert.deepEqual(third.added.map((a) => `${a.backend} ${a.state}`), ['10.0.0.3:80 down']);
    assert.equal(m.state('www', '10.0.0.1:80'), undefined);
    await rec.until(() => m.state('www', '10.0.0.3:80') === 'up', 'the new backend up after rise checks');
  });

  test('operator drain and maint override checks until cleared', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    m.update([spec('www', [{ id: '10.0.0.1:80', check: check() }]), spec('api', [{ id: '10.0.0.1:80', check: check() }])]);
    assert.equal(m.setAdmin('10.0.0.1:80', 'drain', 'www'), 1);
    assert.deepEqual(rec.flips.map((f) => `${f.service} ${f.from}>${f.to} ${f.source} ${f.reason}`), ['www up>drain operator operator drain']);
    fake.mode.set('10.0.0.1:80', 'fail');
    const runs = fake.runs;
    await rec.until(() => fake.runs >= runs + 4, 'checks while drained');
    await rec.until(() => rec.flips.some((f) => f.service === 'api' && f.to === 'down'), 'api down');
    assert.equal(m.state('www', '10.0.0.1:80'), 'drain', 'drain holds while checks fail');
    m.setAdmin('10.0.0.1:80', 'up', 'www');
    assert.equal(m.state('www', '10.0.0.1:80'), 'down', 'clearing shows the current health');
    assert.equal(m.setAdmin('10.0.0.1:80', 'maint'), 2, 'without a service: every service');
    assert.equal(m.state('api', '10.0.0.1:80'), 'maint');
    assert.equal(m.setAdmin('nope:1', 'maint'), 0);
  });

  test('passive ejection goes down and comes back by itself; panic follows the healthy share', async (t) => {
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener });
    const backends = [{ id: '10.0.0.1:80' }, { id: '10.0.0.2:80' }];
    m.update([spec('www', backends, { passive: passive({ max_fails: 2, fail_timeout: '150ms', panic_threshold: 60 }) })]);
    m.report('www', '10.0.0.1:80', 'error');
    assert.equal(rec.flips.length, 0, 'one failure of max_fails=2 is not enough');
    m.report('www', '10.0.0.1:80', 'timeout');
    assert.deepEqual(rec.log.slice(0, 2), ['flip 10.0.0.1:80 up>down (passive)', 'panic www true']);
    assert.equal(rec.flips[0]!.reason, '2 failed attempts within 150ms (max_fails)');
    assert.equal(m.panic('www'), true);
    // The cap (50%): the second backend cannot be ejected while the first is.
    m.report('www', '10.0.0.2:80', 'error');
    m.report('www', '10.0.0.2:80', 'error');
    assert.equal(m.state('www', '10.0.0.2:80'), 'up');
    const ej = m.snapshot().services[0]!.backends[0]!.ejected;
    assert.ok(ej && ej.reason.includes('max_fails'));
    await rec.until(() => rec.flips.length === 2, 'the return after fail_timeout');
    assert.deepEqual(rec.log.slice(2), ['flip 10.0.0.1:80 down>up (passive)', 'panic www false']);
  });

  test('slow start: the weight ramps up in pushed steps after a flip to up', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    m.update([spec('www', [{ id: '10.0.0.1:80', weight: 10, check: check({ start: 'down', rise: 1, slow_start: '600ms' }) }])]);
    await rec.until(() => rec.flips.length === 1, 'up');
    const up = rec.flips[0]!;
    assert.equal(up.to, 'up');
    assert.ok(up.weight >= 1 && up.weight < 10, `starts small: ${up.weight}`);
    assert.ok(rec.log.indexOf(`weight 10.0.0.1:80 ${rec.weights[0]!.weight}`) < rec.log.indexOf('flip 10.0.0.1:80 down>up (check)'), 'the weight arrives before the up flip');
    await rec.until(() => rec.weights.at(-1)!.weight === 10, 'full weight');
    const ws = rec.weights.map((w) => w.weight);
    assert.ok(ws.length >= 3, `several steps: ${ws.join(' ')}`);
    for (let i = 1; i < ws.length; i++) assert.ok(ws[i]! > ws[i - 1]!, `increasing: ${ws.join(' ')}`);
    assert.equal(m.weight('www', '10.0.0.1:80'), 10);
  });

  test('weights reported by the backend are pushed', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    fake.extra.set('10.0.0.1:80', { status: 'AGENT_OK', weight: { percent: 50 } });
    m.update([spec('www', [{ id: '10.0.0.1:80', weight: 4, check: check() }])]);
    await rec.until(() => rec.weights.length > 0, 'a weight');
    assert.deepEqual(rec.weights.map((w) => w.weight), [2]);
    assert.equal(rec.flips.length, 0);
  });

  test('quorum: reported at start, lost and regained as backends flip', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    m.update([spec('www', [{ id: '10.0.0.1:80', check: check() }, { id: '10.0.0.2:80', check: check() }], { quorum: { quorum: 2, hysteresis: 0 } })]);
    assert.deepEqual(rec.log, ['quorum www up 2']);
    fake.mode.set('10.0.0.2:80', 'fail');
    await rec.until(() => rec.quorum.length === 2, 'quorum lost');
    fake.mode.set('10.0.0.2:80', 'ok');
    await rec.until(() => rec.quorum.length === 3, 'quorum regained');
    assert.deepEqual(rec.log.filter((l) => !l.startsWith('result')), ['quorum www up 2', 'flip 10.0.0.2:80 up>down (check)', 'quorum www down 1', 'flip 10.0.0.2:80 down>up (check)', 'quorum www up 2']);
    assert.deepEqual(m.snapshot().services[0]!.quorum, { up: true, sum: 2, quorum: 2 });
  });

  test('close aborts in-flight checks and stops every timer', async () => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = new HealthMonitor({ ...rec.listener, createCheck: fake.create });
    fake.mode.set('10.0.0.1:80', 'hang');
    m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ timeout: '60s' }) }, { id: '10.0.0.2:80', check: check() }])]);
    await rec.until(() => fake.runs >= 3, 'checks running');
    const started = performance.now();
    await m.close();
    assert.ok(performance.now() - started < 2000, 'close does not wait for the 60s timeout');
    assert.equal(fake.aborted, 1);
    const runs = fake.runs;
    const results = rec.results.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fake.runs, runs, 'no check after close');
    assert.equal(rec.results.length, results, 'no result after close');
    assert.throws(() => m.update([]), /closed/);
  });

  test('a check timeout counts as a failure', async (t) => {
    const fake = new FakeChecks();
    const rec = new Recorder();
    const m = monitor(t, { ...rec.listener, createCheck: fake.create });
    fake.mode.set('10.0.0.1:80', 'hang');
    m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ timeout: '30ms' }) }])]);
    await rec.until(() => rec.flips.length === 1, 'down by timeout');
    assert.equal(rec.flips[0]!.reason, 'L7_TIMEOUT (first check)');
  });
});

test('a reload to a shorter interval takes effect without waiting out the old one', async (t) => {
  const fake = new FakeChecks();
  const rec = new Recorder();
  const m = monitor(t, { ...rec.listener, createCheck: fake.create });
  m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ interval: '1h' }) }])]);
  await rec.until(() => fake.runs === 1, 'the first check');
  m.update([spec('www', [{ id: '10.0.0.1:80', check: check({ interval: '20ms' }) }])]);
  await rec.until(() => fake.runs >= 3, 'checks at the new interval');
});
