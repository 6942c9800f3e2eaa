/**
 * The VRRP state machine, driven with a fake clock: one machine against scripted
 * adverts, then two or three machines on a simulated LAN.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../core/clock.ts';
import { vrrpSchema } from '../../config/ha-schema.ts';
import { decodeVrrpPacket, encodeVrrpPacket } from './packet.ts';
import {
  effectivePriority,
  initialState,
  masterDownIntervalMs,
  paramsFromConfig,
  skewTimeMs,
  step,
  syncGroupEvents,
  type StepResult,
  type Transition,
  type VrrpAction,
  type VrrpEvent,
  type VrrpParams,
  type VrrpState,
  type VrrpStateName,
} from './state.ts';

const ME = '10.99.0.2';
const PEER = '10.99.0.1';

function params(over: Partial<VrrpParams> = {}): VrrpParams {
  return {
    instance: 'VI_1',
    version: 3,
    vrid: 51,
    priority: 100,
    advertIntervalMs: 1000,
    primaryAddress: ME,
    preempt: true,
    preemptDelayMs: 0,
    garp: { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, masterRefreshRepeat: 1 },
    ...over,
  };
}

/** Actions without log lines: what the daemon does on the network and the host. */
type Act = Exclude<VrrpAction, { type: 'log' }>;
const acts = (r: StepResult): Act[] => r.actions.filter((a): a is Act => a.type !== 'log');
const logs = (r: StepResult) => r.actions.filter((a) => a.type === 'log');

/** One machine and a fake clock; `advanceTo` fires timers the way the daemon's loop does. */
class Driver {
  readonly clock = new ManualClock(0);
  state: VrrpState;
  last!: StepResult;
  /** Every non-log action with its time. */
  readonly trace: Array<{ at: number; action: Act }> = [];
  readonly transitions: Array<Transition & { at: number }> = [];

  constructor(p: VrrpParams) {
    this.state = initialState(p);
  }

  feed(event: VrrpEvent): Act[] {
    const r = step(this.state, event, this.clock.now());
    this.state = r.state;
    this.last = r;
    for (const a of acts(r)) this.trace.push({ at: this.clock.now(), action: a });
    if (r.transition) this.transitions.push({ ...r.transition, at: this.clock.now() });
    return acts(r);
  }

  advert(priority: number, from = PEER, intervalMs = 1000, version: 2 | 3 = this.state.params.version): Act[] {
    return this.feed({ type: 'advert', from, advert: { version, vrid: 51, priority, intervalMs } });
  }

  /** Moves the clock to `t`, feeding a timer event at every deadline on the way. */
  advanceTo(t: number): void {
    for (;;) {
      const wake = earliestDeadline(this.state);
      if (wake === undefined || wake > t) break;
      this.clock.advance(Math.max(0, wake - this.clock.now()));
      this.feed({ type: 'timer' });
    }
    this.clock.advance(t - this.clock.now());
  }

  get name(): VrrpStateName {
    return this.state.name;
  }
}

function earliestDeadline(s: VrrpState): number | undefined {
  return [s.advertTimerAt, s.masterDownAt, s.garpAt].filter((x): x is number => x !== undefined).toSorted((a, b) => a - b)[0];
}

describe('timers (RFC 5798 §6.1)', () => {
  test('Skew_Time and Master_Down_Interval, v3 scaled by the interval, v2 in seconds', () => {
    const table: Array<[version: 2 | 3, priority: number, intervalMs: number, skew: number, down: number]> = [
      [3, 100, 1000, 609, 3609], // (256-100)/256 s = 0.609 s: the 0.62 s takeover measured against keepalived
      [3, 150, 1000, 414, 3414],
      [3, 254, 1000, 7, 3007],
      [3, 1, 1000, 996, 3996],
      [3, 100, 100, 60, 360], // sub-second: 3 × 0.1 s + skew
      [3, 100, 10, 6, 36],
      [3, 200, 40_950, 8957, 131_807],
      [2, 100, 1000, 609, 3609],
      [2, 100, 3000, 609, 9609], // RFC 3768: skew does not scale with the interval
    ];
    for (const [v, p, i, skew, down] of table) {
      assert.equal(skewTimeMs(v, p, i), skew, `skew v${v} prio ${p} ${i}ms`);
      assert.equal(masterDownIntervalMs(v, p, i), down, `down v${v} prio ${p} ${i}ms`);
    }
  });

  test('effective priority: base + tracker adjustment, clamped to 1-254; the owner stays 255', () => {
    assert.equal(effectivePriority(100, -20), 80);
    assert.equal(effectivePriority(100, -200), 1);
    assert.equal(effectivePriority(200, 100), 254);
    assert.equal(effectivePriority(255, -50), 255);
  });
});

