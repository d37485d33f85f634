//! `xmcdp_settings_schema` and the settings parser agree (issue 10 item 7): hosts convert text settings by
//! the schema, so a key the schema types one way must be accepted as that type and refused as any other, and
//! a key outside it must be refused as unknown.

use std::ptr::null_mut;
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

fn create(json: &str) -> (xmcdp_status_t, String) {
    let mut c = 0;
    let status = xmcdp_client_new(s(json), &mut c);
    if status == XMCDP_STATUS_OK {
        assert_eq!(xmcdp_client_delete(c), XMCDP_STATUS_OK);
        return (status, String::new());
    }
    (status, last_error())
}

/// The schema as a host reads it: ask for the size, then copy.
fn schema() -> serde_json::Map<String, serde_json::Value> {
    let mut n = 0usize;
    assert_eq!(xmcdp_settings_schema(null_mut(), 0, &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    let mut small = vec![0u8; n - 1];
    assert_eq!(xmcdp_settings_schema(small.as_mut_ptr(), small.len(), &mut n), XMCDP_STATUS_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; n];
    assert_eq!(xmcdp_settings_schema(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    assert_eq!(n, buf.len());
    match serde_json::from_slice(&buf).expect("schema is JSON") {
        serde_json::Value::Object(m) => m,
        other => panic!("schema is not an object: {other}"),
    }
}

/// Settings that are complete without `key`, in the mode `key` belongs to, with `key: value` added.
fn doc_with(key: &str, value: &str) -> String {
    let mut base: Vec<(&str, &str)> = match key {
        "edgeUrl" | "contextId" | "siteName" => vec![
            ("clientKey", r#""ck_test""#),
            ("edgeUrl", r#""https://edge.sitecorecloud.io""#),
            ("contextId", r#""ctx1""#),
            ("siteName", r#""site""#),
        ],
        _ => vec![
            ("clientKey", r#""ck_test""#),
            ("targetUrl", r#""https://api-engage-eu.sitecorecloud.io""#),
            ("pointOfSale", r#""pos""#),
        ],
    };
    base.retain(|(k, _)| *k != key);
    base.push((key, value));
    let body: Vec<String> = base.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

const TYPE_ERRORS: &[&str] = &["must be a string", "must be a number", "must be true or false"];

#[test]
fn every_schema_key_is_accepted_as_its_type_and_refused_as_another() {
    let schema = schema();
    assert_eq!(schema.len(), xmcdp::config::KEYS.len(), "schema and KEYS list the same settings");
    for (key, ty) in &schema {
        let ty = ty.as_str().expect("type is a string");
        let (right, wrong) = match ty {
            "string" => (r#""x1""#, "12"),
            "integer" => ("12", r#""12""#),
            "boolean" => ("true", r#""true""#),
            "integerOrObject" => ("12", r#""12""#),
            other => panic!("unknown type {other} for {key}"),
        };
        let (status, msg) = create(&doc_with(key, right));
        assert_ne!(status, XMCDP_STATUS_UNKNOWN_KEY, "{key}: {msg}");
        assert!(!TYPE_ERRORS.iter().any(|t| msg.contains(t)), "{key} typed {ty} but refused as such: {msg}");

        let (status, msg) = create(&doc_with(key, wrong));
        assert_eq!(status, XMCDP_STATUS_INVALID_SETTING, "{key} typed {ty} accepted {wrong}: {msg}");
        assert!(msg.contains(&format!("\"{key}\" must be")), "{key}: {msg}");
    }
}

#[test]
fn the_object_form_of_integer_or_object_is_accepted() {
    let schema = schema();
    for (key, ty) in &schema {
        if ty == "integerOrObject" {
            let (status, msg) = create(&doc_with(key, r#"{"flow_a":100,"*":0}"#));
            assert_eq!(status, XMCDP_STATUS_OK, "{key}: {msg}");
        }
    }
}

#[test]
fn a_key_outside_the_schema_is_unknown() {
    let schema = schema();
    for key in ["queueCapacityy", "spoolDir", "ApiToken"] {
        assert!(!schema.contains_key(key));
        let (status, msg) = create(&doc_with(key, "1"));
        assert_eq!(status, XMCDP_STATUS_UNKNOWN_KEY, "{key}: {msg}");
    }
}
