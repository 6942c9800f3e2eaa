/**
 * What one node's firewall must allow, derived from the cluster file: the resolved
 * `firewall:` settings plus what the rest of the file implies (the services' listen
 * ports, the VRRP peers, the cluster's own networks exempt from anti-spoofing).
 * Pure: the same config and node always give the same plan.
 */
import { isIP } from 'node:net';
import type { ClusterConfig } from '../config/schema.ts';
import type { FirewallSettings, PortRange } from '../config/firewall-schema.ts';
import { reduceNetworks } from './cidr.ts';

/** Networks of one list split by family, canonical and reduced. */
export interface Sources {
  v4: string[];
  v6: string[];
}

/** Ports opened to every source, optionally only towards one local address. */
export interface OpenPorts {
  proto: 'tcp' | 'udp';
  /** Local destination address; undefined = any. */
  daddr: string | undefined;
  ports: PortRange[];
  /** Why they are open (rule comment). */
  why: string;
}

export interface VrrpAllow {
  instance: string;
  /** `raw`: IP protocol 112; `udp`: the udp transport's port. */
  transport: 'raw' | 'udp';
  peers: Sources;
  /** raw: the destinations adverts come to (224.0.0.18, or our address in unicast mode). */
  daddrs: string[];
  /** udp: the port. */
  port: number;
}

export interface FirewallPlan {
  cluster: string;
  node: string;
  settings: FirewallSettings;
  open: OpenPorts[];
  ssh: { port: number; sources: Sources };
  agent: { ports: number[]; sources: Sources };
  vrrp: VrrpAllow[];
  /** What anti-spoofing drops and what it exempts (the cluster's own networks and `exclude`). */
  spoof: { sources: Sources; trusted: Sources } | undefined;
  /** Things an operator should read before applying (e.g. SSH closed to everyone). */
  warnings: string[];
}

function split(list: readonly string[]): Sources {
  return { v4: reduceNetworks(list, 4), v6: reduceNetworks(list, 6) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function portText(r: PortRange): string {
  return r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
}

/**
 * The plan for `node`. `services` are the names of the services this node runs
 * (the app's node selection decides that, so the firewall and the proxy agree).
 * Throws an Error with the reason if the node has `enabled: false`.
 */
export function planFirewall(cfg: ClusterConfig, node: string, services: readonly string[]): FirewallPlan {
  if (cfg.firewall === undefined) throw new Error('the cluster file has no firewall: section; see docs/firewall.md');
  const s = cfg.firewall.nodes[node] ?? cfg.firewall.settings;
  if (!s.enabled) throw new Error(`the firewall is disabled for node ${node} (firewall.nodes.${node}.enabled: false); Palisade leaves its nftables alone`);
  const warnings: string[] = [];

  // Services: their listen ports, grouped by protocol and local address.
  const open: OpenPorts[] = [];
  if (s.service_ports) {
    const groups = new Map<string, OpenPorts & { names: string[] }>();
    for (const name of services) {
      const svc = cfg.services[name];
      if (svc === undefined) continue;
      const proto = svc.protocol === 'udp' ? 'udp' : 'tcp';
      for (const l of svc.listen) {
        if (l.port === 0) {
          warnings.push(`service ${name} listens on port 0 (any free port): no port can be opened for it`);
          continue;
        }
        if (isLoopback(l.host)) continue; // loopback is accepted as a whole
        const daddr = isWildcard(l.host) ? undefined : l.host;
        const key = `${proto} ${daddr ?? '*'}`;
        let g = groups.get(key);
        if (g === undefined) {
          g = { proto, daddr, ports: [], why: '', names: [] };
          groups.set(key, g);
        }
        if (!g.ports.some((p) => p.from === l.port)) g.ports.push({ from: l.port, to: l.port });
        if (!g.names.includes(name)) g.names.push(name);
      }
    }
    for (const g of groups.values()) {
      g.ports.sort((a, b) => a.from - b.from);
      open.push({ proto: g.proto, daddr: g.daddr, ports: g.ports, why: `services ${g.names.join(', ')}` });
    }
  }
  if (s.allow.tcp.length > 0) open.push({ proto: 'tcp', daddr: undefined, ports: s.allow.tcp, why: 'firewall.allow.tcp' });
  if (s.allow.udp.length > 0) open.push({ proto: 'udp', daddr: undefined, ports: s.allow.udp, why: 'firewall.allow.udp' });

  for (const o of open) {
    if (o.proto !== 'tcp') continue;
    const hit = o.ports.find((r) => r.from <= s.ssh.port && s.ssh.port <= r.to);
    if (hit !== undefined) warnings.push(`port ${portText(hit)} (${o.why}) includes the SSH port ${s.ssh.port}: it is open to every source, not only ssh.sources`);
  }

  const ssh = { port: s.ssh.port, sources: split(s.ssh.sources) };
  if (s.ssh.sources.length === 0) warnings.push(`ssh.sources is empty: SSH (port ${s.ssh.port}) is closed to everyone on this node`);
  const agent = { ports: [...s.agent.ports], sources: split(s.agent.sources) };
  if (s.agent.ports.length > 0 && s.agent.sources.length === 0) warnings.push('agent.ports are set but agent.sources is empty: the agent port is closed to everyone');

  // VRRP: the other members of every instance this node takes part in.
  const vrrp: VrrpAllow[] = [];
  if (s.vrrp) {
    for (const [name, inst] of Object.entries(cfg.vrrp.instances)) {
      const me = inst.members[node];
      if (me === undefined) continue;
      const self = me.source_address ?? cfg.nodes[node]?.address;
      const peers = [
        ...Object.entries(inst.members)
          .filter(([n]) => n !== node)
          .map(([n, m]) => m.source_address ?? cfg.nodes[n]?.address)
          .filter((a): a is string => a !== undefined),
        ...inst.unicast_peers,
      ];
      if (peers.length === 0) continue;
      const unicast = inst.transport === 'udp' || inst.unicast;
      vrrp.push({
        instance: name,
        transport: inst.transport,
        peers: split(peers),
        // RFC 5798 §5.1.1.2: multicast adverts go to 224.0.0.18; unicast ones to us
        daddrs: unicast ? (self === undefined ? [] : [self]) : ['224.0.0.18'],
        port: inst.udp_port,
      });
    }
  }

  // Anti-spoofing, with the cluster's own networks exempt.
  let spoof: FirewallPlan['spoof'];
  if (s.anti_spoofing.enabled) {
    const own: string[] = [...s.anti_spoofing.exclude, ...s.ssh.sources, ...s.agent.sources];
    for (const n of Object.values(cfg.nodes)) own.push(n.address);
    for (const inst of Object.values(cfg.vrrp.instances)) {
      for (const v of inst.virtual_ipaddress) own.push(`${v.address}/${v.prefix}`);
      for (const m of Object.values(inst.members)) if (m.source_address !== undefined) own.push(m.source_address);
      own.push(...inst.unicast_peers);
    }
    for (const svc of Object.values(cfg.services)) for (const b of svc.backends) if (isIP(b.host) !== 0) own.push(b.host);
    spoof = { sources: split(s.anti_spoofing.sources), trusted: split(own) };
    if (s.public_interfaces.length === 0) warnings.push('public_interfaces is empty: anti-spoofing has no interface to watch and drops nothing');
  }

  return { cluster: cfg.cluster.name, node, settings: s, open, ssh, agent, vrrp, spoof, warnings };
}