describe('one machine', () => {
  test('startup: BACKUP, stale VIPs removed; MASTER after 3 × advert + skew without adverts', () => {
    const d = new Driver(params());
    assert.deepEqual(d.feed({ type: 'startup' }), [{ type: 'removeVips' }, { type: 'notify', state: 'backup' }]);
    assert.equal(d.name, 'BACKUP');
    assert.equal(d.last.nextWakeAt, 3609);
    assert.deepEqual(d.last.transition, { from: 'INIT', to: 'BACKUP', reason: 'startup' });
    d.advanceTo(3608);
    assert.equal(d.name, 'BACKUP');
    d.advanceTo(3609);
    assert.equal(d.name, 'MASTER');
    assert.deepEqual(acts(d.last), [
      { type: 'sendAdvert', priority: 100 },
      { type: 'addVips' },
      { type: 'sendGarp', count: 5 },
      { type: 'notify', state: 'master' },
    ]);
    assert.deepEqual(d.last.transition, { from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired' });
    assert.ok(logs(d.last).some((l) => l.type === 'log' && l.message === 'VI_1: entering MASTER state: master down timer expired'));
    // then one advert a second
    d.advanceTo(3609 + 3000);
    assert.deepEqual(
      d.trace.filter((t) => t.action.type === 'sendAdvert').map((t) => t.at),
      [3609, 4609, 5609, 6609],
    );
  });

  test('a master\'s adverts keep a backup waiting; each resets the master down timer', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    for (let t = 500; t <= 20_500; t += 1000) {
      d.advanceTo(t);
      assert.deepEqual(d.advert(150), [], `advert at ${t}`);
    }
    assert.equal(d.name, 'BACKUP');
    assert.equal(d.state.masterDownAt, 20_500 + 3609);
    assert.deepEqual(d.state.master, { address: PEER, priority: 150 });
    // the master goes silent (crash): takeover 3 × advert + skew after its last advert
    d.advanceTo(40_000);
    assert.deepEqual(d.transitions.at(-1), { from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired', at: 24_109 });
  });

  test('priority 0 from the master: takeover after Skew_Time (fast failover on graceful stop)', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(1000);
    d.advert(150);
    d.advanceTo(1500);
    assert.deepEqual(d.advert(0), []);
    assert.equal(d.state.masterDownAt, 1500 + 609);
    d.advanceTo(2109);
    assert.equal(d.name, 'MASTER');
    assert.equal(d.transitions.at(-1)!.at, 2109);
  });

  test('MASTER hearing a higher priority: BACKUP, VIPs removed, master down timer armed', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    d.advanceTo(5000);
    assert.deepEqual(d.advert(150), [{ type: 'removeVips' }, { type: 'notify', state: 'backup' }]);
    assert.equal(d.name, 'BACKUP');
    assert.equal(d.state.advertTimerAt, undefined);
    assert.equal(d.state.garpAt, undefined, 'the delayed GARP burst is cancelled');
    assert.equal(d.state.masterDownAt, 5000 + 3609);
    assert.match(d.last.transition!.reason, /higher-priority advert from 10\.99\.0\.1 \(150 > 100\)/);
  });

  test('MASTER hearing a lower priority: stays, advertises at once, reports split brain', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    d.advanceTo(4000);
    assert.deepEqual(d.advert(50), [
      { type: 'splitBrain', peer: PEER, peerPriority: 50, localPriority: 100 },
      { type: 'sendAdvert', priority: 100 },
    ]);
    assert.equal(d.name, 'MASTER');
    assert.equal(d.state.advertTimerAt, 5000, 'Adver_Timer reset');
  });

  test('equal priority: the higher primary address stays MASTER, both report split brain every time', () => {
    // we are 10.99.0.2; 10.99.0.1 is lower, 10.99.0.10 higher (numeric order)
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(d.advert(100, '10.99.0.1'), [
        { type: 'splitBrain', peer: '10.99.0.1', peerPriority: 100, localPriority: 100 },
        { type: 'sendAdvert', priority: 100 },
      ]);
    }
    assert.equal(d.name, 'MASTER');
    assert.deepEqual(d.advert(100, '10.99.0.10'), [
      { type: 'splitBrain', peer: '10.99.0.10', peerPriority: 100, localPriority: 100 },
      { type: 'removeVips' },
      { type: 'notify', state: 'backup' },
    ]);
    assert.equal(d.name, 'BACKUP');
    assert.ok(logs(d.last).some((l) => l.type === 'log' && l.level === 'warn' && /split brain/.test(l.message)));
  });

  test('priority 0 heard in MASTER: advertise at once and reset the Adver_Timer', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    d.advanceTo(4100);
    assert.deepEqual(d.advert(0), [{ type: 'sendAdvert', priority: 100 }]);
    assert.equal(d.state.advertTimerAt, 5100);
    assert.equal(d.name, 'MASTER');
  });

  test('preempt (default): a higher-priority backup discards a lower master\'s adverts and takes over', () => {
    const d = new Driver(params({ priority: 200 }));
    d.feed({ type: 'startup' });
    for (let t = 500; t < 10_000; t += 1000) {
      d.advanceTo(t);
      if (d.name === 'BACKUP') d.advert(100);
    }
    // RFC 5798 §6.4.2: discarded adverts do not reset the timer: startup + 3 s + skew(200) = 3218
    assert.equal(d.transitions[1]!.to, 'MASTER');
    assert.equal(d.transitions[1]!.at, 3218);
  });

  test('nopreempt: a higher-priority backup leaves a lower master alone', () => {
    const d = new Driver(params({ priority: 200, preempt: false }));
    d.feed({ type: 'startup' });
    for (let t = 500; t < 60_000; t += 1000) {
      d.advanceTo(t);
      d.advert(100);
    }
    assert.equal(d.name, 'BACKUP');
    // but it still takes over when that master resigns
    d.advert(0);
    d.advanceTo(60_000);
    assert.equal(d.name, 'MASTER');
  });

  test('preempt_delay: the delay counts from the first lower-priority advert, then the usual master down', () => {
    const d = new Driver(params({ priority: 200, preemptDelayMs: 10_000 }));
    d.feed({ type: 'startup' });
    for (let t = 500; t < 20_000; t += 1000) {
      d.advanceTo(t);
      if (d.name === 'BACKUP') d.advert(100);
      if (t === 500) assert.equal(d.state.preemptAt, 10_500);
    }
    // held (timer reset) up to the advert at 9500; discarded from 10500 on; down at 9500 + 3218
    assert.deepEqual(d.transitions.map((t) => [t.to, t.at]), [['BACKUP', 0], ['MASTER', 12_718]]);
  });

  test('preempt_delay is cancelled by a master of equal or higher priority', () => {
    const d = new Driver(params({ priority: 200, preemptDelayMs: 10_000 }));
    d.feed({ type: 'startup' });
    d.advanceTo(500);
    d.advert(100);
    assert.equal(d.state.preemptAt, 10_500);
    d.advanceTo(1500);
    d.advert(220, '10.99.0.3');
    assert.equal(d.state.preemptAt, undefined);
  });

  test('address owner (priority 255): MASTER at startup, trackers cannot lower it', () => {
    const d = new Driver(params({ priority: 255 }));
    assert.deepEqual(d.feed({ type: 'startup' }), [
      { type: 'sendAdvert', priority: 255 },
      { type: 'addVips' },
      { type: 'sendGarp', count: 5 },
      { type: 'notify', state: 'master' },
    ]);
    assert.equal(d.name, 'MASTER');
    assert.equal(d.last.nextWakeAt, 1000);
    assert.deepEqual(d.feed({ type: 'priority', value: 100 }), []);
    assert.equal(d.state.effectivePriority, 255);
    // another owner is a configuration error, logged
    d.advert(255);
    assert.ok(logs(d.last).some((l) => l.type === 'log' && l.level === 'error' && /also claims to own the address/.test(l.message)));
  });

  test('shutdown: a MASTER resigns with priority 0 and removes its VIPs; a BACKUP just stops', () => {
    const m = new Driver(params());
    m.feed({ type: 'startup' });
    m.advanceTo(3609);
    m.advanceTo(4000);
    assert.deepEqual(m.feed({ type: 'shutdown' }), [
      { type: 'sendAdvert', priority: 0 },
      { type: 'removeVips' },
      { type: 'notify', state: 'stop' },
    ]);
    assert.equal(m.name, 'INIT');
    assert.equal(m.last.nextWakeAt, undefined);

    const b = new Driver(params());
    b.feed({ type: 'startup' });
    assert.deepEqual(b.feed({ type: 'shutdown' }), [{ type: 'notify', state: 'stop' }]);
    assert.equal(b.last.nextWakeAt, undefined);
    assert.deepEqual(b.feed({ type: 'shutdown' }), [], 'a second shutdown does nothing');
  });

  test('FAULT: in from MASTER (priority-0 advert, VIPs removed), deaf while faulty, out to BACKUP', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    d.advanceTo(4000);
    assert.deepEqual(d.feed({ type: 'fault', on: true, reason: 'script chk_nginx' }), [
      { type: 'sendAdvert', priority: 0 },
      { type: 'removeVips' },
      { type: 'notify', state: 'fault' },
    ]);
    assert.equal(d.name, 'FAULT');
    assert.equal(d.last.nextWakeAt, undefined, 'no adverts, no timers');
    assert.deepEqual(d.advert(50), [], 'adverts are ignored in FAULT');
    // a second reason; clearing the first keeps FAULT
    d.feed({ type: 'fault', on: true, reason: 'interface eth1' });
    assert.deepEqual(d.feed({ type: 'fault', on: false, reason: 'script chk_nginx' }), []);
    assert.equal(d.name, 'FAULT');
    d.advanceTo(10_000);
    assert.deepEqual(d.feed({ type: 'fault', on: false, reason: 'interface eth1' }), [{ type: 'notify', state: 'backup' }]);
    assert.equal(d.name, 'BACKUP');
    assert.equal(d.state.masterDownAt, 10_000 + 3609);
    // repeated reports change nothing
    assert.deepEqual(d.feed({ type: 'fault', on: false, reason: 'interface eth1' }), []);
  });

  test('FAULT from BACKUP; a fault reported before startup starts in FAULT', () => {
    const b = new Driver(params());
    b.feed({ type: 'startup' });
    assert.deepEqual(b.feed({ type: 'fault', on: true }), [{ type: 'notify', state: 'fault' }]);
    assert.deepEqual(b.state.faults, ['track']);

    const f = new Driver(params());
    assert.deepEqual(f.feed({ type: 'fault', on: true, reason: 'proxy' }), []);
    assert.deepEqual(f.feed({ type: 'startup' }), [{ type: 'removeVips' }, { type: 'notify', state: 'fault' }]);
    assert.equal(f.name, 'FAULT');
    assert.deepEqual(f.feed({ type: 'shutdown' }), [{ type: 'notify', state: 'stop' }]);
  });

  test('an owner whose fault clears goes straight back to MASTER', () => {
    const d = new Driver(params({ priority: 255 }));
    d.feed({ type: 'startup' });
    d.feed({ type: 'fault', on: true });
    assert.equal(d.name, 'FAULT');
    d.feed({ type: 'fault', on: false });
    assert.equal(d.name, 'MASTER');
  });

  test('v3: a backup learns the master\'s interval (RFC 5798 §6.4.2); v2 keeps its own', () => {
    const v3 = new Driver(params());
    v3.feed({ type: 'startup' });
    v3.advanceTo(1000);
    v3.advert(150, PEER, 200);
    assert.equal(v3.state.masterAdverIntervalMs, 200);
    assert.equal(v3.state.masterDownAt, 1000 + 600 + 121); // 3 × 0.2 s + (156 × 200 / 256) ms
    assert.ok(logs(v3.last).some((l) => l.type === 'log' && /advertises every 200ms \(was 1000ms\)/.test(l.message)));
    // and takes it back after leaving BACKUP for FAULT and returning
    v3.feed({ type: 'fault', on: true });
    v3.feed({ type: 'fault', on: false });
    assert.equal(v3.state.masterAdverIntervalMs, 1000);

    const v2 = new Driver(params({ version: 2 }));
    v2.feed({ type: 'startup' });
    v2.advanceTo(1000);
    v2.advert(150, PEER, 2000);
    assert.equal(v2.state.masterAdverIntervalMs, 1000);
    assert.equal(v2.state.masterDownAt, 1000 + 3609);
  });

  test('v3 learns the interval from a higher-priority master while MASTER too', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.advanceTo(3609);
    d.advert(150, PEER, 100);
    assert.equal(d.name, 'BACKUP');
    assert.equal(d.state.masterDownAt, 3609 + 360);
  });

  test('sub-second intervals: 100ms adverts, master down after 3 × 0.1 s + skew', () => {
    const d = new Driver(params({ advertIntervalMs: 100 }));
    d.feed({ type: 'startup' });
    assert.equal(d.state.masterDownAt, 360);
    d.advanceTo(359);
    assert.equal(d.name, 'BACKUP');
    d.advanceTo(360);
    assert.equal(d.name, 'MASTER');
    d.advanceTo(1000);
    const sent = d.trace.filter((t) => t.action.type === 'sendAdvert').map((t) => t.at);
    assert.deepEqual(sent, [360, 460, 560, 660, 760, 860, 960]);
  });

  test('gratuitous ARP: a burst on MASTER, a second after garp_master_delay, then every garp_master_refresh', () => {
    const d = new Driver(params({ garp: { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 60_000, masterRefreshRepeat: 2 } }));
    d.feed({ type: 'startup' });
    d.advanceTo(200_000);
    const garps = d.trace.filter((t) => t.action.type === 'sendGarp').map((t) => [t.at, (t.action as { count: number }).count]);
    assert.deepEqual(garps, [[3609, 5], [8609, 5], [68_609, 2], [128_609, 2], [188_609, 2]]);

    const once = new Driver(params({ garp: { masterDelayMs: 0, masterRepeat: 3, masterRefreshMs: 0, masterRefreshRepeat: 1 } }));
    once.feed({ type: 'startup' });
    once.advanceTo(100_000);
    assert.deepEqual(once.trace.filter((t) => t.action.type === 'sendGarp').map((t) => t.at), [3609]);
    assert.equal(once.state.garpAt, undefined);
  });

  test('priority change in MASTER is advertised at once', () => {
    const d = new Driver(params({ priority: 150 }));
    d.feed({ type: 'startup' });
    d.advanceTo(3414);
    d.advanceTo(3800);
    assert.deepEqual(d.feed({ type: 'priority', value: 90 }), [{ type: 'sendAdvert', priority: 90 }]);
    assert.equal(d.state.advertTimerAt, 4800);
    assert.deepEqual(d.feed({ type: 'priority', value: 90 }), [], 'no change, no advert');
    assert.deepEqual(d.feed({ type: 'priority', value: -5 }), [{ type: 'sendAdvert', priority: 1 }], 'clamped to 1');
  });

  test('a lowered priority in BACKUP lengthens Skew_Time from the next reset on', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    d.feed({ type: 'priority', value: 1 });
    assert.equal(d.state.masterDownAt, 3609, 'the running timer is not touched');
    d.advanceTo(1000);
    d.advert(150);
    assert.equal(d.state.masterDownAt, 1000 + 3996);
  });

  test('ignored: other VRIDs, other versions, our own looped-back adverts, a timer before its deadline', () => {
    const d = new Driver(params());
    d.feed({ type: 'startup' });
    const before = d.state;
    assert.deepEqual(d.feed({ type: 'advert', from: PEER, advert: { version: 3, vrid: 52, priority: 200, intervalMs: 1000 } }), []);
    assert.deepEqual(d.feed({ type: 'advert', from: PEER, advert: { version: 2, vrid: 51, priority: 200, intervalMs: 1000 } }), []);
    assert.deepEqual(d.advert(200, ME), []);
    assert.equal(d.state, before);
    d.advanceTo(1000);
    assert.deepEqual(d.feed({ type: 'timer' }), []);
    assert.equal(d.state, before);
    assert.deepEqual(d.feed({ type: 'startup' }), [], 'a second startup does nothing');
  });

  test('from the wire: valid packets reset the timer; a bad checksum on our VRID does not (keepalived did)', () => {
    const d = new Driver(params());
    const drops: string[] = [];
    const receive = (bytes: Uint8Array) => {
      const r = decodeVrrpPacket(bytes, { expect: { version: 3, vrid: 51, addresses: ['10.99.0.100'] } });
      if (!r.ok) return void drops.push(r.reason);
      d.feed({ type: 'advert', from: r.ip.src, advert: r.advert });
    };
    const good = encodeVrrpPacket({ version: 3, vrid: 51, priority: 150, intervalMs: 1000, addresses: ['10.99.0.100'] }, { src: PEER, dst: '224.0.0.18' });
    const bad = Uint8Array.from(good);
    bad[bad.length - 1]! ^= 0x01; // the VIP's last bit: the checksum no longer matches
    d.feed({ type: 'startup' });
    d.advanceTo(1000);
    receive(good);
    assert.equal(d.state.masterDownAt, 1000 + 3609);
    for (let t = 2000; t <= 4000; t += 1000) {
      d.advanceTo(t);
      receive(bad);
    }
    assert.deepEqual(drops, ['BAD_CHECKSUM', 'BAD_CHECKSUM', 'BAD_CHECKSUM']);
    d.advanceTo(6000);
    assert.deepEqual(d.transitions.at(-1), { from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired', at: 4609 });
  });

  test('step never mutates the state it is given', () => {
    const s0 = initialState(params());
    const frozen = JSON.stringify(s0);
    const r = step(s0, { type: 'startup' }, 0);
    step(r.state, { type: 'timer' }, 10_000);
    assert.equal(JSON.stringify(s0), frozen);
    assert.equal(r.state.name, 'BACKUP');
  });
});

