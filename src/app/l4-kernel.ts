/**
 * The kernel data plane of tcp/udp services in `mode: nat` / `mode: dr`, wired into
 * the daemon beside the user-space L4 proxy: `L4Runtime` is the L4 proxy the daemon
 * already drives (apply, VIPs held, health pushes, snapshot, close), with the kernel
 * services split off to `KernelL4`.
 *
 * `KernelL4` keeps each backend's state (health pushes, operator drain/maint,
 * weights, panic) and turns every change into one `nft -f` transaction that
 * replaces our two tables (src/proxy/kernel/ruleset.ts), through the firewall
 * module's nft runner. Transactions are serialized; changes that arrive while one
 * is loading are folded into the next. Established connections are untouched by
 * a change: conntrack keeps a NAT flow's translation, and in DR the slots of other
 * backends do not move. A service whose listen address is one of this node's VRRP
 * VIPs is in the ruleset only while the VIP is held; others always.
 *
 * Connection counts (LVS ActiveConn / InActConn) of mode nat services come from a
 * conntrack dump (src/proxy/kernel/conntrack.ts), read on demand: `refresh()`, which
 * `palisade status`, the dashboard and /metrics go through, dumps at most once per
 * CONNTRACK_TTL_MS (concurrent callers share the dump in flight), and nothing is
 * read while nobody asks. A timer would cost a dump every period whether or not
 * anyone looks, and still be up to one period old. mode dr keeps no state on the
 * director: its counts are unknown (null).
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import type { ClusterConfig, TcpServiceConfig, UdpServiceConfig } from '../config/schema.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { errorMessage, PalisadeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Nft } from '../firewall/nft.ts';
import { loadAddon } from '../ha/vrrp/raw.ts';
import type { BackendState } from '../health/index.ts';
import type { KernelBackendSnapshot } from '../proxy/backends.ts';
import { type ConnectionCounts, type ConntrackAnswer, type ConntrackDump, type ConntrackRow, conntrackHint, encodeConntrackRows, sumByKey } from '../proxy/kernel/conntrack.ts';
import { counterKey, counterName, type KernelBackend, type KernelService, parseKernelCounters, removeKernelRuleset, renderKernelRuleset } from '../proxy/kernel/ruleset.ts';
import { L4Proxy, type L4ProxyOptions, type L4ServiceSnapshot } from '../proxy/tcp/proxy.ts';

type L4Config = TcpServiceConfig | UdpServiceConfig;

/** Connection counts are read from conntrack at most this often (ms): a dashboard polling every second and several status calls share one dump. */
export const CONNTRACK_TTL_MS = 1_000;

/** The addon's conntrack dump (native/vrrp_socket.c): a thread-pool thread walks the table, the loop only gets the counters. */
function nativeConntrack(rows: Uint32Array): Promise<ConntrackAnswer> {
  try {
    return loadAddon().conntrack(rows);
  } catch (err) {
    // loadAddon speaks of VRRP (its first user); `transport: udp` is no way out here
    const e = err instanceof PalisadeError ? new Error(`the native addon is needed: ${err.message.replace(/, or use `transport: udp`$/, '')}`, { cause: err }) : err;
    return Promise.reject(e as Error);
  }
}

/** The last conntrack reading: counts by counterKey(service, backend), or why there are none. */
type Connections = { at: number; counts: Map<string, ConnectionCounts> } | { at: number; error: string };

/** Whether a service runs in the kernel (mode nat or dr). */
export function isKernelService(svc: unknown): svc is L4Config & { mode: 'nat' | 'dr' } {
  const s = svc as { protocol?: string; mode?: string } | undefined;
  return s !== undefined && (s.protocol === 'tcp' || s.protocol === 'udp') && (s.mode === 'nat' || s.mode === 'dr');
}

interface BackendRt {
  state: BackendState;
  weight: number | undefined;
  mac: string | undefined;
}

interface ServiceRt {
  name: string;
  config: L4Config & { mode: 'nat' | 'dr' };
  backends: Map<string, BackendRt>;
  panic: boolean;
  interfaceMac: string | undefined;
}

/** Runs a program with an argument array; resolves with stdout. */
function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { encoding: 'utf8', timeout: 5_000 }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))));
  });
}

