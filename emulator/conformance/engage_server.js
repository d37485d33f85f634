// Drives the official @sitecore/engage 1.4.3 server API (initServer) against a running xmcdp-emulator.
// Usage: EMULATOR_URL=http://127.0.0.1:PORT node engage_server.js  -> prints one JSON line of results.
'use strict';
const { initServer } = require('@sitecore/engage');

const base = process.env.EMULATOR_URL;
if (!base) throw new Error('EMULATOR_URL is required');

async function newBrowser(engage) {
  const request = { headers: {}, url: '/' };
  const headers = {};
  await engage.handleCookie(request, { setHeader: (k, v) => { headers[k] = v; } }, 3000);
  const m = /bid_ck_test=([^;]+)/.exec(headers['Set-Cookie'] || '');
  if (!m) throw new Error('no bid cookie: ' + JSON.stringify(headers));
  return m[1];
}

(async () => {
  const engage = initServer({
    clientKey: 'ck_test', targetURL: base, pointOfSale: 'myretailsite/ireland', forceServerCookieMode: true,
  });
  const out = {};
  out.bidA = await newBrowser(engage);
  const reqA = (url) => ({ headers: { cookie: `other=1; bid_ck_test=${out.bidA}` }, url });
  out.pageView = await engage.pageView({ channel: 'WEB', currency: 'EUR', language: 'EN', page: 'home' },
    reqA('/home?utm_source=google&variantid=v1'), { campaign: { name: 'spring' } });
  out.add = await engage.event('ADD', { channel: 'WEB', currency: 'EUR', product: { item_id: 'SKU-1', price: 10, quantity: 2 } }, reqA('/pdp'));
  out.identity = await engage.identity({
    channel: 'WEB', currency: 'EUR', email: 'conformance@example.com', firstName: 'Conf', lastName: 'Test',
    identifiers: [{ provider: 'email', id: 'conformance@example.com' }, { provider: 'CRM', id: 'CRM-42' }],
  }, reqA('/login'));
  out.personalize = await engage.personalize({ channel: 'WEB', currency: 'EUR', language: 'EN', friendlyId: 'home_page_banner',
    params: { customer: { tier: 'gold' } } }, reqA('/'), 3000);
  out.personalizeEmail = await engage.personalize({ channel: 'WEB', currency: 'EUR', friendlyId: 'hero_experiment',
    email: 'conformance@example.com' }, reqA('/'), 3000);
  out.personalizeIdentifier = await engage.personalize({ channel: 'WEB', currency: 'EUR', friendlyId: 'promo_*',
    identifier: { provider: 'CRM', id: 'CRM-42' } }, reqA('/'), 3000);
  out.forceClose = await engage.event('FORCE_CLOSE', { channel: 'WEB', currency: 'EUR' }, reqA('/'));

  // A second, anonymous browser of the same person: identity merges it into the known guest.
  out.bidB = await newBrowser(engage);
  const reqB = (url) => ({ headers: { cookie: `bid_ck_test=${out.bidB}` }, url });
  out.pageViewB = await engage.pageView({ channel: 'MOBILE_WEB', currency: 'EUR' }, reqB('/b'));
  out.identityB = await engage.identity({ channel: 'MOBILE_WEB', currency: 'EUR',
    identifiers: [{ provider: 'email', id: 'conformance@example.com' }] }, reqB('/login'));
  out.personalizeB = await engage.personalize({ channel: 'MOBILE_WEB', currency: 'EUR', friendlyId: 'home_page_banner' }, reqB('/'), 3000);

  // No cookie at all: browserId "" -> anonymous decision, nothing created.
  out.personalizeNoCookie = await engage.personalize({ channel: 'WEB', currency: 'EUR', friendlyId: 'home_page_banner' },
    { headers: {}, url: '/' }, 3000);
  // Unknown flow: the SDK resolves the error body.
  out.personalizeUnknown = await engage.personalize({ channel: 'WEB', currency: 'EUR', friendlyId: 'no_such_flow' }, reqA('/'), 3000);
  console.log(JSON.stringify(out));
})().catch((e) => { console.error('ERR', (e && e.stack) || e); process.exit(1); });
