/**
 * The VRRP child process: runs this node's VRRP instances on their own event loop,
 * so that a busy proxy or a slow health check never delays an advertisement
 * (keepalived does the same). Started by the daemon with child_process.fork; speaks
 * to it over IPC (messages.ts).
 */
import { execFile } from 'node:child_process';
import { memberInterface, syncGroupOf, type VrrpConfig, type VrrpInstanceConfig } from '../../config/ha-schema.ts';
import { errorMessage } from '../../core/errors.ts';
import { pino } from 'pino';
import type { Logger } from '../../core/logger.ts';
import { VrrpInstance, type VipDriver } from './instance.ts';
import type { FromVrrp, ToVrrp } from './messages.ts';
import { effectivePriority, paramsFromConfig, syncGroupEvents, type Transition } from './state.ts';
import { ResourceGroup } from './resources.ts';
import { TrackerRunner } from './track.ts';
import { openRawTransport, type VrrpTransport } from './transport.ts';
import { openUdpTransport } from './transport-udp.ts';

// After the daemon is gone the channel is closed: sending then would throw from an event.
const send = (m: FromVrrp) => {
  if (process.connected) process.send?.(m);
};
/** One running instance with what belongs to it. */
interface Running {
  vi: VrrpInstance;
  tracker: TrackerRunner | undefined;
  group: ResourceGroup | undefined;
  /** Its settings without this member's priority: equal keys → kept on reload. */
  key: string;
  /** This member's configured priority (trackers adjust from it). */
  base: number;
  /** The trackers' last adjustment. */
  delta: number;
}

const running = new Map<string, Running>();
let current: VrrpConfig | undefined;
let proxyOk: boolean | undefined;
let log: Logger | undefined;

/** A VIP driver that also tells the daemon, which opens or drains the listeners on the VIPs. */
function reporting(name: string, inner: VipDriver | undefined, addresses: string[]): VipDriver {
  return {
    async add() {
      await inner?.add();
      send({ type: 'vips', instance: name, held: true, addresses });
    },
    async remove() {
      send({ type: 'vips', instance: name, held: false, addresses });
      await inner?.remove();
    },
    garp: (count) => inner?.garp(count) ?? Promise.resolve(),
  };
}

/** keepalived's notify convention: the command, then INSTANCE, the name, the state and the priority. */
function runNotify(inst: VrrpInstanceConfig, name: string, state: 'master' | 'backup' | 'fault' | 'stop', priority: number): void {
  const cmd = inst.notify[state];
  if (cmd === undefined || cmd.length === 0) return;
  const args = [...cmd.slice(1), 'INSTANCE', name, state.toUpperCase(), String(priority)];
  execFile(cmd[0]!, args, { timeout: inst.notify.timeout, killSignal: 'SIGKILL' }, (err) => {
    if (err) log?.warn({ vrrp: name, command: cmd, err: err.message }, `notify ${state} command failed`);
  });
}

async function openTransport(inst: VrrpInstanceConfig, node: string, address: string, peers: string[]): Promise<VrrpTransport> {
  if (inst.transport === 'udp') return openUdpTransport({ address, port: inst.udp_port, peers });
  const iface = memberInterface(inst, node)!;
  return openRawTransport({ interface: iface, source: inst.members[node]!.source_address, peers: inst.unicast ? peers : undefined });
}

/**
 * keepalived `vrrp_sync_group`: after a member changed state or faults, the other
 * members of its group (those this node runs) follow — to MASTER, to BACKUP, or into
 * FAULT with reason `sync:GROUP`. Their own changes come back here; the events are
 * only for differences, so the cascade ends.
 */
function followSyncGroup(name: string, transition: Transition | undefined): void {
  const vrrp = current;
  if (vrrp === undefined) return;
  const group = syncGroupOf(vrrp, name);
  if (group === undefined) return;
  const members = [...running.values()].map((r) => r.vi).filter((vi) => vrrp.sync_groups[group]!.includes(vi.name));
  if (members.length < 2) return;
  const events = syncGroupEvents(group, members.map((vi) => ({ name: vi.name, state: vi.state })), transition === undefined ? undefined : { member: name, transition });
  for (const e of events) members.find((vi) => vi.name === e.member)?.feed(e.event);
}

