/**
 * HTTP/1.1 message heads, parsed strictly (RFC 9112) and only as far as a proxy
 * needs: the start line, the header fields as raw lines (forwarded as they came,
 * minus hop-by-hop ones), and the fields that decide framing and connection reuse.
 *
 * Anything ambiguous that could let two parsers disagree about where a message ends
 * (request smuggling) is refused rather than repaired: both Content-Length and
 * Transfer-Encoding, several Content-Length values, a Transfer-Encoding other than
 * `chunked`, whitespace before a colon, obs-fold, bare CR or LF, NUL.
 */

/** Why a head was refused; `status` is what the client gets (400, 414, 431, 501). */
export class HeadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'HeadError';
    this.status = status;
  }
}

/** Framing of a message body. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
/** Response body delimited by the connection closing (HTTP/1.0 style). */
export const BODY_UNTIL_CLOSE = 3;
export type BodyKind = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED | typeof BODY_UNTIL_CLOSE;

export interface HeadCommon {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Header lines in order, each `Name: value` exactly as received, hop-by-hop ones included. */
  lines: string[];
  /** Lower-cased field name of each line, parallel to `lines`. */
  names: string[];
  bodyKind: BodyKind;
  /** Body length when `bodyKind` is BODY_LENGTH. */
  contentLength: number;
  /** `Connection: close` seen, or HTTP/1.0 without `Connection: keep-alive`. */
  close: boolean;
  /** Lower-cased tokens of the Connection header (names of more hop-by-hop fields). */
  connectionTokens: string[];
  /** Upgrade header value (raw), when `Connection: upgrade` names it. */
  upgrade: string;
}

export interface RequestHead extends HeadCommon {
  method: string;
  /** Request target in origin form (`/path?query`), or `*`. */
  target: string;
  /** Host from the Host header, or from an absolute-form target. */
  host: string;
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
}

export interface ResponseHead extends HeadCommon {
  status: number;
  /** The reason phrase as received. */
  reason: string;
}


// Characters allowed in a token (RFC 9110 §5.6.2).
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

function isToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Field values: visible characters, SP, HTAB and obs-text; never CR, LF or NUL or other controls. */
function badValueChar(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * Finds the end of a head in `buf` starting the search at `from`: the index just past
 * CRLFCRLF, or -1. A head ended by bare LFs is not accepted (it is refused later by
 * the line checks, since the search never matches it).
 */
export function findHeadEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf('\r\n\r\n', from < 3 ? 0 : from - 3, 'latin1');
  return i < 0 ? -1 : i + 4;
}

export interface HeadLimits {
  /** Most header fields accepted (431 past it). */
  maxHeaders: number;
}

function parseFields(text: string, start: number, limits: HeadLimits, h: HeadCommon, isRequest: boolean): void {
  // `text` ends with "\r\n\r\n"; `start` is the index after the start line's CRLF.
  const end = text.length - 2;
  let pos = start;
  let clSeen = false;
  let teSeen = false;
  let upgradeRaw = '';
  while (pos < end) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0 || eol > end) eol = end;
    if (h.lines.length >= limits.maxHeaders) throw new HeadError(431, `more than ${limits.maxHeaders} header fields`);
    const c0 = text.charCodeAt(pos);
    if (c0 === 0x20 || c0 === 0x09) throw new HeadError(400, 'obsolete line folding in a header field');
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon > eol) throw new HeadError(400, 'header line without a colon');
    if (!isToken(text, pos, colon)) {
      const c = text.charCodeAt(colon - 1);
      throw new HeadError(400, c === 0x20 || c === 0x09 ? 'whitespace before the colon of a header field' : 'invalid header field name');
    }
    if (badValueChar(text, colon + 1, eol)) throw new HeadError(400, 'invalid character (CR, LF, NUL or control) in a header value');
    const name = text.slice(pos, colon).toLowerCase();
    h.lines.push(text.slice(pos, eol));
    h.names.push(name);
    // Only the fields that decide framing and routing are looked at here.
    switch (name) {
      case 'content-length': {
        if (clSeen) throw new HeadError(400, 'more than one Content-Length');
        clSeen = true;
        const value = text.slice(colon + 1, eol).trim();
        if (!/^\d{1,15}$/.test(value)) throw new HeadError(400, 'invalid Content-Length');
        h.contentLength = Number(value);
        break;
      }
      case 'transfer-encoding': {
        if (teSeen) throw new HeadError(isRequest ? 501 : 400, 'more than one Transfer-Encoding');
        teSeen = true;
        const value = text.slice(colon + 1, eol).trim();
        const lvalue = value.toLowerCase();
        if (lvalue !== 'chunked') {
          if (isRequest) throw new HeadError(501, `Transfer-Encoding ${JSON.stringify(value)} is not supported (only chunked)`);
          // A response may stack codings; only a final "chunked" is framing we understand.
          if (!/(^|,)\s*chunked$/.test(lvalue)) h.bodyKind = BODY_UNTIL_CLOSE;
        }
        break;
      }
      case 'connection':
        for (const tok of text.slice(colon + 1, eol).toLowerCase().split(',')) {
          const t = tok.trim();
          if (t !== '') h.connectionTokens.push(t);
        }
        break;
      case 'upgrade':
        upgradeRaw = text.slice(colon + 1, eol).trim();
        break;
      case 'host':
        if (isRequest) {
          const r = h as RequestHead;
          if (r.host !== '') throw new HeadError(400, 'more than one Host header');
          const value = text.slice(colon + 1, eol).trim();
          r.host = value === '' ? ' ' : value;
        }
        break;
      case 'expect':
        if (isRequest && text.slice(colon + 1, eol).trim().toLowerCase() === '100-continue') (h as RequestHead).expectContinue = true;
        break;
    }
    pos = eol + 2;
  }
  if (clSeen && teSeen) throw new HeadError(400, 'both Content-Length and Transfer-Encoding');
  if (teSeen) {
    if (h.bodyKind !== BODY_UNTIL_CLOSE) h.bodyKind = BODY_CHUNKED;
  } else if (clSeen) {
    h.bodyKind = BODY_LENGTH;
  }
  let close = h.minor === 0;
  for (const t of h.connectionTokens) {
    if (t === 'close') close = true;
    else if (t === 'keep-alive' && h.minor === 0) close = false;
    else if (t === 'upgrade') h.upgrade = upgradeRaw;
  }
  h.close = close;
}