// ---------------------------------------------------------------------------
// Several directors on one simulated LAN

interface Host {
  name: string;
  address: string;
  state: VrrpState;
  /** false: the host is cut off (crash, cable): it neither sends nor receives. */
  linked: boolean;
  transitions: Array<{ at: number; to: VrrpStateName }>;
  splitBrains: number;
}

/** Directors exchanging adverts with 1 ms latency; a fake clock; deterministic order. */
class Lan {
  readonly clock = new ManualClock(0);
  readonly hosts = new Map<string, Host>();
  #inflight: Array<{ at: number; to: string; from: string; priority: number; intervalMs: number }> = [];

  add(name: string, address: string, over: Partial<VrrpParams>): Host {
    const h: Host = { name, address, state: initialState(params({ primaryAddress: address, ...over })), linked: true, transitions: [], splitBrains: 0 };
    this.hosts.set(name, h);
    return h;
  }

  feed(h: Host, event: VrrpEvent): void {
    const r = step(h.state, event, this.clock.now());
    h.state = r.state;
    if (r.transition) h.transitions.push({ at: this.clock.now(), to: r.transition.to });
    for (const a of r.actions) {
      if (a.type === 'splitBrain') h.splitBrains++;
      if (a.type !== 'sendAdvert' || !h.linked) continue;
      for (const other of this.hosts.values()) {
        if (other !== h) this.#inflight.push({ at: this.clock.now() + 1, to: other.name, from: h.address, priority: a.priority, intervalMs: h.state.params.advertIntervalMs });
      }
    }
  }

