import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAfter, parseEventsAnswer, parsePush, parseResult, parseRunPath, runPath, splitUrl, tokenDigestOf, tokenMatches } from './protocol.ts';

test('run paths carry names only; anything else is not a run path', () => {
  const cases: Array<[string, ReturnType<typeof parseRunPath>]> = [
    ['/v1/run/web1', { host: 'web1' }],
    ['/v1/run/web1/http', { host: 'web1', service: 'http' }],
    ['/v1/run/web1/http/extra', undefined],
    ['/v1/run/web1/..', undefined],
    ['/v1/run/web1/%2Fusr%2Flib%2Fnagios%2Fplugins%2Fcheck_x', undefined],
    ['/v1/run/web1/a%20b', undefined],
    ['/v1/run/web1/%E0%A4%A', undefined],
    ['/v1/run/', undefined],
    ['/v1/results', undefined],
  ];
  for (const [path, want] of cases) assert.deepEqual(parseRunPath(path), want, path);
  assert.deepEqual(parseRunPath(runPath('db-1.x', 'mysql_replica')), { host: 'db-1.x', service: 'mysql_replica' });
});

test('the token is compared whole, as a Bearer credential', () => {
  const d = tokenDigestOf('s3cret-token-0123456789');
  assert.equal(tokenMatches('Bearer s3cret-token-0123456789', d), true);
  assert.equal(tokenMatches('bearer s3cret-token-0123456789', d), true);
  for (const h of [undefined, '', 'Bearer', 'Bearer s3cret-token-012345678', 'Bearer s3cret-token-01234567890', 'Basic s3cret-token-0123456789', 's3cret-token-0123456789']) assert.equal(tokenMatches(h, d), false, String(h));
});

test('results from the wire are validated; garbage is refused with the reason', () => {
  const ok = parseResult({ state: 'WARNING', summary: 'x'.repeat(5000), longOutput: 'more', perfdata: [{ label: 'a b', value: 1.5, uom: 'ms', warn: '~:10', min: 0 }], startedAt: 5, durationMs: 2 });
  assert.equal(typeof ok, 'object');
  if (typeof ok === 'string') return;
  assert.equal(ok.code, 1);
  assert.equal(ok.summary.length, 5000);
  assert.deepEqual(ok.perfdata, [{ label: 'a b', value: 1.5, uom: 'ms', warn: '~:10', min: 0 }]);
  const bad: Array<[unknown, RegExp]> = [
    [null, /object/],
    [[], /object/],
    [{ state: 'FINE', summary: '' }, /state/],
    [{ state: 'OK' }, /summary/],
    [{ state: 'OK', summary: '', longOutput: 3 }, /longOutput/],
    [{ state: 'OK', summary: '', perfdata: {} }, /perfdata/],
    [{ state: 'OK', summary: '', perfdata: [{ label: 'x', value: '1', uom: '' }] }, /perfdata item/],
  ];
  for (const [v, why] of bad) assert.match(String(parseResult(v)), why, JSON.stringify(v));
});

test('push bodies name the node and each object; one bad item refuses the batch', () => {
  const r = { state: 'OK', summary: 'fine' };
  const good = parsePush({ node: 'a1', results: [{ host: 'web1', result: r }, { host: 'web1', service: 'http', result: r }] });
  assert.equal(typeof good === 'string' ? good : good.results.length, 2);
  assert.match(String(parsePush({ node: '../x', results: [] })), /node/);
  assert.match(String(parsePush({ node: 'a1', results: {} })), /list/);
  assert.match(String(parsePush({ node: 'a1', results: [{ host: 'web1', service: 'a/b', result: r }] })), /results\[0\]/);
  assert.match(String(parsePush({ node: 'a1', results: [{ host: 'web1', result: { state: 'OK' } }] })), /results\[0\]\.result: expected summary/);
});

test('node API: ?after= is a whole number (absent = 0); event answers are validated before they are believed', () => {
  assert.deepEqual(splitUrl('/v1/events?after=3'), ['/v1/events', 'after=3']);
  assert.deepEqual(splitUrl('/v1/status'), ['/v1/status', '']);
  const afters: Array<[string, number | undefined]> = [['', 0], ['after=', 0], ['after=0', 0], ['after=42', 42], ['after=-1', undefined], ['after=1.5', undefined], ['after=x', undefined], ['after=1e3', undefined], ['after=9999999999999999', undefined]];
  for (const [q, want] of afters) assert.equal(parseAfter(q), want, q);

  const event = { kind: 'vrrp_transition', time: 5, subject: 'vrrp/VI_1', state: 'MASTER', severity: 'info', message: 'VI_1 MASTER', node: 'd1', fields: { priority: 150, peer: 'x', nested: { no: 1 } } };
  const ok = parseEventsAnswer({ boot: 'b1', last: 2, missed: 0, events: [{ seq: 2, event }] });
  assert.ok(typeof ok !== 'string');
  assert.deepEqual(ok.events[0]!.event.fields, { priority: 150, peer: 'x' }, 'only plain values kept in fields');
  const bad: Array<[unknown, RegExp]> = [
    [null, /expected \{ boot/],
    [{ boot: '', last: 0, missed: 0, events: [] }, /expected \{ boot/],
    [{ boot: 'b', last: -1, missed: 0, events: [] }, /whole numbers/],
    [{ boot: 'b', last: 1, missed: 0, events: {} }, /as a list/],
    [{ boot: 'b', last: 1, missed: 0, events: [{ seq: 2, event }] }, /seq rising, at most last/],
    [{ boot: 'b', last: 3, missed: 0, events: [{ seq: 2, event }, { seq: 2, event }] }, /seq rising/],
    [{ boot: 'b', last: 1, missed: 0, events: [{ seq: 1, event: { ...event, kind: 'reboot' } }] }, /events\[0\]\.event: expected kind/],
    [{ boot: 'b', last: 1, missed: 0, events: [{ seq: 1, event: { ...event, severity: 'fatal' } }] }, /severity/],
    [{ boot: 'b', last: 1, missed: 0, events: [{ seq: 1, event: { ...event, message: 'x'.repeat(5_000) } }] }, /as strings/],
    [{ boot: 'b', last: 1, missed: 0, events: [{ seq: 1, event: { ...event, time: 'now' } }] }, /time/],
  ];
  for (const [v, re] of bad) {
    const r = parseEventsAnswer(v);
    assert.equal(typeof r, 'string', JSON.stringify(v)?.slice(0, 80));
    assert.match(r as string, re);
  }
});
