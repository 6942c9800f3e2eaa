/**
 * Palisade's own events — a VRRP transition, a split brain, a backend going down or
 * up, a service losing its quorum — as one typed stream. Alerting subscribes to it
 * (mail, SMS, webhook, like a Nagios service state change), the dashboard shows the
 * recent ones, the logs already carry each one as a line with its `event` field.
 *
 * The bus is synchronous and cheap: emitting with no subscriber is a ring-buffer
 * write. A subscriber that throws is logged and never breaks the emitter.
 */

export type EventSeverity = 'info' | 'warning' | 'critical';

export type PalisadeEventKind =
  /** A VRRP instance changed state (INIT / BACKUP / MASTER / FAULT). */
  | 'vrrp_transition'
  /** A MASTER heard another MASTER for its VRID: reported every time. */
  | 'split_brain'
  /** A backend's health state changed (up, down, …). */
  | 'backend_state'
  /** A service lost or regained its quorum (keepalived `quorum`). */
  | 'quorum';

export interface PalisadeEvent {
  kind: PalisadeEventKind;
  /** ms since the epoch. */
  time: number;
  /** What it is about: `vrrp/VI_1`, `service/www/10.0.0.1:80`, `service/www`. */
  subject: string;
  /** The new state, in upper case: MASTER, BACKUP, FAULT, DOWN, UP, SPLIT_BRAIN, QUORUM_LOST … */
  state: string;
  severity: EventSeverity;
  /** One human line, as in the log. */
  message: string;
  /** The node that saw it. */
  node: string;
  /** Details for templates and the API (priority, peer, reason …). */
  fields: Readonly<Record<string, string | number | boolean>>;
}

export type EventListener = (e: PalisadeEvent) => void;

/** What emitters get: just the way in. */
export interface EventSink {
  emit(e: Omit<PalisadeEvent, 'time' | 'node'> & { time?: number }): void;
}

/** One event with its place in the bus' sequence (1 for the first event since start). */
export interface SequencedEvent {
  seq: number;
  event: PalisadeEvent;
}

/** What `since()` returns: the events after a sequence number that the ring still holds. */
export interface EventsSince {
  /** Identifies this bus (this daemon's run): sequence numbers restart with a new one. */
  boot: string;
  /** Sequence number of the newest event (0 = none yet). */
  last: number;
  /** Events after `after` that rotated out of the ring before being asked for. */
  missed: number;
  events: SequencedEvent[];
}

export class EventBus implements EventSink {
  readonly node: string;
  /** A random id of this bus, so that a reader can tell a restarted daemon (sequence from 1 again) from new events. */
  readonly boot: string;
  readonly #listeners = new Set<EventListener>();
  readonly #ring: (PalisadeEvent | undefined)[];
  #next = 0;
  #count = 0;
  readonly #onListenerError: (err: unknown, e: PalisadeEvent) => void;

  /**
   * @param node this node's name, stamped on every event
   * @param keep how many recent events `recent()` can return (default 500)
   */
  constructor(node: string, opts: { keep?: number; onListenerError?: (err: unknown, e: PalisadeEvent) => void } = {}) {
    this.node = node;
    this.boot = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const keep = opts.keep ?? 500;
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`the event ring must keep at least 1 event, got ${keep}`);
    this.#ring = Array.from({ length: keep }, () => undefined);
    this.#onListenerError = opts.onListenerError ?? (() => undefined);
  }

  emit(input: Omit<PalisadeEvent, 'time' | 'node'> & { time?: number }): void {
    const e: PalisadeEvent = { ...input, time: input.time ?? Date.now(), node: this.node };
    this.#ring[this.#next] = e;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#count++;
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#onListenerError(err, e);
      }
    }
  }

  /** Calls `listener` for every event from now on; returns the unsubscribe function. */
  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last `n` events (default all kept), oldest first. */
  recent(n = this.#ring.length): PalisadeEvent[] {
    const have = Math.min(this.#count, this.#ring.length, Math.max(0, n));
    const out: PalisadeEvent[] = [];
    for (let i = have; i > 0; i--) out.push(this.#ring[(this.#next - i + this.#ring.length) % this.#ring.length]!);
    return out;
  }

  /**
   * Events with sequence numbers above `after` (at most `max`, oldest first) that the
   * ring still holds; the event numbered n is the n-th emitted since start. `after`
   * beyond the newest (a reader that knew an earlier run) returns nothing: compare `boot`.
   */
  since(after: number, max = this.#ring.length): EventsSince {
    const last = this.#count;
    const oldest = Math.max(1, last - this.#ring.length + 1);
    const from = Math.max(oldest, Math.floor(after) + 1);
    const missed = Math.max(0, oldest - Math.max(0, Math.floor(after)) - 1);
    const events: SequencedEvent[] = [];
    for (let seq = from; seq <= last && events.length < Math.max(0, max); seq++) {
      events.push({ seq, event: this.#ring[(seq - 1) % this.#ring.length]! });
    }
    return { boot: this.boot, last, missed: last === 0 ? 0 : missed, events };
  }

  /** Events emitted since start (including those rotated out of `recent`). */
  get total(): number {
    return this.#count;
  }
}
