/**
 * The VRRP state machine of one instance (virtual router), pure:
 * `step(state, event, now) → { state, actions, nextWakeAt }`.
 *
 * It follows RFC 5798 §6.4 (VRRPv3; VRRPv2 per RFC 3768 §6.4 differs only in the
 * timers, see `skewTimeMs`), with keepalived's additions where Palisade must
 * behave like keepalived to sit in the same group: FAULT from trackers, `nopreempt`,
 * `preempt_delay`, an immediate advert to a lower-priority master, gratuitous ARP
 * bursts, and a priority-0 advert when a master goes to FAULT.
 *
 * Time is injected: `now` is milliseconds on the caller's monotonic clock. Timers
 * are data — `advertTimerAt`, `masterDownAt`, `garpAt` are deadlines in the state —
 * and `nextWakeAt` says when the caller should feed `{ type: 'timer' }` next. A
 * timer event that comes late fires what is due; one that comes early does nothing.
 *
 * Decoded adverts only: packets that fail `decodeVrrp` never reach the machine, so
 * a bad checksum cannot reset a timer (keepalived did, and a buggy sender on the
 * same VRID could silence it).
 */
import type { VrrpInstanceConfig } from '../../config/ha-schema.ts';
import { PRIORITY_OWNER, PRIORITY_STOP, compareIPv4, type VrrpAdvert, type VrrpVersion } from './packet.ts';

export type VrrpStateName = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** Gratuitous ARP timing after becoming MASTER (keepalived `garp_master_*`). */
export interface GarpTiming {
  /** Second burst this long after becoming MASTER, ms; 0 = none. */
  masterDelayMs: number;
  /** GARPs per VIP in the first and the second burst. */
  masterRepeat: number;
  /** Period of refresh bursts while MASTER, ms; 0 = none. */
  masterRefreshMs: number;
  /** GARPs per VIP in each refresh burst. */
  masterRefreshRepeat: number;
}

/** What the machine needs of an instance's configuration, for one node. */
export interface VrrpParams {
  /** Instance name, for logs (`VI_1`). */
  instance: string;
  version: VrrpVersion;
  vrid: number;
  /** Base priority 1-255 (255 = address owner). */
  priority: number;
  /** Advertisement_Interval, ms (v3: 10ms steps; v2: whole seconds). */
  advertIntervalMs: number;
  /** This node's primary IPv4 address: the source of its adverts and the tie-breaker (RFC 5798 §6.4.3). */
  primaryAddress: string;
  /** Preempt_Mode (RFC 5798 §6.1); false = keepalived `nopreempt`. */
  preempt: boolean;
  /** keepalived `preempt_delay`, ms: how long a backup holds off after first hearing a lower-priority master. */
  preemptDelayMs: number;
  garp: GarpTiming;
}

/** The last master heard (BACKUP) or this node (MASTER). */
export interface KnownMaster {
  address: string;
  priority: number;
}

export interface VrrpState {
  readonly params: VrrpParams;
  readonly name: VrrpStateName;
  /** Priority in use: the base priority moved by tracker weights (`priority` events). */
  readonly effectivePriority: number;
  /** Master_Adver_Interval, ms (RFC 5798 §6.1): v3 learnt from the master in BACKUP; v2 the configured interval. */
  readonly masterAdverIntervalMs: number;
  /** Adver_Timer deadline (MASTER), ms. */
  readonly advertTimerAt: number | undefined;
  /** Master_Down_Timer deadline (BACKUP), ms. */
  readonly masterDownAt: number | undefined;
  /** Next gratuitous ARP burst (MASTER), ms, and its size. */
  readonly garpAt: number | undefined;
  readonly garpCount: number;
  /** While a `preempt_delay` runs: when it ends, ms. */
  readonly preemptAt: number | undefined;
  /** Active fault reasons (trackers, `sync:GROUP`); FAULT while any is active. */
  readonly faults: readonly string[];
  readonly master: KnownMaster | undefined;
  /** Time of the last state change, ms; undefined before startup. */
  readonly since: number | undefined;
}

