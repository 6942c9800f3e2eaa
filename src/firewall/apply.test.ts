/**
 * The apply / confirm / rollback flow against a stand-in nft that keeps one table's
 * text (the real nft is exercised in test/system/firewall.test.ts), and the
 * confirmation socket for real.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyWithRollback, RollbackError } from './apply.ts';
import type { ConfirmOutcome } from './apply.ts';
import { listenForConfirm, sendConfirm } from './confirm.ts';
import { Nft, NftError, nftRunner, parseCounters } from './nft.ts';
import type { NftRunner } from './nft.ts';

/** nft as far as the flow sees it: `-f -` replaces the table with what follows the delete; `list table` prints it. */
function standIn(initial: string | undefined, failOn?: (args: readonly string[], input: string) => boolean) {
  const state = { table: initial, calls: [] as string[] };
  const run: NftRunner = async (args, input = '') => {
    state.calls.push(args.join(' '));
    if (failOn?.(args, input)) throw new NftError('refused', `nft ${args.join(' ')} failed: Error: syntax error`, 'Error: syntax error');
    if (args[0] === 'list') {
      if (state.table === undefined) throw new NftError('refused', 'no table', 'Error: No such file or directory');
      return { stdout: state.table, stderr: '' };
    }
    if (args.join(' ') === '-f -') {
      const rest = input.split('delete table inet palisade\n')[1] ?? '';
      state.table = rest.trim() === '' ? undefined : rest;
    }
    return { stdout: '', stderr: '' };
  };
  return { state, nft: new Nft(run) };
}

const NEW = 'table inet palisade {}\ndelete table inet palisade\ntable inet palisade { # new\n}\n';
const OLD = 'table inet palisade { # old\n}\n';

const cases: { name: string; before: string | undefined; outcome: ConfirmOutcome; after: string | undefined; kept: boolean }[] = [
  { name: 'confirmed: the new table stays', before: OLD, outcome: 'confirmed', after: 'table inet palisade { # new\n}\n', kept: true },
  { name: 'timeout: the previous table comes back', before: OLD, outcome: 'timeout', after: OLD, kept: false },
  { name: 'aborted (signal, lost session): the previous table comes back', before: OLD, outcome: 'aborted', after: OLD, kept: false },
  { name: 'timeout with no table before: ours is removed', before: undefined, outcome: 'timeout', after: undefined, kept: false },
  { name: 'confirmed with no table before', before: undefined, outcome: 'confirmed', after: 'table inet palisade { # new\n}\n', kept: true },
];

for (const c of cases) {
  test(`apply: ${c.name}`, async () => {
    const { state, nft } = standIn(c.before);
    let loadedWhenAsked: string | undefined;
    const r = await applyWithRollback({
      nft,
      text: NEW,
      timeoutMs: 1000,
      confirm: async () => {
        loadedWhenAsked = state.table;
        return c.outcome;
      },
    });
    assert.equal(loadedWhenAsked, 'table inet palisade { # new\n}\n', 'the new ruleset is in place while waiting');
    assert.equal(r.kept, c.kept);
    assert.equal(r.hadTable, c.before !== undefined);
    assert.equal(state.table, c.after);
    assert.deepEqual(state.calls.slice(0, 3), ['-c -f -', 'list table inet palisade', '-f -'], 'check, save, then load');
  });
}

test('apply: a ruleset nft refuses changes nothing (checked before anything is saved or loaded)', async () => {
  const { state, nft } = standIn(OLD, (args) => args[0] === '-c');
  await assert.rejects(applyWithRollback({ nft, text: NEW, timeoutMs: 1000, confirm: async () => 'confirmed' }), /syntax error/);
  assert.equal(state.table, OLD);
  assert.deepEqual(state.calls, ['-c -f -']);
});

test('apply: a failed rollback says so and how to remove the table', async () => {
  let loads = 0;
  const { nft } = standIn(OLD, (args) => args.join(' ') === '-f -' && ++loads === 2);
  await assert.rejects(applyWithRollback({ nft, text: NEW, timeoutMs: 1000, confirm: async () => 'timeout' }), (err: unknown) => err instanceof RollbackError && /rollback failed.*palisade firewall remove/.test(err.message));
});

test('confirm socket: confirm reaches the waiting apply; a second apply is refused; no apply waiting is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pal-fw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'c.sock');
  await assert.rejects(sendConfirm(path), /no `palisade firewall apply` is waiting/);
  const l = await listenForConfirm(path);
  await assert.rejects(listenForConfirm(path), /another `palisade firewall apply` is waiting/);
  await sendConfirm(path);
  assert.equal(await l.confirmed, true);
  await l.close();
  await assert.rejects(sendConfirm(path), /no `palisade firewall apply` is waiting/);
});

test('nft missing: the error names the program and the Debian package', async () => {
  const run = nftRunner({ program: '/nonexistent/nft' });
  await assert.rejects(run(['list', 'ruleset']), (err: unknown) => err instanceof NftError && err.failure === 'missing' && /nftables/.test(err.message));
});

test('named counters are read from nft -j output, ours only', () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { counter: { family: 'inet', name: 'scan_null', table: 'palisade', handle: 1, packets: 3, bytes: 120 } },
      { counter: { family: 'inet', name: 'x', table: 'other', handle: 1, packets: 9, bytes: 9 } },
    ],
  });
  assert.deepEqual([...parseCounters(json)], [['scan_null', { packets: 3, bytes: 120 }]]);
});

test('no CAP_NET_ADMIN: the error says the capability is missing (real nft run as nobody)', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run nft as another user (setpriv)');
  const dir = mkdtempSync(join(tmpdir(), 'pal-fw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'nft');
  writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all nft "$@"\n`, { mode: 0o755 });
  const nft = new Nft(nftRunner({ program: wrapper }));
  await assert.rejects(nft.listTable(), (err: unknown) => err instanceof NftError && err.failure === 'permission' && /needs CAP_NET_ADMIN/.test(err.message));
});
