/**
 * Loading a ruleset so that an operator cannot lock themselves out (what
 * `iptables-apply` does): save our table as it is (or note that there is none),
 * check and load the new one atomically, then wait for a confirmation; without one
 * within the timeout, or if the wait is aborted (the operator's session died, a
 * signal), put the saved table back. Only our table is ever saved, loaded or restored.
 *
 * The waiting is injected (`confirm`), so the flow is tested without a terminal.
 */
import { PalisadeError } from '../core/errors.ts';
import type { Nft } from './nft.ts';
import { restoreRuleset } from './render.ts';

/** How the wait for a confirmation ended. */
export type ConfirmOutcome = 'confirmed' | 'timeout' | 'aborted';

export interface ApplyOptions {
  nft: Nft;
  /** The transaction to load (`renderRuleset`). */
  text: string;
  /** How long to wait for a confirmation, in ms. */
  timeoutMs: number;
  /** Waits for the operator; resolves with how the wait ended. Called after the new ruleset is loaded. */
  confirm: (timeoutMs: number) => Promise<ConfirmOutcome>;
  /** Progress lines for the operator. */
  say?: (line: string) => void;
}

export interface ApplyResult {
  outcome: ConfirmOutcome;
  /** True if the new ruleset stays loaded. */
  kept: boolean;
  /** Whether our table existed before (what a rollback went back to). */
  hadTable: boolean;
}

export class RollbackError extends PalisadeError {
  readonly saved: string | undefined;
  constructor(message: string, saved: string | undefined, cause: unknown) {
    super('PALISADE_FIREWALL_NFT', 'internal', message, { cause });
    this.name = 'RollbackError';
    this.saved = saved;
  }
}

export async function applyWithRollback(opts: ApplyOptions): Promise<ApplyResult> {
  const say = opts.say ?? (() => {});
  const { nft } = opts;
  // nft -c first: a refused ruleset is reported before anything is saved or changed
  await nft.check(opts.text);
  const saved = await nft.listTable();
  say(saved === undefined ? 'no table inet palisade before: a rollback removes it' : 'saved the current table inet palisade for a rollback');
  await nft.load(opts.text);
  say(`loaded the new ruleset; confirm within ${Math.round(opts.timeoutMs / 100) / 10}s or it is rolled back`);
  let outcome: ConfirmOutcome;
  try {
    outcome = await opts.confirm(opts.timeoutMs);
  } catch {
    outcome = 'aborted';
  }
  if (outcome === 'confirmed') {
    say('confirmed: the new ruleset stays');
    return { outcome, kept: true, hadTable: saved !== undefined };
  }
  try {
    await nft.load(restoreRuleset(saved));
  } catch (err) {
    throw new RollbackError(
      `the rollback failed (${err instanceof Error ? err.message : String(err)}); the new ruleset is still loaded. Remove it with \`palisade firewall remove\` or \`nft delete table inet palisade\``,
      saved,
      err,
    );
  }
  say(`${outcome === 'timeout' ? 'no confirmation in time' : 'aborted'}: rolled back to ${saved === undefined ? 'no table inet palisade' : 'the previous table inet palisade'}`);
  return { outcome, kept: false, hadTable: saved !== undefined };
}