/** Input to `step`. */
export type VrrpEvent =
  /** Startup event (RFC 5798 §6.4.1). */
  | { type: 'startup' }
  /** Shutdown event (RFC 5798 §6.4.2, §6.4.3): stop the instance. */
  | { type: 'shutdown' }
  /** A decoded advertisement for this instance, from `from` (the IPv4 source). */
  | { type: 'advert'; from: string; advert: Pick<VrrpAdvert, 'version' | 'vrid' | 'priority' | 'intervalMs'> }
  /** A deadline may have passed (the caller's timer at `nextWakeAt`). */
  | { type: 'timer' }
  /** A fault reason turns on or off (a tracker with weight 0, a link down, a sync group). Default reason `track`. */
  | { type: 'fault'; on: boolean; reason?: string }
  /** The effective priority trackers want (see `effectivePriority`); clamped to 1-254; ignored by an address owner. */
  | { type: 'priority'; value: number }
  /** Sync group: another member became MASTER; a BACKUP follows (keepalived `vrrp_sync_group`). */
  | { type: 'syncMaster'; group: string }
  /** Sync group: another member left MASTER for BACKUP; a MASTER follows. */
  | { type: 'syncBackup'; group: string };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Output of `step`, for the caller to carry out in order. */
export type VrrpAction =
  /** Send an advertisement with this priority (0 = resigning), the configured interval and VIPs. */
  | { type: 'sendAdvert'; priority: number }
  /** Add the VIPs to their interfaces. */
  | { type: 'addVips' }
  /** Remove the VIPs (idempotent: also at startup, for VIPs a killed run left behind). */
  | { type: 'removeVips' }
  /** Send `count` gratuitous ARPs for each VIP. */
  | { type: 'sendGarp'; count: number }
  /** Run the notify command (and events, resources) of the new state. */
  | { type: 'notify'; state: 'master' | 'backup' | 'fault' | 'stop' }
  | { type: 'log'; level: LogLevel; message: string; fields: Record<string, unknown> }
  /**
   * This MASTER heard another master on its VRID: at equal priority (whoever wins
   * the tie), or a lower one while staying MASTER. Emitted every time, never
   * deduplicated: an unnoticed split brain is keepalived's most reported problem.
   */
  | { type: 'splitBrain'; peer: string; peerPriority: number; localPriority: number };

export interface Transition {
  from: VrrpStateName;
  to: VrrpStateName;
  /** Why, in words for the log (`master down timer expired`). */
  reason: string;
}

export interface StepResult {
  state: VrrpState;
  actions: VrrpAction[];
  /** The earliest deadline in `state`; undefined = no timer needed. */
  nextWakeAt: number | undefined;
  /** Set when the state name changed. */
  transition?: Transition;
}

// ---------------------------------------------------------------------------
// Timers (RFC 5798 §6.1, RFC 3768 §6.1)

/**
 * Skew_Time, ms, rounded down. v3 (RFC 5798 §6.1): ((256 − Priority) ×
 * Master_Adver_Interval) / 256. v2 (RFC 3768 §6.1): (256 − Priority) / 256 s,
 * whatever the interval.
 */
export function skewTimeMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  return version === 3 ? Math.floor(((256 - priority) * masterAdverIntervalMs) / 256) : Math.floor(((256 - priority) * 1000) / 256);
}

/** Master_Down_Interval, ms: 3 × Master_Adver_Interval + Skew_Time (RFC 5798 §6.1). */
export function masterDownIntervalMs(version: VrrpVersion, priority: number, masterAdverIntervalMs: number): number {
  return 3 * masterAdverIntervalMs + skewTimeMs(version, priority, masterAdverIntervalMs);
}

/**
 * The priority to use given the base priority and the sum of tracker adjustments
 * (negative weights of failing trackers, positive weights of succeeding ones, file
 * values × weight), clamped to 1-254 as keepalived does. An address owner (255)
 * stays 255: its priority says "this is my address", not how healthy it is.
 */
export function effectivePriority(base: number, adjustment: number): number {
  if (base === PRIORITY_OWNER) return PRIORITY_OWNER;
  return Math.min(254, Math.max(1, base + adjustment));
}

// ---------------------------------------------------------------------------
// Construction

/** The machine of one instance before startup (INIT, no timers). */
export function initialState(params: VrrpParams): VrrpState {
  return {
    params,
    name: 'INIT',
    effectivePriority: params.priority,
    masterAdverIntervalMs: params.advertIntervalMs,
    advertTimerAt: undefined,
    masterDownAt: undefined,
    garpAt: undefined,
    garpCount: 0,
    preemptAt: undefined,
    faults: [],
    master: undefined,
    since: undefined,
  };
}

