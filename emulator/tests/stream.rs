//! Stream API and Edge proxy routes: status codes, bodies, legacy GET, CORS, sessions and identity merges.
mod common;
use common::*;
use serde_json::json;

#[test]
fn browser_create_and_show() {
    let e = emu();
    let b = e.base_url();
    let r = get(
        &b,
        "/v1.2/browser/create.json?client_key=ck_test&message={}",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let v = r.json();
    assert_eq!(v["status"], "OK");
    assert_eq!(v["version"], "1.2");
    assert_eq!(v["client_key"], "ck_test");
    let bid = v["ref"].as_str().unwrap();
    let gref = v["customer_ref"].as_str().unwrap();
    assert_eq!(bid.len(), 36);
    // message omitted entirely is fine too
    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=ck_test").status,
        200
    );

    let s = get(
        &b,
        &format!("/v1.2/browser/{bid}/show.json?client_key=ck_test&api_token=ck_test"),
    );
    assert_eq!(s.status, 200);
    let sv = s.json();
    assert_eq!(sv["customer"]["ref"], gref);
    assert_eq!(sv["ref"], bid);
    assert_eq!(sv["clientKey"], "ck_test");

    let nf = get(
        &b,
        "/v1.2/browser/nope/show.json?client_key=ck_test&api_token=ck_test",
    );
    assert_eq!(nf.status, 404);
    let nv = nf.json();
    assert_eq!(nv["status"], "ERROR");
    assert!(nv["error_msg"].is_string() && nv["moreInfo"].is_string());

    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=wrong&message={}").status,
        401
    );
    assert_eq!(get(&b, "/v1.2/browser/create.json").status, 401);
    assert_eq!(
        get(
            &b,
            &format!("/v1.2/browser/{bid}/show.json?client_key=wrong")
        )
        .status,
        401
    );
    assert_eq!(
        get(
            &b,
            &format!("/v1.2/browser/{bid}/show.json?client_key=ck_test&api_token=bad")
        )
        .status,
        401
    );
}

#[test]
fn events_status_codes() {
    let e = emu();
    let b = e.base_url();
    let (bid, gref) = new_browser(&b);
    let r = event(&b, &bid, "VIEW", json!({}));
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "OK");
    assert_eq!(v["version"], "1.2");
    assert_eq!(v["client_key"], "ck_test");
    assert_eq!(v["customer_ref"], gref.as_str());
    assert!(v["ref"].is_string());

    let bad = |body: serde_json::Value, status: u16| {
        let r = post_json(&b, "/v1.2/events", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        if status != 201 {
            assert_eq!(v["status"], "ERROR");
            assert!(v["error_msg"].is_string());
        }
    };
    bad(
        json!({"type": "VIEW", "client_key": "ck_test", "pos": POS}),
        400,
    );
    bad(
        json!({"type": "VIEW", "browser_id": "", "client_key": "ck_test", "pos": POS}),
        400,
    );
    bad(
        json!({"browser_id": bid, "client_key": "ck_test", "pos": POS}),
        400,
    );
    bad(
        json!({"type": "", "browser_id": bid, "client_key": "ck_test", "pos": POS}),
        400,
    );
    bad(
        json!({"type": "VIEW", "browser_id": "00000000-0000-4000-8000-000000000000", "client_key": "ck_test", "pos": POS}),
        404,
    );
    bad(
        json!({"type": "VIEW", "browser_id": bid, "client_key": "wrong", "pos": POS}),
        401,
    );
    bad(json!([1, 2]), 400);

    let m = request(
        &b,
        "POST",
        "/v1.2/events",
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
    )
    .unwrap();
    assert_eq!(m.status, 400);
    assert_eq!(m.json()["status"], "ERROR");
    let ct = request(
        &b,
        "POST",
        "/v1.2/events",
        &[("Content-Type", "application/xml")],
        Some(b"<x/>"),
    )
    .unwrap();
    assert_eq!(ct.status, 415);
    let big = vec![b'x'; 300 * 1024];
    let r = request(
        &b,
        "POST",
        "/v1.2/events",
        &[("Content-Type", "application/json")],
        Some(&big),
    )
    .unwrap();
    assert_eq!(r.status, 413);
    assert!(r.json()["message"].is_string());
    assert_eq!(
        request(&b, "GET", "/v1.2/events", &[], None)
            .unwrap()
            .status,
        405
    );

    // Unknown pos: accepted but flagged and kept out of sessions.
    let r = event(&b, &bid, "VIEW", json!({"pos": "no-such-pos"}));
    assert_eq!(r.status, 201);
    let stats = admin(&b, "/__emulator/stats");
    assert_eq!(stats["events"]["flagged_unknown_pos"], 1);
    assert_eq!(stats["events"]["accepted"], 2);
    assert_eq!(
        stats["events"]["rejected_by_reason"]["missing_browser_id"],
        2
    );
    assert_eq!(stats["events"]["rejected_by_reason"]["unknown_browser"], 1);
    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    assert_eq!(evs["count"], 2);
    assert_eq!(evs["items"][1]["flag"], "unknown_pos");
    assert!(evs["items"][1]["session_ref"].is_null());
    assert_eq!(evs["items"][0]["body"]["type"], "VIEW");
    assert_eq!(evs["items"][0]["guest_ref"], gref.as_str());
}

