// Real-browser tests: Debian's chromium driven by playwright-core against the xsp4 test site (shipped XmCdp.config,
// the real native library) with xmcdp-emulator as CDP. Started by `cargo xtask browser`, which passes:
//   SITE_URL, EMULATOR_URL, SCREENSHOT (admin page PNG), CHROMIUM (default /usr/bin/chromium).
// Every scenario fails on any console error or uncaught page error. Ends with "N passed, N failed".
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SITE = process.env.SITE_URL;
const EMU = process.env.EMULATOR_URL;
const SCREENSHOT = process.env.SCREENSHOT;
if (!SITE || !EMU || !SCREENSHOT) {
  console.error('SITE_URL, EMULATOR_URL and SCREENSHOT must be set (run through cargo xtask browser)');
  process.exit(2);
}
const HOST = new URL(SITE).hostname;
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
// Headless Chromium says "HeadlessChrome", which the shipped bot patterns ("headless") rightly skip: the visitors
// here present the User-Agent of the same Chromium with a window.
const VISITOR_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, message) {
  if (!cond) throw new Error(message);
}
async function emulator(path) {
  const r = await fetch(EMU + '/__emulator' + path);
  check(r.ok, `emulator ${path} answered ${r.status}`);
  return r.json();
}
const eventsOf = async (bid) => (await emulator('/events?browser_id=' + encodeURIComponent(bid))).items;
/** Polls until `want` events of the browser id satisfy `pred`, then waits `settle` ms more so late duplicates show. */
async function waitEvents(bid, pred, want, settle = 1500, timeout = 15000) {
  const until = Date.now() + timeout;
  let items = [];
  while (Date.now() < until) {
    items = (await eventsOf(bid)).filter(pred);
    if (items.length >= want) break;
    await sleep(100);
  }
  await sleep(settle);
  return (await eventsOf(bid)).filter(pred);
}

const userDataDir = mkdtempSync(join(tmpdir(), 'xmcdp-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1100, height: 1300 },
  userAgent: VISITOR_UA,
});

// Pages opened by the running scenario: their console errors fail it, and they are closed after it, pass or fail.
let opened = [];

/** A fresh visitor: no cookies; consent given unless told otherwise; every console error recorded. */
async function visitor({ consent = true, userAgent } = {}) {
  await context.clearCookies();
  if (consent) await context.addCookies([{ name: 'consent', value: 'yes', domain: HOST, path: '/' }]);
  const page = await context.newPage();
  if (userAgent) {
    // Per page (the persistent context has one User-Agent): Chromium's own override, as DevTools' device mode does.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setUserAgentOverride', { userAgent });
  }
  const problems = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => requests.push(r.url()));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
  const v = { page, problems, requests };
  opened.push(v);
  return v;
}
async function bidCookie() {
  return (await context.cookies(SITE)).find((c) => c.name === 'bid_ck_test');
}
async function tagReady(page) {
  await page.waitForFunction(() => window.XmCdpEngage && typeof window.XmCdpEngage.getBrowserId === 'function', null, { timeout: 15000 });
}
const toEmulator = (requests) => requests.filter((u) => u.startsWith(EMU));

const scenarios = [];
const scenario = (name, fn) => scenarios.push({ name, fn });

scenario('first visit: the server sets bid_, the browser SDK reads it, creates no id, and its events land on the same guest', async () => {
  const v = await visitor();
  const response = await v.page.goto(SITE + '/web/a');
  check(response.status() === 200, 'status ' + response.status());
  const setCookie = (await response.headerValue('set-cookie')) || '';
  const server = /bid_ck_test=([0-9a-f-]{36})/.exec(setCookie);
  check(server, 'the server set no bid_ck_test cookie: ' + setCookie);
  await tagReady(v.page);
  const cookie = await bidCookie();
  check(cookie && cookie.value === server[1], 'the cookie is not the one the server set');
  const sdkId = await v.page.evaluate(() => window.XmCdpEngage.getBrowserId());
  check(sdkId === server[1], `the SDK uses ${sdkId}, the server set ${server[1]}`);
  await v.page.evaluate(() => window.XmCdpEngage.event('BROWSER_CLICK', { channel: 'WEB', currency: 'EUR' }, { element: 'hero' }));
  const creates = v.requests.filter((u) => u.includes('/browser/create.json'));
  check(creates.length === 0, 'the browser called browser/create: ' + creates.join(' '));
  const events = await waitEvents(server[1], (e) => ['VIEW', 'BROWSER_CLICK'].includes(e.type), 2);
  const types = events.map((e) => e.type).sort().join(',');
  check(types === 'BROWSER_CLICK,VIEW', 'events of the browser id: ' + types);
  const guests = new Set(events.map((e) => e.current_guest_ref));
  check(guests.size === 1 && !guests.has(null), 'events on several guests: ' + [...guests].join(','));
  const click = events.find((e) => e.type === 'BROWSER_CLICK');
  check(click.body.ext && click.body.ext.element === 'hero', 'browser event body: ' + JSON.stringify(click.body));
  return v;
});

