//! Personalize callFlows (classic and Edge): guest selection, templates, wildcards, experiments, errors.
mod common;
use common::*;
use serde_json::{json, Value};

fn flow_req(friendly: &str, who: Value) -> Value {
    let mut v = json!({"channel": "WEB", "clientKey": "ck_test", "currencyCode": "EUR", "friendlyId": friendly, "language": "EN", "pointOfSale": POS});
    for (k, x) in who.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn decision_template_by_browser_email_identifier() {
    let e = emu();
    let b = e.base_url();
    let (bid, gref) = new_browser(&b);
    let r = call_flow(
        &b,
        flow_req(
            "home_page_banner",
            json!({"browserId": bid, "params": {"customer_tier": "gold"}}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"variantId": "banner-visitor", "guestRef": gref})
    );

    event(
        &b,
        &bid,
        "IDENTITY",
        json!({"email": "jane@example.com", "identifiers": [{"provider": "CRM", "id": "C-1"}]}),
    );
    let r = call_flow(&b, flow_req("home_page_banner", json!({"browserId": bid})));
    assert_eq!(
        r.json(),
        json!({"variantId": "banner-customer", "guestRef": gref})
    );
    let r = call_flow(
        &b,
        flow_req("home_page_banner", json!({"email": "jane@example.com"})),
    );
    assert_eq!(r.json()["guestRef"], gref.as_str());
    let r = call_flow(
        &b,
        flow_req(
            "home_page_banner",
            json!({"identifiers": {"provider": "CRM", "id": "C-1"}}),
        ),
    );
    assert_eq!(r.json()["guestRef"], gref.as_str());
    // Unknown email: anonymous context, nothing created.
    let before = admin(&b, "/__emulator/stats")["guests_created"].clone();
    let r = call_flow(
        &b,
        flow_req("home_page_banner", json!({"email": "nobody@example.com"})),
    );
    assert_eq!(
        r.json(),
        json!({"variantId": "banner-visitor", "guestRef": ""})
    );
    // Empty browserId (server-side SDK without cookie): no guest, nothing created.
    let r = call_flow(&b, flow_req("home_page_banner", json!({"browserId": ""})));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["guestRef"], "");
    assert_eq!(admin(&b, "/__emulator/stats")["guests_created"], before);

    // Executions recorded; the browserId ones on the browser's session, the email ones in their own session.
    let ex = admin(
        &b,
        "/__emulator/flows/executions?friendly_id=home_page_banner",
    );
    assert_eq!(ex["count"], 6);
    assert_eq!(ex["items"][0]["identified_by"], "browserId");
    assert_eq!(ex["items"][2]["identified_by"], "email");
    assert_eq!(ex["items"][0]["params"]["customer_tier"], "gold");
    let sessions = admin(&b, &format!("/__emulator/sessions?browser_id={bid}"));
    assert_eq!(
        sessions["items"][0]["flow_executions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let all = admin(&b, &format!("/__emulator/sessions?guest_ref={gref}"));
    assert_eq!(
        all["count"], 3,
        "one browser session + one per email/identifier call"
    );
}

#[test]
fn exactly_one_identity_and_errors() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    for who in [
        json!({}),
        json!({"browserId": bid, "email": "a@b.co"}),
        json!({"email": "a@b.co", "identifiers": {"provider": "x", "id": "y"}}),
    ] {
        let r = call_flow(&b, flow_req("home_page_banner", who.clone()));
        assert_eq!(r.status, 400, "{who}");
        let v = r.json();
        for k in [
            "status",
            "code",
            "message",
            "developerMessage",
            "moreInfoUrl",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {v}");
        }
    }
    let r = call_flow(&b, flow_req("nope", json!({"browserId": bid})));
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["status"], 404);
    assert_eq!(v["code"], 404);
    for k in ["message", "developerMessage", "moreInfoUrl"] {
        assert!(v[k].is_string());
    }
    assert_eq!(
        call_flow(&b, flow_req("paused_flow", json!({"browserId": bid}))).status,
        404
    );
    assert_eq!(
        call_flow(&b, flow_req("", json!({"browserId": bid}))).status,
        400
    );
    let mut bad_ck = flow_req("home_page_banner", json!({"browserId": bid}));
    bad_ck["clientKey"] = json!("wrong");
    assert_eq!(call_flow(&b, bad_ck).status, 401);
    let r = request(
        &b,
        "POST",
        "/v2/callFlows",
        &[("Content-Type", "application/json")],
        Some(b"{oops"),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], 400);
    assert_eq!(admin(&b, "/__emulator/stats")["flow_not_found"], 2);
}

#[test]
fn wildcard_friendly_ids() {
    let e = emu();
    let b = e.base_url();
    let (bid, _) = new_browser(&b);
    assert_eq!(
        call_flow(&b, flow_req("promo_*", json!({"browserId": bid}))).json(),
        json!({"variantId": "promo-spring"})
    );
    assert_eq!(
        call_flow(&b, flow_req("promo_su*", json!({"browserId": bid}))).json(),
        json!({"variantId": "promo-summer"})
    );
    assert_eq!(
        call_flow(&b, flow_req("promo_x*", json!({"browserId": bid}))).status,
        404
    );
    let ex = admin(&b, "/__emulator/flows/executions?limit=2");
    assert_eq!(ex["items"][0]["flow"], "promo_spring");
    assert_eq!(ex["items"][0]["friendly_id"], "promo_*");
}

