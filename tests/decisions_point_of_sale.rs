//! The point of sale of a decision request is part of its identity (issue 10 item 13): a multi-language site asks
//! for the same visitor and flow under one point of sale per language, and neither the cache nor the coalescing of
//! identical concurrent requests may hand one language's answer to another.

mod common;

use common::admin;
use serde_json::{json, Value};
use std::time::Duration;
use xmcdp::decisions::DecisionSource;
use xmcdp::model::DecisionRequest;
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

const BUDGET: Duration = Duration::from_secs(3);

fn client(emu: &EmulatorHandle) -> Client {
    let s = json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "brand/ireland", "decisionCacheTtlMs": 60_000});
    Client::from_json(&s.to_string()).unwrap()
}

fn req(bid: &str, pos: Option<&str>) -> DecisionRequest {
    DecisionRequest { friendly_id: "home_page_banner".into(), browser_id: Some(bid.into()), point_of_sale: pos.map(Into::into), ..Default::default() }
}

/// The pointOfSale of every callFlows body the emulator received, in arrival order.
fn sent(emu: &EmulatorHandle) -> Vec<String> {
    let all = admin(&emu.base_url()).requests().unwrap();
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "callflows")
        .map(|r| serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap()["pointOfSale"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_cache_keeps_one_answer_per_point_of_sale() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let c = client(&emu);
    let bid = "a38b230c-11eb-4cf9-8d5d-274e9f344925";
    for pos in [Some("brand/germany"), Some("brand/france"), None] {
        assert_eq!(c.decisions().decide(&req(bid, pos), None, BUDGET).unwrap().source, DecisionSource::Network, "{pos:?}");
    }
    assert_eq!(sent(&emu), ["brand/germany", "brand/france", "brand/ireland"]);
    // Each is cached under its own point of sale.
    for pos in [Some("brand/germany"), Some("brand/france"), None] {
        assert_eq!(c.decisions().decide(&req(bid, pos), None, BUDGET).unwrap().source, DecisionSource::Cache, "{pos:?}");
    }
    assert_eq!(sent(&emu).len(), 3);
}

#[test]
fn concurrent_requests_for_two_points_of_sale_are_not_coalesced() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    admin(&emu.base_url()).set_faults(&json!({"routes": {"callflows": {"latency_ms": 200}}})).unwrap();
    let c = client(&emu);
    let bid = "b38b230c-11eb-4cf9-8d5d-274e9f344925";
    let de = c.decisions().begin_decide(&req(bid, Some("brand/germany")), None).unwrap();
    let fr = c.decisions().begin_decide(&req(bid, Some("brand/france")), None).unwrap();
    c.decisions().wait_decision(de, BUDGET).unwrap();
    c.decisions().wait_decision(fr, BUDGET).unwrap();
    let mut pos = sent(&emu);
    pos.sort();
    assert_eq!(pos, ["brand/france", "brand/germany"]);
}
