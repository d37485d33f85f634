//! The C ABI's page view is queued packed (every string in one allocation, the user agent included; issue 15):
//! what reaches CDP must be what the owned `PageView` sends, with the visitor's User-Agent forwarded, live and
//! after a trip through the spool.

mod common;

use common::{admin, wait_for};
use serde_json::{json, Value};
use std::time::Duration;
use xmcdp::ffi::status::xmcdp_status_t::*;
use xmcdp::ffi::*;
use xmcdp::model::{Event, EventCommon, Ext, PageView};
use xmcdp::Client;
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

const UA: &str = "Mozilla/5.0 (packed; é)";

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn new_client(json: &str) -> xmcdp_client_t {
    let mut c = 0;
    assert_eq!(xmcdp_client_new(s(json), &mut c), XMCDP_STATUS_OK);
    c
}

fn bid(emu: &EmulatorHandle) -> String {
    common::get_json(&format!("{}/v1.2/browser/create.json?client_key=ck_test&message={{}}", emu.base_url()))["ref"].as_str().unwrap().to_string()
}

const EXT: &str = r#"{"loyalty":{"tier":"gold"},"n":1}"#;

/// Every field set, some empty, one absent (currency: the settings default applies).
fn c_view(bid: &str) -> xmcdp_page_view_t {
    let mut pv: xmcdp_page_view_t = unsafe { std::mem::zeroed() };
    pv.common.browser_id = s(bid);
    pv.common.channel = s("WEB");
    pv.common.language = s("");
    pv.common.page = s("home ✓");
    pv.common.point_of_sale = s("");
    pv.url = s("/p?utm_source=news&UTM_Medium=mail&variantid=v7");
    pv.referrer = s("https://ref.test/");
    pv.page_variant_id = s("");
    pv.ext_json = s(EXT);
    pv.user_agent = s(UA);
    pv.include_utm = 1;
    pv
}

fn owned_view(bid: &str) -> Event {
    Event::View(PageView {
        common: EventCommon {
            browser_id: bid.into(),
            channel: Some("WEB".into()),
            currency: None,
            language: Some("".into()),
            page: Some("home ✓".into()),
            point_of_sale: Some("".into()),
        },
        url: Some("/p?utm_source=news&UTM_Medium=mail&variantid=v7".into()),
        include_utm: true,
        referrer: Some("https://ref.test/".into()),
        page_variant_id: Some("".into()),
        ext: Ext::from_json(EXT.as_bytes()).unwrap(),
    })
}

/// The events requests for `bid` at the emulator: (body with the browser id masked, user-agent header).
fn sent_for(emu: &EmulatorHandle, bid: &str) -> Vec<(String, Value)> {
    admin(&emu.base_url()).requests().unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/v1.2/events" && r["body"].as_str().is_some_and(|b| b.contains(bid)))
        .map(|r| (r["body"].as_str().unwrap().replace(bid, "<bid>"), r["headers"]["user-agent"].clone()))
        .collect()
}

fn settings(target: &str, extra: Value) -> String {
    let mut v = json!({"clientKey": "ck_test", "targetUrl": target, "pointOfSale": "myretailsite/ireland", "currency": "EUR"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

#[test]
fn c_abi_page_view_sends_the_owned_page_view_s_body_and_the_user_agent() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let (b1, b2) = (bid(&emu), bid(&emu));
    let c = new_client(&settings(&emu.base_url(), json!({})));
    assert_eq!(xmcdp_client_page_view(c, &c_view(&b1)), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_shutdown(c, 10_000), XMCDP_STATUS_OK);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    let owned = Client::from_json(&settings(&emu.base_url(), json!({}))).unwrap();
    owned.send(owned_view(&b2), Some(UA.into())).unwrap();
    assert_eq!(owned.shutdown(Duration::from_secs(10)).unsent, 0);

    let (from_c, from_rust) = (sent_for(&emu, &b1), sent_for(&emu, &b2));
    assert_eq!(from_c.len(), 1, "{from_c:?}");
    assert_eq!(from_c, from_rust, "the C ABI's page view and the owned one differ on the wire");
    assert_eq!(from_c[0].1, UA);
    let body: Value = serde_json::from_str(&from_c[0].0).unwrap();
    assert_eq!((&body["utm_medium"], &body["currency"], &body["ext"]["pageVariantId"]), (&json!("mail"), &json!("EUR"), &json!("v7")), "{body}");
}

#[test]
fn a_spooled_c_abi_page_view_keeps_its_user_agent() {
    let emu = spawn(EmulatorConfig::default()).unwrap();
    let b = bid(&emu);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("xmcdp-packed-ua-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spool = json!({"spoolDirectory": dir.to_str().unwrap(), "spoolCommitIntervalMs": 20, "retryMaxAttempts": 1, "retryBaseMs": 5});
    admin(&emu.base_url()).set_faults(&json!({"routes": {"events": {"error_rate": 1.0, "error_status": 503}}})).unwrap();
    let c = new_client(&settings(&emu.base_url(), spool.clone()));
    assert_eq!(xmcdp_client_page_view(c, &c_view(&b)), XMCDP_STATUS_OK);
    // CDP keeps failing: the event goes to disk, by the retry or at shutdown.
    let _ = xmcdp_client_shutdown(c, 500);
    assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
    admin(&emu.base_url()).clear_faults().unwrap();

    let next = Client::from_json(&settings(&emu.base_url(), spool)).unwrap();
    let delivered = wait_for(Duration::from_secs(10), || {
        let ok: Vec<_> = sent_for(&emu, &b).into_iter().filter(|(_, ua)| ua == UA).collect();
        (!ok.is_empty()).then_some(ok)
    });
    next.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
    let sent = sent_for(&emu, &b);
    assert!(delivered.is_some(), "the replayed event lost its User-Agent: {sent:?}");
    assert!(sent.iter().all(|(_, ua)| ua == UA), "{sent:?}");
}
