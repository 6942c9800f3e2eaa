import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DaemonStatus } from './daemon.ts';
import { trafficText } from './metrics.ts';

const backend = { name: 'web1', requests: 10, failures: 1, active: 2, status: 'up', effectiveWeight: 3 };
const service = (limits?: unknown) => ({ name: 'www', requests: 12, quorumLost: false, panic: false, backends: [backend], ...(limits === undefined ? {} : { limits }) });
const status = (services: unknown[]) => ({ services, vrrp: [] }) as unknown as DaemonStatus;

test('/metrics traffic: per-client limit refusals by reason, delays, the table, each labelled by node and service', () => {
  const limits = { clients: 7, tableSize: 100, evictions: 4, connections: 1, delayed: 9, refused: { conn: 3, connTotal: 0, req: 25, deny: 2 } };
  const text = trafficText({ nodes: [{ name: 'd1', reachable: true, status: status([service(limits)]) }] });
  for (const line of [
    'palisade_limit_refused_total{node="d1",service="www",reason="limit_conn"} 3',
    'palisade_limit_refused_total{node="d1",service="www",reason="limit_conn_total"} 0',
    'palisade_limit_refused_total{node="d1",service="www",reason="limit_req"} 25',
    'palisade_limit_refused_total{node="d1",service="www",reason="deny"} 2',
    'palisade_limit_delayed_total{node="d1",service="www"} 9',
    'palisade_limit_clients{node="d1",service="www"} 7',
    'palisade_limit_evictions_total{node="d1",service="www"} 4',
    '# TYPE palisade_limit_refused_total counter',
    'palisade_backend_requests_total{node="d1",service="www",backend="web1"} 10',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text}`);
  }
  // one HELP/TYPE per family, however many rows
  assert.equal(text.split('\n').filter((l) => l === '# TYPE palisade_limit_refused_total counter').length, 1);
});

test('/metrics traffic: services without limits (tcp, udp) have no limit rows; an unreachable node is 0', () => {
  const text = trafficText({ nodes: [{ name: 'd1', reachable: true, status: status([service()]) }, { name: 'd2', reachable: false }] });
  assert.doesNotMatch(text, /palisade_limit_/);
  assert.match(text, /^palisade_node_reachable\{node="d2"\} 0$/m);
});
