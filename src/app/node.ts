/**
 * Which node of the cluster file this process is, and what it runs.
 */
import { networkInterfaces } from 'node:os';
import { availableParallelism } from 'node:os';
import type { ClusterConfig, NodeConfig } from '../config/schema.ts';
import { PalisadeError } from '../core/errors.ts';

export interface SelectedNode {
  name: string;
  node: NodeConfig;
  /** Services this node runs as a director. */
  services: string[];
  /** Worker processes for the proxy (resolved from `auto`). */
  workers: number;
}

/** The implicit node of a cluster file that declares none: one director running every service. */
const IMPLICIT: NodeConfig = { address: '127.0.0.1', roles: ['director'], workers: 1 };

export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address);
  return out;
}

/**
 * Picks the node: `--node NAME` if given; else the only declared node whose
 * address is one of this host's; a file without nodes runs everything.
 */
export function selectNode(config: ClusterConfig, requested: string | undefined, addresses: readonly string[]): SelectedNode {
  const names = Object.keys(config.nodes);
  let name: string;
  let node: NodeConfig;
  if (requested !== undefined) {
    const n = config.nodes[requested];
    if (n === undefined) {
      if (names.length === 0 && requested === 'local') {
        name = 'local';
        node = IMPLICIT;
      } else {
        throw new PalisadeError('PALISADE_NODE_UNKNOWN', 'config', `node ${JSON.stringify(requested)} is not in the cluster file (nodes: ${names.join(', ') || 'none'})`);
      }
    } else {
      name = requested;
      node = n;
    }
  } else if (names.length === 0) {
    name = 'local';
    node = IMPLICIT;
  } else if (names.length === 1) {
    name = names[0]!;
    node = config.nodes[name]!;
  } else {
    const mine = names.filter((n) => addresses.includes(config.nodes[n]!.address));
    if (mine.length !== 1) {
      throw new PalisadeError(
        'PALISADE_NODE_UNKNOWN',
        'config',
        mine.length === 0
          ? `none of the nodes (${names.join(', ')}) has an address of this host; name one with --node`
          : `several nodes (${mine.join(', ')}) have addresses of this host; name one with --node`,
      );
    }
    name = mine[0]!;
    node = config.nodes[name]!;
  }
  const isDirector = node.roles.includes('director');
  const services = isDirector
    ? Object.entries(config.services)
        .filter(([, s]) => s.nodes === undefined || s.nodes.includes(name))
        .map(([n]) => n)
    : [];
  const workers = node.workers === 'auto' ? Math.max(1, availableParallelism()) : node.workers;
  return { name, node, services, workers };
}
