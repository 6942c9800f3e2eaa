/**
 * The VRRP child process: runs this node's VRRP instances on their own event loop,
 * so that a busy proxy or a slow health check never delays an advertisement
 * (keepalived does the same). Started by the daemon with child_process.fork; speaks
 * to it over IPC (messages.ts).
 */
import { execFile } from 'node:child_process';
import { memberInterface, syncGroupOf, type VrrpConfig, type VrrpInstanceConfig } from '../../config/ha-schema.ts';
import { errorMessage } from '../../core/errors.ts';
import { createLogger, type Logger } from '../../core/logger.ts';
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
const instances: VrrpInstance[] = [];
const trackers: TrackerRunner[] = [];
const groups: ResourceGroup[] = [];
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
function followSyncGroup(vrrp: VrrpConfig, name: string, transition: Transition | undefined): void {
  const group = syncGroupOf(vrrp, name);
  if (group === undefined) return;
  const members = instances.filter((vi) => vrrp.sync_groups[group]!.includes(vi.name));
  if (members.length < 2) return;
  const events = syncGroupEvents(group, members.map((vi) => ({ name: vi.name, state: vi.state })), transition === undefined ? undefined : { member: name, transition });
  for (const e of events) members.find((vi) => vi.name === e.member)?.feed(e.event);
}

async function start(vrrp: VrrpConfig, node: string, nodeAddresses: Record<string, string>): Promise<string[]> {
  const started: string[] = [];
  for (const [name, inst] of Object.entries(vrrp.instances)) {
    const member = inst.members[node];
    if (member === undefined) continue;
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
      onTransition: (n, t, s) => send({ type: 'transition', instance: n, from: t.from, to: t.to, priority: s.effectivePriority }),
      onSplitBrain: (n, peer, peerPriority, localPriority) => send({ type: 'splitBrain', instance: n, peer, peerPriority, localPriority }),
      onNotify: (n, state, priority) => runNotify(inst, n, state, priority),
      onChange: (n, transition) => followSyncGroup(vrrp, n, transition),
    });
    if (inst.resources.length > 0) {
      const group = new ResourceGroup(inst.resources, log!.child({ vrrp: name }), (reason, on) => vi.feed({ type: 'fault', on, reason }));
      vi.resources = group;
      groups.push(group);
    }
    instances.push(vi);
    started.push(name);
    if (inst.track.length > 0) {
      // Trackers move the priority (keepalived weights) or hold the instance in FAULT.
      let faults = new Set<string>();
      const runner = new TrackerRunner(inst.track, (delta, now) => {
        const next = new Set(now.map((f) => `track:${f}`));
        for (const f of faults) if (!next.has(f)) vi.feed({ type: 'fault', on: false, reason: f });
        for (const f of next) if (!faults.has(f)) vi.feed({ type: 'fault', on: true, reason: f });
        faults = next;
        vi.feed({ type: 'priority', value: effectivePriority(member.priority, delta) });
      });
      trackers.push(runner);
    }
  }
  for (const tr of trackers) tr.start();
  for (const vi of instances) vi.start();
  return started;
}

async function stopAll(): Promise<void> {
  for (const tr of trackers) tr.stop();
  for (const g of groups) g.stop();
  await Promise.all(instances.map((vi) => vi.stop().catch((err: unknown) => log?.error({ err: errorMessage(err) }, 'stopping a VRRP instance failed'))));
}

process.on('message', (m: ToVrrp) => {
  switch (m.type) {
    case 'start':
      log = createLogger({ level: m.logLevel as 'info', format: m.logFormat }).child({ role: 'vrrp' });
      start(m.vrrp, m.node, m.nodeAddresses).then(
        (names) => send({ type: 'started', instances: names }),
        (err: unknown) => send({ type: 'failed', error: errorMessage(err) }),
      );
      return;
    case 'status':
      send({ type: 'status', id: m.id, instances: instances.map((vi) => vi.status()) });
      return;
    case 'fault':
      instances.find((vi) => vi.name === m.instance)?.feed({ type: 'fault', on: m.on, reason: m.reason });
      return;
    case 'proxy':
      for (const tr of trackers) tr.setProxy(m.ok);
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
