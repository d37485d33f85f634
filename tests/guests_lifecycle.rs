//! The guest lifecycle over Guest REST v2.1 against the emulator: registration with data extensions in one
//! flow, partial update and replace, delete (right to be forgotten), local checks before any request, one
//! budget per registration, shutdown of an in-flight call, and the token kept out of every message.

mod common;

use common::admin;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use xmcdp::guests::guest_refs;
use xmcdp::guests::lifecycle::guest_ref_of;
use xmcdp::{Client, ErrorKind};
use xmcdp_emulator::{spawn, EmulatorConfig, EmulatorHandle};

const TOKEN: &str = "tok_test";

fn emulator() -> EmulatorHandle {
    spawn(EmulatorConfig::default()).expect("emulator starts")
}

fn client(emu: &EmulatorHandle) -> Client {
    Client::from_json(
        &json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "myretailsite/ireland", "apiToken": TOKEN}).to_string(),
    )
    .unwrap()
}

fn guest_requests(emu: &EmulatorHandle) -> Vec<Value> {
    admin(&emu.base_url()).requests().unwrap()["items"].as_array().unwrap().iter().filter(|r| r["route"] == "guests").cloned().collect()
}

fn registration() -> Value {
    json!({"guestType": "customer", "email": "ann.lee@example.com", "firstName": "Ann", "lastName": "Lee",
           "identifiers": [{"provider": "CRM", "id": "C-1001"}]})
}