/**
 * The machine's parameters for `node` in instance `instance` of the cluster file.
 * `primaryAddress` is the member's `source_address`, else the node's address
 * (the caller looks it up in `nodes:`).
 */
export function paramsFromConfig(instance: string, cfg: VrrpInstanceConfig, node: string, nodeAddress: string): VrrpParams {
  const member = cfg.members[node];
  if (!member) throw new RangeError(`node ${node} is not a member of VRRP instance ${instance}`);
  return {
    instance,
    version: cfg.version,
    vrid: cfg.vrid,
    priority: member.priority,
    advertIntervalMs: cfg.advert_interval,
    primaryAddress: member.source_address ?? nodeAddress,
    preempt: cfg.preempt,
    preemptDelayMs: cfg.preempt_delay,
    garp: {
      masterDelayMs: cfg.garp.master_delay,
      masterRepeat: cfg.garp.master_repeat,
      masterRefreshMs: cfg.garp.master_refresh,
      masterRefreshRepeat: cfg.garp.master_refresh_repeat,
    },
  };
}

// ---------------------------------------------------------------------------
// step

/** Collects the actions and the transition of one step. */
class Out {
  readonly actions: VrrpAction[] = [];
  transition: Transition | undefined;
  readonly #params: VrrpParams;
  constructor(params: VrrpParams) {
    this.#params = params;
  }

  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    const p = this.#params;
    this.actions.push({ type: 'log', level, message: `${p.instance}: ${message}`, fields: { instance: p.instance, vrid: p.vrid, ...fields } });
  }

  push(a: VrrpAction): void {
    this.actions.push(a);
  }

  moved(from: VrrpStateName, to: VrrpStateName, reason: string): void {
    this.transition = { from, to, reason };
    this.log('info', `entering ${to} state: ${reason}`, { from, to, reason });
  }
}

/** Feeds one event to the machine at time `now` (ms). Never mutates `state`. */
export function step(state: VrrpState, event: VrrpEvent, now: number): StepResult {
  const out = new Out(state.params);
  const next = dispatch(state, event, now, out);
  return {
    state: next,
    actions: out.actions,
    nextWakeAt: earliest(next.advertTimerAt, next.masterDownAt, next.garpAt),
    ...(out.transition ? { transition: out.transition } : {}),
  };
}

function earliest(...ts: Array<number | undefined>): number | undefined {
  let min: number | undefined;
  for (const t of ts) if (t !== undefined && (min === undefined || t < min)) min = t;
  return min;
}

function dispatch(s: VrrpState, e: VrrpEvent, now: number, out: Out): VrrpState {
  switch (e.type) {
    case 'startup':
      if (s.name !== 'INIT') return s;
      return initOnStartup(s, now, out);
    case 'shutdown':
      if (s.name === 'MASTER') return masterOnShutdown(s, now, out);
      if (s.name === 'BACKUP') return backupOnShutdown(s, now, out);
      if (s.name === 'FAULT') return faultOnShutdown(s, now, out);
      return s;
    case 'advert':
      return onAdvert(s, e, now, out);
    case 'timer':
      if (s.name === 'BACKUP' && s.masterDownAt !== undefined && s.masterDownAt <= now) return backupOnMasterDown(s, now, out, 'master down timer expired');
      if (s.name === 'MASTER') {
        let m = s;
        if (m.advertTimerAt !== undefined && m.advertTimerAt <= now) m = masterOnAdvertTimer(m, now, out);
        if (m.garpAt !== undefined && m.garpAt <= now) m = masterOnGarpTimer(m, now, out);
        return m;
      }
      return s;
    case 'fault':
      return onFault(s, e.on, e.reason ?? 'track', now, out);
    case 'priority':
      return onPriority(s, e.value, now, out);
    case 'syncMaster':
      if (s.name !== 'BACKUP') return s;
      return backupOnMasterDown(s, now, out, `sync group ${e.group}: another member became MASTER`);
    case 'syncBackup':
      if (s.name !== 'MASTER') return s;
      return becomeBackup(s, now, out, `sync group ${e.group}: another member left MASTER`, s.params.advertIntervalMs, s.master);
  }
}

// ---------------------------------------------------------------------------
// Common transitions

