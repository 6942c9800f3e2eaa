/**
 * The firewall's facade for the CLI: which node this is, the plan and ruleset text
 * for it, where `apply` waits for its confirmation, and the nft edge. The work is in
 * src/firewall/.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import { planFirewall } from '../firewall/plan.ts';
import type { FirewallPlan } from '../firewall/plan.ts';
import { renderRuleset } from '../firewall/render.ts';
import { defaultRuntimeDir } from './control.ts';
import { hostAddresses, selectNode } from './node.ts';

export { applyWithRollback, RollbackError } from '../firewall/apply.ts';
export type { ApplyResult, ConfirmOutcome } from '../firewall/apply.ts';
export { listenForConfirm, sendConfirm } from '../firewall/confirm.ts';
export { Nft, NftError, nftRunner } from '../firewall/nft.ts';
export { COUNTERS, removeRuleset, TABLE_FAMILY, TABLE_NAME } from '../firewall/render.ts';

export interface NodeFirewall {
  node: string;
  plan: FirewallPlan;
  /** The `nft -f` transaction that replaces our table. */
  text: string;
}

/** The plan and ruleset of this node (`--node NAME`, or found from the host's addresses). */
export function nodeFirewall(loaded: LoadedConfig, requested: string | undefined): NodeFirewall {
  const sel = selectNode(loaded.config, requested, hostAddresses());
  const plan = planFirewall(loaded.config, sel.name, sel.services);
  return { node: sel.name, plan, text: renderRuleset(plan, { source: loaded.file }) };
}

/** This node's name, as `nodeFirewall` picks it. */
export function nodeName(loaded: LoadedConfig, requested: string | undefined): string {
  return selectNode(loaded.config, requested, hostAddresses()).name;
}

/** The runtime directory of this cluster file. */
export function runtimeDir(loaded: LoadedConfig): string {
  return loaded.config.runtime_dir ?? defaultRuntimeDir();
}

/** The Unix socket on which a waiting `apply` takes `palisade firewall confirm`. */
export function confirmSocketPath(loaded: LoadedConfig, node: string): string {
  return join(runtimeDir(loaded), `${loaded.config.cluster.name}-${node}.firewall.sock`);
}
