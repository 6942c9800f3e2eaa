import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webSchema } from '../config/web-schema.ts';
import { hashPassword, LoginLimiter, newToken, sameSecret, SessionStore, sha256Hex, verifyPassword } from './auth.ts';

test('a password hash verifies its password only, and a malformed hash never matches', async () => {
  const h = await hashPassword('correct horse');
  assert.match(h, /^scrypt\$32768\$8\$1\$/);
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct horsE', h), false);
  for (const bad of ['', 'scrypt$', 'md5$x', h.replace('scrypt', 'bcrypt'), 'scrypt$99999999$8$1$abc$def']) assert.equal(await verifyPassword('correct horse', bad), false, bad);
  assert.notEqual(await hashPassword('correct horse'), h, 'salted');
});

test('tokens are stored as their SHA-256', () => {
  const t = newToken();
  assert.equal(sha256Hex(t.token), t.sha256);
  assert.equal(sameSecret(t.sha256, sha256Hex(t.token)), true);
  assert.equal(sameSecret(undefined, 'x'), false);
});

test('sessions expire after the lifetime without use, and use pushes the expiry forward', () => {
  let now = 0;
  const s = new SessionStore(1_000, () => now);
  const a = s.create('ann', 'admin');
  const table: Array<[number, boolean]> = [[900, true], [1_800, true], [2_801, false]];
  for (const [t, alive] of table) {
    now = t;
    assert.equal(s.get(a.id) !== undefined, alive, `at ${t} ms`);
  }
  const b = s.create('bob', 'readonly');
  s.retain((user) => user !== 'bob');
  assert.equal(s.get(b.id), undefined);
});

test('the login limiter blocks an address after N failures for the rest of the window', () => {
  let now = 0;
  const l = new LoginLimiter(3, 60_000, () => now);
  const steps: Array<[number, 'fail' | 'check', number]> = [
    [0, 'fail', 0],
    [1_000, 'fail', 0],
    [2_000, 'fail', 58_000],
    [30_000, 'check', 30_000],
    [60_001, 'check', 0],
  ];
  for (const [t, op, wait] of steps) {
    now = t;
    if (op === 'fail') l.fail('10.0.0.1');
    assert.equal(l.retryAfter('10.0.0.1'), wait, `at ${t}`);
    assert.equal(l.retryAfter('10.0.0.2'), 0);
  }
});

test('web: refuses a non-loopback listen address without tls, clear-text passwords and bad token hashes', () => {
  const cases: Array<[unknown, RegExp | undefined]> = [
    [{}, undefined],
    [{ listen: '0.0.0.0:8404' }, /not a loopback address/],
    [{ listen: '0.0.0.0:8404', tls: { cert: 'c.pem', key: 'k.pem' } }, undefined],
    [{ listen: '[::1]:9000' }, undefined],
    [{ listen: 'nowhere' }, /expected a listen address/],
    [{ users: { ann: { role: 'admin', password_hash: 'hunter2' } } }, /never a clear-text password/],
    [{ tokens: [{ name: 'ci', sha256: 'abc' }] }, /SHA-256/],
    [{ session_lifetime: '10s' }, /at least 60000ms/],
  ];
  for (const [input, err] of cases) {
    const r = webSchema.safeParse(input);
    if (err === undefined) assert.equal(r.success, true, JSON.stringify(input));
    else assert.match(r.success ? '' : r.error.issues.map((i) => i.message).join('; '), err, JSON.stringify(input));
  }
  const d = webSchema.parse({});
  assert.deepEqual(d.listen, { host: '127.0.0.1', port: 8404 });
  assert.equal(d.session_lifetime, 8 * 3_600_000);
});