/** RFC 5798 §6.4.1 / §6.4.2: "Send an ADVERTISEMENT, broadcast gratuitous ARP, set Adver_Timer, transition to Master". */
function becomeMaster(s: VrrpState, now: number, out: Out, reason: string): VrrpState {
  const p = s.params;
  // The advert goes first: a master stepping down removes its VIPs on hearing it,
  // before our gratuitous ARPs (keepalived orders them the same way).
  out.push({ type: 'sendAdvert', priority: s.effectivePriority });
  out.push({ type: 'addVips' });
  out.push({ type: 'sendGarp', count: p.garp.masterRepeat });
  out.push({ type: 'notify', state: 'master' });
  out.moved(s.name, 'MASTER', reason);
  const garp = p.garp.masterDelayMs > 0
    ? { garpAt: now + p.garp.masterDelayMs, garpCount: p.garp.masterRepeat }
    : firstRefresh(p, now);
  return {
    ...s,
    name: 'MASTER',
    advertTimerAt: now + p.advertIntervalMs,
    masterDownAt: undefined,
    preemptAt: undefined,
    master: { address: p.primaryAddress, priority: s.effectivePriority },
    since: now,
    ...garp,
  };
}

function firstRefresh(p: VrrpParams, now: number): { garpAt: number | undefined; garpCount: number } {
  return p.garp.masterRefreshMs > 0 ? { garpAt: now + p.garp.masterRefreshMs, garpCount: p.garp.masterRefreshRepeat } : { garpAt: undefined, garpCount: 0 };
}

/** MASTER or FAULT → BACKUP, with the Master_Down_Timer armed from `masterAdverIntervalMs`. */
function becomeBackup(s: VrrpState, now: number, out: Out, reason: string, masterAdverIntervalMs: number, master: KnownMaster | undefined): VrrpState {
  if (s.name === 'MASTER') out.push({ type: 'removeVips' });
  out.push({ type: 'notify', state: 'backup' });
  out.moved(s.name, 'BACKUP', reason);
  return {
    ...s,
    name: 'BACKUP',
    masterAdverIntervalMs,
    advertTimerAt: undefined,
    masterDownAt: now + masterDownIntervalMs(s.params.version, s.effectivePriority, masterAdverIntervalMs),
    garpAt: undefined,
    garpCount: 0,
    preemptAt: undefined,
    master,
    since: now,
  };
}

function enterFault(s: VrrpState, now: number, out: Out, reason: string): VrrpState {
  if (s.name === 'MASTER') {
    // keepalived: a master that goes to FAULT resigns with priority 0, so that a
    // backup takes over after Skew_Time instead of Master_Down_Interval.
    out.push({ type: 'sendAdvert', priority: PRIORITY_STOP });
    out.push({ type: 'removeVips' });
  } else if (s.name === 'INIT') {
    out.push({ type: 'removeVips' });
  }
  out.push({ type: 'notify', state: 'fault' });
  out.moved(s.name, 'FAULT', reason);
  return { ...s, name: 'FAULT', advertTimerAt: undefined, masterDownAt: undefined, garpAt: undefined, garpCount: 0, preemptAt: undefined, master: undefined, since: now };
}

function stop(s: VrrpState, now: number, out: Out): VrrpState {
  out.push({ type: 'notify', state: 'stop' });
  out.moved(s.name, 'INIT', 'shutdown');
  return { ...s, name: 'INIT', advertTimerAt: undefined, masterDownAt: undefined, garpAt: undefined, garpCount: 0, preemptAt: undefined, master: undefined, since: now };
}

// ---------------------------------------------------------------------------
// INIT

function initOnStartup(s: VrrpState, now: number, out: Out): VrrpState {
  if (s.faults.length > 0) return enterFault(s, now, out, `startup with a fault (${s.faults.join(', ')})`);
  // RFC 5798 §6.4.1: "If the Priority = 255 ... transition to the Master state"
  if (s.effectivePriority === PRIORITY_OWNER) return becomeMaster(s, now, out, 'startup as address owner (priority 255)');
  // RFC 5798 §6.4.1: else set Master_Adver_Interval to Advertisement_Interval,
  // Master_Down_Timer to Master_Down_Interval, transition to Backup.
  // VIPs that a killed run left on the interface go first: a backup must not hold them.
  out.push({ type: 'removeVips' });
  return becomeBackup(s, now, out, 'startup', s.params.advertIntervalMs, undefined);
}

// ---------------------------------------------------------------------------
// Adverts

