/**
 * The raw IPv4 socket addon (native/vrrp_socket.c), loaded and wrapped.
 *
 * One socket carries one IP protocol (VRRP: 112) on one interface: bound to it
 * (SO_BINDTODEVICE), sending with TTL 255 and TOS 0xc0, multicast leaving by that
 * interface and not looped back to us, and every received packet tagged with its
 * ingress interface. The addon polls the socket on Node's own event loop, so a
 * received packet costs no thread hop.
 *
 * Errors are `PalisadeError`s whose message says what failed and what to do; the
 * addon's error (with `code` = the errno name, `syscall`) is the `cause`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PalisadeError } from '../../core/errors.ts';

/** A packet as the addon returns it: the IPv4 header is parsed, `payload` is what follows it. */
export interface RawPacket {
  /** The IP payload (for VRRP: the VRRP message), without the IPv4 header. */
  payload: Buffer;
  /** IPv4 source address (dotted quad). */
  src: string;
  /** IPv4 destination address: 224.0.0.18 for multicast adverts, ours for unicast. */
  dst: string;
  /** The IPv4 header's TTL as received (VRRP requires 255: RFC 5798 §7.1). */
  ttl: number;
  /** The IPv4 header's type of service byte. */
  tos: number;
  /** Index of the interface the packet arrived on (IP_PKTINFO). */
  ifindex: number;
  /** True when the packet was longer than the 64 KiB receive buffer (payload cut). */
  truncated: boolean;
}

/** The addon's functions (see native/vrrp_socket.c). */
interface Addon {
  open(protocol: number, ifname: string): { handle: object; fd: number; ifindex: number };
  join(handle: object, group: string): void;
  leave(handle: object, group: string): void;
  recv(handle: object): RawPacket | null;
  send(handle: object, payload: Uint8Array, dst: string, src?: string): number;
  poll(handle: object, callback: (err?: Error) => void): void;
  close(handle: object): void;
  addr(op: 'add' | 'del', ifname: string, address: string, prefixlen: number): boolean;
  hwaddr(ifname: string): string;
  frame(ifname: string, bytes: Uint8Array): number;
  /**
   * Dumps conntrack (ctnetlink, AF_INET) on a thread-pool thread and counts the entries
   * of each row by TCP state; used by app/l4-kernel.ts (see src/proxy/kernel/conntrack.ts).
   */
  conntrack(rows: Uint32Array): Promise<{ counts: Uint32Array; entries: number; matched: number; malformed: number; elapsedMs: number; dumps: number; filtered: boolean; interrupted: boolean }>;
}

const ADDON_FILE = join('build', 'Release', 'vrrp_socket.node');

let addon: Addon | undefined;
let loadError: PalisadeError | undefined;

/** Where the built addon is: `build/Release/` of the package this file belongs to. */
export function addonPath(): string | undefined {
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/**
 * Loads the addon once. Throws a `PalisadeError` saying how to build it (or to use
 * `transport: udp`) when it is missing or does not load.
 */
export function loadAddon(): Addon {
  if (addon !== undefined) return addon;
  if (loadError !== undefined) throw loadError;
  const how =
    'build it with `node scripts/build-native.mjs` (or `npm rebuild`; needs python3, make and g++), or use `transport: udp`';
  if (process.platform !== 'linux') {
    loadError = new PalisadeError('PALISADE_HA_RAW_SOCKET', 'config', `the VRRP raw-socket addon is Linux-only (this is ${process.platform}); use \`transport: udp\``);
    throw loadError;
  }
  const path = addonPath();
  if (path === undefined) {
    loadError = new PalisadeError('PALISADE_HA_RAW_SOCKET', 'config', `the VRRP raw-socket addon is not built (no ${ADDON_FILE}): ${how}`);
    throw loadError;
  }
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    return addon;
  } catch (err) {
    loadError = new PalisadeError('PALISADE_HA_RAW_SOCKET', 'config', `the VRRP raw-socket addon ${path} does not load (${(err as Error).message}): ${how}`, { cause: err });
    throw loadError;
  }
}

