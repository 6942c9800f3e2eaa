/**
 * The `udp` VRRP transport: the very same VRRP messages, carried in UDP datagrams
 * between configured peers. For labs and hosts without CAP_NET_RAW.
 *
 * It cannot interoperate with keepalived (which speaks only IP protocol 112), and
 * it has no TTL: RFC 5798 §7.1 drops packets whose TTL is not 255 so that nothing
 * from beyond the local link is believed. The stand-in here: only datagrams from a
 * configured peer's address AND port are accepted, and those are reported with
 * `ttl: 255`; anything else is dropped (`onDrop`, `dropped`). Each peer's port is
 * its source port too, because a node sends from the socket it listens on.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { PalisadeError } from '../../core/errors.ts';
import type { VrrpMessageHandler, VrrpMeta, VrrpTransport } from './transport.ts';

/** A peer of the udp transport. */
export interface UdpPeer {
  /** The peer's address (its `address` option). */
  address: string;
  /** The peer's UDP port; default: ours. */
  port?: number;
}

/** Options of the udp transport. */
export interface UdpTransportOptions {
  /**
   * Our address: the socket binds to it and it is the messages' source (the address
   * compared on priority ties, RFC 5798 §6.4.3). A specific IPv4 address, not 0.0.0.0.
   * Several nodes on one host: give each its own 127.0.0.x (all of 127/8 is local on Linux).
   */
  address: string;
  /** Our UDP port (the cluster file's `udp_port`). */
  port: number;
  /** Every other router of the group: address, or address and port. */
  peers: readonly (string | UdpPeer)[];
  /** Called for each datagram dropped because it did not come from a peer. */
  onDrop?: (reason: 'NOT_A_PEER', from: { address: string; port: number }) => void;
}

export interface UdpTransport extends VrrpTransport {
  readonly kind: 'udp';
  /** The port actually bound (useful with `port: 0` in tests). */
  readonly port: number;
  /** Datagrams dropped so far because they did not come from a peer. */
  readonly dropped: number;
}

/** Binds the socket and resolves once it listens; rejects with a `PalisadeError` saying why not. */
export function openUdpTransport(opts: UdpTransportOptions): Promise<UdpTransport> {
  if (!isIPv4(opts.address) || opts.address === '0.0.0.0') {
    return Promise.reject(new PalisadeError('PALISADE_HA_UDP', 'config', `udp VRRP transport: address must be a specific IPv4 address (it is the messages' source), got ${JSON.stringify(opts.address)}`));
  }
  const peers = new Map<string, number>();
  for (const p of opts.peers) {
    const peer = typeof p === 'string' ? { address: p } : p;
    if (!isIPv4(peer.address)) {
      return Promise.reject(new PalisadeError('PALISADE_HA_UDP', 'config', `udp VRRP transport: peer ${JSON.stringify(peer.address)} is not an IPv4 address`));
    }
    if (peers.has(peer.address)) {
      // the source address tells peers apart (and breaks priority ties): one port per address
      return Promise.reject(new PalisadeError('PALISADE_HA_UDP', 'config', `udp VRRP transport: peer ${peer.address} is listed twice; on one host give each node its own 127.0.0.x`));
    }
    peers.set(peer.address, peer.port ?? opts.port);
  }
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error) => {
      socket.close();
      reject(new PalisadeError('PALISADE_HA_UDP', 'config', `udp VRRP transport: cannot listen on ${opts.address}:${opts.port}: ${err.message}`, { cause: err }));
    };
    socket.once('error', onBindError);
    socket.bind({ address: opts.address, port: opts.port, exclusive: true }, () => {
      socket.off('error', onBindError);
      resolve(new UdpTransportImpl(socket, opts, peers));
    });
  });
}

class UdpTransportImpl implements UdpTransport {
  readonly kind = 'udp';
  readonly source: string;
  readonly targets: readonly string[];
  readonly port: number;
  dropped = 0;
  #socket: Socket;
  #peers: ReadonlyMap<string, number>;
  #messages = new Set<VrrpMessageHandler>();
  #errors = new Set<(err: Error) => void>();
  #closed = false;

  constructor(socket: Socket, opts: UdpTransportOptions, peers: ReadonlyMap<string, number>) {
    this.#socket = socket;
    this.#peers = peers;
    this.source = opts.address;
    this.port = socket.address().port;
    this.targets = Object.freeze([...peers.keys()]);
    socket.on('message', (msg, rinfo) => {
      if (this.#peers.get(rinfo.address) !== rinfo.port) {
        this.dropped++;
        opts.onDrop?.('NOT_A_PEER', { address: rinfo.address, port: rinfo.port });
        return;
      }
      // the TTL stand-in: a configured peer counts as on-link (see the file comment)
      const meta: VrrpMeta = { src: rinfo.address, dst: this.source, ttl: 255, ifindex: 0 };
      for (const cb of this.#messages) cb(msg, meta);
    });
    socket.on('error', (err) => {
      const e = new PalisadeError('PALISADE_HA_UDP', 'internal', `udp VRRP transport on ${this.source}:${this.port}: ${err.message}`, { cause: err });
      if (this.#errors.size === 0) process.emitWarning(e);
      for (const cb of this.#errors) cb(e);
    });
  }

  send(payload: Uint8Array, dest: string): Promise<void> {
    const port = this.#peers.get(dest);
    if (port === undefined) {
      return Promise.reject(new PalisadeError('PALISADE_HA_UDP', 'internal', `udp VRRP transport: ${dest} is not a configured peer (peers: ${this.targets.join(', ') || 'none'})`));
    }
    if (this.#closed) return Promise.reject(new PalisadeError('PALISADE_HA_UDP', 'internal', 'udp VRRP transport is closed'));
    return new Promise((resolve, reject) => {
      this.#socket.send(payload, port, dest, (err) => {
        if (err) reject(new PalisadeError('PALISADE_HA_UDP', 'internal', `udp VRRP transport: sending to ${dest}:${port}: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  onMessage(cb: VrrpMessageHandler): () => void {
    this.#messages.add(cb);
    return () => {
      this.#messages.delete(cb);
    };
  }

  onError(cb: (err: Error) => void): () => void {
    this.#errors.add(cb);
    return () => {
      this.#errors.delete(cb);
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#messages.clear();
    this.#errors.clear();
    this.#socket.close();
  }
}
