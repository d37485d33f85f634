// The official server-side SDK, @sitecore/engage 1.4.3 (pinned in package.json), driven against the same emulator
// as xmcdp for `cargo xtask bench`. Node's built-in fetch (undici) keeps connections alive by default.
// Prints one JSON object.
//
//   node engage.js <mode> <emulator url> <n> <browser ids, comma-separated> [arg]
//
// modes:
//   pageview     n sequential `await pageView(...)` with the bid_ cookie in the request (no create call); per call
//   throughput   n page views with `arg` (default 32) awaited calls in flight; wall time and peak RSS
//   personalize  n sequential `await personalize(..., 2000)`; per call (params vary, as for xmcdp)
//   prefetch     personalize started at request begin, the rendering awaits it `arg` ms later; the wait it sees
//   firstvisit   n `handleCookie` (forceServerCookieMode, no cookie: one browser/create.json each); per call
//   outage-pageview     pageView while the CDP is down; no timeout exists, so each call is capped at `arg` ms
//   outage-personalize  personalize with a 500 ms timeout while the CDP is down
'use strict';
const { initServer } = require('@sitecore/engage');

const [mode, url, nArg, bidsArg, extra] = process.argv.slice(2);
const n = Number(nArg);
const bids = (bidsArg || '').split(',').filter(Boolean);
if (!mode || !url || !(n > 0) || bids.length === 0) {
  console.error('usage: node engage.js <mode> <url> <n> <browser ids> [arg]');
  process.exit(2);
}
const now = () => process.hrtime.bigint();
const ns = (t0) => Number(now() - t0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const req = (i) => ({
  headers: { cookie: `other=1; bid_ck_test=${bids[i % bids.length]}`, 'user-agent': UA },
  url: '/products/bikes?utm_source=newsletter&utm_campaign=spring',
});
const view = { channel: 'WEB', currency: 'EUR', language: 'EN', page: 'bikes' };
const decision = (i) => ({ channel: 'WEB', currency: 'EUR', language: 'EN', friendlyId: 'home_page_banner', params: { i } });

function summary(v) {
  v.sort((a, b) => a - b);
  const p = (q) => (v.length ? v[Math.round((v.length - 1) * q)] : 0);
  const mean = v.length ? Math.round(v.reduce((a, b) => a + b, 0) / v.length) : 0;
  return { n: v.length, p50_ns: p(0.5), p99_ns: p(0.99), max_ns: p(1), mean_ns: mean };
}

const engage = initServer({ clientKey: 'ck_test', targetURL: url, pointOfSale: 'myretailsite/ireland' });

async function main() {
  switch (mode) {
    case 'pageview': {
      for (let i = 0; i < Math.max(50, n / 10); i++) await engage.pageView(view, req(i));
      const t = [];
      let failed = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        const r = await engage.pageView(view, req(i));
        t.push(ns(t0));
        if (!r) failed++;
      }
      return { elapsed: summary(t), failed };
    }
    case 'throughput': {
      const inflight = Number(extra || 32);
      let next = 0;
      let failed = 0;
      const t0 = now();
      const worker = async () => {
        while (next < n) {
          const i = next++;
          const r = await engage.pageView(view, req(i));
          if (!r) failed++;
        }
      };
      await Promise.all(Array.from({ length: inflight }, worker));
      const seconds = ns(t0) / 1e9;
      return { events: n, failed, inflight, seconds, events_per_s: Math.round(n / seconds), peak_rss_kb: process.resourceUsage().maxRSS };
    }
    case 'personalize': {
      for (let i = 0; i < 20; i++) await engage.personalize(decision(i), req(i), 2000);
      const t = [];
      let errors = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        try {
          await engage.personalize(decision(1000 + i), req(i), 2000);
        } catch (e) {
          errors++;
        }
        t.push(ns(t0));
      }
      return { elapsed: summary(t), errors };
    }
    case 'prefetch': {
      const askAfter = Number(extra || 30);
      for (let i = 0; i < 20; i++) await engage.personalize(decision(i), req(i), 2000);
      const begin = [];
      const wait = [];
      let errors = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        const p = engage.personalize(decision(1000 + i), req(i), 2000).then(() => true, () => false);
        begin.push(ns(t0));
        await sleep(Math.max(0, askAfter - ns(t0) / 1e6));
        const asked = now();
        if (!(await p)) errors++;
        wait.push(ns(asked));
      }
      return { begin: summary(begin), wait: summary(wait), ask_after_ms: askAfter, errors };
    }
    case 'firstvisit': {
      const e2 = initServer({ clientKey: 'ck_test', targetURL: url, pointOfSale: 'myretailsite/ireland', forceServerCookieMode: true });
      const res = { setHeader() {} };
      for (let i = 0; i < 20; i++) await e2.handleCookie({ headers: {}, url: '/' }, res, 2000);
      const t = [];
      let errors = 0;
      for (let i = 0; i < n; i++) {
        const r = { headers: { 'user-agent': UA }, url: '/' };
        const t0 = now();
        try {
          await e2.handleCookie(r, res, 2000);
        } catch (e) {
          errors++;
        }
        t.push(ns(t0));
      }
      return { elapsed: summary(t), errors };
    }
    case 'outage-pageview': {
      const cap = Number(extra || 2000);
      const t = [];
      let capped = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        let timer;
        const hit = await Promise.race([
          engage.pageView(view, req(i)).then(() => false, () => false),
          new Promise((r) => { timer = setTimeout(() => r(true), cap); }),
        ]);
        clearTimeout(timer);
        t.push(ns(t0));
        if (hit) capped++;
      }
      return { elapsed: summary(t), capped, cap_ms: cap };
    }
    case 'outage-personalize': {
      const t = [];
      let errors = 0;
      for (let i = 0; i < n; i++) {
        const t0 = now();
        try {
          await engage.personalize(decision(i), req(i), 500);
        } catch (e) {
          errors++;
        }
        t.push(ns(t0));
      }
      return { elapsed: summary(t), errors, timeout_ms: 500 };
    }
    default:
      throw new Error('unknown mode ' + mode);
  }
}

main().then(
  (r) => {
    console.log(JSON.stringify(r));
    // Capped page views may still be waiting on a black-holed CDP: do not wait for them.
    process.exit(0);
  },
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
