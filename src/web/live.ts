/**
 * What the live stream (`GET /api/stream`) sends: the whole snapshot and every
 * check once to a page that connects, then only the changes (`snapshotPatch`,
 * `checksPatch`). One LiveState per server: each frame is serialized and encoded
 * once and written to every page as the same bytes.
 */
import type { CheckView, ClusterSnapshot } from './facade.ts';
import { diff } from './patch.ts';

const encoder = new TextEncoder();

/** One Server-Sent Event with a JSON payload (JSON.stringify never emits a raw line break). */
export function sseFrame(event: string, json: string): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${json}\n\n`);
}

/** Past this many changed values a patch is no cheaper than the snapshot: the whole snapshot is sent. */
const FULL_AFTER_OPS = 2_000;

export class LiveState {
  #snap: ClusterSnapshot | undefined;
  #snapFrame: Uint8Array | undefined;
  /** Each check's JSON by object, in the facade's order. */
  #checks = new Map<string, string>();
  #checksFrame: Uint8Array | undefined;
  /** When `update` last ran (ms, the caller's clock); 0 before the first. */
  updatedAt = 0;

  get ready(): boolean {
    return this.#snap !== undefined;
  }

  /**
   * Takes a new snapshot and check list; answers the frames that bring a page that
   * had the previous ones up to date (none when nothing changed, none on the first call).
   */
  update(snap: ClusterSnapshot, checks: readonly CheckView[], now: number): Uint8Array[] {
    const frames: Uint8Array[] = [];
    const prev = this.#snap;
    this.#snap = snap;
    this.updatedAt = now;
    if (prev !== undefined) {
      const ops = diff(prev, snap);
      if (ops.length > 0) {
        this.#snapFrame = undefined;
        frames.push(ops.length > FULL_AFTER_OPS ? this.#snapshotFrame() : sseFrame('snapshotPatch', JSON.stringify(ops)));
      }
    } else {
      this.#snapFrame = undefined;
    }
    const next = new Map<string, string>();
    const set: string[] = [];
    for (const c of checks) {
      const j = JSON.stringify(c);
      next.set(c.object, j);
      if (this.#checks.get(c.object) !== j) set.push(j);
    }
    const del: string[] = [];
    for (const k of this.#checks.keys()) if (!next.has(k)) del.push(k);
    const changed = set.length > 0 || del.length > 0 || next.size !== this.#checks.size;
    this.#checks = next;
    if (changed) {
      this.#checksFrame = undefined;
      if (prev !== undefined) frames.push(sseFrame('checksPatch', `{"set":[${set.join(',')}],"del":${JSON.stringify(del)}}`));
    }
    return frames;
  }

  #snapshotFrame(): Uint8Array {
    this.#snapFrame ??= sseFrame('snapshot', JSON.stringify(this.#snap));
    return this.#snapFrame;
  }

  /** The frames a page gets when it connects: the current snapshot and every check (whole). */
  baseline(): Uint8Array[] {
    if (this.#snap === undefined) throw new Error('no snapshot yet');
    this.#checksFrame ??= sseFrame('checks', `[${[...this.#checks.values()].join(',')}]`);
    return [this.#snapshotFrame(), this.#checksFrame];
  }
}