#[test]
fn legacy_get_event_raw_and_encoded() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    // Raw JSON structure (quotes percent-encoded as any HTTP client must, braces/colons/commas raw).
    let raw_msg = format!(
        r#"{{%22type%22:%22VIEW%22,%22browser_id%22:%22{bid}%22,%22channel%22:%22WEB%22,%22pos%22:%22{POS}%22,%22page%22:%22a&b%22}}"#
    );
    let r = get(
        &b,
        &format!("/v1.2/event/create.json?client_key=ck_test&message={raw_msg}"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Fully percent-encoded (form style, + as space).
    let msg = json!({"type": "SEARCH", "browser_id": bid, "channel": "WEB", "pos": POS, "product_name": "red bike"}).to_string();
    let enc: String = msg
        .bytes()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                (c as char).to_string()
            } else if c == b' ' {
                "+".into()
            } else {
                format!("%{c:02X}")
            }
        })
        .collect();
    let r = get(
        &b,
        &format!("/v1.2/event/create.json?message={enc}&client_key=ck_test"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Truly raw JSON, literal quotes and UTF-8 included (as older tools send it).
    let literal = format!(
        r#"{{"type":"VIEW","browser_id":"{bid}","channel":"WEB","pos":"{POS}","page":"café<b>"}}"#
    );
    let r = raw_target(
        &b,
        &format!("/v1.2/event/create.json?client_key=ck_test&message={literal}"),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        get(&b, "/v1.2/event/create.json?client_key=ck_test").status,
        400
    );
    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    assert_eq!(evs["items"][0]["body"]["page"], "a&b");
    assert_eq!(evs["items"][1]["body"]["product_name"], "red bike");
    assert_eq!(evs["items"][1]["via"], "get");
    assert_eq!(evs["items"][2]["body"]["page"], "café<b>");
    // Missing browser id / unknown browser through the GET form too.
    let m = json!({"type": "VIEW", "pos": POS})
        .to_string()
        .replace('"', "%22");
    assert_eq!(
        get(
            &b,
            &format!("/v1.2/event/create.json?client_key=ck_test&message={m}")
        )
        .status,
        400
    );
}

#[test]
fn edge_routes_fill_client_key_and_pos() {
    let e = emu();
    let b = e.base_url();
    for create in [
        "/v1/events/v1.2/browser/create.json?sitecoreContextId=ctx-123&client_key=",
        "/events/v1.2/browser/create.json?sitecoreContextId=ctx-123&client_key=",
    ] {
        let r = get(&b, create);
        assert_eq!(r.status, 200, "{create}: {}", r.text());
        assert_eq!(r.json()["client_key"], "ck_test");
    }
    let r = request(
        &b,
        "GET",
        "/v1/events/v1.2/browser/create.json?client_key=",
        &[("x-sitecore-contextid", "ctx-123")],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let v = r.json();
    let bid = v["ref"].as_str().unwrap().to_string();
    assert_eq!(
        get(
            &b,
            "/v1/events/v1.2/browser/create.json?sitecoreContextId=nope&client_key="
        )
        .status,
        401
    );

    let s = get(&b, &format!("/v1/events/v1.2/browser/{bid}/show.json?sitecoreContextId=ctx-123&client_key=&api_token="));
    assert_eq!(s.status, 200);
    assert_eq!(s.json()["customer"]["ref"], v["customer_ref"]);

    let ev = json!({"browser_id": bid, "channel": "WEB", "client_key": "", "currency": "EUR", "language": "EN", "page": "bikes",
                    "pos": "", "requested_at": "2024-01-01T00:00:00.000Z", "type": "VIEW"});
    let r = post_json(
        &b,
        "/v1/events/v1.2/events?sitecoreContextId=ctx-123&siteId=spinair.com",
        &ev,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["client_key"], "ck_test");
    let r = post_json(
        &b,
        "/events/v1.2/events?sitecoreContextId=ctx-123&siteId=spinair.com",
        &ev,
    );
    assert_eq!(r.status, 201);
    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    assert_eq!(evs["items"][0]["pos"], POS);
    assert_eq!(evs["items"][0]["client_key"], "ck_test");
    assert!(evs["items"][0]["flag"].is_null());
    let sessions = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(sessions["count"], 1);
    assert_eq!(sessions["items"][0]["event_count"], 2);
}

#[test]
fn cors_preflight_and_unknown_routes() {
    let e = emu();
    let b = e.base_url();
    for path in [
        "/v1.2/events",
        "/v1.2/browser/create.json",
        "/v2/callFlows",
        "/v1/personalize",
        "/v1/events/v1.2/events",
    ] {
        let r = request(
            &b,
            "OPTIONS",
            path,
            &[
                ("Origin", "https://shop.example.com"),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type,x-library-version",
                ),
            ],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let m = r.header("access-control-allow-methods").unwrap();
        assert!(m.contains("GET") && m.contains("POST") && m.contains("OPTIONS"));
        let h = r.header("access-control-allow-headers").unwrap();
        for want in [
            "content-type",
            "x-library-version",
            "x-client-software-id",
            "x-sc-correlation-id",
        ] {
            assert!(h.contains(want), "{want} in {h}");
        }
    }
    let r = get(&b, "/nope");
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["code"], 404);
    assert!(v["message"].is_string());
    let r = request(&b, "DELETE", "/v2/callFlows", &[], None).unwrap();
    assert_eq!(r.status, 405);
    assert!(r.header("allow").unwrap().contains("POST"));
}

#[test]
fn sessions_timeout_force_close_and_carts() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    event(&b, &bid, "VIEW", json!({}));
    event(
        &b,
        &bid,
        "ADD",
        json!({"product": {"item_id": "SKU-1", "price": 100.5, "quantity": 1}}),
    );
    event(
        &b,
        &bid,
        "ADD",
        json!({"product": {"item_id": "SKU-2", "price": 10, "quantity": 2}}),
    );
    event(
        &b,
        &bid,
        "ADD",
        json!({"product": {"item_id": "SKU-2", "price": 10, "quantity": 3}}),
    ); // updates the line
       // Another channel is another session.
    event(&b, &bid, "VIEW", json!({"channel": "MOBILE_APP"}));
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(s["count"], 2);
    let web = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "WEB")
        .unwrap()
        .clone();
    assert_eq!(web["status"], "OPEN");
    assert_eq!(web["event_count"], 4);
    assert_eq!(web["cart"]["lines"].as_array().unwrap().len(), 2);
    assert_eq!(web["timeout_minutes"], 20);

    // 19 minutes: still open, and activity extends it.
    admin_post(&b, "/__emulator/clock/advance?seconds=1140");
    assert_eq!(
        admin(
            &b,
            &format!("/__emulator/sessions?browser_id={bid}&status=OPEN")
        )["count"],
        2
    );
    event(&b, &bid, "VIEW", json!({}));
    admin_post(&b, "/__emulator/clock/advance?seconds=1140");
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    let web2 = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "WEB")
        .unwrap()
        .clone();
    assert_eq!(web2["status"], "OPEN", "activity extended the web session");
    let mob = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "MOBILE_APP")
        .unwrap()
        .clone();
    assert_eq!(mob["status"], "CLOSED");
    assert_eq!(mob["close_reason"], "TIMEOUT");

    // Past the timeout: closed, cart abandoned with its value.
    admin_post(&b, "/__emulator/clock/advance?seconds=1201");
    let s = admin(
        &b,
        &format!("/__emulator/sessions?browser_id={bid}&status=CLOSED"),
    );
    let web3 = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["channel"] == "WEB")
        .unwrap()
        .clone();
    assert_eq!(web3["close_reason"], "TIMEOUT");
    assert_eq!(web3["cart"]["outcome"]["cartType"], "ABANDONED");
    assert_eq!(web3["cart"]["outcome"]["abandonedRevenue"], 130.5);

    // Next event opens a new session; FORCE_CLOSE closes it now; a purchase is not abandoned.
    event(
        &b,
        &bid,
        "ADD",
        json!({"product": {"item_id": "SKU-9", "price": 5}}),
    );
    event(
        &b,
        &bid,
        "CONFIRM",
        json!({"product": [{"item_id": "SKU-9"}]}),
    );
    event(
        &b,
        &bid,
        "CHECKOUT",
        json!({"reference_id": "ORD-1", "status": "PURCHASED"}),
    );
    event(&b, &bid, "FORCE_CLOSE", json!({}));
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(s["count"], 3);
    let last = &s["items"][2];
    assert_eq!(last["status"], "CLOSED");
    assert_eq!(last["close_reason"], "FORCE_CLOSE");
    assert_eq!(last["cart"]["outcome"]["cartType"], "PURCHASED");
    assert_eq!(last["cart"]["outcome"]["revenue"], 5.0);

    // CLEAR_CART empties the cart: nothing abandoned.
    event(
        &b,
        &bid,
        "ADD",
        json!({"product": {"item_id": "SKU-3", "price": 7}}),
    );
    event(&b, &bid, "CLEAR_CART", json!({}));
    event(&b, &bid, "FORCE_CLOSE", json!({}));
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(s["items"][3]["cart"]["outcome"]["cartType"], "CLEARED");
    assert_eq!(s["items"][3]["cart"]["outcome"]["abandonedRevenue"], 0.0);
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["sessions_opened"], 4);
    assert_eq!(st["sessions_closed"], 4);
}