for (const [owner, prefix] of [['server', '/web'], ['browser', '/shop']]) {
  scenario(`VIEW owner ${owner}: one VIEW per page`, async () => {
    const v = await visitor();
    await v.page.goto(SITE + prefix + '/a');
    await tagReady(v.page);
    await Promise.all([v.page.waitForURL('**' + prefix + '/b'), v.page.click('#next')]);
    await tagReady(v.page);
    const bid = (await bidCookie()).value;
    const views = await waitEvents(bid, (e) => e.type === 'VIEW', 2, 2500);
    const pages = views.map((e) => e.body.page).sort().join(',');
    const site = owner === 'server' ? 'web' : 'shop';
    check(views.length === 2 && pages === `${site}-a,${site}-b`, `expected one VIEW per page, got ${views.length}: ${pages}`);
    // Who sent them: the browser SDK's requests carry its library header; the server's never do.
    const fromBrowser = toEmulator(v.requests).filter((u) => u.endsWith('/v1.2/events')).length;
    check(fromBrowser === (owner === 'browser' ? 2 : 0), `${fromBrowser} event calls from the page`);
    return v;
  });
}

scenario('no consent: no tag, no cookie, no events', async () => {
  const v = await visitor({ consent: false });
  await v.page.goto(SITE + '/web/a');
  await sleep(500);
  check((await v.page.locator('script[src]').count()) === 0, 'a script tag was written');
  check(!(await bidCookie()), 'a browser id cookie was set');
  check((await v.page.textContent('#tracked')) === 'untracked', 'the request was tracked');
  check(toEmulator(v.requests).length === 0, 'the page called CDP: ' + toEmulator(v.requests).join(' '));
  return v;
});

scenario('a bot User-Agent: no tag', async () => {
  const v = await visitor({ userAgent: BOT_UA });
  await v.page.goto(SITE + '/web/a');
  await sleep(500);
  check((await v.page.locator('script[src]').count()) === 0, 'a script tag was written');
  check(toEmulator(v.requests).length === 0, 'the page called CDP');
  return v;
});

scenario('admin page: denied to visitors, figures for an administrator, the test-event button reaches CDP (screenshot)', async () => {
  const v = await visitor();
  const denied = await context.request.get(SITE + '/sitecore/admin/xmcdp.aspx', { maxRedirects: 0 });
  check(denied.status() === 302 && denied.headers().location.includes('/sitecore/admin/login.aspx'), 'not redirected to the login: ' + denied.status());
  await v.page.goto(SITE + '/web/a');
  await tagReady(v.page);
  const bid = (await bidCookie()).value;
  await waitEvents(bid, (e) => e.type === 'VIEW', 1, 0);
  await context.addCookies([{ name: 'stub_sitecore_user', value: 'admin', domain: HOST, path: '/' }]);
  const r = await v.page.goto(SITE + '/sitecore/admin/xmcdp.aspx');
  check(r.status() === 200, 'admin page status ' + r.status());
  const sent = Number(await v.page.textContent('table[data-site="website"] td[data-figure="sent"]'));
  check(sent >= 1, 'events sent on the page: ' + sent);
  check(Number(await v.page.textContent('table[data-site="shop"] td[data-figure="enqueued"]')) >= 0, 'no figures for site shop');
  await Promise.all([v.page.waitForLoadState('load'), v.page.waitForURL('**/xmcdp.aspx'), v.page.click('#test-website')]);
  const message = await v.page.textContent('#message');
  check(message.includes('XMCDP_TEST queued'), 'button answer: ' + message);
  const test = await waitEvents(bid, (e) => e.type === 'XMCDP_TEST', 1, 0);
  check(test.length === 1, 'the test event did not reach CDP');
  await v.page.goto(SITE + '/sitecore/admin/xmcdp.aspx');
  await v.page.screenshot({ path: SCREENSHOT, fullPage: true });
  const html = await v.page.content();
  check(!html.includes(bid), 'the page shows a browser id');
  return v;
});

let passed = 0;
let failed = 0;
for (const s of scenarios) {
  opened = [];
  try {
    await s.fn();
    const problems = opened.flatMap((v) => v.problems);
    if (problems.length) throw new Error(problems.join('; '));
    passed++;
    console.log('ok   ' + s.name);
  } catch (e) {
    failed++;
    const problems = opened.flatMap((v) => v.problems);
    console.log('FAIL ' + s.name + ': ' + (e && e.message ? e.message : e) + (problems.length ? ' [' + problems.join('; ') + ']' : ''));
  } finally {
    for (const v of opened) await v.page.close().catch(() => {});
  }
}
await context.close();
rmSync(userDataDir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