/** What decides whether a running instance can be kept across a reload. */
function instanceKey(vrrp: VrrpConfig, name: string, node: string, nodeAddresses: Record<string, string>): string {
  const inst = vrrp.instances[name]!;
  const members = Object.fromEntries(Object.entries(inst.members).map(([n, m]) => [n, n === node ? { ...m, priority: undefined } : m]));
  const addresses = Object.keys(inst.members).map((n) => nodeAddresses[n]);
  return JSON.stringify({ inst: { ...inst, members }, addresses, group: syncGroupOf(vrrp, name) ?? null });
}

/** Opens one instance (transport, VIP driver, resources, trackers); `startRunning` sets it going. */
async function open(vrrp: VrrpConfig, name: string, node: string, nodeAddresses: Record<string, string>): Promise<Running> {
  const inst = vrrp.instances[name]!;
  const member = inst.members[node]!;
  const address = member.source_address ?? nodeAddresses[node]!;
  const peers = [
    ...Object.keys(inst.members)
      .filter((n) => n !== node)
      .map((n) => inst.members[n]!.source_address ?? nodeAddresses[n]!),
    ...inst.unicast_peers,
  ];
  const transport = await openTransport(inst, node, address, peers);
  const addresses = inst.virtual_ipaddress.map((v) => v.address);
  // With the udp transport the VIP is simulated: holding it means serving on it.
  const os = inst.transport === 'raw' ? (await import('./vips-os.ts')).osVipDriver(inst, memberInterface(inst, node)!, log!) : undefined;
  const vi = new VrrpInstance(name, inst, paramsFromConfig(name, inst, node, address), transport, reporting(name, os, addresses), log!, {
    onTransition: (n, t, st) => send({ type: 'transition', instance: n, from: t.from, to: t.to, priority: st.effectivePriority }),
    onSplitBrain: (n, peer, peerPriority, localPriority) => send({ type: 'splitBrain', instance: n, peer, peerPriority, localPriority }),
    onNotify: (n, state, priority) => runNotify(inst, n, state, priority),
    onChange: (n, transition) => followSyncGroup(n, transition),
  });
  const r: Running = { vi, tracker: undefined, group: undefined, key: instanceKey(vrrp, name, node, nodeAddresses), base: member.priority, delta: 0 };
  if (inst.resources.length > 0) {
    r.group = new ResourceGroup(inst.resources, log!.child({ vrrp: name }), (reason, on) => vi.feed({ type: 'fault', on, reason }));
    vi.resources = r.group;
  }
  if (inst.track.length > 0) {
    // Trackers move the priority (keepalived weights) or hold the instance in FAULT.
    let faults = new Set<string>();
    r.tracker = new TrackerRunner(inst.track, (delta, now) => {
      const next = new Set(now.map((f) => `track:${f}`));
      for (const f of faults) if (!next.has(f)) vi.feed({ type: 'fault', on: false, reason: f });
      for (const f of next) if (!faults.has(f)) vi.feed({ type: 'fault', on: true, reason: f });
      faults = next;
      r.delta = delta;
      vi.feed({ type: 'priority', value: effectivePriority(r.base, delta) });
    });
    if (proxyOk !== undefined) r.tracker.setProxy(proxyOk);
  }
  return r;
}

function startRunning(r: Running): void {
  r.tracker?.start();
  r.vi.start();
}

async function stopRunning(r: Running): Promise<void> {
  r.tracker?.stop();
  r.group?.stop();
  await r.vi.stop().catch((err: unknown) => log?.error({ vrrp: r.vi.name, err: errorMessage(err) }, 'stopping a VRRP instance failed'));
}

function mine(vrrp: VrrpConfig, node: string): string[] {
  return Object.entries(vrrp.instances)
    .filter(([, inst]) => inst.members[node] !== undefined)
    .map(([name]) => name);
}