/** A neighbour's MAC from `ip -j neigh`, undefined if unknown or failed. */
async function neighbourMac(host: string, dev: string): Promise<string | undefined> {
  const rows = JSON.parse((await run('ip', ['-j', 'neigh', 'show', 'to', host, 'dev', dev])) || '[]') as { lladdr?: string; state?: string[] }[];
  const r = rows.find((x) => x.lladdr !== undefined && !(x.state ?? []).some((s) => s === 'FAILED' || s === 'INCOMPLETE'));
  return r?.lladdr;
}

/** Resolves a real server's MAC: the neighbour table, after a probe datagram (discard port) makes the kernel ARP for it. */
async function resolveMac(host: string, dev: string, waitMs = 2_000): Promise<string | undefined> {
  let mac = await neighbourMac(host, dev);
  if (mac !== undefined) return mac;
  const sock = createSocket('udp4');
  sock.on('error', () => {});
  sock.send(Buffer.alloc(0), 9, host, () => sock.close());
  for (let t = 0; t < waitMs && mac === undefined; t += 100) {
    await new Promise((r) => setTimeout(r, 100));
    mac = await neighbourMac(host, dev);
  }
  return mac;
}

export class KernelL4 {
  readonly #log: Logger;
  readonly #nft: Nft;
  #services = new Map<string, ServiceRt>();
  #vipHosts = new Set<string>();
  readonly #held = new Set<string>();
  /** nft counter name → (service, backend) of the ruleset now loaded. */
  #names = new Map<string, string>();
  #counters = new Map<string, { packets: number; bytes: number }>();
  #loading: Promise<void> = Promise.resolve();
  #dirty = false;
  #loaded = false;
  #closed = false;
  /**
   * Holds the event loop while our tables are loaded: a director whose services are
   * all in the kernel has no listening socket of its own, and would otherwise exit.
   */
  #keepAlive: NodeJS.Timeout | undefined;
  readonly #conntrack: ConntrackDump;
  readonly #clock: Clock;
  #connections: Connections | undefined;
  /** Bumped when the rows change (apply, VIP taken or lost): a dump of the old rows in flight is not kept. */
  #rowsGeneration = 0;
  #dumping: Promise<void> | undefined;
  /** The dump error last logged: one line per new error, not one per status call. */
  #conntrackError: string | undefined;

  /** `conntrack`: the dump (default: the native addon's); `clock`: for the reading's age. */
  constructor(opts: { log: Logger; nft?: Nft; conntrack?: ConntrackDump; clock?: Clock }) {
    this.#log = opts.log;
    this.#nft = opts.nft ?? new Nft();
    this.#conntrack = opts.conntrack ?? nativeConntrack;
    this.#clock = opts.clock ?? systemClock;
  }

  setVipHosts(hosts: Iterable<string>): void {
    this.#vipHosts = new Set(hosts);
  }

  /** Applies the kernel services among `services`; rejects (changing nothing in the kernel) if nft refuses. */
  async apply(config: ClusterConfig, services: readonly string[]): Promise<void> {
    const next = new Map<string, ServiceRt>();
    for (const name of services) {
      const cfg = config.services[name];
      if (!isKernelService(cfg)) continue;
      const old = this.#services.get(name);
      const backends = new Map<string, BackendRt>();
      for (const b of cfg.backends) {
        const prev = old?.backends.get(b.id);
        backends.set(b.id, { state: prev?.state ?? 'up', weight: prev?.weight, mac: cfg.kernel?.macs?.[b.host] });
      }
      next.set(name, { name, config: cfg, backends, panic: old?.panic ?? false, interfaceMac: undefined });
    }
    for (const s of next.values()) if (s.config.mode === 'dr') await this.#resolve(s);
    if ([...next.values()].some((s) => s.config.mode === 'nat')) await this.#checkForwarding();
    const before = this.#services;
    this.#services = next;
    this.#forgetConnections();
    if (next.size === 0 && !this.#loaded) return;
    try {
      await this.#sync();
    } catch (err) {
      this.#services = before;
      throw err;
    }
  }

  async #resolve(s: ServiceRt): Promise<void> {
    const dev = s.config.kernel?.interface ?? '';
    try {
      s.interfaceMac = (await readFile(`/sys/class/net/${dev}/address`, 'utf8')).trim();
    } catch (err) {
      throw new Error(`service ${s.name} (mode dr): no interface ${dev} on this director (${errorMessage(err)})`, { cause: err });
    }
    await Promise.all(
      s.config.backends.map(async (b) => {
        const rt = s.backends.get(b.id)!;
        if (rt.mac !== undefined) return;
        rt.mac = await resolveMac(b.host, dev).catch(() => undefined);
        if (rt.mac === undefined) this.#log.error({ service: s.name, backend: b.id, interface: dev }, `service ${s.name} (mode dr): no MAC for real server ${b.host} on ${dev} (no ARP answer); it gets no connections until a reload finds it, or set kernel.macs`);
      }),
    );
  }

