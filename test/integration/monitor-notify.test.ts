/**
 * Notifications end to end on loopback: a service driven to a hard CRITICAL by the
 * state engine is mailed through a real SMTP server (STARTTLS + AUTH) started here,
 * posted to a webhook, sent as SMS through a provider template and passed to a
 * command; a failing receiver is retried with backoff; Palisade's own events take
 * the same path.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { monitorSchema } from '../../src/config/monitor-schema.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { Notifier } from '../../src/monitor/notify/notifier.ts';
import type { DeliveryOutcome } from '../../src/monitor/notify/queue.ts';
import { MonitorEngine } from '../../src/monitor/state/engine.ts';
import { waitFor } from '../helpers/http.ts';

interface Mail {
  from: string;
  to: string[];
  data: string;
  user: string | undefined;
  secure: boolean;
}

async function startSmtp(t: TestContext): Promise<{ port: number; mails: Mail[] }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    // STARTTLS with smtp-server's built-in self-signed certificate; AUTH required.
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      if (auth.username === 'palisade' && auth.password === 's3cret') cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
        });
        cb();
      });
    },
    logger: false,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.server.address() as AddressInfo).port, mails };
}

interface Hit {
  path: string;
  method: string;
  type: string | undefined;
  body: string;
  at: number;
}

async function startReceiver(t: TestContext, status: (hit: Hit, n: number) => number = () => 200): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = { path: req.url ?? '', method: req.method ?? '', type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8'), at: performance.now() };
      hits.push(hit);
      res.statusCode = status(hit, hits.length);
      res.end(res.statusCode === 200 ? 'ok' : 'try later');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

/** A delivery log line as `msg contact channel attempt=N [retry_in_ms=M]`. */
function logLine(l: Record<string, unknown>): string {
  return `${String(l.msg)} ${String(l.contact)} ${String(l.channel)} attempt=${String(l.attempt)}${l.retry_in_ms === undefined ? '' : ` retry_in_ms=${String(l.retry_in_ms)}`}`;
}

const OUTPUT = 'CRITICAL - connect refused & "quoted" <tag> = ünïcode';

