/**
 * Palisade and keepalived in one VRRP group (VRRPv3, VRID 51, advert 1 s), each a
 * director in its own network namespace of a private lab bridge: the right one
 * holds the VIP, and a graceful stop of either hands the VIP to the other.
 * Needs root, keepalived and the raw-socket addon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAddon } from '../../src/ha/vrrp/raw.ts';
import { createLab, repoRoot, requireSystemHost } from './lab.ts';
import type { Lab, LabProcess } from './lab.ts';

let lab: Lab;
const MAIN = join(repoRoot, 'src', 'cli', 'main.ts');

before(async () => {
  requireSystemHost(['keepalived', 'arping']);
  loadAddon();
  lab = await createLab(undefined, { hosts: ['pal', 'ka'], net: 7 });
});
after(() => lab?.cleanup());

function keepalived(vip: string, priority: number, advert = '1'): LabProcess {
  const dir = mkdtempSync(join(tmpdir(), 'pal-keepalived-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(
    conf,
    `global_defs {
  router_id pal_ka
  vrrp_version 3
}
vrrp_instance VI_51 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int ${advert}
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
}
`,
  );
  return lab.spawn('ka', ['keepalived', '--dont-fork', '--log-console', '--log-detail', '--vrrp', '--use-file', conf, '--pid', join(dir, 'k.pid'), '--vrrp_pid', join(dir, 'v.pid'), '--checkers_pid', join(dir, 'c.pid')]);
}

function palisade(vip: string, priority: number, advert = '1s'): LabProcess {
  const dir = mkdtempSync(join(tmpdir(), 'pal-director-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(
    file,
    `runtime_dir: ${dir}
log: { level: info, format: json }
nodes:
  pal: { address: ${lab.host('pal').address} }
vrrp:
  instances:
    VI_51:
      vrid: 51
      version: 3
      interface: eth0
      advert_interval: ${advert}
      virtual_ipaddress: [${vip}/24]
      members: { pal: ${priority} }
`,
  );
  return lab.spawn('pal', [process.execPath, MAIN, 'run', '-c', file, '--node', 'pal']);
}

async function holds(host: string, vip: string): Promise<boolean> {
  const links = await lab.ipJson<{ addr_info: { local: string }[] }[]>(host, ['addr', 'show', 'dev', 'eth0']);
  return links[0]!.addr_info.some((a) => a.local === vip);
}

async function waitHolds(host: string, vip: string, want: boolean, ms: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if ((await holds(host, vip)) === want) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${host} ${want ? 'never took' : 'kept'} ${vip} within ${ms} ms`);
}

test('Palisade MASTER (150) with keepalived BACKUP (100): keepalived accepts our adverts; a graceful stop hands it the VIP', async (t) => {
  const vip = lab.address(100);
  const ka = keepalived(vip, 100);
  t.after(() => ka.stop(5000));
  const pal = palisade(vip, 150);
  t.after(() => pal.stop(5000));
  await waitHolds('pal', vip, true, 10_000);
  await ka.waitForLine(/\(VI_51\) Entering BACKUP STATE/, 10_000);
  await new Promise((r) => setTimeout(r, 3_000)); // three more adverts: keepalived must stay BACKUP
  assert.equal(await holds('ka', vip), false, 'keepalived stays backup while our adverts arrive');
  assert.doesNotMatch(ka.output(), /Invalid checksum|ip ttl|invalid|bad /i, 'keepalived found nothing wrong with our adverts');
  const stopping = pal.stop(5000); // SIGTERM: priority 0, VIP removed
  const took = await waitHolds('ka', vip, true, 5_000);
  t.diagnostic(`keepalived took the VIP ${took.toFixed(0)} ms after Palisade got SIGTERM (skew time at priority 100: 609 ms; master down would be 3609 ms)`);
  assert.ok(took < 2_000, 'keepalived took over on our priority-0 advert, not after the master down interval');
  await stopping;
  assert.equal(await holds('pal', vip), false, 'Palisade removed its VIP');
  assert.match(ka.output(), /priority 0|Entering MASTER STATE/);
});

test('keepalived MASTER (150) with Palisade BACKUP (100): Palisade stays backup, then takes the VIP when keepalived stops', async (t) => {
  const vip = lab.address(101);
  const ka = keepalived(vip, 150);
  t.after(() => ka.stop(5000));
  await ka.waitForLine(/\(VI_51\) Entering MASTER STATE/, 15_000);
  const pal = palisade(vip, 100);
  t.after(() => pal.stop(5000));
  await pal.waitForLine(/INIT -> BACKUP/, 10_000);
  await new Promise((r) => setTimeout(r, 3_500)); // longer than Palisade's master down interval
  assert.equal(await holds('pal', vip), false, 'Palisade stays backup while keepalived advertises');
  assert.doesNotMatch(pal.output(), /BACKUP -> MASTER/);
  const stopping = ka.stop(5000); // SIGTERM: keepalived sends priority 0
  const took = await waitHolds('pal', vip, true, 5_000);
  t.diagnostic(`Palisade took the VIP ${took.toFixed(0)} ms after keepalived got SIGTERM (skew time at priority 100: 609 ms; master down would be 3609 ms)`);
  assert.ok(took < 2_000, 'Palisade took over on keepalived\'s priority-0 advert');
  await stopping;
  assert.match(pal.output(), /BACKUP -> MASTER/);
});

for (const [advertKa, advertPal, limit] of [['1', '1s', 4_500], ['0.1', '100ms', 500]] as const) {
  test(`crash of keepalived MASTER (SIGKILL and link down), advert ${advertPal}: Palisade BACKUP takes the VIP after the master down interval`, async (t) => {
    const vip = lab.address(advertPal === '1s' ? 102 : 103);
    const ka = keepalived(vip, 150, advertKa);
    t.after(() => ka.stop(5000));
    await ka.waitForLine(/\(VI_51\) Entering MASTER STATE/, 15_000);
    const pal = palisade(vip, 100, advertPal);
    t.after(() => pal.stop(5000));
    await pal.waitForLine(/INIT -> BACKUP/, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(await holds('pal', vip), false);
    // A crash: the link goes first, so that nothing (not the priority-0 advert that
    // keepalived's VRRP child sends when its parent dies) reaches the LAN; then SIGKILL.
    const t0 = performance.now();
    await lab.exec('ka', ['ip', 'link', 'set', 'eth0', 'down']);
    process.kill(ka.pid, 'SIGKILL');
    await waitHolds('pal', vip, true, 10_000);
    const took = performance.now() - t0;
    t.diagnostic(`crash, advert ${advertPal}: Palisade held the VIP ${took.toFixed(0)} ms after keepalived was killed (master down interval at priority 100: ${advertPal === '1s' ? '3609' : '361'} ms, less the time since the last advert)`);
    assert.ok(took < limit, `took ${took.toFixed(0)} ms`);
    await lab.exec('ka', ['ip', 'link', 'set', 'eth0', 'up']);
  });
}