function onAdvert(s: VrrpState, e: Extract<VrrpEvent, { type: 'advert' }>, now: number, out: Out): VrrpState {
  const p = s.params;
  const a = e.advert;
  if (a.vrid !== p.vrid || a.version !== p.version) {
    out.log('debug', `ignored a VRRPv${a.version} advert for VRID ${a.vrid} from ${e.from}`, { from: e.from, advertVrid: a.vrid, advertVersion: a.version });
    return s;
  }
  if (e.from === p.primaryAddress) {
    // our own advert looped back by multicast; never a peer
    out.log('debug', 'ignored an advert from our own address', { from: e.from });
    return s;
  }
  if (s.name === 'BACKUP') return backupOnAdvert(s, e.from, a, now, out);
  if (s.name === 'MASTER') return masterOnAdvert(s, e.from, a, now, out);
  // INIT and FAULT do not take part in elections
  return s;
}

type Advert = Extract<VrrpEvent, { type: 'advert' }>['advert'];

/** The interval a backup uses for its timers after hearing `a`: v3 learns it (RFC 5798 §6.4.2), v2 keeps its own (RFC 3768 §6.4.2). */
function learnedInterval(s: VrrpState, a: Advert, out: Out, from: string): number {
  if (s.params.version !== 3) return s.params.advertIntervalMs;
  if (a.intervalMs !== s.masterAdverIntervalMs) {
    out.log('info', `master ${from} advertises every ${a.intervalMs}ms (was ${s.masterAdverIntervalMs}ms)`, { from, intervalMs: a.intervalMs, previousMs: s.masterAdverIntervalMs });
  }
  return a.intervalMs;
}

function backupOnAdvert(s: VrrpState, from: string, a: Advert, now: number, out: Out): VrrpState {
  const p = s.params;
  const local = s.effectivePriority;

  // RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then:
  // Set the Master_Down_Timer to Skew_Time"
  if (a.priority === PRIORITY_STOP) {
    const skew = skewTimeMs(p.version, local, s.masterAdverIntervalMs);
    out.log('info', `master ${from} resigned (priority 0): taking over in ${skew}ms unless another backup does`, { from, skewMs: skew });
    return { ...s, masterDownAt: now + skew, master: undefined };
  }

  // keepalived `preempt_delay`: a backup that first hears a lower-priority master
  // holds off for the delay; a master of equal or higher priority cancels it.
  let preemptAt = s.preemptAt;
  let held = false;
  if (a.priority >= local) {
    preemptAt = undefined;
  } else if (p.preempt && p.preemptDelayMs > 0) {
    if (preemptAt === undefined) {
      preemptAt = now + p.preemptDelayMs;
      out.log('info', `lower-priority master ${from} (${a.priority} < ${local}): preempting after ${p.preemptDelayMs}ms`, { from, priority: a.priority, localPriority: local, preemptAt });
    }
    held = now < preemptAt;
  }

  // RFC 5798 §6.4.2: "If Preempt_Mode is False, or if the Priority in the
  // ADVERTISEMENT is greater than or equal to the local Priority, then: Set
  // Master_Adver_Interval to Adver Interval contained in the ADVERTISEMENT,
  // Recompute the Master_Down_Interval, Reset the Master_Down_Timer"
  if (!p.preempt || a.priority >= local || held) {
    const interval = learnedInterval(s, a, out, from);
    if (s.master?.address !== from || s.master.priority !== a.priority) {
      out.log('info', `master is ${from} with priority ${a.priority}`, { from, priority: a.priority, localPriority: local });
    }
    return {
      ...s,
      masterAdverIntervalMs: interval,
      masterDownAt: now + masterDownIntervalMs(p.version, local, interval),
      master: { address: from, priority: a.priority },
      preemptAt,
    };
  }

  // RFC 5798 §6.4.2: "Otherwise: Discard the ADVERTISEMENT" — the Master_Down_Timer
  // keeps running and this backup preempts when it fires.
  out.log('info', `lower-priority advert from ${from} (${a.priority} < ${local}): discarded, preempting when the master down timer fires`, { from, priority: a.priority, localPriority: local });
  return { ...s, master: { address: from, priority: a.priority }, preemptAt };
}

function backupOnMasterDown(s: VrrpState, now: number, out: Out, reason: string): VrrpState {
  // RFC 5798 §6.4.2: "If the Master_Down_Timer fires, then: Send an ADVERTISEMENT,
  // broadcast gratuitous ARP, set the Adver_Timer, transition to the Master state"
  return becomeMaster(s, now, out, reason);
}

