/**
 * State retention on disk (Nagios `retain_state_information`,
 * `retention_update_interval`): the monitor's retained state
 * (src/monitor/state/retention.ts) in a JSON file beside the history store, read
 * once at start before the first check, written every `monitor.retention_interval`,
 * right after each operator action and at an orderly shutdown.
 *
 * A write is atomic — a temporary file in the same directory, fsync, rename, fsync
 * of the directory — so that a crash leaves the old file or the new one, never half
 * of one; and asynchronous, so that the event loop (which may carry the proxy too)
 * never waits for the disk. One write at a time: a request during a write makes one
 * more write, of the newest state, when it ends.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { MonitorConfig } from '../config/monitor-schema.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { formatRetention, parseRetention, type RetentionSnapshot } from '../monitor/state/retention.ts';

/** The retention file: beside the store, named after it (`monitor.db` → `monitor-retention.json`). */
export function retentionPath(runtimeDir: string, cfg: MonitorConfig): string {
  const store = resolve(runtimeDir, cfg.store.path);
  return join(dirname(store), `${basename(store, extname(store))}-retention.json`);
}

export type RetentionRead =
  /** No file: the first start (or it was deleted to reset the state). */
  | { kind: 'none' }
  | { kind: 'ok'; snapshot: RetentionSnapshot }
  /** A file that cannot be used: unreadable, not JSON, a newer format, a field of the wrong kind. */
  | { kind: 'refused'; reason: string; unreadable: boolean };

/** Reads and checks the retention file; never throws. */
export async function readRetention(file: string): Promise<RetentionRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'refused', reason: `cannot be read (${errorMessage(err)})`, unreadable: true };
  }
  const r = parseRetention(text);
  return r.ok ? { kind: 'ok', snapshot: r.snapshot } : { kind: 'refused', reason: r.reason, unreadable: false };
}

/**
 * Replaces `file` with `data` atomically: written to a temporary file in the same
 * directory (same file system, so the rename is atomic), flushed to disk, renamed
 * over the old one, and the directory flushed so that the rename survives a crash.
 * The directory must exist.
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Not every file system can flush a directory; the file itself is written.
  }
}

export interface RetentionWriterOptions {
  file: string;
  /** The state to write, taken when a write starts. */
  snapshot: () => RetentionSnapshot;
  log: Logger;
  /** Between periodic writes, ms; 0 = none (only `save()` calls). */
  intervalMs: number;
}

/** Writes the retained state: periodically once started, and on each `save()`. */
export class RetentionWriter {
  readonly file: string;
  readonly #o: RetentionWriterOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** The last write's error, logged once until a write succeeds again. */
  #failing: string | undefined;
  /** The directory was made (by the first write): a directory removed later is not made again. */
  #dirMade = false;
  /** Writes that succeeded. */
  writes = 0;

  constructor(o: RetentionWriterOptions) {
    this.#o = o;
    this.file = o.file;
  }

  start(): void {
    if (this.#o.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.save(), this.#o.intervalMs);
    this.#timer.unref();
  }

  /** Writes the state of now (after the write in progress, if any); resolves when written or failed (logged), never rejects. */
  save(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop();
    return this.#running;
  }

  /** Stops the periodic writes and writes once more (the shutdown's write). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.save();
  }

  async #loop(): Promise<void> {
    try {
      do {
        this.#again = false;
        await this.#writeOnce();
      } while (this.#again);
    } finally {
      this.#running = undefined;
    }
  }

  async #writeOnce(): Promise<void> {
    const log = this.#o.log;
    try {
      const started = performance.now();
      const text = formatRetention(this.#o.snapshot());
      if (!this.#dirMade) {
        // Like the store, which makes its directory at start; once only, so that a runtime directory
        // removed under a running daemon (a test's, at its end) is not brought back at its shutdown.
        await mkdir(dirname(this.file), { recursive: true });
        this.#dirMade = true;
      }
      await writeFileAtomic(this.file, text);
      this.writes++;
      if (this.#failing !== undefined) log.info({ file: this.file }, `monitor: retained state written to ${this.file} again`);
      else log.debug({ file: this.file, bytes: Buffer.byteLength(text), ms: Math.round(performance.now() - started) }, 'monitor: retained state written');
      this.#failing = undefined;
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== this.#failing) log.error({ file: this.file, err: msg }, `monitor: retained state could not be written to ${this.file}: a restart now would forget acknowledgements and downtime`);
      this.#failing = msg;
    }
  }
}