#[test]
fn pos_timeout_from_config() {
    let mut cfg = EmulatorConfig::from_json(
        r#"{"tenants":[{"clientKey":"k2","apiToken":"t2","pointsOfSale":{"short":1,"long":{"timeoutMinutes":90}},"identityRules":["email"]}]}"#,
    )
    .unwrap();
    cfg.limits.max_requests = 10;
    let e = spawn(cfg).unwrap();
    let b = e.base_url();
    let bid = get(&b, "/v1.2/browser/create.json?client_key=k2").json()["ref"]
        .as_str()
        .unwrap()
        .to_string();
    let ev = |pos: &str| {
        post_json(
            &b,
            "/v1.2/events",
            &json!({"type": "VIEW", "browser_id": bid, "client_key": "k2", "channel": "WEB", "pos": pos}),
        )
    };
    assert_eq!(ev("short").status, 201);
    assert_eq!(ev("long").status, 201);
    admin_post(&b, "/__emulator/clock/advance?seconds=61");
    let s = admin(&b, "/__emulator/sessions?status=OPEN");
    assert_eq!(s["count"], 1);
    assert_eq!(s["items"][0]["point_of_sale"], "long");
    assert_eq!(s["items"][0]["timeout_minutes"], 90);
    // ck_test does not exist in this configuration.
    assert_eq!(
        get(&b, "/v1.2/browser/create.json?client_key=ck_test").status,
        401
    );
}

