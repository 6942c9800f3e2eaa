/**
 * Palisade's own state for the `vrrp` and `backends` checks, read through the
 * application (the monitor module never sees the daemon): on the monitor node from
 * the dashboard's cluster snapshot (this daemon plus its peers' control sockets),
 * elsewhere from this daemon alone (other members then show as not reachable).
 */
import type { ClusterConfig } from '../config/schema.ts';
import type { BackendStateView, PalisadeStatusProvider, VrrpMemberState } from '../monitor/builtin/palisade.ts';
import type { DaemonStatus } from './daemon.ts';

/** What the provider reads: each node with its status when it answered. */
export interface NodesView {
  nodes: ReadonlyArray<{ name: string; reachable: boolean; status?: DaemonStatus | undefined }>;
}

export function statusProvider(config: () => ClusterConfig, view: () => Promise<NodesView>): PalisadeStatusProvider {
  return {
    async vrrpMembers(instance: string): Promise<VrrpMemberState[] | undefined> {
      const inst = config().vrrp.instances[instance];
      if (inst === undefined) return undefined;
      const v = await view();
      return Object.keys(inst.members).map((node) => {
        const n = v.nodes.find((x) => x.name === node);
        if (n?.reachable !== true || n.status === undefined) return { node, state: 'UNKNOWN', reachable: false };
        return { node, state: n.status.vrrp.find((i) => i.instance === instance)?.state ?? 'STOPPED', reachable: true };
      });
    },
    async backends(service: string): Promise<BackendStateView[] | undefined> {
      const v = await view();
      // Every director that runs the service checks its backends: a backend is up when one of them has it up.
      const byName = new Map<string, string>();
      let seen = false;
      for (const n of v.nodes) {
        const s = n.status?.services.find((x) => x.name === service);
        if (s === undefined) continue;
        seen = true;
        for (const b of s.backends) {
          const prev = byName.get(b.name);
          if (prev === undefined || (prev !== 'up' && prev !== 'full')) byName.set(b.name, b.status);
        }
      }
      return seen ? [...byName].map(([name, state]) => ({ name, state })) : undefined;
    },
  };
}

/** A view of this daemon alone (nodes without the dashboard). */
export function selfView(name: string, status: () => Promise<DaemonStatus>): () => Promise<NodesView> {
  return async () => ({ nodes: [{ name, reachable: true, status: await status() }] });
}