#[test]
fn registration_creates_the_guest_and_its_extensions_in_one_flow() {
    let emu = emulator();
    let c = client(&emu);
    let api = c.guests();
    let g = api.register(&registration(), &json!({"ext": {"loyaltyTier": "gold", "newsletter": true}, "ext1": {"points": 10}})).unwrap();
    let gref = guest_ref_of(&g).expect("the answer names the guest");
    assert_eq!((g["guestType"].as_str(), g["firstName"].as_str(), g["email"].as_str()), (Some("customer"), Some("Ann"), Some("ann.lee@example.com")));
    let exts = g["extensions"].as_array().expect("created extensions replace the link");
    assert_eq!(exts.iter().map(|x| x["name"].as_str().unwrap()).collect::<Vec<_>>(), ["ext", "ext1"]);

    let reqs = guest_requests(&emu);
    let calls: Vec<(String, String)> = reqs.iter().map(|r| (r["method"].as_str().unwrap().into(), r["path"].as_str().unwrap().into())).collect();
    let ext_path = format!("/v2.1/guests/{gref}/extensions");
    assert_eq!(calls, [("POST".into(), "/v2.1/guests".into()), ("POST".into(), ext_path.clone()), ("POST".into(), ext_path)]);
    let sent: Value = serde_json::from_str(reqs[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent, registration(), "the guest body is sent as given (REST spellings)");
    assert_eq!(reqs[0]["headers"]["authorization"], "Basic Y2tfdGVzdDp0b2tfdGVzdA==");

    // CDP now knows the guest by its identifier and e-mail, with the extensions.
    assert_eq!(guest_refs(&api.find_by_identifier("CRM", "C-1001").unwrap()), vec![gref.clone()]);
    assert_eq!(guest_refs(&api.find_by_email("ann.lee@example.com").unwrap()), vec![gref.clone()]);
    let read = api.get(&gref, true).unwrap();
    assert_eq!(read["extensions"][0]["loyaltyTier"], "gold");
    assert_eq!(read["extensions"][1]["points"], 10);
    // Without extensions: one request, and the guest as CDP answered it.
    let plain = api.create_guest(&json!({"guestType": "visitor"})).unwrap();
    assert_eq!(plain["guestType"], "visitor");
    assert_eq!(guest_requests(&emu).len(), 7, "3 writes, 3 reads, 1 write");
}

#[test]
fn a_partial_update_changes_only_what_is_sent_and_replace_changes_all() {
    let emu = emulator();
    let c = client(&emu);
    let api = c.guests();
    let gref = guest_ref_of(&api.create_guest(&registration()).unwrap()).unwrap();
    let g = api.update_guest(&gref, &json!({"firstName": "Annie", "city": "Dublin", "country": "IE"})).unwrap();
    assert_eq!((g["firstName"].as_str(), g["lastName"].as_str(), g["city"].as_str()), (Some("Annie"), Some("Lee"), Some("Dublin")));
    assert_eq!(g["identifiers"][0]["id"], "C-1001", "identifiers are kept when not sent");
    let rec = guest_requests(&emu).last().unwrap().clone();
    assert_eq!((rec["method"].as_str(), rec["path"].as_str()), (Some("PATCH"), Some(format!("/v2.1/guests/{gref}").as_str())));
    assert_eq!(rec["body"], r#"{"firstName":"Annie","city":"Dublin","country":"IE"}"#);
    // null clears one attribute.
    let g = api.update_guest(&gref, &json!({"city": null})).unwrap();
    assert!(g.get("city").is_none() && g["firstName"] == "Annie", "{g}");
    // PUT replaces the whole guest.
    let g = api.replace_guest(&gref, &json!({"guestType": "customer", "lastName": "Lee-Smith"})).unwrap();
    assert!(g.get("firstName").is_none() && g["lastName"] == "Lee-Smith", "{g}");
    assert_eq!(api.update_guest("00000000-0000-0000-0000-000000000000", &json!({"firstName": "x"})).unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn delete_forgets_the_guest_and_its_extensions() {
    let emu = emulator();
    let c = client(&emu);
    let api = c.guests();
    let gref = guest_ref_of(&api.register(&registration(), &json!({"ext": {"tier": "gold"}})).unwrap()).unwrap();
    api.delete_guest(&gref).unwrap();
    assert_eq!(api.get(&gref, true).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(api.get_extension(&gref, "ext").unwrap_err().kind, ErrorKind::NotFound);
    assert!(guest_refs(&api.find_by_identifier("CRM", "C-1001").unwrap()).is_empty());
    assert!(guest_refs(&api.find_by_email("ann.lee@example.com").unwrap()).is_empty());
    let again = api.delete_guest(&gref).unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotFound, "{}", again.message);
    let rec = guest_requests(&emu).last().unwrap().clone();
    assert_eq!((rec["method"].as_str(), rec["path"].as_str()), (Some("DELETE"), Some(format!("/v2.1/guests/{gref}").as_str())));
}

#[test]
fn bad_input_is_refused_before_any_request_with_a_clear_status() {
    let emu = emulator();
    let c = client(&emu);
    let api = c.guests();
    let cases: Vec<(Value, Value, ErrorKind, &str)> = vec![
        (json!({"email": "a@b.co"}), Value::Null, ErrorKind::InvalidField, "guestType"),
        (json!({"guestType": "member"}), Value::Null, ErrorKind::InvalidField, "guestType"),
        (json!({"guestType": "visitor", "firstname": "Ann"}), Value::Null, ErrorKind::InvalidField, "firstname"),
        (json!({"guestType": "visitor", "email": "not-an-address"}), Value::Null, ErrorKind::InvalidEmail, "email"),
        (json!({"guestType": "visitor", "dateOfBirth": "2990-01-01T00:00:00.000Z"}), Value::Null, ErrorKind::InvalidDate, "past"),
        (json!({"guestType": "visitor", "identifiers": [{"id": "C-1"}]}), Value::Null, ErrorKind::MissingIdentifiers, "provider"),
        (json!({"guestType": "visitor", "firstName": "x".repeat(300)}), Value::Null, ErrorKind::TooLarge, "firstName"),
        (json!(["guest"]), Value::Null, ErrorKind::InvalidArgument, "object"),
        (registration(), json!({"ext9": {"a": 1}}), ErrorKind::InvalidExt, "ext5"),
        (registration(), json!({"ext": {"tier": "a"}, "ext1": {"tier": "b"}}), ErrorKind::InvalidExt, "unique"),
        (registration(), json!({"ext": {"list": [1]}}), ErrorKind::InvalidExt, "string, boolean or number"),
        (registration(), json!("ext"), ErrorKind::InvalidExt, "extension name"),
    ];
    for (guest, exts, kind, words) in &cases {
        let e = api.register(guest, exts).unwrap_err();
        assert_eq!(e.kind, *kind, "{guest} {exts}: {}", e.message);
        assert!(e.message.contains(words), "{guest} {exts}: {}", e.message);
    }
    let g = "0f8e2d1c-1111-4222-8333-944455566677";
    assert_eq!(api.update_guest(g, &json!({})).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(api.update_guest(g, &json!({"guestType": null})).unwrap_err().kind, ErrorKind::InvalidField);
    assert_eq!(api.replace_guest(g, &json!({"firstName": "x"})).unwrap_err().kind, ErrorKind::InvalidField);
    assert_eq!(api.update_guest("../../v2.1/guests", &json!({"firstName": "x"})).unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(api.delete_guest("a/b").unwrap_err().kind, ErrorKind::InvalidArgument);
    assert!(guest_requests(&emu).is_empty(), "nothing reached the server");
}

#[test]
fn a_registration_is_one_budget_and_a_late_extension_names_the_created_guest() {
    let emu = emulator();
    let c = client(&emu);
    admin(&emu.base_url()).set_faults(&json!({"routes": {"guests": {"latency_ms": 400}}})).unwrap();
    let e = c.guests().with_timeout(Duration::from_millis(650)).register(&registration(), &json!({"ext": {"tier": "gold"}})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
    admin(&emu.base_url()).set_faults(&json!({})).unwrap();
    let found = guest_refs(&c.guests().find_by_identifier("CRM", "C-1001").unwrap());
    assert_eq!(found.len(), 1, "the accepted guest is kept");
    assert!(e.message.contains(&format!("guest {} was created, but its data extension ext was not", found[0])), "{}", e.message);
}

#[test]
fn shutdown_ends_an_in_flight_registration_with_shut_down() {
    let emu = emulator();
    let c = Arc::new(client(&emu));
    admin(&emu.base_url()).set_faults(&json!({"routes": {"guests": {"latency_ms": 3000}}})).unwrap();
    let worker = {
        let c = c.clone();
        std::thread::spawn(move || c.guests().with_timeout(Duration::from_secs(10)).register(&registration(), &Value::Null))
    };
    // The emulator records a request once answered, so give the POST time to be on the wire instead.
    std::thread::sleep(Duration::from_millis(400));
    c.shutdown(Duration::from_millis(500));
    let e = worker.join().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::ShutDown, "{}", e.message);
    assert_eq!(c.guests().delete_guest("0f8e2d1c-1111-4222-8333-944455566677").unwrap_err().kind, ErrorKind::ShutDown);
}

#[test]
fn the_token_goes_only_over_https_or_loopback_and_never_into_a_message() {
    const SECRET: &str = "tok_SECRET_lifecycle_42";
    let remote_http = Client::from_json(
        &json!({"clientKey": "ck_test", "targetUrl": "http://cdp.example.com", "pointOfSale": "p", "allowInsecureHttp": true, "apiToken": SECRET})
            .to_string(),
    )
    .unwrap();
    for r in [remote_http.guests().create_guest(&registration()), remote_http.guests().delete_guest("abc-1")] {
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::ConfigInvalidUrl, "{}", e.message);
        assert!(!e.message.contains(SECRET));
    }
    let emu = emulator();
    let wrong = Client::from_json(
        &json!({"clientKey": "ck_test", "targetUrl": emu.base_url(), "pointOfSale": "p", "apiToken": SECRET}).to_string(),
    )
    .unwrap();
    let errors = [
        wrong.guests().register(&registration(), &json!({"ext": {"a": 1}})).unwrap_err(),
        wrong.guests().update_guest("0f8e2d1c-1111-4222-8333-944455566677", &json!({"firstName": "x"})).unwrap_err(),
        wrong.guests().delete_guest("0f8e2d1c-1111-4222-8333-944455566677").unwrap_err(),
    ];
    for e in &errors {
        assert_eq!(e.kind, ErrorKind::Unauthorized, "{}", e.message);
        assert!(!e.message.contains(SECRET) && !e.message.contains("SECRET"), "{}", e.message);
    }
    // A server 400 that echoes the body's personal data: the message keeps the status, not the data.
    let c = client(&emu);
    admin(&emu.base_url()).set_faults(&json!({"routes": {"guests": {"error_rate": 1.0, "error_status": 400}}})).unwrap();
    let e = c.guests().create_guest(&registration()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(!e.message.contains("ann.lee@example.com") && !e.message.contains("C-1001"), "{}", e.message);
}
