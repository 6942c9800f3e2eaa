/** `palisade demo` as a new user meets it: it answers, survives a web server and a director dying. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDemo } from '../../src/lab/demo.ts';
import { waitFor } from '../helpers/http.ts';

test('the demo serves on its printed URL, and keeps serving when web2 and the master director are killed', async (t) => {
  let printed = '';
  const demo = await runDemo({ port: 0, interactive: false, out: (s) => (printed += s) });
  t.after(() => demo.stop());
  assert.match(printed, new RegExp(`Open ${demo.url.replace(/[.]/g, '\\.')} in a browser`));
  const servers = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const r = await fetch(`${demo.url}api`);
    assert.equal(r.status, 200);
    servers.add(((await r.json()) as { server: string }).server);
  }
  assert.deepEqual([...servers].toSorted(), ['web1', 'web2', 'web3']);
  // The printed commands work: kill web2, then the master director.
  const web2 = /kill (\d+) +\(web2/.exec(printed)?.[1];
  const d1 = /kill (\d+) +\(d1/.exec(printed)?.[1];
  assert.ok(web2 && d1, 'the kill commands are printed');
  process.kill(Number(web2), 'SIGKILL');
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${demo.url}api`);
    assert.equal(r.status, 200, 'no error after web2 died');
    assert.notEqual(((await r.json()) as { server: string }).server, 'web2');
  }
  process.kill(Number(d1), 'SIGKILL');
  await waitFor(async () => {
    try {
      return (await fetch(`${demo.url}api`, { signal: AbortSignal.timeout(500) })).status === 200;
    } catch {
      return false;
    }
  }, 5_000, 'the backup director serving the VIP');
});