/** What went wrong in the addon, as an operator can act on it. */
export function explainNativeError(err: unknown, context: string): PalisadeError {
  const e = err as { code?: string; syscall?: string; message?: string };
  const code = e.code ?? '';
  const syscall = e.syscall ?? '';
  const base = e.message ?? String(err);
  let hint = '';
  if ((code === 'EPERM' || code === 'EACCES') && (syscall === 'socket' || base.includes('SO_BINDTODEVICE'))) {
    hint = 'needs CAP_NET_RAW: run as root or give the process CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW), or use `transport: udp`';
  } else if ((code === 'EPERM' || code === 'EACCES') && syscall === 'sendmsg') {
    hint = 'a firewall rule (nftables/iptables OUTPUT) may reject IP protocol 112';
  } else if (code === 'ENODEV' && syscall === 'if_nametoindex') {
    hint = 'no such network interface here (check `interface` in the cluster file and `ip link`)';
  } else if (['EINVAL', 'ENETUNREACH', 'EADDRNOTAVAIL'].includes(code) && syscall === 'sendmsg' && base.includes(' from ')) {
    // the kernel refuses a source that is not local with EINVAL or ENETUNREACH, depending on the route
    hint = 'the source address must be configured on this host (and the interface up)';
  } else if (code === 'ENETUNREACH' || code === 'ENETDOWN') {
    hint = 'is the interface up and does it have an IPv4 address?';
  }
  return new PalisadeError('PALISADE_HA_RAW_SOCKET', code === 'ENODEV' ? 'config' : 'internal', `${context}: ${base}${hint === '' ? '' : ` — ${hint}`}`, { cause: err });
}

/** Options of `RawSocket.open`. */
export interface RawSocketOptions {
  /** IP protocol number, 1-255 (VRRP: 112). */
  protocol: number;
  /** Interface to bind to, e.g. `eth0`. */
  interface: string;
}

/** A raw IPv4 socket for one protocol on one interface. */
export class RawSocket {
  readonly protocol: number;
  readonly interface: string;
  /** Index of the bound interface (compare with `RawPacket.ifindex`). */
  readonly ifindex: number;
  readonly fd: number;
  #addon: Addon;
  #handle: object;
  #closed = false;
  #onPacket: ((p: RawPacket) => void) | undefined;
  #onError: ((err: Error) => void) | undefined;

  private constructor(native: Addon, opts: RawSocketOptions, opened: { handle: object; fd: number; ifindex: number }) {
    this.protocol = opts.protocol;
    this.interface = opts.interface;
    this.#addon = native;
    this.#handle = opened.handle;
    this.fd = opened.fd;
    this.ifindex = opened.ifindex;
  }

  /** Opens the socket (needs CAP_NET_RAW). It receives nothing until `onPacket` is set. */
  static open(opts: RawSocketOptions): RawSocket {
    const native = loadAddon();
    try {
      return new RawSocket(native, opts, native.open(opts.protocol, opts.interface));
    } catch (err) {
      throw explainNativeError(err, `opening a raw socket for IP protocol ${opts.protocol} on ${opts.interface}`);
    }
  }

  /** Joins a multicast group on the bound interface (IP_ADD_MEMBERSHIP); joining twice is fine. */
  join(group: string): void {
    try {
      this.#addon.join(this.#handle, group);
    } catch (err) {
      throw explainNativeError(err, `joining ${group} on ${this.interface}`);
    }
  }

  /** Leaves a multicast group; leaving one not joined is fine. */
  leave(group: string): void {
    try {
      this.#addon.leave(this.#handle, group);
    } catch (err) {
      throw explainNativeError(err, `leaving ${group} on ${this.interface}`);
    }
  }

  /**
   * Sends one IP payload to `dst`; the kernel adds the IPv4 header (TTL 255, TOS 0xc0).
   * `src` sets the header's source address (it must be an address of this host);
   * without it the kernel picks the interface's primary address. Returns bytes sent.
   */
  send(payload: Uint8Array, dst: string, src?: string): number {
    try {
      return this.#addon.send(this.#handle, payload, dst, src);
    } catch (err) {
      throw explainNativeError(err, `sending ${payload.length} bytes of IP protocol ${this.protocol} on ${this.interface}`);
    }
  }