#[test]
fn identity_visitor_to_customer_and_merge() {
    let e = emu();
    let b = e.base_url();
    let (bid_a, g_a) = new_browser(&b);
    let (bid_b, g_b) = new_browser(&b);
    event(&b, &bid_b, "VIEW", json!({}));
    event(
        &b,
        &bid_b,
        "ADD",
        json!({"product": {"item_id": "X", "price": 1}}),
    );

    // Non-rule provider only: identifiers attached, still a visitor.
    event(
        &b,
        &bid_a,
        "IDENTITY",
        json!({"identifiers": [{"provider": "LOYALTY", "id": "L-1"}]}),
    );
    let ga = admin(&b, &format!("/__emulator/guests/{g_a}"));
    assert_eq!(ga["guestType"], "visitor");

    let r = event(
        &b,
        &bid_a,
        "IDENTITY",
        json!({"email": "jane@example.com", "firstname": "Jane", "lastname": "Doe",
        "identifiers": [{"provider": "email", "id": "jane@example.com", "expiry_date": "2030-12-31T23:59"}]}),
    );
    assert_eq!(r.status, 201);
    let ga = admin(&b, &format!("/__emulator/guests/{g_a}"));
    assert_eq!(ga["guestType"], "customer");
    assert_eq!(ga["firstName"], "Jane");
    assert_eq!(ga["email"], "jane@example.com");
    assert_eq!(ga["identifiers"].as_array().unwrap().len(), 2);

    // Browser B (anonymous, with a session and events) logs in as Jane: B's guest is retired into A's.
    let r = event(
        &b,
        &bid_b,
        "IDENTITY",
        json!({"identifiers": [{"provider": "email", "id": "jane@example.com"}], "phone": "+3531"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["customer_ref"], g_a.as_str());
    assert_eq!(show_guest(&b, &bid_b), g_a);
    let gb = admin(&b, &format!("/__emulator/guests/{g_b}"));
    assert_eq!(gb["guestType"], "retired");
    assert_eq!(gb["mergedInto"], g_a.as_str());
    let ga = admin(&b, &format!("/__emulator/guests/{g_a}"));
    let browsers = ga["browsers"].as_array().unwrap();
    assert!(
        browsers.iter().any(|x| x == bid_b.as_str())
            && browsers.iter().any(|x| x == bid_a.as_str())
    );
    assert_eq!(ga["phoneNumbers"], json!(["+3531"]));
    assert!(
        ga["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["browser_ref"] == bid_b.as_str()),
        "sessions moved"
    );
    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid_b}"));
    assert!(evs["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["current_guest_ref"] == g_a.as_str()));
    assert_eq!(admin(&b, "/__emulator/stats")["merges"], 1);

    // CRM rule also links (second identity rule of the default tenant), through a third browser.
    let (bid_c, g_c) = new_browser(&b);
    event(
        &b,
        &bid_a,
        "IDENTITY",
        json!({"identifiers": [{"provider": "CRM", "id": "C-1"}]}),
    );
    event(
        &b,
        &bid_c,
        "IDENTITY",
        json!({"identifiers": [{"provider": "CRM", "id": "C-1"}]}),
    );
    assert_eq!(show_guest(&b, &bid_c), g_a);
    assert_eq!(
        admin(&b, &format!("/__emulator/guests/{g_c}"))["guestType"],
        "retired"
    );
    // Retired guests are hidden from Guest REST search.
    let s = rest(&b, "GET", "/v2.1/guests?email=jane@example.com", None).json();
    assert_eq!(s["items"].as_array().unwrap().len(), 1);
    assert!(s["items"][0]["href"].as_str().unwrap().ends_with(&g_a));
}

#[test]
fn keep_alive_mixes_raw_targets_and_bodies() {
    // Several requests on one connection: a POST with a body containing quotes, then a raw-JSON GET.
    use std::io::{Read, Write};
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    let body = json!({"type": "VIEW", "browser_id": bid, "client_key": "ck_test", "pos": POS, "page": "x\"<y>"}).to_string();
    let mut s = std::net::TcpStream::connect(b.trim_start_matches("http://")).unwrap();
    let mut wire = format!("POST /v1.2/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    wire.push_str(&format!(
        "GET /v1.2/event/create.json?client_key=ck_test&message={{\"type\":\"SEARCH\",\"browser_id\":\"{bid}\",\"pos\":\"{POS}\"}} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ));
    s.write_all(wire.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out.matches("HTTP/1.1 201 Created").count(), 2, "{out}");
    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    assert_eq!(evs["items"][0]["body"]["page"], "x\"<y>");
    assert_eq!(evs["items"][1]["type"], "SEARCH");
}