async function start(vrrp: VrrpConfig, node: string, nodeAddresses: Record<string, string>): Promise<string[]> {
  current = vrrp;
  const opened: Running[] = [];
  for (const name of mine(vrrp, node)) {
    const r = await open(vrrp, name, node, nodeAddresses);
    running.set(name, r);
    opened.push(r);
  }
  for (const r of opened) startRunning(r);
  return opened.map((r) => r.vi.name);
}

/**
 * Applies a reloaded `vrrp:` section: an instance whose settings did not change keeps
 * running (its state, its VIPs: no failover); one whose only change is this member's
 * priority takes the new priority in place (advertised at once; a backup that now
 * outranks the master preempts); any other change stops the instance as a shutdown
 * does (priority 0, VIPs removed) and starts it anew; removed instances stop, new
 * ones start.
 */
async function reload(vrrp: VrrpConfig, node: string, nodeAddresses: Record<string, string>): Promise<{ kept: string[]; reprioritized: string[]; restarted: string[]; started: string[]; stopped: string[] }> {
  const want = new Set(mine(vrrp, node));
  const out = { kept: [] as string[], reprioritized: [] as string[], restarted: [] as string[], started: [] as string[], stopped: [] as string[] };
  const stopping: Promise<void>[] = [];
  for (const [name, r] of running) {
    if (want.has(name) && r.key === instanceKey(vrrp, name, node, nodeAddresses)) continue;
    running.delete(name);
    if (want.has(name)) out.restarted.push(name);
    else out.stopped.push(name);
    stopping.push(stopRunning(r));
  }
  await Promise.all(stopping);
  current = vrrp;
  const opened: Running[] = [];
  for (const name of want) {
    const r = running.get(name);
    if (r !== undefined) {
      const priority = vrrp.instances[name]!.members[node]!.priority;
      if (priority === r.base) out.kept.push(name);
      else {
        r.base = priority;
        r.vi.feed({ type: 'priority', value: effectivePriority(priority, r.delta) });
        out.reprioritized.push(name);
      }
      continue;
    }
    const fresh = await open(vrrp, name, node, nodeAddresses);
    running.set(name, fresh);
    opened.push(fresh);
    if (!out.restarted.includes(name)) out.started.push(name);
  }
  for (const r of opened) startRunning(r);
  return out;
}

async function stopAll(): Promise<void> {
  const all = [...running.values()];
  running.clear();
  await Promise.all(all.map((r) => stopRunning(r)));
}

process.on('message', (m: ToVrrp) => {
  switch (m.type) {
    case 'start':
      // Log lines go to the daemon, which writes them with its own logger (one stream, one
      // format); only when the daemon is gone do they go to our stderr.
      log = pino(
        { level: m.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
        {
          write: (line: string) => {
            if (process.connected) process.send?.({ type: 'log', line } satisfies FromVrrp);
            else process.stderr.write(line);
          },
        },
      ).child({ role: 'vrrp' });
      start(m.vrrp, m.node, m.nodeAddresses).then(
        (names) => send({ type: 'started', instances: names }),
        (err: unknown) => send({ type: 'failed', error: errorMessage(err) }),
      );
      return;
    case 'reload':
      reload(m.vrrp, m.node, m.nodeAddresses).then(
        (r) => send({ type: 'reloaded', id: m.id, ...r }),
        (err: unknown) => send({ type: 'reloaded', id: m.id, kept: [], reprioritized: [], restarted: [], started: [], stopped: [], error: errorMessage(err) }),
      );
      return;
    case 'status':
      send({ type: 'status', id: m.id, instances: [...running.values()].map((r) => r.vi.status()) });
      return;
    case 'fault':
      running.get(m.instance)?.vi.feed({ type: 'fault', on: m.on, reason: m.reason });
      return;
    case 'proxy':
      proxyOk = m.ok;
      for (const r of running.values()) r.tracker?.setProxy(m.ok);
      return;
    case 'stop':
      void stopAll().then(() => {
        send({ type: 'stopped' });
        log?.flush();
        process.exit(0);
      });
      return;
  }
});

// A SIGTERM sent to the child alone (not through the daemon) still resigns cleanly.
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));
// The daemon went away without telling us: resign rather than hold the VIP forever.
process.on('disconnect', () => void stopAll().then(() => process.exit(0)));