  /**
   * Calls `cb` for every packet received, on the event loop. The first call starts
   * polling; the socket then keeps the process alive until `close()`.
   * `onError` receives failures of polling or reading (they do not close the socket).
   */
  onPacket(cb: (p: RawPacket) => void, onError?: (err: Error) => void): void {
    if (this.#closed) throw new PalisadeError('PALISADE_HA_RAW_SOCKET', 'internal', `the raw socket on ${this.interface} is closed`);
    const first = this.#onPacket === undefined;
    this.#onPacket = cb;
    this.#onError = onError;
    if (first) this.#addon.poll(this.#handle, (err) => this.#drain(err));
  }

  #drain(err?: Error): void {
    if (err !== undefined) {
      this.#report(explainNativeError(err, `polling the raw socket on ${this.interface}`));
      return;
    }
    // drain what is queued, bounded so that a flood cannot starve the loop
    for (let i = 0; i < 64 && !this.#closed; i++) {
      let p: RawPacket | null;
      try {
        p = this.#addon.recv(this.#handle);
      } catch (e) {
        this.#report(explainNativeError(e, `receiving on ${this.interface}`));
        return;
      }
      if (p === null) return;
      this.#onPacket?.(p);
    }
  }

  #report(err: Error): void {
    if (this.#onError !== undefined) this.#onError(err);
    else process.emitWarning(err);
  }

  /** Reads one queued packet without polling (null when none). */
  recv(): RawPacket | null {
    try {
      return this.#addon.recv(this.#handle);
    } catch (err) {
      throw explainNativeError(err, `receiving on ${this.interface}`);
    }
  }

  /** Stops polling and closes the socket. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.close(this.#handle);
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/**
 * Adds or removes an IPv4 address over netlink (what `ip addr add|del` does, without
 * spawning it: the takeover path). Resolves true when done, false when there was
 * nothing to do (already there with that prefix; not there). Needs CAP_NET_ADMIN.
 */
export function netlinkAddress(op: 'add' | 'del', address: string, prefixlen: number, dev: string): boolean {
  try {
    return loadAddon().addr(op, dev, address, prefixlen);
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    const e = err as { code?: string; message?: string };
    const hint = e.code === 'EPERM' || e.code === 'EACCES' ? ' — needs CAP_NET_ADMIN (root, or AmbientCapabilities=CAP_NET_ADMIN)' : e.code === 'ENODEV' ? ` — no interface ${dev} here` : '';
    throw new PalisadeError('PALISADE_HA_VIP', e.code === 'ENODEV' || e.code === 'EPERM' ? 'config' : 'internal', `${op === 'add' ? 'adding' : 'removing'} ${address}/${prefixlen} ${op === 'add' ? 'to' : 'from'} ${dev}: ${e.message ?? String(err)}${hint}`, { cause: err });
  }
}

/** The MAC address of `dev` (`aa:bb:cc:dd:ee:ff`). */
export function interfaceMac(dev: string): string {
  try {
    return loadAddon().hwaddr(dev);
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    throw new PalisadeError('PALISADE_HA_GARP', 'config', `the MAC address of ${dev}: ${(err as Error).message}`, { cause: err });
  }
}

/** Sends one whole Ethernet frame on `dev` (a gratuitous ARP). Needs CAP_NET_RAW. */
export function sendFrame(dev: string, frame: Uint8Array): void {
  try {
    loadAddon().frame(dev, frame);
  } catch (err) {
    if (err instanceof PalisadeError) throw err;
    const e = err as { code?: string; message?: string };
    const hint = e.code === 'EPERM' || e.code === 'EACCES' ? ' — needs CAP_NET_RAW' : e.code === 'ENETDOWN' ? ` — ${dev} is down` : '';
    throw new PalisadeError('PALISADE_HA_GARP', 'internal', `gratuitous ARP on ${dev}: ${e.message ?? String(err)}${hint}`, { cause: err });
  }
}