function masterOnAdvert(s: VrrpState, from: string, a: Advert, now: number, out: Out): VrrpState {
  const p = s.params;
  const local = s.effectivePriority;

  // RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send an
  // ADVERTISEMENT, Reset the Adver_Timer to Advertisement_Interval"
  if (a.priority === PRIORITY_STOP) {
    out.push({ type: 'sendAdvert', priority: local });
    out.log('debug', `${from} resigned (priority 0): advertising at once`, { from });
    return { ...s, advertTimerAt: now + p.advertIntervalMs };
  }

  if (a.priority === PRIORITY_OWNER && local === PRIORITY_OWNER) {
    out.log('error', `${from} also claims to own the address (priority 255): fix the configuration, only one member may have priority 255`, { from });
  }

  // RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is greater than the local
  // Priority, or the Priority in the ADVERTISEMENT is equal to the local Priority
  // and the primary IPvX Address of the sender is greater than the local primary
  // IPvX Address, then: Cancel Adver_Timer, Set Master_Adver_Interval to Adver
  // Interval contained in the ADVERTISEMENT, Recompute the Master_Down_Interval,
  // Set Master_Down_Timer to Master_Down_Interval, Transition to the Backup state"
  const tie = a.priority === local;
  const yields = a.priority > local || (tie && compareIPv4(from, p.primaryAddress) > 0);
  if (tie) {
    out.push({ type: 'splitBrain', peer: from, peerPriority: a.priority, localPriority: local });
    out.log('warn', `split brain: ${from} is also MASTER with our priority ${local}; the higher address (${yields ? from : p.primaryAddress}) stays MASTER`, { from, priority: a.priority, localPriority: local });
  }
  if (yields) {
    const interval = learnedInterval(s, a, out, from);
    const why = tie ? `${from} has the same priority ${local} and a higher address` : `higher-priority advert from ${from} (${a.priority} > ${local})`;
    return becomeBackup(s, now, out, why, interval, { address: from, priority: a.priority });
  }

  // RFC 5798 §6.4.3: "Otherwise: Discard the ADVERTISEMENT". keepalived also sends
  // an advert at once so that the lower-priority master steps down now rather than
  // at our next advert; so do we. Another master while we stay MASTER is a split brain.
  if (!tie) {
    out.push({ type: 'splitBrain', peer: from, peerPriority: a.priority, localPriority: local });
    out.log('warn', `split brain: ${from} is also MASTER with lower priority ${a.priority} (ours ${local}); staying MASTER and advertising at once`, { from, priority: a.priority, localPriority: local });
  }
  out.push({ type: 'sendAdvert', priority: local });
  return { ...s, advertTimerAt: now + p.advertIntervalMs };
}

function masterOnAdvertTimer(s: VrrpState, now: number, out: Out): VrrpState {
  // RFC 5798 §6.4.3: "If the Adver_Timer fires, then: Send an ADVERTISEMENT, Reset
  // the Adver_Timer to Advertisement_Interval"
  out.push({ type: 'sendAdvert', priority: s.effectivePriority });
  return { ...s, advertTimerAt: now + s.params.advertIntervalMs };
}

function masterOnGarpTimer(s: VrrpState, now: number, out: Out): VrrpState {
  // keepalived `garp_master_delay`, then `garp_master_refresh`
  out.push({ type: 'sendGarp', count: s.garpCount });
  return { ...s, ...firstRefresh(s.params, now) };
}

// ---------------------------------------------------------------------------
// Shutdown

function masterOnShutdown(s: VrrpState, now: number, out: Out): VrrpState {
  // RFC 5798 §6.4.3: "If a Shutdown event is received, then: Cancel the Adver_Timer,
  // Send an ADVERTISEMENT with Priority = 0, Transition to the Initialize state"
  out.push({ type: 'sendAdvert', priority: PRIORITY_STOP });
  out.push({ type: 'removeVips' });
  return stop(s, now, out);
}

function backupOnShutdown(s: VrrpState, now: number, out: Out): VrrpState {
  // RFC 5798 §6.4.2: "If a Shutdown event is received, then: Cancel the
  // Master_Down_Timer, Transition to the Initialize state"
  return stop(s, now, out);
}

function faultOnShutdown(s: VrrpState, now: number, out: Out): VrrpState {
  return stop(s, now, out);
}