function newCommon(minor: number): HeadCommon {
  return { minor, lines: [], names: [], bodyKind: BODY_NONE, contentLength: 0, close: false, connectionTokens: [], upgrade: '' };
}

function parseVersion(text: string, at: number): number {
  // "HTTP/1.1" or "HTTP/1.0" exactly.
  if (text.startsWith('HTTP/1.', at) && at + 8 <= text.length) {
    const d = text.charCodeAt(at + 7);
    if (d === 0x31) return 1;
    if (d === 0x30) return 0;
  }
  return -1;
}

/** Parses a request head; `buf[start, end)` holds it including the final CRLFCRLF. */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: HeadLimits): RequestHead {
  const text = buf.toString('latin1', start, end);
  if (text.includes('\0')) throw new HeadError(400, 'NUL in the request head');
  const eol = text.indexOf('\r\n');
  const sp1 = text.indexOf(' ');
  if (sp1 <= 0 || sp1 > eol) throw new HeadError(400, 'malformed request line');
  const sp2 = text.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > eol || sp2 === sp1 + 1) throw new HeadError(400, 'malformed request line');
  if (!isToken(text, 0, sp1)) throw new HeadError(400, 'invalid method');
  const minor = parseVersion(text, sp2 + 1);
  if (minor < 0 || sp2 + 9 !== eol) {
    if (text.startsWith('HTTP/', sp2 + 1) && sp2 + 9 === eol) throw new HeadError(505, 'HTTP version not supported');
    throw new HeadError(400, 'malformed request line');
  }
  const method = text.slice(0, sp1);
  let target = text.slice(sp1 + 1, sp2);
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new HeadError(400, 'invalid character in the request target');
  }
  const h = newCommon(minor) as RequestHead;
  h.method = method;
  h.host = '';
  h.expectContinue = false;
  parseFields(text, eol + 2, limits, h, true);
  let absHost = '';
  if (target.charCodeAt(0) !== 0x2f) {
    if (target === '*' && method === 'OPTIONS') {
      // asterisk-form
    } else {
      const m = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(target);
      if (!m) throw new HeadError(400, 'invalid request target');
      absHost = m[1]!;
      target = m[2] === '' ? '/' : m[2]!.startsWith('/') ? m[2]! : `/${m[2]}`;
    }
  }
  h.target = target;
  // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
  if (absHost !== '') h.host = absHost;
  else if (h.host === '' && minor === 1) throw new HeadError(400, 'missing Host header');
  if (h.host === ' ') h.host = '';
  return h;
}

/** Parses a response head; `buf[start, end)` holds it including the final CRLFCRLF. */
export function parseResponseHead(buf: Buffer, start: number, end: number, limits: HeadLimits, requestMethod: string): ResponseHead {
  const text = buf.toString('latin1', start, end);
  if (text.includes('\0')) throw new HeadError(502, 'NUL in the response head');
  const eol = text.indexOf('\r\n');
  const minor = parseVersion(text, 0);
  if (minor < 0 || text.charCodeAt(8) !== 0x20) throw new HeadError(502, 'malformed status line');
  const code = text.slice(9, 12);
  if (!/^[1-5]\d\d$/.test(code) || (eol > 12 && text.charCodeAt(12) !== 0x20)) throw new HeadError(502, 'malformed status code');
  const h = newCommon(minor) as ResponseHead;
  h.status = Number(code);
  h.reason = eol > 13 ? text.slice(13, eol) : '';
  if (badValueChar(h.reason, 0, h.reason.length)) throw new HeadError(502, 'invalid character in the reason phrase');
  try {
    parseFields(text, eol + 2, limits, h, false);
  } catch (err) {
    if (err instanceof HeadError) throw new HeadError(502, `backend response: ${err.message}`);
    throw err;
  }
  const s = h.status;
  if (requestMethod === 'HEAD' || s < 200 || s === 204 || s === 304) {
    h.bodyKind = BODY_NONE;
  } else if (h.bodyKind === BODY_NONE) {
    h.bodyKind = BODY_UNTIL_CLOSE;
  }
  if (h.bodyKind === BODY_UNTIL_CLOSE) h.close = true;
  return h;
}

/**
 * The raw value of a header field (`name` in lower case), trimmed; several fields of
 * that name are joined with ", " (or "; " for Cookie, RFC 6265 §5.4). Undefined when absent.
 */
export function headerValue(h: HeadCommon, name: string): string | undefined {
  let out: string | undefined;
  const names = h.names;
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== name) continue;
    const line = h.lines[i]!;
    const v = line.slice(line.indexOf(':') + 1).trim();
    out = out === undefined ? v : `${out}${name === 'cookie' ? '; ' : ', '}${v}`;
  }
  return out;
}
