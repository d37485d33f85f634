//! Settings edge cases from the adversarial pass (issue 17, items 6-9), through `xmcdp_client_new` as a host
//! sees them: the status and the message `xmcdp_last_error` returns.

use xmcdp::ffi::status::xmcdp_status_t::{self, *};
use xmcdp::ffi::*;

fn s(v: &str) -> xmcdp_str_t {
    xmcdp_str_t { ptr: v.as_ptr(), len: v.len() }
}

fn last_error() -> String {
    let mut buf = vec![0u8; 16384];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// The status and message of creating a client from `json` (deleting it when it was created).
fn create(json: &str) -> (xmcdp_status_t, String) {
    let mut c = 0;
    let status = xmcdp_client_new(s(json), &mut c);
    if status == XMCDP_STATUS_OK {
        assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
        return (status, String::new());
    }
    (status, last_error())
}

const BASE: &str = r#""clientKey":"ck_test","targetUrl":"https://api-engage-eu.sitecorecloud.io","pointOfSale":"p""#;

#[test]
fn duplicate_keys_are_an_error_naming_the_setting() {
    for (dup, name) in [
        (r#""apiToken":"tok_first","apiToken":"tok_second""#, "apiToken"),
        (r#""allowInsecureHttp":false,"allowInsecureHttp":true"#, "allowInsecureHttp"),
        (r#""queueMaxBytes":65536,"queueMaxBytes":1048576"#, "queueMaxBytes"),
        (r#""clientKey":"ck_other""#, "clientKey"),
        (r#""decisionCacheTtlMs":{"flow_a":100,"flow_a":0}"#, "decisionCacheTtlMs"),
    ] {
        let (status, msg) = create(&format!("{{{BASE},{dup}}}"));
        assert_eq!(status, XMCDP_STATUS_INVALID_SETTING, "{dup}: {msg}");
        assert!(msg.contains(&format!("\"{name}\"")) && msg.contains("more than once"), "{dup}: {msg}");
        assert!(!msg.contains("tok_first") && !msg.contains("tok_second"), "{msg}");
    }
    // The same key in two different objects is not a duplicate.
    let (status, msg) = create(&format!(r#"{{{BASE},"decisionCacheTtlMs":{{"a":1,"*":2}}}}"#));
    assert_eq!(status, XMCDP_STATUS_OK, "{msg}");
}

#[test]
fn an_unknown_key_that_is_long_or_looks_like_a_secret_is_never_echoed() {
    let secretish = [
        "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_string(),
        "a".repeat(64),
        "Y2tfdGVzdDp0b2tfdGVzdA==".to_string(),
        "sk-live-0123456789abcdef".to_string(),
    ];
    for key in &secretish {
        let (status, msg) = create(&format!(r#"{{{BASE},"{key}":1}}"#));
        assert_eq!(status, XMCDP_STATUS_UNKNOWN_KEY, "{msg}");
        assert!(!msg.contains(key.as_str()) && !msg.contains(&key[..12]), "the key leaked: {msg}");
        assert!(msg.contains("4th key"), "names the position instead: {msg}");
    }
    // A plain typo is still named, so the fix is obvious.
    let (status, msg) = create(&format!(r#"{{{BASE},"decisionTimeoutMS":1}}"#));
    assert_eq!(status, XMCDP_STATUS_UNKNOWN_KEY);
    assert!(msg.contains("\"decisionTimeoutMS\""), "{msg}");
}

#[test]
fn a_too_long_client_key_is_reported_as_client_key() {
    let key = "c".repeat(1024);
    let (status, msg) = create(&format!(r#"{{"clientKey":"{key}","targetUrl":"https://x.io","pointOfSale":"p"}}"#));
    assert_eq!(status, XMCDP_STATUS_INVALID_SETTING, "{msg}");
    assert!(msg.contains("\"clientKey\"") && !msg.contains("cookieName"), "{msg}");
    // Every length that passes makes valid default cookie names.
    for n in [1usize, 32, 100] {
        let (status, msg) = create(&format!(r#"{{"clientKey":"{}","targetUrl":"https://x.io","pointOfSale":"p"}}"#, "c".repeat(n)));
        assert_eq!(status, XMCDP_STATUS_OK, "{n}: {msg}");
    }
    let (status, msg) = create(&format!(r#"{{"clientKey":"{}","targetUrl":"https://x.io","pointOfSale":"p"}}"#, "c".repeat(101)));
    assert_eq!((status, msg.contains("\"clientKey\"")), (XMCDP_STATUS_INVALID_SETTING, true), "{msg}");
}

#[test]
fn point_of_sale_is_rejected_in_edge_mode_as_context_id_is_in_classic_mode() {
    let edge = r#""clientKey":"ck","edgeUrl":"https://edge.example.io","contextId":"ctx","siteName":"site""#;
    let (status, msg) = create(&format!(r#"{{{edge},"pointOfSale":"myretailsite/ireland"}}"#));
    assert_eq!(status, XMCDP_STATUS_INVALID_SETTING, "{msg}");
    assert!(msg.contains("\"pointOfSale\"") && msg.contains("classic"), "{msg}");
    assert_eq!(create(&format!("{{{edge}}}")).0, XMCDP_STATUS_OK);
    // The mirror case, unchanged.
    let (status, msg) = create(&format!(r#"{{{BASE},"contextId":"ctx"}}"#));
    assert_eq!(status, XMCDP_STATUS_INVALID_SETTING, "{msg}");
}