// ---------------------------------------------------------------------------
// Faults and priority (keepalived trackers)

function onFault(s: VrrpState, on: boolean, reason: string, now: number, out: Out): VrrpState {
  const had = s.faults.includes(reason);
  if (on === had) return s;
  const faults = on ? [...s.faults, reason] : s.faults.filter((r) => r !== reason);
  out.log(on ? 'warn' : 'info', on ? `fault: ${reason}` : `fault cleared: ${reason}`, { reason, faults });
  const t: VrrpState = { ...s, faults };
  if (s.name === 'INIT') return t; // takes effect at startup
  if (on && s.faults.length === 0) return enterFault(t, now, out, `fault (${reason})`);
  if (!on && faults.length === 0 && s.name === 'FAULT') return faultOnClear(t, now, out);
  return t;
}

function faultOnClear(s: VrrpState, now: number, out: Out): VrrpState {
  // as at startup (RFC 5798 §6.4.1): the owner takes over, others wait as BACKUP
  if (s.effectivePriority === PRIORITY_OWNER) return becomeMaster(s, now, out, 'fault cleared, address owner (priority 255)');
  return becomeBackup(s, now, out, 'fault cleared', s.params.advertIntervalMs, undefined);
}

function onPriority(s: VrrpState, value: number, now: number, out: Out): VrrpState {
  if (s.params.priority === PRIORITY_OWNER) {
    if (value !== PRIORITY_OWNER) out.log('debug', 'address owner keeps priority 255 whatever the trackers say', { wanted: value });
    return s;
  }
  const priority = Math.min(254, Math.max(1, Math.round(value)));
  if (priority === s.effectivePriority) return s;
  out.log('info', `priority ${s.effectivePriority} → ${priority}`, { priority, previous: s.effectivePriority, base: s.params.priority });
  const t: VrrpState = { ...s, effectivePriority: priority };
  if (s.name === 'MASTER') {
    // Advertise the new priority at once: a backup that now outranks us starts
    // discarding our adverts (and preempts) one interval sooner.
    out.push({ type: 'sendAdvert', priority });
    return { ...t, advertTimerAt: now + s.params.advertIntervalMs, master: { address: s.params.primaryAddress, priority } };
  }
  // BACKUP: the new priority enters Skew_Time at the next reset of the timer.
  return t;
}

// ---------------------------------------------------------------------------
// Sync groups

/** One instance of a sync group, by name, with its current machine state. */
export interface SyncMember {
  name: string;
  state: VrrpState;
}

/** An event the caller must feed to a member's machine. */
export interface SyncEvent {
  member: string;
  event: VrrpEvent;
}

/**
 * What the other members of sync group `group` must do after a step of one of
 * them (keepalived `vrrp_sync_group`: the group changes state as one):
 *
 * - a member with a fault of its own (not one from this group) puts every other
 *   member in FAULT, with reason `sync:GROUP`; when no member has its own fault
 *   any more, that reason is cleared everywhere;
 * - a member that became MASTER makes every BACKUP member MASTER (`syncMaster`);
 * - a member that went from MASTER to BACKUP makes every MASTER member BACKUP
 *   (`syncBackup`).
 *
 * Call it after every step of a member that returned a `transition` or changed its
 * faults, with the states after that step, and feed the events; their own steps
 * call it again. It only returns events for differences, so the cascade stops.
 * All members are expected to run on the same directors (as in keepalived).
 */
export function syncGroupEvents(group: string, members: readonly SyncMember[], changed?: { member: string; transition: Transition }): SyncEvent[] {
  const events: SyncEvent[] = [];
  const reason = `sync:${group}`;
  const own = members.filter((m) => m.state.faults.some((r) => !r.startsWith('sync:')));
  for (const m of members) {
    const want = own.some((o) => o.name !== m.name);
    const has = m.state.faults.includes(reason);
    if (want !== has) events.push({ member: m.name, event: { type: 'fault', on: want, reason } });
  }
  if (changed) {
    const { from, to } = changed.transition;
    for (const m of members) {
      if (m.name === changed.member) continue;
      if (to === 'MASTER' && m.state.name === 'BACKUP') events.push({ member: m.name, event: { type: 'syncMaster', group } });
      if (from === 'MASTER' && to === 'BACKUP' && m.state.name === 'MASTER') events.push({ member: m.name, event: { type: 'syncBackup', group } });
    }
  }
  return events;
}