  /** Runs every delivery and timer up to `t`, in time order. */
  runTo(t: number): void {
    for (;;) {
      let next: { at: number; run: () => void } | undefined;
      for (const h of this.hosts.values()) {
        const wake = earliestDeadline(h.state);
        if (wake !== undefined && wake <= t && (next === undefined || wake < next.at)) next = { at: wake, run: () => this.feed(h, { type: 'timer' }) };
      }
      const msg = this.#inflight.toSorted((a, b) => a.at - b.at)[0];
      if (msg && msg.at <= t && (next === undefined || msg.at <= next.at)) {
        next = {
          at: msg.at,
          run: () => {
            this.#inflight = this.#inflight.filter((m) => m !== msg);
            const to = this.hosts.get(msg.to)!;
            if (to.linked) this.feed(to, { type: 'advert', from: msg.from, advert: { version: 3, vrid: 51, priority: msg.priority, intervalMs: msg.intervalMs } });
          },
        };
      }
      if (!next) break;
      this.clock.advance(next.at - this.clock.now());
      next.run();
    }
    this.clock.advance(t - this.clock.now());
  }

  masters(): string[] {
    return [...this.hosts.values()].filter((h) => h.state.name === 'MASTER').map((h) => h.name);
  }
}

/** d1 (priority 150) and d2 (100), both started at 0. */
function pair() {
  const lan = new Lan();
  const d1 = lan.add('d1', '10.99.0.1', { priority: 150 });
  const d2 = lan.add('d2', '10.99.0.2', { priority: 100 });
  lan.feed(d1, { type: 'startup' });
  lan.feed(d2, { type: 'startup' });
  return { lan, d1, d2 };
}

