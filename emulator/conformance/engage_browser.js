// Drives the official @sitecore/engage 1.4.3 BROWSER API (init) against a running xmcdp-emulator, as a page with
// the XmCdp browser tag does: the bid_ cookie is already set by the server (BID), forceServerCookieMode, no create.
// A minimal window/document/sessionStorage stands in for the page (as in shared/spec/engage-harness).
// Usage: EMULATOR_URL=http://127.0.0.1:PORT BID=<server-set browser id> node engage_browser.js -> one JSON line.
'use strict';
const base = process.env.EMULATOR_URL;
const bid = process.env.BID;
if (!base || !bid) throw new Error('EMULATOR_URL and BID are required');

const jar = new Map([['bid_ck_test', bid]]);
const cookieWrites = [];
const document = {
  documentElement: { lang: 'en-US' },
  referrer: 'https://www.google.com/search?q=bikes',
  get cookie() { return [...jar].map(([k, v]) => `${k}=${v}`).join('; '); },
  set cookie(s) { cookieWrites.push(s); },
  head: { appendChild() {} },
  createElement() { return {}; },
};
const store = new Map();
global.sessionStorage = { getItem: (k) => (store.has(k) ? store.get(k) : null), setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
global.window = {
  document,
  location: { hostname: 'shop.example.com', pathname: '/products/bikes', search: '?utm_campaign=spring&utm_source=newsletter&variantid=v9', href: 'https://shop.example.com/products/bikes?utm_campaign=spring' },
};
global.document = document;

const { init } = require('@sitecore/engage');
(async () => {
  const engage = await init({
    clientKey: 'ck_test', targetURL: base, pointOfSale: 'myretailsite/ireland', forceServerCookieMode: true, includeUTMParameters: true,
  });
  const out = { browserId: engage.getBrowserId(), cookieWrites };
  out.pageView = await engage.pageView({ channel: 'WEB', currency: 'EUR' });
  out.search = await engage.event('SEARCH', { channel: 'WEB', currency: 'EUR', product_name: 'bike' }, { source: 'tag' });
  out.form = await engage.form('form-123', 'submitted');
  engage.addToEventQueue('ADD', { channel: 'WEB', currency: 'EUR', product: { item_id: 'SKU-1' } }, { qty: 1 });
  await engage.processEventQueue();
  out.guestId = await engage.getGuestId();
  out.personalize = await engage.personalize({ channel: 'WEB', currency: 'EUR', friendlyId: 'home_page_banner' }, 2000);
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
