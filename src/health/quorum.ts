/**
 * Quorum of a service (keepalived `quorum`, `hysteresis`, `quorum_up`, `quorum_down`):
 * the service is "up" while the weights of its up backends add up to the quorum.
 * Pure.
 */

export interface QuorumStep {
  /** The quorum state after this sum. */
  readonly up: boolean;
  /** True when it differs from `prev` (and on the first evaluation). */
  readonly changed: boolean;
}

/**
 * One evaluation. `prev` undefined (first evaluation): up when `sum >= quorum`.
 * Then, with hysteresis h, quorum is lost when `sum < quorum - h` and regained when
 * `sum >= quorum + h` (keepalived `check/ipwrapper.c`).
 */
export function quorumStep(prev: boolean | undefined, sum: number, quorum: number, hysteresis: number): QuorumStep {
  let up: boolean;
  if (prev === undefined) up = sum >= quorum;
  else if (prev) up = !(sum < quorum - hysteresis);
  else up = sum >= quorum + hysteresis;
  return { up, changed: up !== prev };
}
