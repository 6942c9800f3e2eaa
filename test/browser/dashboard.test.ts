/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core,
 * against `palisade demo` (two directors, three web servers, a monitor, all on
 * loopback). What an operator does: log in, see the cluster, watch a stopped server
 * turn down live, drain a backend and see (through the proxy) that it gets no more
 * traffic, acknowledge an alert, open a graph; and what others must not: a
 * read-only user draining, a request without the CSRF token.
 *
 * Screenshots go to test/browser/artifacts/ (not committed).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { runDemo, type Demo } from '../../src/lab/demo.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, 'artifacts');
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

let demo: Demo;
let browser: Browser;
let admin: Page;
let adminCtx: BrowserContext;

async function login(ctx: BrowserContext, user: string, password: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(demo.dashboard.url);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-live="true"]', { timeout: 15_000 });
  return page;
}

const backendState = (page: Page, name: string) => page.locator(`#services [data-backend="${name}"] td.state [data-state]`);

async function servedBy(n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${demo.url}api`, { signal: AbortSignal.timeout(5_000) });
    const body = (await r.json()) as { server: string };
    seen.set(body.server, (seen.get(body.server) ?? 0) + 1);
  }
  return seen;
}

describe('dashboard in chromium', { timeout: 240_000 }, () => {
  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`browser tests need Debian chromium at ${CHROMIUM}: apt-get install chromium (scripts/setup-test-host.sh)`);
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await runDemo({ port: 0, out: () => undefined, interactive: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    adminCtx = await browser.newContext({ viewport: LAPTOP });
  });
  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  test('an admin logs in and sees the demo cluster: directors, VRRP holder, services, backends', async () => {
    admin = await login(adminCtx, 'admin', demo.dashboard.users.admin);
    for (const n of ['d1', 'd2']) await admin.waitForSelector(`#cluster [data-node="${n}"]`);
    assert.equal((await admin.textContent('#cluster [data-vrrp="VI_1"] .holder'))?.trim(), 'd1');
    for (const w of ['web1', 'web2', 'web3']) {
      await backendState(admin, w).filter({ hasText: 'up' }).waitFor({ timeout: 15_000 });
    }
    // The page never shows a password hash or a token.
    const html = await admin.content();
    assert.doesNotMatch(html, /scrypt\$/);
    await admin.screenshot({ path: join(ARTIFACTS, 'overview-laptop.png'), fullPage: true });
  });

  test('a stopped demo server turns down on the page within seconds, without reload', async () => {
    const t0 = Date.now();
    demo.webs[1]!.child!.kill('SIGKILL');
    await backendState(admin, 'web2').filter({ hasText: 'down' }).waitFor({ timeout: 10_000 });
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(seconds < 10, `web2 shown down after ${seconds} s`);
    assert.match((await admin.textContent('#timeline')) ?? '', /web2|127\.0\.0\.1:\d+ of www: up -> down/);
  });

  test('draining a backend from the page stops its traffic through the proxy', async () => {
    const earlier = await servedBy(12);
    assert.ok((earlier.get('web3') ?? 0) > 0, `web3 served before the drain: ${JSON.stringify([...earlier])}`);
    await admin.click('#services [data-backend="web3"] button[data-action="drain"]');
    await backendState(admin, 'web3').filter({ hasText: 'drain' }).waitFor({ timeout: 5_000 });
    const afterDrain = await servedBy(20);
    assert.equal(afterDrain.get('web3') ?? 0, 0, `web3 still served after the drain: ${JSON.stringify([...afterDrain])}`);
    assert.ok((afterDrain.get('web1') ?? 0) === 20);
    // The audit log names who did it, in the timeline.
    await admin.locator('#timeline li.kind-audit', { hasText: 'backend drain www/' }).first().waitFor({ timeout: 5_000 });
    assert.match((await admin.textContent('#timeline li.kind-audit')) ?? '', /admin/);
    await admin.click('#services [data-backend="web3"] button[data-action="enable"]');
    await backendState(admin, 'web3').filter({ hasText: 'up' }).waitFor({ timeout: 5_000 });
  });

  test('an alert is acknowledged with a comment', async () => {
    const row = admin.locator('[data-check="demo-servers/web2-http"]');
    await row.locator('[data-state="CRITICAL"]').waitFor({ timeout: 30_000 });
    await row.locator('button[data-action="ack"]').click();
    await admin.fill('.modal input[name=comment]', 'web2 stopped on purpose by the test');
    await admin.click('.modal button[type=submit]');
    await row.locator('.flag.ack', { hasText: 'acknowledged by admin' }).waitFor({ timeout: 5_000 });
    await admin.locator('#timeline', { hasText: 'acknowledged by admin: web2 stopped on purpose' }).waitFor({ timeout: 5_000 });
  });

  test('the acknowledgement is removed from the page; flexible downtime starts on the failing check and is cancelled', async () => {
    const row = admin.locator('[data-check="demo-servers/web2-http"]');
    await row.locator('button[data-action="unack"]').click();
    await row.locator('.flag.ack').waitFor({ state: 'detached', timeout: 5_000 });
    await row.locator('button[data-action="ack"]').waitFor({ timeout: 5_000 });
    await admin.locator('#timeline', { hasText: 'acknowledgement of demo-servers/web2-http removed' }).waitFor({ timeout: 5_000 });
    await admin.locator('#timeline li.kind-audit', { hasText: 'remove acknowledgement demo-servers/web2-http' }).waitFor({ timeout: 5_000 });

    await row.locator('button[data-action="downtime"]').click();
    await admin.fill('.modal input[name=minutes]', '30');
    await admin.check('.modal input[name=flexible]');
    await admin.fill('.modal input[name=within]', '90');
    await admin.fill('.modal input[name=comment]', 'replacing web2');
    await admin.click('.modal button[type=submit]');
    // web2 is down: the flexible downtime starts at once.
    const flag = row.locator('.flag.downtime.running', { hasText: 'flexible running' });
    await flag.waitFor({ timeout: 5_000 });
    await row.locator('.flag', { hasText: 'in downtime' }).waitFor({ timeout: 5_000 });
    await admin.locator('.notice', { hasText: /flexible downtime #\d+ for demo-servers\/web2-http: 30 min from its first problem within 90 min \(a problem now: started\)/ }).waitFor({ timeout: 5_000 });
    await admin.screenshot({ path: join(ARTIFACTS, 'downtime-laptop.png'), fullPage: false });
    await flag.locator('button[data-action="cancel-downtime"]').click();
    await row.locator('.flag.downtime').waitFor({ state: 'detached', timeout: 5_000 });
    await row.locator('.flag', { hasText: 'in downtime' }).waitFor({ state: 'detached', timeout: 5_000 });
    await admin.locator('#timeline li.kind-audit', { hasText: 'cancel downtime demo-servers/web2-http' }).waitFor({ timeout: 5_000 });
  });

  test('a graph opens with data, warn/crit aware, min/avg/max', async () => {
    await admin.click('[data-check="demo-servers/web1-http"] button[data-action="graph"]');
    await admin.locator('#graph .plot canvas').waitFor({ timeout: 15_000 });
    const points = Number(await admin.getAttribute('#graph .plot', 'data-points'));
    assert.ok(points > 0, 'the graph has points');
    assert.match((await admin.textContent('#graph .stats')) ?? '', /min .* avg .* max/);
    await admin.screenshot({ path: join(ARTIFACTS, 'graph-laptop.png'), fullPage: true });
  });

  test('at a phone width the page fits the screen (tables scroll inside their cards)', async () => {
    const ctx = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
    const page = await login(ctx, 'admin', demo.dashboard.users.admin);
    await backendState(page, 'web1').first().waitFor();
    // Against the screen's width: in mobile emulation the layout viewport (innerWidth) grows with a too-wide page.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth) - PHONE.width;
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone screen`);
    await page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png'), fullPage: true });
    await ctx.close();
  });

  test('a read-only user sees no drain button and the API refuses the drain with 403', async () => {
    const ctx = await browser.newContext({ viewport: LAPTOP });
    const page = await login(ctx, 'viewer', demo.dashboard.users.viewer);
    await backendState(page, 'web1').first().waitFor();
    assert.equal(await page.locator('button[data-action="drain"]').count(), 0);
    assert.equal(await page.locator('button[data-action="ack"]').count(), 0);
    assert.equal(await page.locator('button[data-action="unack"], button[data-action="cancel-downtime"], button[data-action="downtime"]').count(), 0);
    const status = await page.evaluate(async () => {
      const s = (await (await fetch('/api/session')).json()) as { csrf: string };
      const r = await fetch('/api/backends/www/web1/drain', { method: 'POST', headers: { 'x-csrf-token': s.csrf } });
      return r.status;
    });
    assert.equal(status, 403);
    await ctx.close();
  });

  test('a state-changing request without the CSRF token is refused, and changes nothing', async () => {
    const r = await admin.evaluate(async () => {
      const res = await fetch('/api/backends/www/web1/maint', { method: 'POST' });
      return { status: res.status, body: (await res.json()) as { error: string } };
    });
    assert.equal(r.status, 403);
    assert.match(r.body.error, /CSRF/);
    const wrong = await admin.evaluate(async () => (await fetch('/api/backends/www/web1/maint', { method: 'POST', headers: { 'x-csrf-token': 'not-the-token' } })).status);
    assert.equal(wrong, 403);
    await new Promise((done) => setTimeout(done, 1_000));
    assert.equal((await backendState(admin, 'web1').textContent())?.trim(), 'up');
  });

  test('without a session the API answers 401 and the page shows the login form', async () => {
    const r = await fetch(`${demo.dashboard.url}api/snapshot`);
    assert.equal(r.status, 401);
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(demo.dashboard.url);
    await page.waitForSelector('input[name=password]');
    await page.fill('input[name=user]', 'admin');
    await page.fill('input[name=password]', 'wrong-password');
    await page.click('button[type=submit]');
    await page.locator('.login .error', { hasText: 'wrong user name or password' }).waitFor();
    await ctx.close();
  });
});
