/**
 * Palisade and keepalived in one VRRP group (VRID 51), each a director in its own
 * network namespace of a private lab bridge, with VRRPv3 and VRRPv2: the right one
 * holds the VIP; a graceful stop and a crash (link down + SIGKILL) of either hands
 * the VIP to the other; preemption works both ways; keepalived finds nothing wrong
 * with our adverts. Needs root, keepalived and the raw-socket addon.
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

type Version = 2 | 3;

function keepalived(vip: string, priority: number, advert = '1', version: Version = 3): LabProcess {
  const dir = mkdtempSync(join(tmpdir(), 'pal-keepalived-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(
    conf,
    `global_defs {
  router_id pal_ka
  vrrp_version ${version}
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

function palisade(vip: string, priority: number, advert = '1s', version: Version = 3): LabProcess {
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
      version: ${version}
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

for (const v of [3, 2] as const) {
  test(`VRRPv${v}: Palisade MASTER (150) with keepalived BACKUP (100): keepalived accepts our adverts; a graceful stop hands it the VIP`, async (t) => {
    const vip = lab.address(v === 3 ? 100 : 110);
    const ka = keepalived(vip, 100, '1', v);
    t.after(() => ka.stop(5000));
    const pal = palisade(vip, 150, '1s', v);
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

  test(`VRRPv${v}: keepalived MASTER (150) with Palisade BACKUP (100): Palisade stays backup, then takes the VIP when keepalived stops`, async (t) => {
    const vip = lab.address(v === 3 ? 101 : 111);
    const ka = keepalived(vip, 150, '1', v);
    t.after(() => ka.stop(5000));
    await ka.waitForLine(/\(VI_51\) Entering MASTER STATE/, 15_000);
    const pal = palisade(vip, 100, '1s', v);
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
}

/** A crash: the link goes first, so that nothing (not the priority-0 advert a dying VRRP process may still send) reaches the LAN; then SIGKILL to every process of that host. */
async function crash(host: 'pal' | 'ka'): Promise<void> {
  await lab.exec(host, ['ip', 'link', 'set', 'eth0', 'down']);
  for (const pid of lab.pidsIn(host)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

const crashes = [
  { v: 3, advertKa: '1', advertPal: '1s', limit: 4_500, vip: 102 },
  { v: 3, advertKa: '0.1', advertPal: '100ms', limit: 500, vip: 103 },
  { v: 2, advertKa: '1', advertPal: '1s', limit: 4_500, vip: 112 },
] as const;

for (const c of crashes) {
  const interval = c.advertPal === '1s' ? '3609' : '361';
  test(`VRRPv${c.v}, advert ${c.advertPal}: crash of keepalived MASTER (link down + SIGKILL); Palisade BACKUP takes the VIP after the master down interval`, async (t) => {
    const vip = lab.address(c.vip);
    const ka = keepalived(vip, 150, c.advertKa, c.v);
    t.after(() => ka.stop(5000));
    await ka.waitForLine(/\(VI_51\) Entering MASTER STATE/, 15_000);
    const pal = palisade(vip, 100, c.advertPal, c.v);
    t.after(() => pal.stop(5000));
    await pal.waitForLine(/INIT -> BACKUP/, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(await holds('pal', vip), false);
    const t0 = performance.now();
    await crash('ka');
    await waitHolds('pal', vip, true, 10_000);
    const took = performance.now() - t0;
    t.diagnostic(`crash of keepalived, VRRPv${c.v}, advert ${c.advertPal}: Palisade held the VIP after ${took.toFixed(0)} ms (master down interval at priority 100: ${interval} ms, less the time since the last advert)`);
    assert.ok(took < c.limit, `took ${took.toFixed(0)} ms`);
    await lab.exec('ka', ['ip', 'link', 'set', 'eth0', 'up']);
  });

  test(`VRRPv${c.v}, advert ${c.advertPal}: crash of Palisade MASTER (link down + SIGKILL); keepalived BACKUP takes the VIP after the master down interval`, async (t) => {
    const vip = lab.address(c.vip + 20);
    const pal = palisade(vip, 150, c.advertPal, c.v);
    t.after(() => pal.stop(5000));
    await waitHolds('pal', vip, true, 10_000);
    const ka = keepalived(vip, 100, c.advertKa, c.v);
    t.after(() => ka.stop(5000));
    await ka.waitForLine(/\(VI_51\) Entering BACKUP STATE/, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(await holds('ka', vip), false, 'keepalived stays backup');
    const t0 = performance.now();
    await crash('pal');
    await waitHolds('ka', vip, true, 10_000);
    const took = performance.now() - t0;
    t.diagnostic(`crash of Palisade, VRRPv${c.v}, advert ${c.advertPal}: keepalived held the VIP after ${took.toFixed(0)} ms (master down interval at priority 100: ${interval} ms)`);
    assert.ok(took < c.limit, `took ${took.toFixed(0)} ms`);
    assert.doesNotMatch(ka.output(), /Invalid checksum|ip ttl|invalid|bad /i);
    await lab.exec('pal', ['ip', 'link', 'set', 'eth0', 'up']);
    await lab.exec('pal', ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], { allowFail: true });
  });
}

for (const v of [3, 2] as const) {
  test(`VRRPv${v}: preemption both ways — Palisade (150) takes the VIP from keepalived (100), keepalived (200) takes it from Palisade`, async (t) => {
    const vip = lab.address(v === 3 ? 104 : 114);
    const ka = keepalived(vip, 100, '1', v);
    t.after(() => ka.stop(5000));
    await ka.waitForLine(/\(VI_51\) Entering MASTER STATE/, 15_000);
    const pal = palisade(vip, 150, '1s', v);
    t.after(() => pal.stop(5000));
    const took = await waitHolds('pal', vip, true, 10_000);
    await ka.waitForLine(/\(VI_51\) Entering BACKUP STATE/, 5_000);
    await waitHolds('ka', vip, false, 3_000);
    t.diagnostic(`VRRPv${v}: Palisade (150) preempted keepalived (100) ${took.toFixed(0)} ms after it started`);
    await ka.stop(5000);
    const ka2 = keepalived(vip, 200, '1', v);
    t.after(() => ka2.stop(5000));
    const back = await waitHolds('ka', vip, true, 10_000);
    await pal.waitForLine(/MASTER -> BACKUP/, 5_000);
    await waitHolds('pal', vip, false, 3_000);
    t.diagnostic(`VRRPv${v}: keepalived (200) preempted Palisade (150) ${back.toFixed(0)} ms after it started`);
    assert.doesNotMatch(ka2.output(), /Invalid checksum|ip ttl|invalid|bad /i);
  });
}
