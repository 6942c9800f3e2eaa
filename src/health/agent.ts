/**
 * `agent` check (HAProxy `agent-check`): the backend runs a small agent on its own
 * port that answers one line about itself, e.g. `up 75%`, `drain`, `down #disk full`.
 *
 * Words (separated by spaces, tabs or commas; `#` starts a free-text message):
 * - `up` – alive; `down`, `fail`, `stopped` – not alive (the check fails);
 * - `drain`, `maint` – administrative state set by the backend itself; `ready` clears it;
 * - `N%` or `weight:N%` – weight as a percentage of the configured weight (0-1000);
 * - `maxconn:N` – understood and ignored.
 * As in HAProxy, `up` alone does not clear an earlier `drain`: only `ready` does.
 */
import type { AgentHealthConfig } from '../config/health-schema.ts';
import { classifyError, connectProbe, settleOnce, timeoutResult, type Phase } from './net.ts';
import type { Check, CheckResult, CheckTarget } from './types.ts';

/** Longest reply read, in bytes; a line is expected long before that. */
export const AGENT_MAX_REPLY = 1024;

export interface AgentReply {
  /** Operational state, when the reply names one. */
  readonly state?: 'up' | 'down';
  /** Administrative request, when the reply names one. */
  readonly admin?: 'drain' | 'maint' | 'ready';
  /** Weight percentage, when the reply carries one. */
  readonly percent?: number;
  /** Text after `#`, or the word that said down. */
  readonly message?: string;
}

/** Parses an agent's reply line; returns a message saying what is wrong when nothing in it is understood. */
export function parseAgentReply(text: string): AgentReply | string {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const hash = firstLine.indexOf('#');
  const words = (hash >= 0 ? firstLine.slice(0, hash) : firstLine).split(/[\s,]+/).filter((w) => w !== '');
  const note = hash >= 0 ? firstLine.slice(hash + 1).trim() : '';
  let state: 'up' | 'down' | undefined;
  let admin: 'drain' | 'maint' | 'ready' | undefined;
  let percent: number | undefined;
  let downWord: string | undefined;
  let understood = 0;
  for (const raw of words) {
    const w = raw.toLowerCase();
    let m: RegExpExecArray | null;
    if (w === 'up') state = 'up';
    else if (w === 'down' || w === 'fail' || w === 'stopped') {
      state = 'down';
      downWord = w;
    } else if (w === 'drain' || w === 'maint' || w === 'ready') admin = w;
    else if ((m = /^(?:weight:)?(\d{1,4})%$/.exec(w))) {
      const p = Number(m[1]);
      if (p > 1000) return `weight ${w} is above 1000%`;
      percent = p;
    } else if (/^maxconn:\d+$/.test(w)) {
      // understood, not used
    } else continue;
    understood++;
  }
  if (understood === 0) return firstLine.trim() === '' ? 'empty reply' : `unrecognised reply ${JSON.stringify(firstLine.slice(0, 80))}`;
  const message = note !== '' ? note : downWord;
  return {
    ...(state !== undefined && { state }),
    ...(admin !== undefined && { admin }),
    ...(percent !== undefined && { percent }),
    ...(message !== undefined && { message }),
  };
}

/** The check result an agent reply stands for. */
export function agentResult(reply: AgentReply): Omit<CheckResult, 'durationMs'> {
  const extra = {
    ...(reply.percent !== undefined && { weight: { percent: reply.percent } }),
    ...(reply.admin !== undefined && { agentAdmin: reply.admin }),
    ...(reply.message !== undefined && { detail: reply.message }),
  };
  if (reply.state === 'down') return { ok: false, status: 'AGENT_DOWN', ...extra };
  if (reply.admin === 'maint') return { ok: true, status: 'AGENT_MAINT', ...extra };
  if (reply.admin === 'drain') return { ok: true, status: 'AGENT_DRAIN', ...extra };
  return { ok: true, status: 'AGENT_OK', ...extra };
}

export function createAgentCheck(cfg: Pick<AgentHealthConfig, 'send'>): Check {
  const send = cfg.send === undefined ? undefined : Buffer.from(cfg.send, 'utf8');
  return {
    name: 'agent',
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        let phase: Phase = 'connect';
        const { finish, onCleanup } = settleOnce(signal, resolve, () => timeoutResult(phase));
        const socket = connectProbe(target, finish, onCleanup);
        if (socket === undefined) return;
        let buf = '';
        const conclude = () => {
          const reply = parseAgentReply(buf);
          finish(typeof reply === 'string' ? { ok: false, status: 'L7_RESPONSE', detail: reply } : agentResult(reply));
        };
        socket.on('error', (err) => finish(classifyError(err, phase)));
        socket.once('connect', () => {
          phase = 'l7';
          if (send) socket.write(send);
        });
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => {
          buf += chunk;
          if (buf.includes('\n') || buf.length >= AGENT_MAX_REPLY) conclude();
        });
        // HAProxy also accepts a reply ended by closing the connection.
        socket.on('end', conclude);
      });
    },
  };
}
