import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { schedulerSchema } from '../config/scheduler-schema.ts';
import { makeBackends } from './conformance.ts';
import { createScheduler } from './index.ts';
import { StickyCookies, stickySecret, stickyValue } from './sticky.ts';

const SECRET = 'a-cluster-secret-0123';
const CTX = { client: '192.0.2.1', clientPort: 1, destination: '192.0.2.10:80' };

describe('sticky cookies', () => {
  it('values are opaque, short, stable and per-secret', () => {
    const v = stickyValue('10.0.0.1:80', SECRET);
    assert.match(v, /^[A-Za-z0-9_-]{12}$/);
    assert.ok(!v.includes('10.0.0.1'));
    assert.equal(stickyValue('10.0.0.1:80', SECRET), v);
    assert.notEqual(stickyValue('10.0.0.1:80', 'another-secret-0123'), v);
    assert.notEqual(stickyValue('10.0.0.2:80', SECRET), v);
  });

  it('derives a default secret from the cluster and service names', () => {
    assert.equal(stickySecret(undefined, 'prod', 'www'), stickySecret(undefined, 'prod', 'www'));
    assert.notEqual(stickySecret(undefined, 'prod', 'www'), stickySecret(undefined, 'prod', 'api'));
    assert.equal(stickySecret(SECRET, 'prod', 'www'), SECRET);
  });

  it('maps a value back to its backend, also for new objects with the same id (reload)', () => {
    const bs = makeBackends([1, 1, 1]);
    const sticky = new StickyCookies(bs, { cookie: 'srv', secret: SECRET });
    for (const b of bs) assert.equal(sticky.backendFor(sticky.valueFor(b)), b);
    const reloaded = makeBackends([1, 1, 1]);
    const after = new StickyCookies(reloaded, { cookie: 'srv', secret: SECRET });
    assert.equal(after.backendFor(sticky.valueFor(bs[2]!)), reloaded[2]);
    assert.equal(after.backendFor('forged'), undefined);
    assert.equal(after.backendFor(undefined), undefined);
  });

  it('writes Set-Cookie with the configured attributes', () => {
    const bs = makeBackends([1]);
    const sticky = new StickyCookies(bs, { cookie: 'srv', secret: SECRET, expires: 3_600_000, domain: 'example.com', secure: true, sameSite: 'none' });
    assert.equal(sticky.setCookie(bs[0]!), `srv=${stickyValue(bs[0]!.id, SECRET)}; Path=/; Domain=example.com; Max-Age=3600; HttpOnly; Secure; SameSite=None`);
    const plain = new StickyCookies(bs, { cookie: 'srv', secret: SECRET, httpOnly: false });
    assert.equal(plain.setCookie(bs[0]!), `srv=${stickyValue(bs[0]!.id, SECRET)}; Path=/; SameSite=Lax`);
  });

  it('pick: the cookie backend while usable, else the scheduler', () => {
    const bs = makeBackends([1, 1, 1], { maxConns: 5 });
    const s = createScheduler(schedulerSchema.parse('rr'), bs);
    const sticky = new StickyCookies(bs, { cookie: 'srv', secret: SECRET });
    const header = `other=1; srv=${sticky.valueFor(bs[2]!)}`;
    for (let k = 0; k < 5; k++) assert.equal(sticky.pick(CTX, header, s), bs[2]);
    s.down(bs[2]!);
    assert.notEqual(sticky.pick(CTX, header, s), bs[2]);
    s.up(bs[2]!);
    bs[2]!.active = 5;
    assert.notEqual(sticky.pick(CTX, header, s), bs[2], 'full');
    bs[2]!.active = 0;
    assert.notEqual(sticky.pick({ ...CTX, accept: (b) => b !== bs[2] }, header, s), bs[2], 'rejected');
    assert.ok(sticky.pick(CTX, undefined, s));
  });
});
