/**
 * Building the heads a proxy sends: the request to a backend and the response to
 * a client. Header lines are forwarded as received, minus hop-by-hop fields
 * (RFC 9110 §7.6.1: Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding,
 * Upgrade, and every field the Connection header names), plus the forwarding
 * headers.
 */
import type { ServiceConfig } from '../../config/schema.ts';
import { BODY_CHUNKED, type RequestHead, type ResponseHead } from './parse.ts';

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade']);

export const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

function isHopByHop(name: string, tokens: readonly string[]): boolean {
  return HOP_BY_HOP.has(name) || (tokens.length !== 0 && tokens.includes(name));
}

export interface ForwardInfo {
  clientAddress: string;
  /** `http` or `https` as seen by the client. */
  proto: string;
}

/** The head of the request as sent to a backend (always HTTP/1.1, keep-alive). */
export function buildUpstreamHead(h: RequestHead, info: ForwardInfo, svc: ServiceConfig): string {
  let out = `${h.method} ${h.target} HTTP/1.1\r\n`;
  const xf = svc.headers.x_forwarded;
  let xff = '';
  let forwarded = '';
  const tokens = h.connectionTokens;
  for (let i = 0; i < h.lines.length; i++) {
    const name = h.names[i]!;
    if (isHopByHop(name, tokens)) {
      // Transfer-Encoding is framing we keep as is (only `chunked` gets this far).
      if (name === 'transfer-encoding') out += `${h.lines[i]}\r\n`;
      continue;
    }
    if (xf) {
      if (name === 'x-forwarded-for') {
        const line = h.lines[i]!;
        const v = line.slice(line.indexOf(':') + 1).trim();
        xff = xff === '' ? v : `${xff}, ${v}`;
        continue;
      }
      if (name === 'x-forwarded-proto' || name === 'x-forwarded-host') continue;
    }
    if (svc.headers.forwarded && name === 'forwarded') {
      const line = h.lines[i]!;
      const v = line.slice(line.indexOf(':') + 1).trim();
      forwarded = forwarded === '' ? v : `${forwarded}, ${v}`;
      continue;
    }
    if (svc.headers.via !== '' && name === 'via') continue; // re-added below with ours appended
    out += `${h.lines[i]}\r\n`;
  }
  if (h.host === '' && h.minor === 0) {
    // HTTP/1.0 without Host: HTTP/1.1 requires one; the backend's own name is the best we have.
  } else if (!h.names.includes('host')) {
    out += `Host: ${h.host}\r\n`;
  }
  if (h.upgrade !== '') out += `Connection: upgrade\r\nUpgrade: ${h.upgrade}\r\n`;
  const client = info.clientAddress;
  if (xf) {
    out += `X-Forwarded-For: ${xff === '' ? client : `${xff}, ${client}`}\r\n`;
    out += `X-Forwarded-Proto: ${info.proto}\r\n`;
    if (h.host !== '') out += `X-Forwarded-Host: ${h.host}\r\n`;
  }
  if (svc.headers.forwarded) {
    const forNode = client.includes(':') ? `"[${client}]"` : client;
    const hostPart = h.host !== '' ? `;host="${h.host.replace(/["\\]/g, '')}"` : '';
    const mine = `for=${forNode}${hostPart};proto=${info.proto}`;
    out += `Forwarded: ${forwarded === '' ? mine : `${forwarded}, ${mine}`}\r\n`;
  }
  if (svc.headers.via !== '') out += viaLine(h, svc.headers.via);
  return `${out}\r\n`;
}

function viaLine(h: RequestHead | ResponseHead, pseudonym: string): string {
  let prev = '';
  for (let i = 0; i < h.names.length; i++) {
    if (h.names[i] === 'via') {
      const line = h.lines[i]!;
      const v = line.slice(line.indexOf(':') + 1).trim();
      prev = prev === '' ? v : `${prev}, ${v}`;
    }
  }
  const mine = `1.${h.minor} ${pseudonym}`;
  return `Via: ${prev === '' ? mine : `${prev}, ${mine}`}\r\n`;
}

export interface ClientHeadOptions {
  /** The client speaks HTTP/1.0. */
  http10: boolean;
  /** The client connection closes after this response. */
  close: boolean;
  /** The body is de-chunked (HTTP/1.0 client and a chunked response). */
  dechunk: boolean;
  /** This is a 101 answer to an Upgrade request. */
  upgrade: boolean;
  /** Complete header lines to add (each ending in CRLF), e.g. a sticky cookie; '' for none. */
  extra: string;
}

/** The head of the response as sent to a client. The backend's Server header is dropped (no version leaks). */
export function buildClientHead(r: ResponseHead, svc: ServiceConfig, o: ClientHeadOptions): string {
  let out = `HTTP/1.1 ${r.status} ${r.reason}\r\n`;
  const tokens = r.connectionTokens;
  const via = svc.headers.via;
  for (let i = 0; i < r.lines.length; i++) {
    const name = r.names[i]!;
    if (isHopByHop(name, tokens)) {
      if (name === 'transfer-encoding' && !o.dechunk) out += `${r.lines[i]}\r\n`;
      continue;
    }
    if (name === 'server' || (via !== '' && name === 'via')) continue;
    out += `${r.lines[i]}\r\n`;
  }
  if (via !== '') out += viaLine(r, via);
  out += o.extra;
  if (o.upgrade) out += `Connection: upgrade\r\nUpgrade: ${r.upgrade}\r\n`;
  else if (o.close) out += 'Connection: close\r\n';
  else if (o.http10) out += 'Connection: keep-alive\r\n';
  return `${out}\r\n`;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Error';
}

const pageCache = new Map<number, Buffer>();

/** The built-in error page: the status and its reason, nothing about the software. */
export function builtinErrorPage(status: number): Buffer {
  let page = pageCache.get(status);
  if (page === undefined) {
    const title = `${status} ${reasonPhrase(status)}`;
    page = Buffer.from(`<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>\n`, 'latin1');
    pageCache.set(status, page);
  }
  return page;
}

/** A complete error response generated by the proxy itself. */
export function errorResponse(status: number, body: Buffer, close: boolean, headOnly: boolean, extra = ''): Buffer {
  const head =
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n` +
    'Content-Type: text/html; charset=utf-8\r\n' +
    `Content-Length: ${body.length}\r\n` +
    'Cache-Control: no-store\r\n' +
    extra +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n';
  const h = Buffer.from(head, 'latin1');
  return headOnly ? h : Buffer.concat([h, body]);
}

export function isChunked(r: ResponseHead): boolean {
  return r.bodyKind === BODY_CHUNKED;
}