describe('two directors on a LAN', () => {
  test('cold start: the higher priority becomes the only master and stays', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(60_000);
    assert.deepEqual(lan.masters(), ['d1']);
    assert.deepEqual(d1.transitions, [{ at: 0, to: 'BACKUP' }, { at: 3414, to: 'MASTER' }]);
    assert.deepEqual(d2.transitions, [{ at: 0, to: 'BACKUP' }]);
    assert.equal(d1.splitBrains + d2.splitBrains, 0);
  });

  test('graceful stop of the master: the backup takes over after Skew_Time (0.609 s)', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    lan.feed(d1, { type: 'shutdown' });
    lan.runTo(20_000);
    assert.deepEqual(lan.masters(), ['d2']);
    assert.deepEqual(d2.transitions.at(-1), { at: 10_000 + 1 + 609, to: 'MASTER' });
  });

  test('crash of the master: takeover 3 × advert + skew after its last advert', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    d1.linked = false; // last advert sent at 9414, received at 9415
    lan.runTo(20_000);
    assert.deepEqual(d2.transitions.at(-1), { at: 9415 + 3609, to: 'MASTER' });
  });

  test('the higher priority comes back and preempts; the lower one steps down at its advert', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    lan.feed(d1, { type: 'shutdown' });
    lan.runTo(20_000);
    lan.feed(d1, { type: 'startup' });
    lan.runTo(40_000);
    assert.deepEqual(lan.masters(), ['d1']);
    assert.deepEqual(d1.transitions.slice(-2), [{ at: 20_000, to: 'BACKUP' }, { at: 23_414, to: 'MASTER' }]);
    assert.deepEqual(d2.transitions.at(-1), { at: 23_415, to: 'BACKUP' });
  });

  test('a tracker lowers the master below the backup: the backup preempts', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    lan.feed(d1, { type: 'priority', value: effectivePriority(150, -60) });
    lan.runTo(30_000);
    assert.deepEqual(lan.masters(), ['d2']);
    assert.equal(d1.state.name, 'BACKUP');
    // d2 discards d1's priority-90 adverts from 10 001 on: its timer, last reset at 9415, fires at 13 024
    assert.deepEqual(d2.transitions.at(-1), { at: 9415 + 3609, to: 'MASTER' });
  });

  test('a tracker fault on the master: it resigns (priority 0), the backup takes over after Skew_Time; back to BACKUP after', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    lan.feed(d1, { type: 'fault', on: true, reason: 'proxy' });
    lan.runTo(15_000);
    assert.deepEqual(lan.masters(), ['d2']);
    assert.deepEqual(d2.transitions.at(-1), { at: 10_001 + 609, to: 'MASTER' });
    lan.feed(d1, { type: 'fault', on: false, reason: 'proxy' });
    lan.runTo(30_000);
    assert.deepEqual(lan.masters(), ['d1'], 'd1 preempts again once healthy');
  });

  test('a partition makes two masters; both report split brain at the first advert after healing, one stays', () => {
    const { lan, d1, d2 } = pair();
    lan.runTo(10_000);
    // d2 stops hearing d1 (one-way loss): it becomes master too
    const feed = lan.feed.bind(lan);
    let cut = true;
    lan.feed = (h, e) => (cut && h === d2 && e.type === 'advert' ? undefined : feed(h, e));
    lan.runTo(20_000);
    assert.deepEqual(lan.masters().toSorted(), ['d1', 'd2']);
    assert.ok(d1.splitBrains > 0, 'd1 hears d2\'s adverts and reports split brain each time');
    cut = false;
    lan.runTo(30_000);
    assert.deepEqual(lan.masters(), ['d1']);
  });

  test('nopreempt on both: the first master keeps the VIP even when a higher priority returns', () => {
    const lan = new Lan();
    const d1 = lan.add('d1', '10.99.0.1', { priority: 150, preempt: false });
    const d2 = lan.add('d2', '10.99.0.2', { priority: 100, preempt: false });
    lan.feed(d2, { type: 'startup' });
    lan.runTo(10_000);
    assert.deepEqual(lan.masters(), ['d2']);
    lan.feed(d1, { type: 'startup' });
    lan.runTo(60_000);
    assert.deepEqual(lan.masters(), ['d2']);
    assert.equal(d1.state.name, 'BACKUP');
  });

  test('three directors, 100 ms adverts: after the master crashes, the next priority wins', () => {
    const lan = new Lan();
    const a = lan.add('a', '10.99.0.1', { priority: 200, advertIntervalMs: 100 });
    const b = lan.add('b', '10.99.0.2', { priority: 150, advertIntervalMs: 100 });
    const c = lan.add('c', '10.99.0.3', { priority: 100, advertIntervalMs: 100 });
    for (const h of [a, b, c]) lan.feed(h, { type: 'startup' });
    lan.runTo(2_000);
    assert.deepEqual(lan.masters(), ['a']);
    a.linked = false;
    lan.runTo(4_000);
    assert.deepEqual(lan.masters().filter((n) => n !== 'a'), ['b']);
    assert.equal(c.transitions.filter((t) => t.to === 'MASTER').length, 0, 'c never became master');
  });
});

