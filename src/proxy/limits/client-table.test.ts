import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientTable } from './client-table.ts';

test('client table: bounded, least recently seen evicted, entries reused', () => {
  const t = new ClientTable(3);
  const a = t.get('a');
  t.get('b');
  t.get('c');
  t.get('a'); // a is now the most recent: b is the oldest
  const d = t.get('d');
  assert.equal(t.size, 3);
  assert.equal(t.peek('b'), undefined);
  assert.equal(t.peek('a'), a);
  assert.equal(t.evictions, 1);
  assert.equal(d.key, 'd');
  for (let i = 0; i < 10_000; i++) t.get(`x${i}`);
  assert.equal(t.size, 3, 'a spray of unique keys never grows the table past its cap');
  assert.equal(t.evictions, 10_001);
});

test('client table: an evicted entry held by a connection is not recycled for another client', () => {
  const t = new ClientTable(1);
  const a = t.get('a');
  a.conns = 2;
  const b = t.get('b');
  assert.notEqual(a, b);
  assert.equal(a.live, false);
  assert.equal(a.key, 'a');
  a.conns--; // a connection of the forgotten client closes: harmless
  assert.equal(b.conns, 0);
});

test('client table: delete, and resize evicts the oldest', () => {
  const t = new ClientTable(4);
  for (const k of ['a', 'b', 'c', 'd']) t.get(k);
  t.delete(t.peek('c')!);
  assert.equal(t.size, 3);
  t.resize(1);
  assert.equal(t.size, 1);
  assert.ok(t.peek('d'));
});
