/**
 * How VRRP messages travel: one small interface, two implementations.
 *
 * - `raw` (this file): IP protocol 112, as RFC 5798 and keepalived do it. To the
 *   group 224.0.0.18 by default, or to each unicast peer. Needs the native addon
 *   and CAP_NET_RAW. Interoperates with keepalived.
 * - `udp` (`transport-udp.ts`): the same VRRP messages as UDP datagrams to each
 *   peer's port, for labs without privileges. Does NOT interoperate with keepalived.
 *
 * A transport moves bytes and reports where they came from; it never decodes them.
 * Validation (TTL, checksum, VRID, ...) is the codec's and the state machine's job.
 * Multicast adverts carry one checksum for every receiver; unicast ones carry a
 * v3 checksum over the pseudo-header with that peer's address: so the sender
 * encodes one message per entry of `targets` and sends each to its target.
 *
 * See docs/vrrp-transport.md.
 */
import { networkInterfaces } from 'node:os';
import { PalisadeError } from '../../core/errors.ts';
import { RawSocket } from './raw.ts';
import { openUdpTransport } from './transport-udp.ts';
import type { UdpTransportOptions } from './transport-udp.ts';

/** IP protocol number of VRRP (RFC 5798 §5.1.1.4). */
export const VRRP_IP_PROTOCOL = 112;
/** The IPv4 multicast group of VRRP (RFC 5798 §5.1.1.2). */
export const VRRP_GROUP_V4 = '224.0.0.18';

/** Where a received message came from, as the IPv4 header told (or, over UDP, a stand-in). */
export interface VrrpMeta {
  /** IPv4 source address: the sender's primary address, used to break priority ties (RFC 5798 §6.4.3). */
  src: string;
  /** IPv4 destination: 224.0.0.18 or our unicast address (it is in the v3 checksum's pseudo-header). */
  dst: string;
  /** IPv4 TTL as received; RFC 5798 §7.1 drops anything but 255. Over UDP always 255 (see there). */
  ttl: number;
  /** Ingress interface index; 0 over UDP. */
  ifindex: number;
}

export type VrrpMessageHandler = (payload: Buffer, meta: VrrpMeta) => void;

/** One VRRP instance's way to the other routers of its group. */
export interface VrrpTransport {
  readonly kind: 'raw' | 'udp';
  /** Our IPv4 address: the source of what we send (the v3 pseudo-header's source). */
  readonly source: string;
  /**
   * Where an advertisement goes: `[224.0.0.18]` in multicast mode, else every unicast
   * peer. Encode one message per target (the v3 checksum covers the destination).
   */
  readonly targets: readonly string[];
  /** Sends one VRRP message to one target. Rejects with a `PalisadeError` saying why. */
  send(payload: Uint8Array, dest: string): Promise<void>;
  /** Calls `cb` for each message received; returns a function that unsubscribes. */
  onMessage(cb: VrrpMessageHandler): () => void;
  /** Calls `cb` for receive-side failures (the transport stays open); returns an unsubscribe. */
  onError(cb: (err: Error) => void): () => void;
  /** Stops receiving and releases the socket. Safe to call twice. */
  close(): void;
}

/** Options of the raw transport. */
export interface RawTransportOptions {
  /** The interface VRRP runs on, e.g. `eth0`. */
  interface: string;
  /**
   * Our source address. Default: the interface's first IPv4 address (its primary,
   * as keepalived picks it; keepalived's `unicast_src_ip`).
   */
  source?: string;
  /** Unicast peers (keepalived's `unicast_peer`). Empty or absent: multicast to `group`. */
  peers?: readonly string[];
  /** Multicast group; default 224.0.0.18. */
  group?: string;
  /** IP protocol; default 112. */
  protocol?: number;
}

/** A small set of listeners. A listener that throws is an uncaught exception, as in any event handler. */
class Listeners<A extends unknown[]> {
  #set = new Set<(...args: A) => void>();
  add(cb: (...args: A) => void): () => void {
    this.#set.add(cb);
    return () => {
      this.#set.delete(cb);
    };
  }
  get size(): number {
    return this.#set.size;
  }
  emit(...args: A): void {
    for (const cb of this.#set) cb(...args);
  }
  clear(): void {
    this.#set.clear();
  }
}

/** The first IPv4 address of `ifname` in this network namespace, or undefined. */
export function primaryIPv4(ifname: string): string | undefined {
  return networkInterfaces()[ifname]?.find((a) => a.family === 'IPv4')?.address;
}

/**
 * Opens the raw transport: a protocol-112 socket bound to the interface, joined to
 * the group (multicast mode), polled on the event loop. Needs CAP_NET_RAW and the
 * native addon; throws a `PalisadeError` that says so otherwise.
 */
export function openRawTransport(opts: RawTransportOptions): Promise<VrrpTransport> {
  try {
    return Promise.resolve(new RawTransport(opts));
  } catch (err) {
    return Promise.reject(err);
  }
}

class RawTransport implements VrrpTransport {
  readonly kind = 'raw';
  readonly source: string;
  readonly targets: readonly string[];
  #socket: RawSocket;
  #group: string | undefined;
  #messages = new Listeners<[Buffer, VrrpMeta]>();
  #errors = new Listeners<[Error]>();

  constructor(opts: RawTransportOptions) {
    const source = opts.source ?? primaryIPv4(opts.interface);
    if (source === undefined) {
      throw new PalisadeError(
        'PALISADE_HA_RAW_SOCKET',
        'config',
        `VRRP on ${opts.interface}: the interface has no IPv4 address (or does not exist); give it one or set the source address`,
      );
    }
    this.source = source;
    const peers = opts.peers ?? [];
    this.#group = peers.length === 0 ? (opts.group ?? VRRP_GROUP_V4) : undefined;
    this.targets = Object.freeze(this.#group === undefined ? [...peers] : [this.#group]);
    this.#socket = RawSocket.open({ protocol: opts.protocol ?? VRRP_IP_PROTOCOL, interface: opts.interface });
    try {
      // without membership the interface drops the group's packets before any socket sees them
      if (this.#group !== undefined) this.#socket.join(this.#group);
      this.#socket.onPacket(
        (p) => this.#messages.emit(p.payload, { src: p.src, dst: p.dst, ttl: p.ttl, ifindex: p.ifindex }),
        (err) => this.#errors.emit(err),
      );
    } catch (err) {
      this.#socket.close();
      throw err;
    }
  }

  send(payload: Uint8Array, dest: string): Promise<void> {
    try {
      this.#socket.send(payload, dest, this.source);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  onMessage(cb: VrrpMessageHandler): () => void {
    return this.#messages.add(cb);
  }

  onError(cb: (err: Error) => void): () => void {
    return this.#errors.add(cb);
  }

  close(): void {
    if (this.#socket.closed) return;
    // closing the socket drops its membership too; leave first to say so explicitly (IGMP leave)
    if (this.#group !== undefined) {
      try {
        this.#socket.leave(this.#group);
      } catch {
        // the interface may be gone; closing still releases everything
      }
    }
    this.#socket.close();
    this.#messages.clear();
    this.#errors.clear();
  }
}

/** Which transport, with its options: what the cluster file's `transport:` selects. */
export type TransportOptions = ({ kind: 'raw' } & RawTransportOptions) | ({ kind: 'udp' } & UdpTransportOptions);

/** Opens the transport that `opts.kind` names. */
export function openTransport(opts: TransportOptions): Promise<VrrpTransport> {
  return opts.kind === 'raw' ? openRawTransport(opts) : openUdpTransport(opts);
}
