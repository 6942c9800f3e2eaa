/**
 * One VRRP instance at run time: the edge around the pure state machine. It feeds
 * the machine events (startup, received adverts, its one timer, trackers, shutdown)
 * and carries out the actions it returns, in order: send adverts on the transport,
 * add or remove the VIPs, gratuitous ARP, notify. Every dropped packet is counted
 * by its reason; a split brain is logged and reported each time it happens.
 */
import type { VrrpInstanceConfig } from '../../config/ha-schema.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/errors.ts';
import { decodeVrrp, encodeVrrp, type DropReason } from './packet.ts';
import { initialState, step, type StepResult, type Transition, type VrrpAction, type VrrpEvent, type VrrpParams, type VrrpState, type VrrpStateName } from './state.ts';
import type { VrrpMeta, VrrpTransport } from './transport.ts';

/** What holding the virtual addresses means for this instance: real VIPs, or a simulation. */
export interface VipDriver {
  add(): Promise<void>;
  remove(): Promise<void>;
  /** Gratuitous ARP for every VIP, `count` times. */
  garp(count: number): Promise<void>;
}

export interface InstanceEvents {
  /** The state changed (after its actions were started). */
  onTransition?(name: string, t: Transition, state: VrrpState): void;
  /** A MASTER heard another master: logged and reported every time. */
  onSplitBrain?(name: string, peer: string, peerPriority: number, localPriority: number): void;
  /** A `notify` action: run the notify command of that state. */
  onNotify?(name: string, state: 'master' | 'backup' | 'fault' | 'stop', priority: number): void;
  /**
   * After a step that changed the state or the fault reasons (sync groups follow
   * it). Called last, with the instance consistent: it may feed other instances.
   */
  onChange?(name: string, transition: Transition | undefined): void;
}

export interface InstanceStatus {
  instance: string;
  state: VrrpStateName;
  priority: number;
  effectivePriority: number;
  vrid: number;
  version: number;
  /** The master we last heard (BACKUP), or ourselves. */
  master: string | undefined;
  since: number | undefined;
  sent: number;
  received: number;
  dropped: Partial<Record<DropReason, number>>;
  splitBrains: number;
  faults: readonly string[];
}

function sameFaults(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((f, i) => f === b[i]));
}

export class VrrpInstance {
  readonly name: string;
  readonly #cfg: VrrpInstanceConfig;
  readonly #transport: VrrpTransport;
  readonly #vips: VipDriver;
  readonly #log: Logger;
  readonly #events: InstanceEvents;
  readonly #addresses: string[];
  #state: VrrpState;
  #timer: NodeJS.Timeout | undefined;
  /** VIP changes run one after the other, in the order the machine asked for them. */
  #vipChain: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #stopped = false;
  #sent = 0;
  #received = 0;
  readonly #dropped: Partial<Record<DropReason, number>> = {};
  #splitBrains = 0;
  #lastDropLog = 0;

  constructor(name: string, cfg: VrrpInstanceConfig, params: VrrpParams, transport: VrrpTransport, vips: VipDriver, log: Logger, events: InstanceEvents = {}) {
    this.name = name;
    this.#cfg = cfg;
    this.#transport = transport;
    this.#vips = vips;
    this.#log = log.child({ vrrp: name });
    this.#events = events;
    this.#addresses = cfg.virtual_ipaddress.map((v) => v.address);
    this.#state = initialState(params);
  }

  /** Resources that follow the VIP (heartbeat resource group), if any. */
  resources: { acquire(): Promise<void>; release(): Promise<void> } | undefined;

  get state(): VrrpState {
    return this.#state;
  }

  /** Starts listening and feeds the startup event (RFC 5798 §6.4.1). */
  start(): void {
    this.#unsubscribe = this.#transport.onMessage((payload, meta) => this.#onMessage(payload, meta));
    this.#transport.onError((err) => this.#log.warn({ err: err.message }, 'VRRP receive error'));
    this.feed({ type: 'startup' });
  }

