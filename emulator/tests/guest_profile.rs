//! Guest REST v2.1 guest attributes: types, dates and unknown names are refused with 400 on create, PUT and
//! PATCH (nothing is stored), null clears an attribute in a PATCH, and delete forgets the guest everywhere.
mod common;
use common::*;
use serde_json::{json, Value};

fn create(b: &str, body: Value) -> Resp {
    rest(b, "POST", "/v2.1/guests", Some(&body))
}

#[test]
fn attributes_are_typed_and_checked_on_every_write() {
    let e = emu();
    let b = e.base_url();
    let bad = [
        json!({"guestType": "customer", "firstname": "Jo"}),
        json!({"guestType": "customer", "firstName": 7}),
        json!({"guestType": "customer", "email": "jo"}),
        json!({"guestType": "customer", "country": "Ireland"}),
        json!({"guestType": "customer", "dateOfBirth": "2999-01-01T00:00:00.000Z"}),
        json!({"guestType": "customer", "dateOfBirth": "17/05/1990"}),
        json!({"guestType": "customer", "street": "1 Main St"}),
        json!({"guestType": "customer", "phoneNumbers": [353]}),
    ];
    for body in &bad {
        let r = create(&b, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["code"], 400);
    }
    let r = create(
        &b,
        json!({"guestType": "customer", "firstName": "Jo", "country": "IE", "dateOfBirth": "1990-05-17T00:00:00.000Z",
               "street": ["1 Main St"], "phoneNumbers": ["+353 1 555 0100"], "ref": "ignored-output-field"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let gref = r.json()["ref"].as_str().unwrap().to_string();
    assert_ne!(gref, "ignored-output-field");
    let path = format!("/v2.1/guests/{gref}");
    for body in &bad {
        let mut patch = body.clone();
        patch.as_object_mut().unwrap().remove("guestType");
        assert_eq!(rest(&b, "PATCH", &path, Some(&patch)).status, 400, "PATCH {patch}");
        assert_eq!(rest(&b, "PUT", &path, Some(body)).status, 400, "PUT {body}");
    }
    let g = rest(&b, "GET", &path, None).json();
    assert_eq!((g["firstName"].as_str(), g["country"].as_str()), (Some("Jo"), Some("IE")), "refused writes stored nothing: {g}");
    let p = rest(&b, "PATCH", &path, Some(&json!({"country": null, "lastName": "Bloggs"}))).json();
    assert!(p.get("country").is_none() && p["lastName"] == "Bloggs" && p["firstName"] == "Jo", "{p}");
}

#[test]
fn delete_forgets_the_guest_its_extensions_and_identifiers() {
    let e = emu();
    let b = e.base_url();
    let r = create(&b, json!({"guestType": "customer", "email": "gone@example.com", "identifiers": [{"provider": "CRM", "id": "G-1"}]}));
    let gref = r.json()["ref"].as_str().unwrap().to_string();
    let ext = rest(&b, "POST", &format!("/v2.1/guests/{gref}/extensions"), Some(&json!({"name": "ext", "tier": "gold"})));
    assert_eq!(ext.status, 201, "{}", ext.text());
    assert_eq!(rest(&b, "DELETE", &format!("/v2.1/guests/{gref}"), None).status, 200);
    assert_eq!(rest(&b, "GET", &format!("/v2.1/guests/{gref}/extensions/ext"), None).status, 404);
    for q in ["email=gone@example.com", "identifiers.provider=CRM&identifiers.id=G-1"] {
        let found = rest(&b, "GET", &format!("/v2.1/guests?{q}"), None).json();
        assert_eq!(found["items"], json!([]), "{q}");
    }
    // The identifier is free again: a new registration with it is a different guest.
    let again = create(&b, json!({"guestType": "customer", "identifiers": [{"provider": "CRM", "id": "G-1"}]})).json();
    let found = rest(&b, "GET", "/v2.1/guests?identifiers.provider=CRM&identifiers.id=G-1", None).json();
    assert_eq!(found["items"][0]["href"], again["href"]);
}
