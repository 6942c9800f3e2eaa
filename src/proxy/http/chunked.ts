/**
 * Chunked transfer coding (RFC 9112 §7.1), tracked incrementally so that a proxy
 * can forward chunks as they come and know exactly where the body ends, without
 * copying data. Optionally reports the data ranges, to de-chunk for an HTTP/1.0
 * client.
 */

const S_SIZE = 0; // reading hex digits
const S_EXT = 1; // after ';' until CR
const S_SIZE_LF = 2; // CR seen after size line
const S_DATA = 3;
const S_DATA_CR = 4;
const S_DATA_LF = 5;
const S_TRAILER_START = 6; // at the start of a trailer line (or the final CRLF)
const S_TRAILER = 7; // inside a trailer line
const S_TRAILER_LF = 8; // CR seen in a trailer line
const S_END_LF = 9; // CR of the final empty line seen
const S_DONE = 10;

export class ChunkedError extends Error {
  override name = 'ChunkedError';
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

export interface ChunkedLimits {
  /** Longest chunk-size line including extensions, in bytes. */
  maxLineLength: number;
  /** Most bytes of trailer fields in all. */
  maxTrailerSize: number;
}

export type DataSink = (buf: Buffer, start: number, end: number) => void;

export class ChunkedTracker {
  #state = S_SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineLen = 0;
  #trailerLen = 0;
  readonly #limits: ChunkedLimits;
  /** Bytes of chunk data seen so far (the decoded body length). */
  dataBytes = 0;

  constructor(limits: ChunkedLimits) {
    this.#limits = limits;
  }

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /**
   * Consumes `buf[start, end)`; returns the index just past the last byte that
   * belongs to the chunked body (== end unless the body ended inside the buffer).
   * Throws ChunkedError on malformed framing. `onData`, when given, receives every
   * range of chunk data.
   */
  feed(buf: Buffer, start: number, end: number, onData?: DataSink): number {
    let i = start;
    let state = this.#state;
    const lim = this.#limits;
    while (i < end && state !== S_DONE) {
      switch (state) {
        case S_DATA: {
          const n = Math.min(this.#remaining, end - i);
          if (onData !== undefined) onData(buf, i, i + n);
          this.#remaining -= n;
          this.dataBytes += n;
          i += n;
          if (this.#remaining === 0) state = S_DATA_CR;
          continue;
        }
        case S_SIZE: {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.#digits > 13) throw new ChunkedError('chunk size too large');
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) {
            throw new ChunkedError('invalid chunk size');
          } else if (c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
            state = S_EXT;
          } else if (c === 0x0d) {
            state = S_SIZE_LF;
          } else {
            throw new ChunkedError('invalid chunk size');
          }
          if (++this.#lineLen > lim.maxLineLength) throw new ChunkedError('chunk size line too long');
          i++;
          continue;
        }
        case S_EXT: {
          const c = buf[i]!;
          if (c === 0x0d) state = S_SIZE_LF;
          else if (c === 0x0a || c === 0) throw new ChunkedError('invalid chunk extension');
          if (++this.#lineLen > lim.maxLineLength) throw new ChunkedError('chunk extension too long');
          i++;
          continue;
        }
        case S_SIZE_LF: {
          if (buf[i] !== 0x0a) throw new ChunkedError('expected LF after chunk size');
          i++;
          this.#lineLen = 0;
          this.#digits = 0;
          if (this.#size === 0) {
            state = S_TRAILER_START;
          } else {
            this.#remaining = this.#size;
            this.#size = 0;
            state = S_DATA;
          }
          continue;
        }
        case S_DATA_CR:
          if (buf[i] !== 0x0d) throw new ChunkedError('expected CRLF after chunk data');
          i++;
          state = S_DATA_LF;
          continue;
        case S_DATA_LF:
          if (buf[i] !== 0x0a) throw new ChunkedError('expected CRLF after chunk data');
          i++;
          state = S_SIZE;
          continue;
        case S_TRAILER_START: {
          const c = buf[i]!;
          i++;
          if (c === 0x0d) state = S_END_LF;
          else if (c === 0x0a || c === 0) throw new ChunkedError('invalid trailer');
          else {
            state = S_TRAILER;
            if (++this.#trailerLen > lim.maxTrailerSize) throw new ChunkedError('trailer too large');
          }
          continue;
        }
        case S_TRAILER: {
          const c = buf[i]!;
          i++;
          if (c === 0x0d) state = S_TRAILER_LF;
          else if (c === 0x0a || c === 0) throw new ChunkedError('invalid trailer');
          if (++this.#trailerLen > lim.maxTrailerSize) throw new ChunkedError('trailer too large');
          continue;
        }
        case S_TRAILER_LF:
          if (buf[i] !== 0x0a) throw new ChunkedError('expected LF in trailer');
          i++;
          state = S_TRAILER_START;
          continue;
        case S_END_LF:
          if (buf[i] !== 0x0a) throw new ChunkedError('expected LF at the end of the chunked body');
          i++;
          state = S_DONE;
          continue;
      }
    }
    this.#state = state;
    return i;
  }
}
