/** The scheduler, persistence and sticky schemas (src/config/scheduler-schema.ts), through the real loader where wired. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClusterText } from '../config/load.ts';
import { persistenceSchema, SCHEDULER_DEFAULTS, SCHEDULER_NAMES, schedulerSchema, stickySchema } from '../config/scheduler-schema.ts';
import { refusedProblems } from '../config/testing.ts';

function cluster(scheduler: string): string {
  return `services:\n  www:\n    listen: 8080\n    scheduler: ${scheduler}\n    backends: [127.0.0.1:9001, 127.0.0.1:9002]\n`;
}

function problems(scheduler: string): { line: number; column: number; path: string; message: string }[] {
  return refusedProblems(cluster(scheduler));
}

describe('scheduler schema', () => {
  it('accepts every name, bare or as { name }, and fills the defaults', () => {
    for (const name of SCHEDULER_NAMES) {
      const opts = name === 'hash' ? ', key: $request_uri' : '';
      const cfg = parseClusterText(cluster(`{ name: ${name}${opts} }`), 'x.yaml').config.services.www!.scheduler;
      assert.equal(cfg.name, name);
      assert.equal(cfg.table_size, SCHEDULER_DEFAULTS.table_size);
      if (name !== 'hash') assert.equal(parseClusterText(cluster(name), 'x.yaml').config.services.www!.scheduler.name, name);
    }
  });

  it('defaults to swrr', () => {
    assert.deepEqual(schedulerSchema.parse(undefined), { name: 'swrr', ...SCHEDULER_DEFAULTS });
  });

  it('converts durations to ms', () => {
    const cfg = schedulerSchema.parse({ name: 'lblcr', lblc_expire: '6m', lblc_max_entries: 1000 });
    assert.equal(cfg.lblc_expire, 360_000);
    assert.equal(schedulerSchema.parse({ name: 'ewma', decay: '500ms' }).decay, 500);
  });

  const bad: [string, string, RegExp][] = [
    ['nope', 'services.www.scheduler', /expected a scheduler name \(rr, wrr, /],
    ['{ name: nope }', 'services.www.scheduler.name', /expected one of "rr", "wrr"/],
    ['hash', 'services.www.scheduler.key', /hash needs a key spec/],
    ['{ name: rr, key: $uri }', 'services.www.scheduler.key', /key applies only to scheduler hash, not rr/],
    ['{ name: wlc, table_size: 251 }', 'services.www.scheduler.table_size', /applies only to scheduler mh/],
    ['{ name: mh, table_size: 65536 }', 'services.www.scheduler.table_size', /prime table size.*nearest primes: 65521 and 65537/],
    ['{ name: mh, table_size: 2000003 }', 'services.www.scheduler.table_size', /prime table size from 3 to 1048573/],
    ['{ name: hash, key: $bogus }', 'services.www.scheduler.key', /unknown variable \$bogus/],
    ['{ name: hash, key: $uri, hash_balance_factor: 125 }', 'services.www.scheduler.hash_balance_factor', /needs consistent: true/],
    ['{ name: hash, key: $uri, consistent: true, hash_balance_factor: 50 }', 'services.www.scheduler.hash_balance_factor', /at least 100/],
    ['{ name: sh, colour: red }', 'services.www.scheduler.colour', /unknown key "colour"/],
    ['{ name: ewma, decay: fast }', 'services.www.scheduler.decay', /expected a duration/],
    ['{ name: lblc, lblc_expire: 0 }', 'services.www.scheduler.lblc_expire', /above 0/],
    ['{ name: least_request, choices: 1 }', 'services.www.scheduler.choices', /from 2 to 16/],
    ['{ name: sh, sh_port: yes please }', 'services.www.scheduler.sh_port', /true or false/],
  ];
  for (const [text, path, re] of bad) {
    it(`rejects ${text} at ${path}`, () => {
      const ps = problems(text);
      const p = ps.find((x) => x.path === path);
      assert.ok(p, `no problem at ${path}: ${JSON.stringify(ps)}`);
      assert.match(p.message, re);
      assert.equal(p.line, 4);
    });
  }
});

describe('persistence schema', () => {
  it('has LVS defaults', () => {
    assert.deepEqual(persistenceSchema.parse({}), { timeout: 300_000, granularity: '255.255.255.255', granularity_v6: 128, max_entries: 65536 });
  });
  it('takes a netmask or a prefix length, and gives a netmask', () => {
    assert.equal(persistenceSchema.parse({ granularity: '255.255.255.0' }).granularity, '255.255.255.0');
    assert.equal(persistenceSchema.parse({ granularity: 16 }).granularity, '255.255.0.0');
    assert.equal(persistenceSchema.parse({ granularity: '/20' }).granularity, '255.255.240.0');
    assert.equal(persistenceSchema.parse({ timeout: '120s' }).timeout, 120_000);
  });
  it('rejects non-contiguous masks, unknown keys and zero timeouts', () => {
    for (const bad of [{ granularity: '255.0.255.0' }, { granularity: 33 }, { colour: 1 }, { timeout: 0 }, { max_entries: 0 }, { granularity_v6: 129 }]) {
      assert.equal(persistenceSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

describe('sticky schema', () => {
  it('needs a cookie name, has defaults', () => {
    assert.deepEqual(stickySchema.parse({ cookie: 'srv' }), { cookie: 'srv', path: '/', http_only: true, secure: false, same_site: 'lax' });
    assert.equal(stickySchema.parse({ cookie: 'srv', expires: '1h' }).expires, 3_600_000);
  });
  it('rejects bad names, short secrets, SameSite=None without Secure', () => {
    for (const bad of [{}, { cookie: 'a b' }, { cookie: 'srv', secret: 'short' }, { cookie: 'srv', same_site: 'none' }, { cookie: 'srv', extra: 1 }]) {
      assert.equal(stickySchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.equal(stickySchema.safeParse({ cookie: 'srv', same_site: 'none', secure: true }).success, true);
  });
});