#[test]
fn experiment_is_sticky_and_split() {
    let e = emu();
    let b = e.base_url();
    let (bid, gref) = new_browser(&b);
    let first = call_flow(&b, flow_req("hero_experiment", json!({"browserId": bid}))).json();
    assert!(
        first == json!({"variantId": "hero-a"}) || first == json!({"variantId": "hero-b"}),
        "{first}"
    );
    for _ in 0..5 {
        assert_eq!(
            call_flow(&b, flow_req("hero_experiment", json!({"browserId": bid}))).json(),
            first
        );
    }
    // Same guest through email after identity: same variant (bucketing is by guest ref + flow).
    event(
        &b,
        &bid,
        "IDENTITY",
        json!({"identifiers": [{"provider": "email", "id": "x@y.co"}]}),
    );
    assert_eq!(
        call_flow(&b, flow_req("hero_experiment", json!({"email": "x@y.co"}))).json(),
        first
    );
    let ex = admin(
        &b,
        &format!("/__emulator/flows/executions?guest_ref={gref}"),
    );
    let name = ex["items"][0]["variant"].as_str().unwrap().to_string();
    assert!(ex["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["variant"] == name.as_str()));
    assert_eq!(name == "A", first["variantId"] == "hero-a");

    let mut a = 0;
    for _ in 0..200 {
        let (bid, _) = new_browser(&b);
        if call_flow(&b, flow_req("hero_experiment", json!({"browserId": bid}))).json()["variantId"]
            == "hero-a"
        {
            a += 1;
        }
    }
    assert!((60..=140).contains(&a), "50/50 split gave {a}/200 for A");
}

#[test]
fn edge_personalize_routes_and_params_template() {
    let e = emu();
    let b = e.base_url();
    let bid = get(
        &b,
        "/v1/events/v1.2/browser/create.json?sitecoreContextId=ctx-123&client_key=",
    )
    .json()["ref"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"channel": "WEB", "clientKey": "", "currencyCode": "EUR", "friendlyId": "params_echo", "guestRef": "ignored", "language": "EN",
                      "params": {"x": {"y": 1}, "geo": {"city": "Dublin"}}, "pointOfSale": "", "variants": ["pv1"], "browserId": bid});
    for path in [
        "/v1/personalize?sitecoreContextId=ctx-123&siteId=spinair.com",
        "/v1/personalize/v2/callFlows?sitecoreContextId=ctx-123&siteId=spinair.com",
        "/personalize/v2/callFlows?sitecoreContextId=ctx-123&siteId=spinair.com",
    ] {
        let r = post_json(&b, path, &body);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let v = r.json();
        assert_eq!(v["params"], body["params"]);
        assert_eq!(v["x"], json!({"y": 1}));
        assert_eq!(v["pointOfSale"], POS, "pos filled from siteId");
        assert_eq!(v["channel"], "WEB");
        assert!(v["sessionRef"].as_str().unwrap().len() == 36);
    }
    let r = request(
        &b,
        "POST",
        "/v1/personalize",
        &[
            ("Content-Type", "application/json"),
            ("x-sitecore-contextid", "ctx-123"),
        ],
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        post_json(&b, "/v1/personalize?sitecoreContextId=bad", &body).status,
        401
    );
    let cdn = get(
        &b,
        "/v1/personalize/cdn-url?sitecoreContextId=ctx-123&client_key=",
    );
    assert_eq!(cdn.status, 200);
    assert!(cdn
        .text()
        .ends_with("/web-flow-libs/ck_test/web-version.min.js"));
}

#[test]
fn configured_flows_and_text_templates() {
    let cfg = EmulatorConfig::from_json(
        r#"{"tenants":[{"clientKey":"k","apiToken":"t","pointsOfSale":{"p":20},
            "flows":[{"friendlyId":"txt","template":"{\"v\":\"{{params.name|anon}}\",\"n\":{{params.n|0}}}"},
                     {"friendlyId":"plain","template":"hello {{params.name}}"},
                     {"friendlyId":"exp","variants":[{"name":"only","weight":1,"template":{"variantId":"{{variant.name}}-{{flow.friendlyId}}"}},{"name":"never","weight":0,"template":{}}]}]}]}"#,
    )
    .unwrap();
    let e = spawn(cfg).unwrap();
    let b = e.base_url();
    let base = json!({"clientKey": "k", "channel": "WEB", "pointOfSale": "p", "browserId": ""});
    let mut r = base.clone();
    r["friendlyId"] = json!("txt");
    r["params"] = json!({"name": "Jo", "n": 3});
    assert_eq!(call_flow(&b, r.clone()).json(), json!({"v": "Jo", "n": 3}));
    r["params"] = json!({});
    assert_eq!(
        call_flow(&b, r.clone()).json(),
        json!({"v": "anon", "n": 0})
    );
    r["friendlyId"] = json!("plain");
    r["params"] = json!({"name": "Jo"});
    let t = call_flow(&b, r.clone());
    assert_eq!(t.text(), "hello Jo");
    assert!(t.header("content-type").unwrap().starts_with("text/plain"));
    r["friendlyId"] = json!("exp");
    assert_eq!(
        call_flow(&b, r.clone()).json(),
        json!({"variantId": "only-exp"})
    );
    assert!(EmulatorConfig::from_json(r#"{"tenants":[{"clientKey":"k","apiToken":"t","flows":[{"friendlyId":"a*","template":{}}]}]}"#).is_err());
    assert!(EmulatorConfig::from_json(
        r#"{"tenants":[{"clientKey":"k","apiToken":"t","flows":[{"friendlyId":"a"}]}]}"#
    )
    .is_err());
    assert!(EmulatorConfig::from_json(r#"{"bogus":1}"#).is_err());
}
