import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventsAnswer } from '../agent/protocol.ts';
import type { ClusterConfig } from '../config/schema.ts';
import { acceptPeerEvents, eventPeers, type PeerCursor } from './peers.ts';

const ev = (seq: number, time: number) => ({ seq, event: { kind: 'backend_state' as const, time, subject: `service/www/b${seq}`, state: 'DOWN', severity: 'critical' as const, message: `e${seq}`, node: 'd1', fields: {} } });
const answer = (boot: string, last: number, events: ReturnType<typeof ev>[], missed = 0): EventsAnswer => ({ boot, last, missed, events });

test('peers: which events of an answer are new (first contact, next polls, restart, rotation)', () => {
  const START = 1_000;
  const cases: Array<[what: string, cursor: PeerCursor | undefined, a: EventsAnswer, deliver: string[], next: PeerCursor, again: boolean, missed: number]> = [
    ['first contact: only events since this monitor started', undefined, answer('A', 3, [ev(1, 500), ev(2, 1_000), ev(3, 1_500)]), ['e2', 'e3'], { boot: 'A', seq: 3 }, false, 0],
    ['first contact with a quiet peer', undefined, answer('A', 0, []), [], { boot: 'A', seq: 0 }, false, 0],
    ['next poll: the new ones', { boot: 'A', seq: 3 }, answer('A', 5, [ev(4, 2_000), ev(5, 2_100)]), ['e4', 'e5'], { boot: 'A', seq: 5 }, false, 0],
    ['nothing new', { boot: 'A', seq: 5 }, answer('A', 5, []), [], { boot: 'A', seq: 5 }, false, 0],
    ['an answer repeating seen events delivers them once', { boot: 'A', seq: 4 }, answer('A', 5, [ev(3, 1), ev(4, 1), ev(5, 1)]), ['e5'], { boot: 'A', seq: 5 }, false, 0],
    ['old events, even from before this monitor, once the peer is known', { boot: 'A', seq: 0 }, answer('A', 1, [ev(1, 1)]), ['e1'], { boot: 'A', seq: 1 }, false, 0],
    ['the peer restarted: ask again from its first event', { boot: 'A', seq: 9 }, answer('B', 2, []), [], { boot: 'B', seq: 0 }, true, 0],
    ['the peer restarted and already has more events than we saw: still from the start', { boot: 'A', seq: 2 }, answer('B', 4, [ev(3, 1), ev(4, 1)]), [], { boot: 'B', seq: 0 }, true, 0],
    ['events rotated out before we asked', { boot: 'A', seq: 2 }, answer('A', 10, [ev(9, 1), ev(10, 1)], 6), ['e9', 'e10'], { boot: 'A', seq: 10 }, false, 6],
  ];
  for (const [what, cursor, a, deliver, next, again, missed] of cases) {
    const d = acceptPeerEvents(cursor, a, START);
    assert.deepEqual(d.deliver.map((e) => e.message), deliver, what);
    assert.deepEqual(d.cursor, next, what);
    assert.equal(d.again, again, what);
    assert.equal(d.missed, missed, what);
  }
});

test('peers: events are read from directors and VRRP members, never from this node', () => {
  const config = {
    nodes: { mon: { address: '127.0.0.1', roles: [] }, d1: { address: '127.0.0.2', roles: ['director'] }, v: { address: '127.0.0.3', roles: [] }, web1: { address: '127.0.0.4', roles: ['agent'] } },
    vrrp: { instances: { VI_1: { members: { d1: {}, v: {} } } } },
  } as unknown as ClusterConfig;
  assert.deepEqual(eventPeers(config, 'mon'), ['d1', 'v']);
  assert.deepEqual(eventPeers(config, 'd1'), ['v']);
});
