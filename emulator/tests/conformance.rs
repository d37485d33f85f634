//! Conformance against the official SDKs: runs `@sitecore/engage` 1.4.3 (`initServer`) and Cloud SDK 0.6.1
//! server functions with Node (>= 20) against an in-process emulator (scripts in `emulator/conformance/`),
//! then checks that every call succeeded and that the emulator state reflects it.
//! Installs the pinned packages (`npm ci`) on first use; needs `node` and `npm` on PATH.
mod common;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static NPM: Mutex<bool> = Mutex::new(false);

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

fn ensure_node_modules() {
    let mut done = NPM.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = conformance_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .expect("`node` (>= 20) must be on PATH for the SDK conformance tests");
    let v = String::from_utf8_lossy(&node.stdout).trim().to_string();
    let major: u32 = v
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(major >= 20, "Node >= 20 is required, found {v}");
    let ready = [
        "@sitecore/engage",
        "@sitecore-cloudsdk/core",
        "@sitecore-cloudsdk/events",
        "@sitecore-cloudsdk/personalize",
    ]
    .iter()
    .all(|p| {
        dir.join("node_modules")
            .join(p)
            .join("package.json")
            .exists()
    });
    if !ready {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .expect("`npm` must be on PATH for the SDK conformance tests");
        assert!(
            out.status.success(),
            "npm ci failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    *done = true;
}

fn run_script(script: &str, base: &str) -> Value {
    ensure_node_modules();
    let out = Command::new("node")
        .arg(script)
        .current_dir(conformance_dir())
        .env("EMULATOR_URL", base)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{script}: no JSON result in {stdout}"));
    serde_json::from_str(line).expect("result JSON")
}

fn ok_event(v: &Value, what: &str) {
    assert_eq!(v["status"], "OK", "{what}: {v}");
    assert_eq!(v["client_key"], "ck_test", "{what}: {v}");
}

#[test]
fn engage_1_4_3_server_api() {
    let e = emu();
    let b = e.base_url();
    let r = run_script("engage_server.js", &b);
    let sdk_requests = admin(&b, "/__emulator/requests");
    let bid_a = r["bidA"].as_str().unwrap();
    let bid_b = r["bidB"].as_str().unwrap();
    for k in [
        "pageView",
        "add",
        "identity",
        "forceClose",
        "pageViewB",
        "identityB",
    ] {
        ok_event(&r[k], k);
    }
    // handleCookie created both browsers; identity made A's guest a customer and merged B into it.
    let g = show_guest(&b, bid_a);
    assert_eq!(show_guest(&b, bid_b), g, "show.json follows the merge");
    assert_eq!(r["identityB"]["customer_ref"], g.as_str());
    let b_original = r["pageViewB"]["customer_ref"].as_str().unwrap();
    assert_ne!(b_original, g);
    let gb = admin(&b, &format!("/__emulator/guests/{b_original}"));
    assert_eq!(gb["guestType"], "retired");
    assert_eq!(gb["mergedInto"], g.as_str());
    let ga = admin(&b, &format!("/__emulator/guests/{g}"));
    assert_eq!(ga["guestType"], "customer");
    assert_eq!(ga["firstName"], "Conf");
    assert_eq!(ga["email"], "conformance@example.com");

    // Flow results returned to the SDK.
    assert_eq!(
        r["personalize"],
        serde_json::json!({"variantId": "banner-customer", "guestRef": g})
    );
    assert_eq!(r["personalizeB"], r["personalize"]);
    let hero = r["personalizeEmail"]["variantId"].as_str().unwrap();
    assert!(hero == "hero-a" || hero == "hero-b");
    assert_eq!(
        r["personalizeIdentifier"],
        serde_json::json!({"variantId": "promo-spring"})
    );
    assert_eq!(
        r["personalizeNoCookie"],
        serde_json::json!({"variantId": "banner-visitor", "guestRef": ""})
    );
    assert_eq!(r["personalizeUnknown"]["code"], 404);

    // Session events of browser A, in order, closed by FORCE_CLOSE with the cart abandoned.
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid_a}"));
    assert_eq!(s["count"], 1);
    let sa = &s["items"][0];
    let kinds: Vec<&str> = sa["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["VIEW", "ADD", "IDENTITY", "FORCE_CLOSE"]);
    assert_eq!(sa["status"], "CLOSED");
    assert_eq!(sa["close_reason"], "FORCE_CLOSE");
    assert_eq!(sa["cart"]["outcome"]["cartType"], "ABANDONED");
    assert_eq!(sa["cart"]["outcome"]["abandonedRevenue"], 20.0);
    assert_eq!(sa["flow_executions"].as_array().unwrap().len(), 1);
    let evs = admin(
        &b,
        &format!("/__emulator/events?browser_id={bid_a}&type=VIEW"),
    );
    let view = &evs["items"][0]["body"];
    assert_eq!(view["utm_source"], "google");
    assert_eq!(view["ext"]["pageVariantId"], "v1");
    assert_eq!(view["ext"]["campaign_name"], "spring");
    let sb = admin(&b, &format!("/__emulator/sessions?browser_id={bid_b}"));
    assert_eq!(
        sb["items"][0]["guest_ref"],
        g.as_str(),
        "B's session moved to the survivor"
    );

    // What the SDK sent, as the emulator saw it.
    let items = sdk_requests["items"].as_array().unwrap();
    assert!(items
        .iter()
        .all(|x| x["headers"]["x-library-version"] == "1.4.3"));
    assert_eq!(
        items
            .iter()
            .filter(|x| x["route"] == "browser_create")
            .count(),
        2
    );
    assert!(items.iter().any(|x| x["path"] == "/v2/callFlows"
        && x["body"].as_str().unwrap().contains("\"browserId\":\"\"")));
    let st = admin(&b, "/__emulator/stats");
    assert_eq!(st["merges"], 1);
    assert_eq!(st["events"]["rejected"], 0);
    assert_eq!(st["events"]["flagged_unknown_pos"], 0);
    assert_eq!(st["flow_executions"], 5, "six calls, one unknown flow");
}

#[test]
fn cloud_sdk_0_6_1_server_api() {
    let e = emu();
    let b = e.base_url();
    let r = run_script("cloudsdk_server.js", &b);
    let sdk_requests = admin(&b, "/__emulator/requests");
    let bid = r["bid"].as_str().unwrap();
    let g = show_guest(&b, bid);
    assert_eq!(
        r["guestCookie"],
        g.as_str(),
        "sc_cid_personalize = customer_ref of browser create"
    );
    for k in ["pageView", "identity", "add"] {
        ok_event(&r[k], k);
    }
    let p = &r["personalize"];
    assert_eq!(p["params"]["geo"]["city"], "Dublin");
    assert_eq!(p["params"]["utm"]["source"], "google");
    assert_eq!(p["pointOfSale"], POS);
    assert_eq!(p["guestType"], "customer");
    assert_eq!(
        r["personalizeBanner"],
        serde_json::json!({"variantId": "banner-customer", "guestRef": g})
    );
    assert!(r["personalizeEmail"]["variantId"]
        .as_str()
        .unwrap()
        .starts_with("hero-"));

    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    let kinds: Vec<&str> = evs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["VIEW", "IDENTITY", "ADD"]);
    for ev in evs["items"].as_array().unwrap() {
        assert_eq!(ev["client_key"], "ck_test");
        assert_eq!(ev["pos"], POS, "pos filled from the Edge context siteId");
        assert_eq!(ev["body"]["client_key"], "", "the SDK's own bytes are kept");
        assert!(ev["flag"].is_null());
    }
    assert_eq!(evs["items"][0]["body"]["sc_search"]["data"]["q"], "bike");
    let s = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(s["count"], 1);
    assert_eq!(s["items"][0]["event_count"], 3);
    assert_eq!(s["items"][0]["cart"]["lines"][0]["item_id"], "SKU-7");
    assert_eq!(
        s["items"][0]["flow_executions"].as_array().unwrap().len(),
        2
    );
    let guest = admin(&b, &format!("/__emulator/guests/{g}"));
    assert_eq!(guest["guestType"], "customer");
    assert_eq!(guest["email"], "cloud@example.com");
    let items = sdk_requests["items"].as_array().unwrap();
    assert!(items.iter().all(|x| x["query"]
        .as_str()
        .unwrap()
        .contains("sitecoreContextId=ctx-123")));
    assert!(items
        .iter()
        .filter(|x| x["route"] == "events")
        .all(|x| x["headers"]["x-client-software-id"] == "@sitecore-cloudsdk/events 0.6.1"));
    assert!(items
        .iter()
        .filter(|x| x["route"] == "callflows")
        .all(|x| x["headers"]["x-sc-correlation-id"].as_str().unwrap().len() == 32));
    assert_eq!(admin(&b, "/__emulator/stats")["events"]["rejected"], 0);
}

/// The browser entry (`init`) as a page running the XmCdp browser tag uses it: the server already set `bid_`, so
/// with `forceServerCookieMode` the SDK creates no browser and writes no cookie; its browser-shaped events
/// (language and page inferred from the page, UTM and `variantid` from the URL, the external referrer, FORM, a
/// queued ADD), `show.json` and callFlows are accepted and land on the server-created guest; every route it calls
/// cross-origin answers the CORS preflight a browser sends first.
#[test]
fn engage_1_4_3_browser_api_on_a_server_set_cookie() {
    let e = emu();
    let b = e.base_url();
    let (bid, guest) = new_browser(&b);
    let before = admin(&b, "/__emulator/requests")["items"]
        .as_array()
        .unwrap()
        .len();
    ensure_node_modules();
    let out = Command::new("node")
        .arg("engage_browser.js")
        .current_dir(conformance_dir())
        .env("EMULATOR_URL", &b)
        .env("BID", &bid)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "engage_browser.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value =
        serde_json::from_str(stdout.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(r["browserId"], bid.as_str());
    assert_eq!(
        r["cookieWrites"],
        serde_json::json!([]),
        "the SDK leaves the server's cookie alone"
    );
    for k in ["pageView", "search", "form"] {
        ok_event(&r[k], k);
    }
    assert_eq!(r["guestId"], guest.as_str());
    assert_eq!(r["personalize"]["variantId"], "banner-visitor");

    let items = admin(&b, "/__emulator/requests")["items"]
        .as_array()
        .unwrap()
        .clone();
    let sdk: Vec<&Value> = items.iter().skip(before).collect();
    assert!(
        sdk.iter().all(|x| x["route"] != "browser_create"),
        "no browser create: {sdk:?}"
    );
    assert!(sdk
        .iter()
        .all(|x| x["headers"]["x-library-version"] == "1.4.3"));

    let evs = admin(&b, &format!("/__emulator/events?browser_id={bid}"));
    let evs = evs["items"].as_array().unwrap();
    let kinds: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["VIEW", "SEARCH", "FORM", "ADD"]);
    assert!(evs
        .iter()
        .all(|e| e["current_guest_ref"] == guest.as_str() && e["flag"].is_null()));
    let view = &evs[0]["body"];
    assert_eq!(view["language"], "EN");
    assert_eq!(view["page"], "bikes");
    assert_eq!(view["utm_campaign"], "spring");
    assert_eq!(view["ext"]["pageVariantId"], "v9");
    assert_eq!(view["referrer"], "https://www.google.com/search?q=bikes");
    assert_eq!(evs[1]["body"]["ext"]["source"], "tag");
    assert_eq!(evs[2]["body"]["ext"]["interactionType"], "SUBMITTED");
    assert_eq!(evs[3]["body"]["ext"]["qty"], 1);
    assert_eq!(admin(&b, "/__emulator/stats")["events"]["rejected"], 0);

    // The preflights a browser sends before those calls (custom header → every call, GETs included).
    let show = format!("/v1.2/browser/{bid}/show.json?client_key=ck_test&api_token=ck_test");
    for (method, path) in [
        ("POST", "/v1.2/events"),
        (
            "GET",
            "/v1.2/browser/create.json?client_key=ck_test&message=%7B%7D",
        ),
        ("GET", show.as_str()),
        ("POST", "/v2/callFlows"),
    ] {
        let r = request(
            &b,
            "OPTIONS",
            path,
            &[
                ("Origin", "http://127.0.0.1:8080"),
                ("Access-Control-Request-Method", method),
                (
                    "Access-Control-Request-Headers",
                    "content-type,x-library-version",
                ),
            ],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert!(
            r.header("access-control-allow-methods")
                .unwrap()
                .contains(method),
            "{path}"
        );
        assert!(
            r.header("access-control-allow-headers")
                .unwrap()
                .contains("x-library-version"),
            "{path}"
        );
    }
    // And the answer itself carries the origin grant (fetch reads it only then).
    let r = request(
        &b,
        "GET",
        &show,
        &[("Origin", "http://127.0.0.1:8080")],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}
