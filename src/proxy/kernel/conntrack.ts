/**
 * LVS's ActiveConn / InActConn for `mode: nat` services, read from conntrack: the
 * native addon (native/vrrp_socket.c, `conntrack(rows)`) dumps the conntrack table
 * over ctnetlink on a thread-pool thread (with up to 4 VIP addresses, one dump per VIP
 * that the kernel filters to that VIP's entries) and counts, in C, the entries of
 * each row by TCP state; this file builds the rows and turns the counters into the
 * two columns. Pure: the dump is injected (`ConntrackDump`).
 *
 * A row is one backend behind one VIP:port: after DNAT, a flow's original tuple
 * goes to the VIP and its reply tuple comes from the real server, whatever
 * `kernel.replies` is (masquerade changes only the reply's destination).
 *
 * What counts as what, as `ipvsadm -L -n` does it (ip_vs_conn.c keeps a connection
 * "inactive" until its TCP state is ESTABLISHED, and UDP never leaves it):
 * - active: TCP in ESTABLISHED;
 * - inactive: TCP in any other state (SYN_SENT, SYN_RECV, FIN_WAIT, CLOSE_WAIT,
 *   LAST_ACK, TIME_WAIT, CLOSE, …), and every UDP flow.
 */
import { isIP } from 'node:net';

/** Counters per row in the addon's answer: one per `enum tcp_conntrack` value 0-14, and the last for flows without a TCP state. */
export const CONNTRACK_SLOTS = 16;
/** The slot of flows without a TCP state (UDP). */
export const CONNTRACK_NO_STATE = 15;
/** `TCP_CONNTRACK_ESTABLISHED` (include/uapi/linux/netfilter/nf_conntrack_tcp.h). */
export const TCP_CONNTRACK_ESTABLISHED = 3;
/** Numbers per row in the query: protocol, VIP, VIP port, real server, its port. */
export const CONNTRACK_ROW_FIELDS = 5;

/** One backend behind one virtual address. */
export interface ConntrackRow {
  protocol: 'tcp' | 'udp';
  /** The service's IPv4 address (the flow's original destination). */
  vip: string;
  vport: number;
  /** The real server's IPv4 address (the reply's source after DNAT). */
  server: string;
  sport: number;
}

/** What the addon's `conntrack(rows)` resolves with. */
export interface ConntrackAnswer {
  /** `CONNTRACK_SLOTS` counters per row, in the rows' order. */
  counts: Uint32Array;
  /** Entries looked at: those to the rows' VIPs when `filtered`, else every IPv4 entry of this network namespace. */
  entries: number;
  /** Entries counted in some row. */
  matched: number;
  /** Entries skipped because their attributes did not parse (0 unless the kernel's answer is odd). */
  malformed: number;
  /** Time the dump took on its thread, ms. */
  elapsedMs: number;
  /** Netlink dumps made: one per VIP address when `filtered`, else one. */
  dumps: number;
  /** The kernel was asked for the VIPs' entries only (CTA_FILTER; up to 4 VIP addresses, Linux 5.8+). */
  filtered: boolean;
  /** The table changed during the dump (NLM_F_DUMP_INTR): counts are approximate, as always. */
  interrupted: boolean;
}

/** Dumps conntrack and counts per row; rejects with an errno error (`code`, `syscall`). */
export type ConntrackDump = (rows: Uint32Array) => Promise<ConntrackAnswer>;

/** LVS's two columns for one backend. */
export interface ConnectionCounts {
  /** ESTABLISHED TCP connections (ActiveConn). */
  active: number;
  /** Other TCP states and UDP flows (InActConn). */
  inactive: number;
}

const PROTOCOL_NUMBER = { tcp: 6, udp: 17 } as const;

/** An IPv4 address as the number the addon compares (host order: 10.0.0.1 → 0x0a000001). Throws on anything else. */
export function ipv4Number(address: string): number {
  if (isIP(address) !== 4) throw new RangeError(`not an IPv4 address: ${JSON.stringify(address)}`);
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The addon's query: `CONNTRACK_ROW_FIELDS` numbers per row. Throws on a non-IPv4 address or a bad port. */
export function encodeConntrackRows(rows: readonly ConntrackRow[]): Uint32Array {
  const out = new Uint32Array(rows.length * CONNTRACK_ROW_FIELDS);
  rows.forEach((r, i) => {
    for (const port of [r.vport, r.sport]) if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`not a port: ${port}`);
    out.set([PROTOCOL_NUMBER[r.protocol], ipv4Number(r.vip), r.vport, ipv4Number(r.server), r.sport], i * CONNTRACK_ROW_FIELDS);
  });
  return out;
}

/** Row `row` of an answer's counters as LVS's two columns: ESTABLISHED is active, every other slot inactive. */
export function connectionCounts(counts: Uint32Array, row: number): ConnectionCounts {
  const slots = counts.subarray(row * CONNTRACK_SLOTS, (row + 1) * CONNTRACK_SLOTS);
  if (slots.length !== CONNTRACK_SLOTS) throw new RangeError(`no row ${row} in an answer of ${counts.length / CONNTRACK_SLOTS} rows`);
  let total = 0;
  for (const n of slots) total += n;
  const active = slots[TCP_CONNTRACK_ESTABLISHED]!;
  return { active, inactive: total - active };
}

/**
 * Sums the answer's rows by key (a backend's counts over all of its service's
 * listen addresses): `keys[i]` is the key of row i.
 */
export function sumByKey(keys: readonly string[], answer: Pick<ConntrackAnswer, 'counts'>): Map<string, ConnectionCounts> {
  const out = new Map<string, ConnectionCounts>();
  keys.forEach((key, i) => {
    const c = connectionCounts(answer.counts, i);
    const prev = out.get(key);
    out.set(key, prev === undefined ? c : { active: prev.active + c.active, inactive: prev.inactive + c.inactive });
  });
  return out;
}

/** What an operator can do about a failed dump (from the addon error's errno `code`), or '' when there is nothing to add. */
export function conntrackHint(code: string | undefined): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return 'reading conntrack needs CAP_NET_ADMIN (root, or AmbientCapabilities=CAP_NET_ADMIN)';
    case 'EINVAL':
    case 'ENOENT':
    case 'EOPNOTSUPP':
    case 'EPROTONOSUPPORT':
      // nfnetlink answers EINVAL for a subsystem that is not there
      return 'is the conntrack netlink interface loaded? (modprobe nf_conntrack_netlink)';
    case 'ETIMEDOUT':
      return 'the kernel did not finish the dump within 5 s';
    default:
      return '';
  }
}
