/**
 * A webhook receiver on 127.0.0.1 for notification tests: every JSON body POSTed to it
 * is kept, in order. Closed after the test.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** The JSON body of a Palisade webhook notification (docs/monitoring.md). */
export interface Hook {
  type: string;
  host: string;
  service: string | null;
  state: string;
  output: string;
}

export async function webhookReceiver(t: TestContext): Promise<{ url: string; got: Hook[] }> {
  const got: Hook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      got.push(JSON.parse(body) as Hook);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}