/** Two instances of one group on one node, with the group rules applied after every step. */
function group() {
  const members = new Map<string, VrrpState>([
    ['VI_1', initialState(params({ instance: 'VI_1', vrid: 51 }))],
    ['VI_2', initialState(params({ instance: 'VI_2', vrid: 52 }))],
  ]);
  const list = () => [...members].map(([name, state]) => ({ name, state }));
  const seen: string[] = [];
  let now = 0;
  const feed = (name: string, event: VrrpEvent): void => {
    const r = step(members.get(name)!, event, now);
    members.set(name, r.state);
    if (event.type !== 'timer' || r.transition) seen.push(`${name}:${event.type}${'on' in event ? `(${event.on})` : ''}${r.transition ? `→${r.transition.to}` : ''}`);
    for (const e of syncGroupEvents('G1', list(), r.transition ? { member: name, transition: r.transition } : undefined)) feed(e.member, e.event);
  };
  const at = (t: number) => (now = t);
  const names = () => Object.fromEntries([...members].map(([n, s]) => [n, s.name]));
  return { feed, at, names, seen, members };
}

describe('sync groups', () => {
  test('one member FAULT: all FAULT; cleared: all BACKUP', () => {
    const g = group();
    g.feed('VI_1', { type: 'startup' });
    g.feed('VI_2', { type: 'startup' });
    g.feed('VI_1', { type: 'fault', on: true, reason: 'script chk' });
    assert.deepEqual(g.names(), { VI_1: 'FAULT', VI_2: 'FAULT' });
    assert.deepEqual(g.members.get('VI_2')!.faults, ['sync:G1']);
    g.feed('VI_1', { type: 'fault', on: false, reason: 'script chk' });
    assert.deepEqual(g.names(), { VI_1: 'BACKUP', VI_2: 'BACKUP' });
  });

  test('both with faults of their own: the group stays FAULT until both clear (no deadlock on sync reasons)', () => {
    const g = group();
    g.feed('VI_1', { type: 'startup' });
    g.feed('VI_2', { type: 'startup' });
    g.feed('VI_1', { type: 'fault', on: true, reason: 'a' });
    g.feed('VI_2', { type: 'fault', on: true, reason: 'b' });
    g.feed('VI_1', { type: 'fault', on: false, reason: 'a' });
    assert.deepEqual(g.names(), { VI_1: 'FAULT', VI_2: 'FAULT' });
    g.feed('VI_2', { type: 'fault', on: false, reason: 'b' });
    assert.deepEqual(g.names(), { VI_1: 'BACKUP', VI_2: 'BACKUP' });
    assert.deepEqual([...g.members.values()].map((s) => s.faults), [[], []]);
  });

  test('one member MASTER: all MASTER; one back to BACKUP: all BACKUP', () => {
    const g = group();
    g.feed('VI_1', { type: 'startup' });
    g.feed('VI_2', { type: 'startup' });
    g.at(3609);
    g.feed('VI_1', { type: 'timer' });
    assert.deepEqual(g.names(), { VI_1: 'MASTER', VI_2: 'MASTER' });
    g.at(5000);
    g.feed('VI_2', { type: 'advert', from: PEER, advert: { version: 3, vrid: 52, priority: 200, intervalMs: 1000 } });
    assert.deepEqual(g.names(), { VI_1: 'BACKUP', VI_2: 'BACKUP' });
    assert.deepEqual(g.seen, [
      'VI_1:startup→BACKUP',
      'VI_2:startup→BACKUP',
      'VI_1:timer→MASTER',
      'VI_2:syncMaster→MASTER',
      'VI_2:advert→BACKUP',
      'VI_1:syncBackup→BACKUP',
    ]);
  });
});

test('machine parameters from the cluster file', () => {
  const cfg = vrrpSchema.parse({
    instances: {
      VI_1: {
        vrid: 51,
        interface: 'eth0',
        advert_interval: '100ms',
        virtual_ipaddress: ['192.0.2.10/24'],
        members: { d1: 150, d2: { priority: 100, source_address: '10.0.0.22' } },
        preempt_delay: '30s',
        garp: { master_refresh: '1m' },
      },
    },
  });
  const vi = cfg.instances.VI_1!;
  assert.deepEqual(paramsFromConfig('VI_1', vi, 'd1', '10.0.0.1'), {
    instance: 'VI_1',
    version: 3,
    vrid: 51,
    priority: 150,
    advertIntervalMs: 100,
    primaryAddress: '10.0.0.1',
    preempt: true,
    preemptDelayMs: 30_000,
    garp: { masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 60_000, masterRefreshRepeat: 1 },
  });
  assert.equal(paramsFromConfig('VI_1', vi, 'd2', '10.0.0.2').primaryAddress, '10.0.0.22', 'source_address wins');
  assert.throws(() => paramsFromConfig('VI_1', vi, 'd3', '10.0.0.3'), /not a member/);
});
