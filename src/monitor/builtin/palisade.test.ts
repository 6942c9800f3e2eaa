import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSchema, type BuiltinOptions } from '../../config/check-schema.ts';
import { createCheck } from '../run.ts';
import { decideBackends, decideVrrp, type BackendStateView, type VrrpMemberState } from './palisade.ts';

const vrrp = (o: Record<string, unknown> = {}) => checkSchema.parse({ builtin: 'vrrp', instance: 'VI_1', ...o }) as BuiltinOptions<'vrrp'>;
const backends = (o: Record<string, unknown> = {}) => checkSchema.parse({ builtin: 'backends', service: 'www', ...o }) as BuiltinOptions<'backends'>;
const b = (...states: string[]): BackendStateView[] => states.map((state, i) => ({ name: `web${i + 1}`, state }));
const m = (node: string, state: string, reachable = true): VrrpMemberState => ({ node, state, reachable });

test('vrrp: one MASTER is OK, none or two is CRITICAL, a silent member WARNING', () => {
  const cases: Array<[VrrpMemberState[] | undefined, string, RegExp]> = [
    [[m('d1', 'MASTER'), m('d2', 'BACKUP')], 'OK', /VI_1 held by d1 \(d1 MASTER, d2 BACKUP\)/],
    [[m('d1', 'BACKUP'), m('d2', 'BACKUP')], 'CRITICAL', /nobody holds VI_1/],
    [[m('d1', 'MASTER'), m('d2', 'MASTER')], 'CRITICAL', /split brain on VI_1: d1 and d2 are MASTER/],
    [[m('d1', 'MASTER'), m('d2', 'UNKNOWN', false)], 'WARNING', /d2 did not answer/],
    [[m('d1', 'FAULT'), m('d2', 'UNKNOWN', false)], 'CRITICAL', /nobody holds/],
    [undefined, 'UNKNOWN', /no instance VI_1/],
  ];
  for (const [members, state, text] of cases) {
    const v = decideVrrp(vrrp(), members);
    assert.equal(v.state, state, JSON.stringify(members));
    assert.match(v.summary, text);
  }
  assert.equal(decideVrrp(vrrp({ unreachable: 'OK' }), [m('d1', 'MASTER'), m('d2', 'UNKNOWN', false)]).state, 'OK');
  assert.deepEqual(decideVrrp(vrrp(), [m('d1', 'MASTER'), m('d2', 'MASTER')]).perfdata[0], { label: 'masters', value: 2, uom: '', crit: '1:1', min: 0, max: 2 });
});

test('backends: counts the backends up against the ranges (default critical 1:)', () => {
  const cases: Array<[Record<string, unknown>, BackendStateView[] | undefined, string, string]> = [
    [{}, b('up', 'up', 'up'), 'OK', 'BACKENDS OK - www: 3 of 3 up'],
    [{}, b('up', 'down', 'drain'), 'OK', 'BACKENDS OK - www: 1 of 3 up (web2 down, web3 drain)'],
    [{}, b('down', 'maint'), 'CRITICAL', 'BACKENDS CRITICAL - www: 0 of 2 up (web1 down, web2 maint)'],
    [{ warning: '2:' }, b('up', 'down'), 'WARNING', 'BACKENDS WARNING - www: 1 of 2 up (web2 down)'],
    [{ warning: '3:', critical: '2:' }, b('up', 'down', 'down'), 'CRITICAL', 'BACKENDS CRITICAL - www: 1 of 3 up (web2 down, web3 down)'],
    [{}, undefined, 'UNKNOWN', 'BACKENDS UNKNOWN - no director answered for service www'],
  ];
  for (const [o, list, state, summary] of cases) {
    const v = decideBackends(backends(o), list);
    assert.equal(v.state, state);
    assert.equal(v.summary, summary);
  }
  assert.deepEqual(decideBackends(backends({ warning: '2:' }), b('up', 'down')).perfdata, [{ label: 'up', value: 1, uom: '', warn: '2:', crit: '1:', min: 0, max: 2 }]);
});

test('vrrp and backends outside the daemon answer UNKNOWN; with a provider they read it', async () => {
  const r = await createCheck(vrrp()).run();
  assert.equal(r.state, 'UNKNOWN');
  assert.match(r.summary, /runs only inside the palisade daemon/);
  const provider = { vrrpMembers: () => Promise.resolve([m('d1', 'BACKUP'), m('d2', 'MASTER')]), backends: () => Promise.reject(new Error('control socket gone')) };
  const ok = await createCheck(vrrp(), { palisade: provider }).run();
  assert.equal(ok.state, 'OK');
  assert.match(ok.summary, /held by d2/);
  const failed = await createCheck(backends(), { palisade: provider }).run();
  assert.equal(failed.state, 'UNKNOWN');
  assert.match(failed.summary, /backends check failed: control socket gone/);
});

test('config: vrrp needs an instance, backends a service and valid ranges', () => {
  assert.equal(checkSchema.safeParse({ builtin: 'vrrp' }).success, false);
  assert.equal(checkSchema.safeParse({ builtin: 'backends', service: 'www', critical: 'x' }).success, false);
  assert.equal(checkSchema.safeParse({ builtin: 'backends', service: 'www', nope: 1 }).success, false);
});
