import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterText } from '../../config/load.ts';
import { L4Service, type L4ServiceConfig } from './service.ts';

function config(extra: string, backends = '[10.0.0.1:80, 10.0.0.2:80, { address: 10.0.0.9:80, backup: true }]'): L4ServiceConfig {
  const { config: c } = parseClusterText(`services:\n  s:\n    protocol: tcp\n    listen: 9000\n    scheduler: rr\n    backends: ${backends}\n${extra}`, 'c.yaml', { env: {} });
  const s = c.services.s!;
  assert.ok(s.protocol === 'tcp');
  return s;
}

const pick = (svc: L4Service, client = '192.0.2.1') => svc.pick(client, 1000, '0.0.0.0:9000', [])?.id;

test('rr over primaries; the backup only when no primary is usable; excluded backends are skipped', () => {
  const svc = new L4Service('s', config(''));
  assert.deepEqual([pick(svc), pick(svc), pick(svc), pick(svc)], ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.1:80', '10.0.0.2:80']);
  assert.equal(svc.pick('192.0.2.1', 1, 'x', [svc.byId.get('10.0.0.1:80')!])?.id, '10.0.0.2:80');
  svc.setState(svc.byId.get('10.0.0.1:80')!, 'down');
  svc.setState(svc.byId.get('10.0.0.2:80')!, 'maint');
  assert.equal(pick(svc), '10.0.0.9:80');
  svc.setState(svc.byId.get('10.0.0.9:80')!, 'down');
  assert.equal(pick(svc), undefined);
});

test('max_conns counts active and inactive connections (LVS upper threshold)', () => {
  const svc = new L4Service('s', config('', '[{ address: 10.0.0.1:80, max_conns: 2 }]'));
  const b = svc.byId.get('10.0.0.1:80')!;
  b.active = 1;
  b.inactive = 1;
  assert.equal(b.status(), 'full');
  assert.equal(pick(svc), undefined);
  b.inactive = 0;
  assert.equal(pick(svc), '10.0.0.1:80');
});

test('on_down: shutdown-sessions cuts users of a backend going down or into maintenance; keep does not', () => {
  for (const [onDown, state, cut] of [['shutdown-sessions', 'down', true], ['shutdown-sessions', 'maint', true], ['shutdown-sessions', 'drain', false], ['keep', 'down', false]] as const) {
    const svc = new L4Service('s', config(`    on_down: ${onDown}`));
    const b = svc.byId.get('10.0.0.1:80')!;
    let destroyed = 0;
    const user = { destroy: () => (destroyed++, b.users.delete(user)) };
    b.users.add(user);
    svc.setState(b, state);
    assert.equal(destroyed, cut ? 1 : 0, `${onDown} ${state}`);
  }
});

test('persistence keeps a client on its backend; a reload keeps state, counters and entries of unchanged backends', () => {
  const svc = new L4Service('s', config('    persistence: { timeout: 60s }'));
  const first = pick(svc, '198.51.100.7');
  for (let i = 0; i < 5; i++) assert.equal(pick(svc, '198.51.100.7'), first);
  const b = svc.byId.get(first!)!;
  b.connections = 7;
  svc.setState(svc.byId.get('10.0.0.9:80')!, 'down');
  svc.apply(config('    persistence: { timeout: 60s }', '[10.0.0.1:80, 10.0.0.2:80, { address: 10.0.0.9:80, backup: true }, 10.0.0.3:80]'));
  assert.equal(svc.byId.get(first!), b, 'same runtime object');
  assert.equal(b.connections, 7);
  assert.equal(svc.byId.get('10.0.0.9:80')!.state, 'down');
  assert.equal(pick(svc, '198.51.100.7'), first, 'the persistence entry survived');
});

test('while the quorum is lost, connections go to the sorry server only', () => {
  const svc = new L4Service('s', config('    sorry_server: 10.0.0.99:80'));
  svc.quorumLost = true;
  assert.equal(pick(svc), '10.0.0.99:80');
  svc.quorumLost = false;
  assert.equal(pick(svc), '10.0.0.1:80');
});