  /** Feeds an event from outside (trackers, sync groups). */
  feed(event: VrrpEvent): void {
    if (this.#stopped && event.type !== 'shutdown') return;
    const r = step(this.#state, event, performance.now());
    this.#apply(r);
  }

  #onMessage(payload: Buffer, meta: VrrpMeta): void {
    const cfg = this.#cfg;
    const d = decodeVrrp(payload, {
      pseudo: { src: meta.src, dst: meta.dst },
      ttl: meta.ttl,
      expect: { version: cfg.version, vrid: cfg.vrid, addresses: this.#addresses, ...(cfg.version === 2 ? { intervalMs: cfg.advert_interval } : {}) },
    });
    if (!d.ok) {
      // Another VRID on the same group is normal traffic, not a fault of anyone.
      if (d.reason === 'VRID_MISMATCH') return;
      this.#dropped[d.reason] = (this.#dropped[d.reason] ?? 0) + 1;
      const t = performance.now();
      if (t - this.#lastDropLog > 10_000) {
        this.#lastDropLog = t;
        this.#log.warn({ from: meta.src, reason: d.reason, detail: d.detail, dropped: this.#dropped }, `VRRP advert from ${meta.src} dropped: ${d.reason}`);
      }
      return;
    }
    // Our own multicast adverts come back on some setups: ignore them.
    if (meta.src === this.#transport.source) return;
    this.#received++;
    this.feed({ type: 'advert', from: meta.src, advert: d.advert });
  }

  #apply(r: StepResult): void {
    const faultsBefore = this.#state.faults;
    this.#state = r.state;
    const t0 = r.transition;
    const res = this.resources;
    // Resources stop before the VIPs go, and start after they came: heartbeat's order.
    if (res !== undefined && t0 !== undefined && t0.from === 'MASTER') this.#vipChain = this.#vipChain.then(() => res.release());
    for (const a of r.actions) this.#act(a);
    if (res !== undefined && t0 !== undefined && t0.to === 'MASTER') this.#vipChain = this.#vipChain.then(() => res.acquire());
    if (r.transition !== undefined) {
      const t = r.transition;
      this.#log.info({ from: t.from, to: t.to, priority: r.state.effectivePriority }, `VRRP instance ${this.name}: ${t.from} -> ${t.to}`);
      this.#events.onTransition?.(this.name, t, r.state);
    }
    this.#arm(r.nextWakeAt);
    if (r.transition !== undefined || !sameFaults(faultsBefore, r.state.faults)) this.#events.onChange?.(this.name, r.transition);
  }

  #arm(at: number | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (at === undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.feed({ type: 'timer' });
    }, Math.max(0, at - performance.now()));
  }

  #act(a: VrrpAction): void {
    switch (a.type) {
      case 'sendAdvert':
        this.#sendAdvert(a.priority);
        return;
      case 'addVips':
        this.#vipChain = this.#vipChain.then(() => this.#vips.add()).catch((err: unknown) => this.#log.error({ err: errorMessage(err) }, 'adding the virtual addresses failed'));
        return;
      case 'removeVips':
        this.#vipChain = this.#vipChain.then(() => this.#vips.remove()).catch((err: unknown) => this.#log.error({ err: errorMessage(err) }, 'removing the virtual addresses failed'));
        return;
      case 'sendGarp':
        // After the VIPs are added, but nothing waits for it: a removal must not queue
        // behind a burst (the driver cancels the burst when the VIPs go).
        this.#vipChain = this.#vipChain.then(() => {
          this.#vips.garp(a.count).catch((err: unknown) => this.#log.warn({ err: errorMessage(err) }, 'gratuitous ARP failed'));
        });
        return;
      case 'notify':
        this.#events.onNotify?.(this.name, a.state, this.#state.effectivePriority);
        return;
      case 'log':
        this.#log[a.level](a.fields, a.message);
        return;
      case 'splitBrain':
        this.#splitBrains++;
        this.#log.error({ peer: a.peer, peer_priority: a.peerPriority, priority: a.localPriority, split_brains: this.#splitBrains }, `VRRP split brain on ${this.name}: ${a.peer} is master too (priority ${a.peerPriority}, ours ${a.localPriority})`);
        this.#events.onSplitBrain?.(this.name, a.peer, a.peerPriority, a.localPriority);
        return;
    }
  }

  #sendAdvert(priority: number): void {
    const cfg = this.#cfg;
    const tr = this.#transport;
    for (const dst of tr.targets) {
      // RFC 5798 §5.2.8: the v3 checksum covers the pseudo-header, so one message per destination.
      const msg = encodeVrrp({ version: cfg.version, vrid: cfg.vrid, priority, intervalMs: cfg.advert_interval, addresses: this.#addresses }, { src: tr.source, dst });
      this.#sent++;
      tr.send(msg, dst).catch((err: unknown) => this.#log.warn({ to: dst, err: errorMessage(err) }, 'sending a VRRP advert failed'));
    }
  }

  status(): InstanceStatus {
    const s = this.#state;
    return {
      instance: this.name,
      state: s.name,
      priority: s.params.priority,
      effectivePriority: s.effectivePriority,
      vrid: s.params.vrid,
      version: s.params.version,
      master: s.name === 'MASTER' ? s.params.primaryAddress : s.master?.address,
      since: s.since,
      sent: this.#sent,
      received: this.#received,
      dropped: { ...this.#dropped },
      splitBrains: this.#splitBrains,
      faults: s.faults,
    };
  }

  /**
   * Shutdown (RFC 5798 §6.4.3): a MASTER sends an advert with priority 0 and gives up
   * its addresses. Resolves once the VIPs are removed; closes the transport.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.feed({ type: 'shutdown' });
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#vipChain;
    // Let the priority-0 advert leave before the socket closes.
    await new Promise((r) => setImmediate(r));
    this.#unsubscribe?.();
    this.#transport.close();
  }
}