test('a hard CRITICAL is delivered by e-mail (STARTTLS, AUTH), webhook, SMS template and command', { timeout: 60_000 }, async (t) => {
  const smtp = await startSmtp(t);
  const web = await startReceiver(t);
  const dir = await mkdtemp(join(tmpdir(), 'pal-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const outFile = join(dir, 'cmd.out');
  const script = `require('node:fs').writeFileSync(process.argv[1], JSON.stringify({ argv: process.argv.slice(2), state: process.env.PALISADE_STATE, number: process.env.PALISADE_NUMBER }))`;

  const cfg = monitorSchema.parse({
    timezone: 'UTC',
    channels: {
      email: { host: '127.0.0.1', port: smtp.port, security: 'starttls', verify_certificate: false, user: 'palisade', password: 's3cret', from: 'Palisade <palisade@example.com>' },
      sms: { url: `${web.url}/sms?key={{contact}}`, content_type: 'form', body: 'to={{to}}&text={{message}}&host={{host}}' },
    },
    contacts: {
      alice: { email: 'alice@example.com', sms: '+15550001111' },
      bob: { email: 'bob@example.com', webhook: `${web.url}/hook`, command: [process.execPath, '-e', script, outFile, '{{host}}/{{service}}', '{{output}}'] },
    },
    contact_groups: { admins: ['alice', 'bob'] },
    hosts: { web1: { address: '127.0.0.1', services: { http: { check: { builtin: 'tcp', port: 80 }, contact_groups: ['admins'] } } } },
  });
  const clock = { t: Date.UTC(2026, 0, 5, 10, 0), now() { return this.t; } };
  const eng = new MonitorEngine(cfg, clock);
  const outcomes: DeliveryOutcome[] = [];
  const notifier = new Notifier(cfg, silentLogger(), { onOutcome: (o) => outcomes.push(o) });
  t.after(() => notifier.close());

  for (let i = 0; i < 3; i++) {
    notifier.fromEngine(eng.serviceResult('web1', 'http', { state: 'CRITICAL', summary: OUTPUT }));
    clock.t += 60_000;
  }
  await waitFor(() => outcomes.length === 5, 30_000, 'five deliveries (2 mails, 1 SMS, 1 webhook, 1 command)');
  assert.deepEqual(outcomes.filter((o) => !o.ok), [], 'every delivery succeeded');
  assert.deepEqual(outcomes.map((o) => `${o.contact}:${o.channel}`).toSorted(), ['alice:email', 'alice:sms', 'bob:command', 'bob:email', 'bob:webhook']);

  // E-mail: one message per contact, over STARTTLS, authenticated, with the Nagios-style subject.
  assert.equal(smtp.mails.length, 2);
  for (const m of smtp.mails) {
    assert.equal(m.from, 'palisade@example.com');
    assert.equal(m.user, 'palisade');
    assert.equal(m.secure, true, 'upgraded with STARTTLS');
  }
  assert.deepEqual(smtp.mails.flatMap((m) => m.to).toSorted(), ['alice@example.com', 'bob@example.com']);
  const mail = smtp.mails[0]!.data;
  assert.match(mail, /^Subject: \*\* PROBLEM Service Alert: web1\/http is CRITICAL \*\*$/m);
  const body = mail.replace(/=\r?\n/g, '');
  assert.match(body, /Notification type: PROBLEM/);
  assert.match(body, /Service: http/);
  assert.match(body, /Notification number: 1/);

  // SMS: form-encoded so that '&' and '=' in the output cannot add fields.
  const sms = web.hits.find((h) => h.path.startsWith('/sms'))!;
  assert.equal(sms.path, '/sms?key=alice');
  assert.equal(sms.type, 'application/x-www-form-urlencoded');
  const form = new URLSearchParams(sms.body);
  assert.deepEqual([...form.keys()], ['to', 'text', 'host']);
  assert.equal(form.get('to'), '+15550001111');
  assert.equal(form.get('text'), `PROBLEM web1/http CRITICAL: ${OUTPUT}`);
  assert.equal(form.get('host'), 'web1');

  // Webhook: JSON.
  const hook = web.hits.find((h) => h.path === '/hook')!;
  assert.equal(hook.type, 'application/json');
  const j = JSON.parse(hook.body) as Record<string, unknown>;
  assert.deepEqual([j.type, j.host, j.service, j.state, j.output, j.number, j.contact], ['PROBLEM', 'web1', 'http', 'CRITICAL', OUTPUT, 1, 'bob']);

  // Command: arguments filled in, no shell, environment variables set.
  const cmd = JSON.parse(await readFile(outFile, 'utf8')) as { argv: string[]; state: string; number: string };
  assert.deepEqual(cmd, { argv: ['web1/http', OUTPUT], state: 'CRITICAL', number: '1' });
});

test('SMS templates escape for JSON and XML bodies', { timeout: 30_000 }, async (t) => {
  const web = await startReceiver(t);
  for (const [type, body] of [
    ['json', '{"to":"{{to}}","text":"{{output}}"}'],
    ['xml', '<sms><to>{{to}}</to><text>{{output}}</text></sms>'],
  ] as const) {
    const cfg = monitorSchema.parse({ channels: { sms: { url: `${web.url}/${type}`, content_type: type, body } }, contacts: { a: { sms: '+15550002222' } }, palisade_events: { contacts: ['a'] } });
    const outcomes: DeliveryOutcome[] = [];
    const n = new Notifier(cfg, silentLogger(), { onOutcome: (o) => outcomes.push(o) });
    t.after(() => n.close());
    n.palisadeEvent({ kind: 'backend', subject: 'www/10.0.0.11:80', state: 'DOWN', message: OUTPUT, time: Date.now() });
    await waitFor(() => outcomes.length === 1, 10_000, `${type} delivery`);
  }
  const [json, xml] = web.hits;
  assert.equal(json!.type, 'application/json');
  assert.deepEqual(JSON.parse(json!.body), { to: '+15550002222', text: OUTPUT });
  assert.equal(xml!.type, 'application/xml');
  assert.equal(xml!.body, '<sms><to>+15550002222</to><text>CRITICAL - connect refused &amp; &quot;quoted&quot; &lt;tag&gt; = ünïcode</text></sms>');
});

test('a failing receiver is retried with exponential backoff, then delivered; one that keeps failing is given up', { timeout: 60_000 }, async (t) => {
  const web = await startReceiver(t, (hit, n) => (hit.path === '/flaky' && n <= 2 ? 503 : hit.path === '/dead' ? 500 : 200));
  const cfg = monitorSchema.parse({
    contacts: { ops: { webhook: `${web.url}/flaky` }, gone: { webhook: `${web.url}/dead` } },
    palisade_events: { contacts: ['ops'], kinds: ['vrrp', 'quorum'] },
    delivery: { attempts: 3, backoff: '200ms', max_backoff: '5s' },
  });
  const outcomes: DeliveryOutcome[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const n = new Notifier(cfg, logger, { onOutcome: (o) => outcomes.push(o) });
  t.after(() => n.close());
  const t0 = performance.now();
  n.palisadeEvent({ kind: 'vrrp', subject: 'VI_1', state: 'MASTER', message: 'd2 took the VIP 192.0.2.10', time: Date.now() });
  n.palisadeEvent({ kind: 'health', subject: 'www', state: 'DOWN', message: 'not in kinds: not sent', time: Date.now() });
  // The queue returns at once: delivery happens in the background.
  assert.ok(performance.now() - t0 < 50, 'enqueue does not wait for delivery');
  await waitFor(() => outcomes.length === 1, 20_000, 'delivery after retries');
  assert.deepEqual([outcomes[0]!.ok, outcomes[0]!.attempts], [true, 3]);
  const flaky = web.hits.filter((h) => h.path === '/flaky');
  assert.equal(flaky.length, 3);
  // Waits of at least 200 ms then 400 ms between the tries (lower bounds only: the machine may be slow).
  assert.ok(flaky[1]!.at - flaky[0]!.at >= 190, `first retry after ${flaky[1]!.at - flaky[0]!.at} ms`);
  assert.ok(flaky[2]!.at - flaky[1]!.at >= 390, `second retry after ${flaky[2]!.at - flaky[1]!.at} ms`);
  const ev = JSON.parse(flaky[2]!.body) as Record<string, unknown>;
  assert.deepEqual([ev.type, ev.host, ev.service, ev.state, ev.output], ['EVENT', 'VI_1', 'vrrp', 'MASTER', 'd2 took the VIP 192.0.2.10']);

  n.queue.enqueue({ type: 'EVENT', host: 'q', service: 'quorum', state: 'LOST', output: 'quorum lost', number: 0, time: Date.now() }, ['gone']);
  await waitFor(() => outcomes.length === 2, 20_000, 'given up');
  assert.deepEqual([outcomes[1]!.ok, outcomes[1]!.attempts, outcomes[1]!.error], [false, 3, 'HTTP 500 from ' + new URL(web.url).host + ': try later']);

  // What the log says: each failure with its retry delay, the delivery, and the final give-up.
  assert.deepEqual(logs.map(logLine), [
    'notification delivery failed; will retry ops webhook attempt=1 retry_in_ms=200',
    'notification delivery failed; will retry ops webhook attempt=2 retry_in_ms=400',
    'notification delivered ops webhook attempt=3',
    'notification delivery failed; will retry gone webhook attempt=1 retry_in_ms=200',
    'notification delivery failed; will retry gone webhook attempt=2 retry_in_ms=400',
    'notification delivery failed; giving up gone webhook attempt=3',
  ]);
  assert.equal(logs.at(-1)!.level, 50, 'giving up is an error');
});

test('a command that hangs is killed at its timeout and counted as a failed delivery', { timeout: 30_000 }, async (t) => {
  const cfg = monitorSchema.parse({
    contacts: { c: { command: ['/bin/sleep', '30'] } },
    channels: { command: { timeout: '300ms' } },
    palisade_events: { contacts: ['c'] },
    delivery: { attempts: 1 },
  });
  const outcomes: DeliveryOutcome[] = [];
  const n = new Notifier(cfg, silentLogger(), { onOutcome: (o) => outcomes.push(o) });
  t.after(() => n.close());
  n.palisadeEvent({ kind: 'quorum', subject: 'www', state: 'LOST', message: 'no backend up', time: Date.now() });
  await waitFor(() => outcomes.length === 1, 10_000, 'the command outcome');
  assert.equal(outcomes[0]!.ok, false);
  assert.match(outcomes[0]!.error ?? '', /timed out after 300 ms/);
});
