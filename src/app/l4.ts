/**
 * Composition of the layer-4 runtime (tcp/udp services) into the daemon.
 *
 * The L4 proxy runs in the primary process only, also when `workers` > 1 (the HTTP
 * proxy's workers never open tcp/udp listeners): one process owns every L4 socket,
 * so a UDP flow table and per-backend connection counts are exact, and health
 * pushes reach it in-process. docs/l4.md says so.
 */
import type { ClusterConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { PassiveOutcome } from '../health/index.ts';
import type { L4Proxy } from '../proxy/tcp/proxy.ts';
import type { HealthSink } from './health.ts';
import { L4Runtime } from './l4-kernel.ts';

/**
 * Starts the L4 proxy with this node's tcp/udp services (none is fine: a reload may
 * add some); services in mode nat / dr go to the kernel (app/l4-kernel.ts). Throws
 * if a listener cannot open or nft refuses the ruleset.
 */
export async function startL4(config: ClusterConfig, services: readonly string[], log: Logger, vipHosts: readonly string[], onOutcome: (service: string, backend: string, outcome: PassiveOutcome) => void): Promise<L4Runtime> {
  const l4 = new L4Runtime({ log, onOutcome });
  l4.setVipHosts(vipHosts);
  await l4.apply(config, services);
  return l4;
}

/** A health sink that tells both the L4 proxy and `other` (each ignores services it does not run). */
export function withL4(l4: L4Proxy | undefined, other: HealthSink): HealthSink {
  if (l4 === undefined) return other;
  return {
    setBackendState: (s, b, st) => {
      l4.setBackendState(s, b, st);
      other.setBackendState(s, b, st);
    },
    setBackendWeight: (s, b, w) => {
      l4.setBackendWeight(s, b, w);
      other.setBackendWeight(s, b, w);
    },
    setPanic: (s, p) => {
      l4.setPanic(s, p);
      other.setPanic(s, p);
    },
    setQuorum: (s, up) => {
      l4.setQuorum(s, up);
      other.setQuorum(s, up);
    },
  };
}
