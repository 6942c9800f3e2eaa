import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ContactConfig } from '../../config/monitor-schema.ts';
import { silentLogger } from '../../core/logger.ts';
import type { Channel } from './channels/types.ts';
import type { Notice } from './notice.ts';
import { NotificationQueue, type DeliveryOutcome } from './queue.ts';

const contact: ContactConfig = { webhook: 'http://127.0.0.1:9/', service_notification_options: [], host_notification_options: [], notification_period: '24x7' };
const notice = (n: number): Notice => ({ type: 'PROBLEM', host: `h${n}`, service: 's', state: 'CRITICAL', output: '', number: 1, time: 0 });

test('a full queue drops its oldest job; concurrency is respected; nothing waits in enqueue', async () => {
  let inFlight = 0;
  let most = 0;
  const delivered: string[] = [];
  const release: Array<() => void> = [];
  const slow: Channel = {
    name: 'webhook',
    applies: () => true,
    deliver: (n) =>
      new Promise<void>((resolve) => {
        inFlight++;
        most = Math.max(most, inFlight);
        release.push(() => {
          inFlight--;
          delivered.push(n.host);
          resolve();
        });
      }),
  };
  const outcomes: DeliveryOutcome[] = [];
  const q = new NotificationQueue({ channels: [slow], contacts: { c: contact }, delivery: { attempts: 1, backoff: 10, max_backoff: 10, queue_size: 3, concurrency: 2 }, logger: silentLogger(), onOutcome: (o) => outcomes.push(o) });
  for (let i = 0; i < 7; i++) q.enqueue(notice(i), ['c']);
  // h0, h1 run; h2..h6 wait in a queue of 3: h2 and h3 are dropped.
  assert.equal(inFlight, 2);
  assert.deepEqual(outcomes.map((o) => `${o.notice.host}:${o.error}`), ['h2:queue full', 'h3:queue full']);
  while (release.length > 0 || q.size > 0) {
    release.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  await q.idle();
  assert.deepEqual(delivered, ['h0', 'h1', 'h4', 'h5', 'h6']);
  assert.equal(most, 2);
  q.close();
});
