import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterText } from './load.ts';
import { refusedProblems } from './testing.ts';
import { parseDayRanges } from './monitor-schema.ts';

const BASE = `
nodes:
  d1: { address: 127.0.0.1 }
agent: { token: 0123456789abcdef0123 }
monitor:
  channels:
    email: { host: 127.0.0.1, from: palisade@example.com }
    sms: { url: "http://127.0.0.1:9/sms" }
  contacts:
    alice: { email: alice@example.com }
    bob: { sms: "+15550001111", webhook: "http://127.0.0.1:9/hook" }
  contact_groups:
    admins: [alice]
  time_periods:
    nights: { monday: "00:00-08:00, 20:00-24:00" }
  hosts:
    sw1: { address: 10.0.0.1 }
    web1:
      address: 10.0.0.11
      parents: [sw1]
      run_on: d1
      contact_groups: [admins]
      services:
        http:
          check: { builtin: tcp, port: 80 }
          contacts: [alice]
          escalations:
            - { first_notification: 3, last_notification: 0, contacts: [bob], notification_interval: 30m }
        load:
          check: { plugin: [/usr/lib/nagios/plugins/check_load, -w, "5,4,3", -c, "10,8,6"] }
          depends_on: [http]
    `;

function problems(text: string): string[] {
  return refusedProblems(text).map((p) => `${p.path}: ${p.message}`);
}

test('defaults like Nagios, and references resolved', () => {
  const text = BASE.replace('depends_on: [http]', 'depends_on: [http, { host: web1, service: http, fail_on: c }]');
  const m = parseClusterText(text, 'c.yaml').config.monitor!;
  const http = m.hosts.web1!.services.http!;
  assert.equal(http.check_interval, 300_000);
  assert.equal(http.retry_interval, 60_000);
  assert.equal(http.max_check_attempts, 3);
  assert.equal(http.notification_interval, 3_600_000);
  assert.equal(http.first_notification_delay, 0);
  assert.deepEqual(http.notification_options, ['w', 'u', 'c', 'r', 'f', 's']);
  assert.equal(http.notification_period, '24x7');
  assert.equal(http.escalations[0]!.notification_interval, 1_800_000);
  assert.deepEqual(m.hosts.web1!.notification_options, ['d', 'u', 'r', 'f', 's']);
  assert.deepEqual(m.hosts.web1!.services.load!.depends_on, [
    { host: undefined, service: 'http', fail_on: ['w', 'u', 'c'] },
    { host: 'web1', service: 'http', fail_on: ['c'] },
  ]);
  assert.deepEqual(m.time_periods.nights!.monday, [[0, 480], [1200, 1440]]);
  assert.deepEqual(m.flapping, { enabled: true, low_service_threshold: 5, high_service_threshold: 20, low_host_threshold: 5, high_host_threshold: 20 });
  assert.equal(m.delivery.attempts, 5);
  assert.equal(m.channels.email!.port, 587);
  assert.equal(m.channels.email!.security, 'starttls');
  assert.equal(m.store.retention_6h, 370 * 86_400_000);
  assert.equal(m.retention, true);
  assert.equal(m.retention_interval, 60_000);
});

test('state retention: on by default, written every minute; 0 = only at shutdown and after operator actions', () => {
  const table: Array<[string, boolean, number | RegExp]> = [
    ['retention_interval: 5m', true, 300_000],
    ['retention_interval: 0', true, 0],
    ['retention: false', false, 60_000],
    ['retention_interval: 100ms', true, /^monitor\.retention_interval: expected 0 \(write only at shutdown and after operator actions\) or a duration of at least 1s/],
    ['retention: "no"', true, /^monitor\.retention: /],
  ];
  for (const [line, on, want] of table) {
    const text = BASE.replace('monitor:\n', `monitor:\n  ${line}\n`);
    if (want instanceof RegExp) {
      const p = problems(text);
      assert.ok(p.some((x) => want.test(x)), `${line}: ${p.join(' | ')}`);
      continue;
    }
    const m = parseClusterText(text, 'c.yaml').config.monitor!;
    assert.deepEqual([m.retention, m.retention_interval], [on, want], line);
  }
});

test('unknown references are errors that name the path', () => {
  const table: Array<[string, string, RegExp]> = [
    ['depends_on: [http]', 'depends_on: [http, "sw1/ping"]', /^monitor\.hosts\.web1\.services\.load\.depends_on\[1\]: unknown service "ping" on host sw1/],
    ['parents: [sw1]', 'parents: [sw9]', /^monitor\.hosts\.web1\.parents\[0\]: unknown host "sw9"; declared hosts: sw1, web1/],
    ['contacts: [alice]', 'contacts: [carol]', /^monitor\.hosts\.web1\.services\.http\.contacts\[0\]: unknown contact "carol"/],
    ['contact_groups: [admins]', 'contact_groups: [ops]', /^monitor\.hosts\.web1\.contact_groups\[0\]: unknown contact group "ops"/],
    ['run_on: d1', 'run_on: d7', /^monitor\.hosts\.web1\.run_on: unknown node "d7"; expected monitor or a declared node: d1/],
    ['contacts: [bob]', 'contacts: [bob], escalation_period: lunch', /escalations\[0\]\.escalation_period: unknown time period "lunch"/],
    ['{ email: alice@example.com }', '{ email: alice@example.com, notification_period: nightz }', /^monitor\.contacts\.alice\.notification_period: unknown time period "nightz"/],
    ['    sw1: { address: 10.0.0.1 }', '    sw1: { address: 10.0.0.1, parents: [web1] }', /parents: parents form a cycle: (sw1 → web1 → sw1|web1 → sw1 → web1)/],
    ['contacts: [alice]', 'contacts: [alice]\n          notification_options: "w,x"', /http\.notification_options: expected notification options from w,u,c,r,f,s/],
    ['nights: { monday: "00:00-08:00, 20:00-24:00" }', 'nights: { monday: "20:00-08:00" }', /time_periods\.nights\.monday: the range "20:00-08:00" ends before it starts/],
    ['contacts: [alice]', 'contacts: [alice]\n          max_check_attempts: 0', /http\.max_check_attempts/],
    ['contacts: [alice]', 'contacts: [alice]\n          retries: 3', /http\.retries: unknown key "retries"/],
  ];
  for (const [from, to, re] of table) {
    const text = BASE.replace(from, to);
    assert.notEqual(text, BASE, `replacement ${from} applied`);
    const p = problems(text);
    assert.ok(p.some((x) => re.test(x)), `${to}: ${p.join(' | ')}`);
  }
});

test('an SMS number without the SMS channel is refused', () => {
  const p = problems(BASE.replace('    sms: { url: "http://127.0.0.1:9/sms" }\n', ''));
  assert.ok(p.some((x) => x.startsWith('monitor.contacts.bob.sms: an SMS number needs monitor.channels.sms')), p.join(' | '));
});

test('time ranges', () => {
  assert.deepEqual(parseDayRanges('09:00-17:00'), [[540, 1020]]);
  assert.deepEqual(parseDayRanges(['00:00-01:30', '23:00-24:00']), [[0, 90], [1380, 1440]]);
  assert.match(String(parseDayRanges('9-17')), /expected time ranges/);
  assert.match(String(parseDayRanges('24:30-25:00')), /expected time ranges/);
});
