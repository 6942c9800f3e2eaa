/**
 * Trackers (keepalived `track_script`, `track_process`, `track_interface`,
 * `track_file`, and Palisade's own `proxy`): what lowers an instance's priority or
 * puts it in FAULT. The decision is pure (`contribution`, `TrackerSet.evaluate`);
 * probing (running scripts, reading /proc and /sys) happens in `TrackerRunner`.
 */
import { readFile, readdir } from 'node:fs/promises';
import type { VrrpTrackConfig } from '../../config/ha-schema.ts';
import { runCommand } from './resources.ts';

/** What one tracker currently says. */
export interface TrackerStatus {
  /** Success (script exit 0, enough processes, link up, proxy serving); for `file`, the value read. */
  ok: boolean;
  value?: number;
}

/** What one tracker does to the priority: a fault reason, or a delta (keepalived's weight rules). */
export interface Contribution {
  fault?: string;
  delta: number;
}

export function trackerName(t: VrrpTrackConfig): string {
  if (t.name !== undefined) return t.name;
  switch (t.type) {
    case 'proxy':
      return 'proxy';
    case 'script':
      return `script ${t.command[0]}`;
    case 'process':
      return `process ${t.process}`;
    case 'interface':
      return `interface ${t.interface}`;
    case 'file':
      return `file ${t.path}`;
  }
}

/**
 * keepalived's weight rules: weight 0 = FAULT while failing; a negative weight is
 * added while failing, a positive one while succeeding. `file`: value × weight, or with
 * weight 0 a non-zero value means FAULT.
 */
export function contribution(t: VrrpTrackConfig, s: TrackerStatus): Contribution {
  if (t.type === 'file') {
    const v = s.value ?? 0;
    if (t.weight === 0) return v !== 0 ? { fault: trackerName(t), delta: 0 } : { delta: 0 };
    return { delta: v * t.weight };
  }
  if (t.weight === 0) return s.ok ? { delta: 0 } : { fault: trackerName(t), delta: 0 };
  if (t.weight < 0) return { delta: s.ok ? 0 : t.weight };
  return { delta: s.ok ? t.weight : 0 };
}

/** The trackers of one instance: their statuses, and the priority delta and faults they add up to. */
export class TrackerSet {
  readonly trackers: readonly VrrpTrackConfig[];
  readonly statuses: TrackerStatus[];

  constructor(trackers: readonly VrrpTrackConfig[]) {
    this.trackers = trackers;
    // Optimistic start, as keepalived: a tracker fails only once it has been seen failing.
    this.statuses = trackers.map((t) => ({ ok: true, value: t.type === 'file' ? 0 : undefined }));
  }

  evaluate(): { delta: number; faults: string[] } {
    let delta = 0;
    const faults: string[] = [];
    this.trackers.forEach((t, i) => {
      const c = contribution(t, this.statuses[i]!);
      delta += c.delta;
      if (c.fault !== undefined) faults.push(c.fault);
    });
    return { delta, faults };
  }
}

/** Runs a script with a timeout, killing its process group when it runs out; resolves its success. */
export async function runScript(argv: readonly string[], timeoutMs: number): Promise<boolean> {
  return (await runCommand(argv, timeoutMs)).ok;
}

/** How many processes have this name (/proc/PID/comm). */
export async function countProcesses(name: string): Promise<number> {
  let n = 0;
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if ((await readFile(`/proc/${e}/comm`, 'utf8')).trim() === name) n++;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

/** Whether an interface's link is up (`unknown` counts as up: loopback and some virtual links report it). */
export async function linkUp(ifname: string): Promise<boolean> {
  try {
    const s = (await readFile(`/sys/class/net/${ifname}/operstate`, 'utf8')).trim();
    return s === 'up' || s === 'unknown';
  } catch {
    return false;
  }
}

/** The integer in a file; 0 when missing or unreadable (keepalived's track_file). */
export async function fileValue(path: string): Promise<number> {
  try {
    const v = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(v) ? v : 0;
  } catch {
    return 0;
  }
}

/**
 * Probes one instance's trackers on timers and calls `onChange` with the new delta
 * and faults whenever the evaluation changes. `proxy` trackers are set from outside
 * (`setProxy`): the daemon knows whether its proxy serves.
 */
export class TrackerRunner {
  readonly #set: TrackerSet;
  readonly #onChange: (delta: number, faults: string[]) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #streaks: number[];
  #last = '';
  #stopped = false;

  constructor(trackers: readonly VrrpTrackConfig[], onChange: (delta: number, faults: string[]) => void) {
    this.#set = new TrackerSet(trackers);
    this.#onChange = onChange;
    this.#streaks = trackers.map(() => 0);
  }

  start(): void {
    this.#set.trackers.forEach((t, i) => {
      if (t.type === 'proxy') return;
      const interval = t.type === 'script' ? t.interval : 1_000;
      const tick = async () => {
        if (this.#stopped) return;
        await this.#probe(t, i);
        if (!this.#stopped) this.#timers[i] = setTimeout(() => void tick(), interval);
      };
      void tick();
    });
    this.#emit();
  }

  async #probe(t: VrrpTrackConfig, i: number): Promise<void> {
    const s = this.#set.statuses[i]!;
    switch (t.type) {
      case 'script': {
        const ok = await runScript(t.command, t.timeout ?? t.interval);
        // rise / fall: the status flips after that many consecutive opposite results.
        if (ok === s.ok) this.#streaks[i] = 0;
        else if (++this.#streaks[i]! >= (ok ? t.rise : t.fall)) {
          this.#streaks[i] = 0;
          s.ok = ok;
        }
        break;
      }
      case 'process':
        s.ok = (await countProcesses(t.process)) >= t.quorum;
        break;
      case 'interface':
        s.ok = await linkUp(t.interface);
        break;
      case 'file':
        s.value = await fileValue(t.path);
        break;
      case 'proxy':
        return;
    }
    this.#emit();
  }

  /** The daemon's verdict on its proxy (listener up, a backend up in every service). */
  setProxy(ok: boolean): void {
    this.#set.trackers.forEach((t, i) => {
      if (t.type === 'proxy') this.#set.statuses[i]!.ok = ok;
    });
    this.#emit();
  }

  #emit(): void {
    const r = this.#set.evaluate();
    const key = `${r.delta}|${r.faults.join(',')}`;
    if (key === this.#last) return;
    this.#last = key;
    this.#onChange(r.delta, r.faults);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) if (t !== undefined) clearTimeout(t);
  }
}
