/**
 * `vrrp` and `backends`: Palisade's own state as checks — who holds an instance's
 * VIP (CRITICAL with no MASTER or with two: split brain), how many backends of a
 * service are up (warning / critical ranges on the count). The state comes from a
 * provider the application injects (`CheckDeps.palisade`); this module never reads
 * the daemon itself (monitor must not import app). The verdicts are pure.
 */
import type { BuiltinOptions } from '../../config/check-schema.ts';
import { parseNagiosRange, thresholdState, type NagiosRange } from '../../core/nagios-range.ts';
import { toResult } from './common.ts';
import type { CheckContext, Verdict } from './common.ts';
import type { CheckResult } from '../result.ts';

/** One member of a VRRP instance as the daemon reports it. */
export interface VrrpMemberState {
  node: string;
  /** MASTER, BACKUP, FAULT, INIT, STOPPED, or UNKNOWN when the node did not answer. */
  state: string;
  /** Its status was read. */
  reachable: boolean;
}

/** One backend of a service as the daemon reports it. */
export interface BackendStateView {
  name: string;
  /** up, full (up, at its connection limit), down, drain, maint. */
  state: string;
}

/** Palisade's own state, read through the application. */
export interface PalisadeStatusProvider {
  /** Members of the instance; undefined when no such instance is configured. */
  vrrpMembers(instance: string): Promise<VrrpMemberState[] | undefined>;
  /** Backends of the service on the directors that answered; undefined when no director runs it. */
  backends(service: string): Promise<BackendStateView[] | undefined>;
}

/** Pure: the verdict for an instance's members. */
export function decideVrrp(opts: BuiltinOptions<'vrrp'>, members: readonly VrrpMemberState[] | undefined): Verdict {
  const inst = opts.instance;
  if (members === undefined) return { state: 'UNKNOWN', summary: `VRRP UNKNOWN - no instance ${inst} in the cluster file`, perfdata: [] };
  const masters = members.filter((m) => m.reachable && m.state === 'MASTER').map((m) => m.node);
  const lost = members.filter((m) => !m.reachable).map((m) => m.node);
  const detail = members.map((m) => `${m.node} ${m.reachable ? m.state : 'not reachable'}`).join(', ');
  const perfdata = [{ label: 'masters', value: masters.length, uom: '', crit: '1:1', min: 0, max: members.length }];
  if (masters.length > 1) return { state: 'CRITICAL', summary: `VRRP CRITICAL - split brain on ${inst}: ${masters.join(' and ')} are MASTER (${detail})`, perfdata };
  if (masters.length === 0) return { state: 'CRITICAL', summary: `VRRP CRITICAL - nobody holds ${inst} (${detail})`, perfdata };
  if (lost.length > 0 && opts.unreachable !== 'OK') return { state: opts.unreachable, summary: `VRRP ${opts.unreachable} - ${inst} held by ${masters[0]}, but ${lost.join(', ')} did not answer (${detail})`, perfdata };
  return { state: 'OK', summary: `VRRP OK - ${inst} held by ${masters[0]} (${detail})`, perfdata };
}

function range(text: string | undefined): NagiosRange | undefined {
  if (text === undefined) return undefined;
  const r = parseNagiosRange(text);
  return typeof r === 'string' ? undefined : r;
}

/** Pure: the verdict for a service's backends. */
export function decideBackends(opts: BuiltinOptions<'backends'>, backends: readonly BackendStateView[] | undefined): Verdict {
  const svc = opts.service;
  if (backends === undefined) return { state: 'UNKNOWN', summary: `BACKENDS UNKNOWN - no director answered for service ${svc}`, perfdata: [] };
  const isUp = (b: BackendStateView) => b.state === 'up' || b.state === 'full';
  const up = backends.filter(isUp).length;
  const state = thresholdState(up, range(opts.warning), range(opts.critical));
  const others = backends.filter((b) => !isUp(b)).map((b) => `${b.name} ${b.state}`);
  return {
    state,
    summary: `BACKENDS ${state} - ${svc}: ${up} of ${backends.length} up${others.length > 0 ? ` (${others.join(', ')})` : ''}`,
    perfdata: [{ label: 'up', value: up, uom: '', ...(opts.warning !== undefined && { warn: opts.warning }), crit: opts.critical, min: 0, max: backends.length }],
  };
}

function noProvider(name: string, ctx: CheckContext, t0: number): CheckResult {
  return toResult({ state: 'UNKNOWN', summary: `${name} check reads Palisade's own state: it runs only inside the palisade daemon`, perfdata: [] }, ctx.now(), t0);
}

export async function runVrrp(opts: BuiltinOptions<'vrrp'>, ctx: CheckContext, p: PalisadeStatusProvider | undefined): Promise<CheckResult> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  if (p === undefined) return noProvider('vrrp', ctx, t0);
  return toResult(decideVrrp(opts, await p.vrrpMembers(opts.instance)), startedAt, t0);
}

export async function runBackends(opts: BuiltinOptions<'backends'>, ctx: CheckContext, p: PalisadeStatusProvider | undefined): Promise<CheckResult> {
  const startedAt = ctx.now();
  const t0 = performance.now();
  if (p === undefined) return noProvider('backends', ctx, t0);
  return toResult(decideBackends(opts, await p.backends(opts.service)), startedAt, t0);
}