  async #checkForwarding(): Promise<void> {
    const v = await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8').catch(() => '1');
    if (v.trim() === '0') this.#log.warn('mode nat forwards packets between clients and backends, but net.ipv4.ip_forward is 0 on this director: set it to 1 (sysctl -w net.ipv4.ip_forward=1)');
  }

  async setVipsHeld(hosts: readonly string[], held: boolean): Promise<void> {
    for (const h of hosts) {
      if (held) this.#held.add(h);
      else this.#held.delete(h);
    }
    this.#forgetConnections();
    if ([...this.#services.values()].some((s) => s.config.listen.some((l) => hosts.includes(l.host)))) await this.#syncLogged();
  }

  #active(s: ServiceRt): boolean {
    return s.config.listen.every((l) => !this.#vipHosts.has(l.host) || this.#held.has(l.host));
  }

  setBackendState(service: string, backend: string, state: BackendState): void {
    const s = this.#services.get(service);
    const b = s?.backends.get(backend);
    if (s === undefined || b === undefined || b.state === state) return;
    b.state = state;
    if (state === 'up' && s.config.mode === 'dr' && b.mac === undefined) {
      // a real server that was unreachable when the ruleset was built: look for its MAC now that it answers
      const host = s.config.backends.find((x) => x.id === backend)?.host ?? '';
      void resolveMac(host, s.config.kernel?.interface ?? '')
        .catch(() => undefined)
        .then((mac) => {
          if (mac !== undefined && this.#services.get(service) === s) b.mac = mac;
          return this.#syncLogged();
        });
      return;
    }
    void this.#syncLogged();
  }

  setBackendWeight(service: string, backend: string, weight: number): void {
    const b = this.#services.get(service)?.backends.get(backend);
    if (b === undefined || b.weight === weight) return;
    b.weight = weight;
    void this.#syncLogged();
  }

  setPanic(service: string, panic: boolean): void {
    const s = this.#services.get(service);
    if (s === undefined || s.panic === panic) return;
    s.panic = panic;
    void this.#syncLogged();
  }

  #kernelServices(): KernelService[] {
    return [...this.#services.values()].filter((s) => this.#active(s)).map((s) => ({
      name: s.name,
      protocol: s.config.protocol,
      mode: s.config.mode,
      listen: s.config.listen,
      scheduler: s.config.scheduler.name,
      replies: s.config.kernel?.replies ?? 'snat',
      interface: s.config.kernel?.interface,
      interfaceMac: s.interfaceMac,
      counters: s.config.kernel?.counters ?? true,
      backends: s.config.backends.map((b): KernelBackend => {
        const rt = s.backends.get(b.id)!;
        const healthy = rt.state === 'up' || (s.panic && rt.state === 'down');
        return { id: b.id, host: b.host, port: b.port, weight: Math.round(rt.weight ?? b.weight), backup: b.backup, usable: !b.down && healthy && (s.config.mode === 'nat' || rt.mac !== undefined), mac: rt.mac };
      }),
    }));
  }

  async #syncLogged(): Promise<void> {
    try {
      await this.#sync();
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, `the kernel load-balancing ruleset could not be updated; the previous one stays: ${errorMessage(err)}`);
    }
  }

  /** Loads the ruleset of the current state; one transaction at a time, later changes folded into the next. */
  #sync(): Promise<void> {
    this.#dirty = true;
    const p = this.#loading.catch(() => undefined).then(async () => {
      if (!this.#dirty || this.#closed) return;
      this.#dirty = false;
      await this.refreshCounters().catch(() => undefined);
      const services = this.#kernelServices();
      const names = new Map<string, string>();
      services.forEach((s, i) => s.backends.forEach((b, j) => names.set(counterName(i, j), counterKey(s.name, b.id))));
      await this.#nft.load(renderKernelRuleset(services, this.#counters, 'palisade: kernel load balancing (mode nat / dr); replaced as a whole on every change'));
      this.#names = names;
      this.#loaded = true;
      this.#keepAlive ??= setInterval(() => undefined, 3_600_000);
      this.#log.info({ services: services.map((s) => ({ service: s.name, mode: s.mode, usable: s.backends.filter((b) => b.usable).map((b) => b.id) })) }, `kernel load balancing: ${services.length} service(s) in nftables`);
    });
    this.#loading = p;
    return p;
  }

  /** Reads our nft counters into the snapshot (by service and backend). */
  async refreshCounters(): Promise<void> {
    if (!this.#loaded) return;
    const raw = parseKernelCounters((await this.#nft.run(['-j', 'list', 'counters'])).stdout);
    for (const [name, v] of raw) {
      const key = this.#names.get(name);
      if (key !== undefined) this.#counters.set(key, v);
    }
  }

  /** The services or VIPs changed: the next status reads conntrack afresh. */
  #forgetConnections(): void {
    this.#connections = undefined;
    this.#rowsGeneration++;
  }

  /** One row per backend and listen address of the mode nat services in the ruleset now; `keys[i]` = counterKey of row i. */
  #conntrackRows(): { rows: ConntrackRow[]; keys: string[] } {
    const rows: ConntrackRow[] = [];
    const keys: string[] = [];
    const seen = new Set<string>(); // a row twice would count its flows twice in the sum
    for (const s of this.#services.values()) {
      if (s.config.mode !== 'nat' || !this.#active(s)) continue;
      for (const l of s.config.listen) {
        for (const b of s.config.backends) {
          const row: ConntrackRow = { protocol: s.config.protocol, vip: l.host, vport: l.port, server: b.host, sport: b.port };
          const key = counterKey(s.name, b.id);
          const id = `${key} ${row.protocol} ${row.vip}:${row.vport} ${row.server}:${row.sport}`;
          if (seen.has(id)) continue;
          seen.add(id);
          rows.push(row);
          keys.push(key);
        }
      }
    }
    return { rows, keys };
  }

  /**
   * Reads the connection counts of mode nat services from conntrack, unless the last
   * reading is younger than CONNTRACK_TTL_MS; callers during a dump share it. Never
   * rejects: a failed dump makes the counts unknown (null) and is logged once.
   */
  refreshConnections(): Promise<void> {
    if (this.#dumping !== undefined) return this.#dumping;
    const now = this.#clock.now();
    if (this.#connections !== undefined && now - this.#connections.at < CONNTRACK_TTL_MS) return Promise.resolve();
    const { rows, keys } = this.#conntrackRows();
    if (rows.length === 0) return Promise.resolve(); // no mode nat service here now: nothing to read
    // .finally runs after the assignment below, even when the dump fails at once
    const dumping = this.#readConnections(rows, keys, now).finally(() => {
      this.#dumping = undefined;
    });
    this.#dumping = dumping;
    return dumping;
  }

  async #readConnections(rows: ConntrackRow[], keys: string[], now: number): Promise<void> {
    const generation = this.#rowsGeneration;
    try {
      const answer = await this.#conntrack(encodeConntrackRows(rows));
      if (generation !== this.#rowsGeneration) return; // counted for rows that are gone
      this.#connections = { at: now, counts: sumByKey(keys, answer) };
      if (this.#conntrackError !== undefined) this.#log.info('connection counts of mode nat services: conntrack is readable again');
      this.#conntrackError = undefined;
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const hint = conntrackHint(e.code);
      const error = new PalisadeError('PALISADE_KERNEL_CONNTRACK', e.code === 'EPERM' || e.code === 'EACCES' ? 'config' : 'internal', `${e.message ?? String(err)}${hint === '' ? '' : ` — ${hint}`}`, { cause: err });
      if (generation === this.#rowsGeneration) this.#connections = { at: now, error: error.message };
      if (this.#conntrackError !== error.message) this.#log.warn({ code: error.code }, `connection counts of mode nat services are unknown: ${error.message}`);
      this.#conntrackError = error.message;
    }
  }

  /** A backend's connection counts, or why they are unknown. */
  #connectionsOf(s: ServiceRt, active: boolean, backend: string): ConnectionCounts | string {
    if (s.config.mode === 'dr') return 'mode dr keeps no connection state on the director (replies go straight to the client)';
    if (!active) return 'the VIP is not held here';
    const c = this.#connections;
    if (c === undefined) return 'conntrack not read yet';
    if ('error' in c) return c.error;
    return c.counts.get(counterKey(s.name, backend)) ?? 'conntrack not read yet';
  }

  snapshot(): L4ServiceSnapshot[] {
    return [...this.#services.values()].map((s) => {
      const active = this.#active(s);
      let unknown: string | undefined;
      const backends = s.config.backends.map((b): KernelBackendSnapshot => {
        const rt = s.backends.get(b.id)!;
        const c = this.#counters.get(counterKey(s.name, b.id));
        const status = b.down ? 'down' : s.config.mode === 'dr' && rt.mac === undefined ? 'no-mac' : rt.state;
        const conns = this.#connectionsOf(s, active, b.id);
        if (typeof conns === 'string') unknown ??= conns;
        const { active: open, inactive } = typeof conns === 'string' ? { active: null, inactive: null } : conns;
        return { id: b.id, name: b.name, backup: b.backup, weight: b.weight, effectiveWeight: rt.weight ?? b.weight, status, active: open, inactive, requests: c?.packets ?? 0, failures: 0, bytes: c?.bytes ?? 0 };
      });
      return {
        name: s.name,
        protocol: s.config.protocol,
        listen: s.config.listen.map((l) => `${s.config.mode} ${s.config.protocol} ${l.host}:${l.port}${active ? '' : ' (VIP not held)'}`),
        scheduler: `${s.config.scheduler.name} (kernel ${s.config.mode})`,
        requests: backends.reduce((n, b) => n + b.requests, 0),
        panic: s.panic,
        quorumLost: false,
        kernel: { mode: s.config.mode, active, counts: s.config.mode === 'nat' ? 'connections' : 'packets', ...(unknown === undefined ? {} : { connectionsUnknown: unknown }) },
        backends,
      };
    });
  }

  /** Removes our tables (only ours). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
    await this.#loading.catch(() => undefined);
    if (!this.#loaded) return;
    this.#loaded = false;
    try {
      await this.#nft.load(removeKernelRuleset());
      this.#log.info('kernel load balancing: tables ip palisade_lb and netdev palisade_dr removed');
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, `could not remove the kernel load-balancing tables: ${errorMessage(err)}`);
    }
  }
}

/**
 * The daemon's L4 runtime: the user-space L4 proxy for `mode: proxy` services and
 * `KernelL4` for `mode: nat` / `dr`, behind the one interface the daemon drives.
 */
export class L4Runtime extends L4Proxy {
  readonly kernel: KernelL4;
  #config: ClusterConfig | undefined;

  constructor(opts: L4ProxyOptions & { nft?: Nft; conntrack?: ConntrackDump }) {
    super(opts);
    this.kernel = new KernelL4({ log: opts.log, nft: opts.nft, conntrack: opts.conntrack });
  }

  override setVipHosts(hosts: Iterable<string>): void {
    const list = [...hosts];
    super.setVipHosts(list);
    this.kernel.setVipHosts(list);
  }

  override async apply(config: ClusterConfig, services: readonly string[]): Promise<void> {
    const kernel = services.filter((n) => isKernelService(config.services[n]));
    await this.kernel.apply(config, kernel);
    await super.apply(config, services.filter((n) => !kernel.includes(n)));
    this.#config = config;
  }

  override async setVipsHeld(hosts: readonly string[], held: boolean): Promise<void> {
    await Promise.all([super.setVipsHeld(hosts, held), this.kernel.setVipsHeld(hosts, held)]);
  }

  override setBackendState(service: string, backend: string, state: BackendState): void {
    if (isKernelService(this.#config?.services[service])) this.kernel.setBackendState(service, backend, state);
    else super.setBackendState(service, backend, state);
  }

  override setBackendWeight(service: string, backend: string, weight: number): void {
    if (isKernelService(this.#config?.services[service])) this.kernel.setBackendWeight(service, backend, weight);
    else super.setBackendWeight(service, backend, weight);
  }

  override setPanic(service: string, panic: boolean): void {
    if (isKernelService(this.#config?.services[service])) this.kernel.setPanic(service, panic);
    else super.setPanic(service, panic);
  }

  /** Reads the kernel counters and connection counts (at most one conntrack dump per second), for a status that shows them fresh. */
  async refresh(): Promise<void> {
    await Promise.all([this.kernel.refreshCounters().catch(() => undefined), this.kernel.refreshConnections()]);
  }

  override snapshot(): L4ServiceSnapshot[] {
    return [...super.snapshot(), ...this.kernel.snapshot()];
  }

  override async close(graceMs = 10_000): Promise<void> {
    await Promise.all([super.close(graceMs), this.kernel.close()]);
  }
}
