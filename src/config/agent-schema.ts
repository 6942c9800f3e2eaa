/**
 * The cluster file's `agent:` section: how the monitor and the per-node agents talk
 * (NRPE's job, over HTTPS with a per-cluster token). docs/agent.md documents each
 * option with its default and unit.
 *
 * ```yaml
 * agent:
 *   token: ${PALISADE_AGENT_TOKEN}   # or token_file
 *   port: 5667
 *   tls: { cert: agent.crt, key: agent.key, ca: ca.crt }
 * ```
 *
 * Which nodes run an agent: those with `roles: [agent]` and those named by a
 * monitor host's `run_on`. The monitor node listens too (for pushed results) when any
 * host runs on an agent.
 *
 * This file must not import `schema.ts` (which imports it).
 */
import { z } from 'zod';
import { durationAtLeast, sizeValue } from './units.ts';

const TOKEN_MSG = 'expected a token of at least 16 characters (e.g. from `openssl rand -hex 24`)';

export const agentSchema = z
  .strictObject({
    /** The per-cluster secret every agent and the monitor share (sent as `Authorization: Bearer`). At least 16 characters. One of `token` and `token_file` is required. */
    token: z.string({ error: TOKEN_MSG }).min(16, TOKEN_MSG).optional(),
    /** A file (relative to the cluster file) whose first line is the token; read at start. */
    token_file: z.string().min(1).optional(),
    /** TCP port every agent listens on (and the monitor, for pushed results), on the node's `address`. Default 5667. */
    port: z.number().int().min(1).max(65535).default(5667),
    /**
     * PEM files (relative to the cluster file): the node's certificate and key, and the
     * CA that signed the agents' certificates (the monitor then verifies them).
     * Absent = a self-signed certificate made with `openssl` at start and not verified
     * by the peer (encrypted, but open to an active man in the middle: use your own
     * certificates beyond a lab).
     */
    tls: z
      .strictObject({
        cert: z.string().min(1),
        key: z.string().min(1),
        /** CA bundle that signed the peers' certificates; absent = peers' certificates not verified. */
        ca: z.string().min(1).optional(),
      })
      .optional(),
    /** Time limit for the monitor's call to an agent, beyond the check's own timeout, in ms. Default 5s. */
    call_timeout: durationAtLeast(100).default(5_000),
    /**
     * Push: agents also run their checks on their own schedule (each object's
     * `check_interval`) and send the results to the monitor. A pushed result counts as
     * a check, so the monitor calls an agent only when nothing was pushed in time.
     * Default false (the monitor calls the agents).
     */
    push: z.boolean().default(false),
    /** Request body accepted by agent and monitor endpoints, at most, in bytes. Default 4m. */
    max_body: sizeValue().default(4 * 1_048_576),
  })
  .superRefine((a, ctx) => {
    if ((a.token === undefined) === (a.token_file === undefined)) ctx.addIssue({ code: 'custom', path: ['token'], message: 'expected exactly one of token and token_file' });
  });

export type AgentConfig = z.output<typeof agentSchema>;

export interface AgentProblem {
  path: Array<string | number>;
  message: string;
}

/** Hosts that run on a node's agent need an `agent:` section (the token). */
export function agentProblems(agent: AgentConfig | undefined, hosts: Readonly<Record<string, { run_on: string }>> | undefined, nodeRoles: Readonly<Record<string, { roles: readonly string[] }>>): AgentProblem[] {
  if (agent !== undefined) return [];
  const out: AgentProblem[] = [];
  for (const [hn, h] of Object.entries(hosts ?? {})) {
    if (h.run_on !== 'monitor') out.push({ path: ['monitor', 'hosts', hn, 'run_on'], message: `checks on node ${h.run_on}'s agent need an agent: section (at least its token)` });
  }
  for (const [n, node] of Object.entries(nodeRoles)) {
    if (node.roles.includes('agent')) out.push({ path: ['nodes', n, 'roles'], message: 'the agent role needs an agent: section (at least its token)' });
  }
  return out;
}
