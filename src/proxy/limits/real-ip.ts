/**
 * The client address behind trusted proxies (nginx `set_real_ip_from` with
 * `real_ip_header X-Forwarded-For` and `real_ip_recursive on`): when the peer is
 * trusted, X-Forwarded-For is read from the right, skipping trusted addresses; the
 * first untrusted one is the client. A client can prepend anything it likes to the
 * header, but not append: only the right-most untrusted entry is believable.
 */
import { isAddress, type CidrSet } from './cidr.ts';

/**
 * `peer` is the socket's remote address; `xff` the X-Forwarded-For value (all
 * fields joined with ", "), or undefined. Returns the address the limits apply to.
 */
export function realClientAddress(peer: string, xff: string | undefined, trusted: CidrSet): string {
  if (xff === undefined || trusted.size === 0 || !trusted.has(peer)) return peer;
  let client = peer;
  let end = xff.length;
  while (end > 0) {
    const comma = xff.lastIndexOf(',', end - 1);
    const entry = xff.slice(comma + 1, end).trim();
    end = comma < 0 ? 0 : comma;
    if (entry === '') continue;
    // A malformed entry ends the walk: the last address we could trust stands.
    if (!isAddress(entry)) return client;
    client = entry;
    if (!trusted.has(entry)) return entry;
  }
  return client;
}
