-- wrk script: POST /v1.2/events with a VIEW for one browser (keep-alive). The browser id comes from the
-- BID environment variable (create it first with GET /v1.2/browser/create.json?client_key=ck_test).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Library-Version"] = "1.4.3"
wrk.body = '{"type":"VIEW","ext":{"pageVariantId":"v1"},"browser_id":"' .. os.getenv("BID") ..
  '","channel":"WEB","client_key":"ck_test","currency":"EUR","language":"EN","page":"home","pos":"myretailsite/ireland"}'
