/**
 * Computing a `hash` scheduler's key for a request from its parsed spec
 * (`hashKeySpec` in config/scheduler-schema.ts parses `key:`), as nginx evaluates
 * the variables of `hash $key`: a missing value is the empty string.
 */
import type { HashKeyPart, HashKeySpec } from '../config/scheduler-schema.ts';
import { readCookie } from './sticky.ts';

/** What a key can be made of; the proxy provides it per request. */
export interface HashKeySource {
  /** Client address ($remote_addr). */
  readonly remoteAddr: string;
  /** Request target as received, path and query ($request_uri). */
  readonly requestUri: string;
  /** Normalised path without the query ($uri); default: `requestUri` up to `?`. */
  readonly uri?: string;
  /** A request header by lower-case name (repeated ones joined with ", "), undefined when absent. */
  header(name: string): string | undefined;
}

function partValue(part: HashKeyPart, req: HashKeySource): string {
  switch (part.kind) {
    case 'text':
      return part.text;
    case 'remote_addr':
      return req.remoteAddr;
    case 'request_uri':
      return req.requestUri;
    case 'uri': {
      if (req.uri !== undefined) return req.uri;
      const q = req.requestUri.indexOf('?');
      return q < 0 ? req.requestUri : req.requestUri.slice(0, q);
    }
    case 'header':
      return req.header(part.name) ?? '';
    case 'cookie':
      // nginx matches cookie names without regard to case (ngx_http_parse_multi_header_lines).
      return readCookie(req.header('cookie'), part.name, true) ?? '';
    case 'arg':
      return readArg(req.requestUri, part.name) ?? '';
  }
}

/** The key of a request for a parsed spec. A single-variable spec allocates nothing. */
export function hashKeyOf(spec: HashKeySpec, req: HashKeySource): string {
  const parts = spec.parts;
  if (parts.length === 1) return partValue(parts[0]!, req);
  let s = '';
  for (const p of parts) s += partValue(p, req);
  return s;
}

/**
 * The raw (not percent-decoded) value of a query argument, as nginx's `$arg_<name>`
 * (ngx_http_arg: names compared without regard to case); undefined when absent.
 */
export function readArg(requestUri: string, name: string): string | undefined {
  const q = requestUri.indexOf('?');
  if (q < 0) return undefined;
  const end = requestUri.indexOf('#', q) < 0 ? requestUri.length : requestUri.indexOf('#', q);
  let i = q + 1;
  while (i <= end) {
    let amp = requestUri.indexOf('&', i);
    if (amp < 0 || amp > end) amp = end;
    const eq = requestUri.indexOf('=', i);
    const nameEnd = eq >= 0 && eq < amp ? eq : amp;
    if (nameEnd - i === name.length && requestUri.slice(i, nameEnd).toLowerCase() === name.toLowerCase()) {
      return nameEnd === amp ? '' : requestUri.slice(eq + 1, amp);
    }
    i = amp + 1;
  }
  return undefined;
}
