// Drives the official Cloud SDK 0.6.1 server API (@sitecore-cloudsdk/core, events, personalize) against a
// running xmcdp-emulator through its Edge proxy routes.
// Usage: EMULATOR_URL=http://127.0.0.1:PORT node cloudsdk_server.js  -> prints one JSON line of results.
'use strict';
const { CloudSDK } = require('@sitecore-cloudsdk/core/server');
const events = require('@sitecore-cloudsdk/events/server');
const personalize = require('@sitecore-cloudsdk/personalize/server');

const base = process.env.EMULATOR_URL;
if (!base) throw new Error('EMULATOR_URL is required');

function cookieValue(setCookies, name) {
  for (const [, v] of setCookies) {
    const m = new RegExp('^' + name + '=([^;]*)').exec(v);
    if (m) return m[1];
  }
  return null;
}

(async () => {
  const out = {};
  const req = { headers: { 'user-agent': 'xmcdp-conformance' }, url: '/shop/bikes?utm_source=google&utm_campaign=spring' };
  const setCookies = [];
  const res = { setHeader: (k, v) => setCookies.push([k, v]) };
  await CloudSDK(req, res, { sitecoreEdgeContextId: 'ctx-123', siteName: 'spinair.com', sitecoreEdgeUrl: base,
    enableServerCookie: true, timeout: 3000 })
    .addEvents().addPersonalize({ enablePersonalizeCookie: true }).initialize();
  out.bid = cookieValue(setCookies, 'sc_cid');
  out.guestCookie = cookieValue(setCookies, 'sc_cid_personalize');
  out.pageView = await events.pageView(req, { channel: 'WEB', currency: 'EUR', language: 'EN', page: 'bikes',
    extensionData: { a: { b: 1 } }, searchData: { q: 'bike' } });
  out.identity = await events.identity(req, { channel: 'WEB', currency: 'EUR', email: 'cloud@example.com',
    identifiers: [{ provider: 'email', id: 'cloud@example.com' }] });
  out.add = await events.event(req, { type: 'ADD', channel: 'WEB', currency: 'EUR', product: { item_id: 'SKU-7', price: 5 },
    extensionData: { color: 'red' } });
  out.personalize = await personalize.personalize(req, { channel: 'WEB', currency: 'EUR', friendlyId: 'params_echo', language: 'EN',
    geo: { city: 'Dublin', country: 'IE', region: 'L' }, params: { x: { y: 1 } }, pageVariantIds: ['pv1', 'pv2'] }, { timeout: 3000 });
  out.personalizeBanner = await personalize.personalize(req, { channel: 'WEB', currency: 'EUR', friendlyId: 'home_page_banner' }, { timeout: 3000 });
  out.personalizeEmail = await personalize.personalize(req, { channel: 'WEB', friendlyId: 'hero_experiment', email: 'cloud@example.com' }, { timeout: 3000 });
  console.log(JSON.stringify(out));
})().catch((e) => { console.error('ERR', (e && e.stack) || e); process.exit(1); });
