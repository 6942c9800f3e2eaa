import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlowTable, type FlowEnd } from './flows.ts';

interface F {
  last: number;
  name: string;
}

function table(max: number, ttl: number) {
  const ended: string[] = [];
  const t = new FlowTable<F>(max, ttl, (v, why: FlowEnd) => ended.push(`${v.name}:${why}`));
  return { t, ended };
}

test('a flow lives while datagrams come within the idle timeout, then ends as idle', () => {
  const { t, ended } = table(10, 1000);
  t.add('a', { last: 0, name: 'a' }, 0);
  assert.equal(t.get('a', 900)?.name, 'a');
  assert.equal(t.get('a', 1800)?.name, 'a', 'refreshed at 900');
  assert.equal(t.get('a', 2801), undefined, 'idle for 1001 ms');
  assert.deepEqual(ended, ['a:idle']);
  assert.equal(t.expired, 1);
});

test('a reply refreshes a flow; sweep ends only the idle ones', () => {
  const { t, ended } = table(10, 1000);
  t.add('a', { last: 0, name: 'a' }, 0);
  t.add('b', { last: 0, name: 'b' }, 500);
  t.get('a', 0)!.last = 1400; // a reply at 1400, without reordering
  assert.equal(t.sweep(1600), 1);
  assert.deepEqual(ended, ['b:idle'], 'b was idle since 500; a got a reply at 1400');
  assert.equal(t.sweep(2000), 0);
  assert.equal(t.size, 1);
  assert.equal(t.sweep(2401), 1);
  assert.equal(t.size, 0);
});

test('the table is bounded: the least recently used flow is evicted and counted', () => {
  const table3 = table(3, 10_000);
  const { t, ended } = table3;
  for (const [i, k] of ['a', 'b', 'c'].entries()) t.add(k, { last: 0, name: k }, i);
  t.get('a', 10); // a is now the most recent
  t.add('d', { last: 0, name: 'd' }, 11);
  assert.deepEqual(ended, ['b:evicted']);
  t.add('e', { last: 0, name: 'e' }, 12);
  assert.deepEqual(ended, ['b:evicted', 'c:evicted']);
  assert.equal(t.evicted, 2);
  assert.equal(t.size, 3);
  assert.deepEqual([...t.values()].map((v) => v.name), ['a', 'd', 'e']);
  assert.equal(t.delete('a'), true);
  assert.deepEqual(ended.at(-1), 'a:closed');
  t.clear();
  assert.equal(t.size, 0);
});
