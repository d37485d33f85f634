//! Guest REST v2.1: auth, guests CRUD and search, data extensions and their limits.
mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn auth_is_required() {
    let e = emu();
    let b = e.base_url();
    for auth in [
        None,
        Some("Basic Y2tfdGVzdDp3cm9uZw=="),
        Some("Bearer x"),
        Some("Basic !!!"),
    ] {
        let h: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
        let r = request(&b, "GET", "/v2.1/guests?email=a@b.co", &h, None).unwrap();
        assert_eq!(r.status, 401);
        let v = r.json();
        assert_eq!(v["status"], "UNAUTHORIZED");
        assert_eq!(v["code"], 401);
        assert_eq!(v["message"], "Authentication credentials are required to access the resource. All requests must be authenticated.");
        assert_eq!(v["moreInfoUrl"], "https://support.sitecore.com");
    }
}

#[test]
fn guest_crud_and_search() {
    let e = emu();
    let b = e.base_url();
    let r = rest(
        &b,
        "POST",
        "/v2.1/guests",
        Some(&json!({"firstName": "Jo"})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], 400);
    assert_eq!(
        rest(
            &b,
            "POST",
            "/v2.1/guests",
            Some(&json!({"guestType": "alien"}))
        )
        .status,
        400
    );
    let r = request(
        &b,
        "POST",
        "/v2.1/guests",
        &[("Authorization", BASIC), ("Content-Type", "text/xml")],
        Some(b"<x/>"),
    )
    .unwrap();
    assert_eq!(r.status, 415);

    let r = rest(
        &b,
        "POST",
        "/v2.1/guests",
        Some(
            &json!({"guestType": "customer", "firstName": "Jo", "email": "jo@example.com",
        "identifiers": [{"provider": "CRM", "id": "C-9", "expiryDate": "2030-01-01T00:00:00.000Z"}]}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let g = r.json();
    let gref = g["ref"].as_str().unwrap().to_string();
    assert_eq!(g["href"], format!("{b}/v2.1/guests/{gref}"));
    assert_eq!(r.header("location"), g["href"].as_str());
    assert_eq!(
        g["identifiers"][0]["expiryDate"],
        "2030-01-01T00:00:00.000Z"
    );
    for k in ["createdAt", "modifiedAt", "firstSeen", "lastSeen"] {
        assert!(g[k].as_str().unwrap().ends_with('Z'));
    }
    // No de-duplication: a second create makes a second guest.
    let g2 = rest(
        &b,
        "POST",
        "/v2.1/guests",
        Some(&json!({"guestType": "visitor", "email": "jo@example.com"})),
    )
    .json();

    let s = rest(&b, "GET", "/v2.1/guests?email=jo@example.com", None);
    assert_eq!(s.status, 200);
    let sv = s.json();
    assert_eq!(sv["offset"], 0);
    assert_eq!(sv["limit"], 10);
    assert!(sv["href"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{b}/v2.1/guests?")));
    assert_eq!(sv["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        sv["items"][0],
        json!({"href": format!("{b}/v2.1/guests/{gref}")})
    );
    let s = rest(
        &b,
        "GET",
        "/v2.1/guests?email=jo@example.com&offset=1&limit=1",
        None,
    )
    .json();
    assert_eq!(s["items"], json!([{"href": g2["href"]}]));
    let s = rest(
        &b,
        "GET",
        "/v2.1/guests?identifiers.provider=CRM&identifiers.id=C-9&expand=true",
        None,
    )
    .json();
    assert_eq!(s["items"][0]["firstName"], "Jo");
    assert_eq!(
        rest(&b, "GET", "/v2.1/guests?identifiers.provider=CRM", None).status,
        400
    );
    assert_eq!(rest(&b, "GET", "/v2.1/guests?limit=0", None).status, 400);

    let got = rest(&b, "GET", &format!("/v2.1/guests/{gref}"), None).json();
    assert_eq!(
        got["extensions"]["href"],
        format!("{b}/v2.1/guests/{gref}/extensions")
    );
    let got = rest(&b, "GET", &format!("/v2.1/guests/{gref}?expand=true"), None).json();
    assert_eq!(got["extensions"], json!([]));

    let p = rest(
        &b,
        "PATCH",
        &format!("/v2.1/guests/{gref}"),
        Some(&json!({"lastName": "Bloggs", "firstName": null})),
    );
    assert_eq!(p.status, 200);
    let pv = p.json();
    assert_eq!(pv["lastName"], "Bloggs");
    assert!(pv.get("firstName").is_none());
    assert_eq!(pv["email"], "jo@example.com");
    let u = rest(
        &b,
        "PUT",
        &format!("/v2.1/guests/{gref}"),
        Some(&json!({"guestType": "visitor", "firstName": "Joe"})),
    );
    assert_eq!(u.status, 200);
    let uv = u.json();
    assert_eq!(uv["guestType"], "visitor");
    assert!(uv.get("email").is_none(), "PUT replaces");
    assert_eq!(
        rest(
            &b,
            "PUT",
            &format!("/v2.1/guests/{gref}"),
            Some(&json!({"firstName": "x"}))
        )
        .status,
        400
    );

    let d = rest(&b, "DELETE", &format!("/v2.1/guests/{gref}"), None);
    assert_eq!(d.status, 200);
    let nf = rest(&b, "GET", &format!("/v2.1/guests/{gref}"), None);
    assert_eq!(nf.status, 404);
    let v = nf.json();
    assert_eq!(v["status"], 404);
    assert_eq!(v["code"], 404);
    assert_eq!(v["message"], "The specified resource does not exist.");
    assert_eq!(
        v["developerMessage"],
        format!("Guest with ref {gref} for client key ck_test was not found")
    );
    assert_eq!(v["moreInfoUrl"], "https://support.sitecore.com");
    assert_eq!(
        rest(&b, "DELETE", &format!("/v2.1/guests/{gref}"), None).status,
        404
    );
}

#[test]
fn guest_rest_sees_stream_guests_and_delete_cascades() {
    let e = emu();
    let b = e.base_url();
    let (bid, gref) = new_browser(&b);
    event(
        &b,
        &bid,
        "IDENTITY",
        json!({"email": "s@example.com", "firstname": "S", "identifiers": [{"provider": "email", "id": "s@example.com"}]}),
    );
    let g = rest(&b, "GET", &format!("/v2.1/guests/{gref}"), None).json();
    assert_eq!(g["guestType"], "customer");
    assert_eq!(g["firstName"], "S");
    assert_eq!(
        rest(&b, "DELETE", &format!("/v2.1/guests/{gref}"), None).status,
        200
    );
    assert_eq!(
        get(
            &b,
            &format!("/v1.2/browser/{bid}/show.json?client_key=ck_test")
        )
        .status,
        404
    );
    assert_eq!(event(&b, &bid, "VIEW", json!({})).status, 404);
    assert_eq!(
        admin(&b, &format!("/__emulator/sessions?browser_id={bid}"))["count"],
        0
    );
}

fn ext_url(gref: &str, rest: &str) -> String {
    format!("/v2.1/guests/{gref}/extensions{rest}")
}

#[test]
fn data_extensions_and_limits() {
    let e = emu();
    let b = e.base_url();
    let gref = rest(
        &b,
        "POST",
        "/v2.1/guests",
        Some(&json!({"guestType": "visitor"})),
    )
    .json()["ref"]
        .as_str()
        .unwrap()
        .to_string();

    let r = rest(
        &b,
        "POST",
        &ext_url(&gref, ""),
        Some(
            &json!({"name": "ext", "key": "default", "vipMember": true, "loyaltyTier": "level2", "points": 10, "ratio": 0.5}),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let x = r.json();
    assert_eq!(x["href"], format!("{b}/v2.1/guests/{gref}/extensions/ext"));
    assert_eq!(x["name"], "ext");
    assert_eq!(x["key"], "default");
    assert_eq!(x["guest"]["href"], format!("{b}/v2.1/guests/{gref}"));
    assert_eq!(x["vipMember"], true);
    assert!(x["ref"].is_string() && x["createdAt"].is_string());

    let bad = |body: Value, why: &str| {
        let r = rest(&b, "POST", &ext_url(&gref, ""), Some(&body));
        assert_eq!(r.status, 400, "{why}: {}", r.text());
        let v = r.json();
        assert_eq!(v["code"], 400);
        assert!(v["developerMessage"].is_string());
    };
    bad(json!({"name": "ext", "a": 1}), "duplicate extension");
    bad(json!({"name": "ext6", "a": 1}), "bad name");
    bad(json!({"name": "extFoo", "a": 1}), "bad name");
    bad(json!({"a": 1}), "missing name");
    bad(
        json!({"name": "ext1", "key": "other", "a": 1}),
        "key must be default",
    );
    bad(json!({"name": "ext1", "nested": {"a": 1}}), "nested value");
    bad(json!({"name": "ext1", "list": [1]}), "array value");
    bad(
        json!({"name": "ext1", "bad-key": 1}),
        "non-alphanumeric key",
    );
    bad(json!({"name": "ext1", "points": 1}), "key already in ext");
    let mut many = serde_json::Map::new();
    many.insert("name".into(), json!("ext1"));
    for i in 0..101 {
        many.insert(format!("k{i}"), json!(i));
    }
    bad(Value::Object(many.clone()), "101 keys");
    many.remove("k100");
    assert_eq!(
        rest(&b, "POST", &ext_url(&gref, ""), Some(&Value::Object(many))).status,
        201,
        "100 keys are fine"
    );
    for n in ["ext2", "ext3", "ext4", "ext5"] {
        assert_eq!(
            rest(
                &b,
                "POST",
                &ext_url(&gref, ""),
                Some(&json!({"name": n, format!("f{n}"): 1}))
            )
            .status,
            201
        );
    }

    let l = rest(&b, "GET", &ext_url(&gref, ""), None).json();
    assert_eq!(l["offset"], 0);
    assert_eq!(l["limit"], 10);
    assert_eq!(l["items"].as_array().unwrap().len(), 6);
    assert_eq!(
        l["items"][0],
        json!({"href": format!("{b}/v2.1/guests/{gref}/extensions/ext")})
    );
    let l = rest(
        &b,
        "GET",
        &ext_url(&gref, "?expand=true&limit=2&offset=1"),
        None,
    )
    .json();
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    assert_eq!(l["items"][0]["name"], "ext1");
    let g = rest(&b, "GET", &format!("/v2.1/guests/{gref}?expand=true"), None).json();
    assert_eq!(g["extensions"].as_array().unwrap().len(), 6);

    // PUT replaces, PATCH merges (null removes), delete-fields, delete.
    let p = rest(
        &b,
        "PUT",
        &ext_url(&gref, "/ext"),
        Some(&json!({"tier": "gold"})),
    );
    assert_eq!(p.status, 200);
    let pv = p.json();
    assert_eq!(pv["tier"], "gold");
    assert!(pv.get("vipMember").is_none());
    assert_eq!(
        rest(
            &b,
            "PUT",
            &ext_url(&gref, "/ext"),
            Some(&json!({"fext2": 1}))
        )
        .status,
        400,
        "unique across extensions"
    );
    assert_eq!(
        rest(
            &b,
            "PUT",
            &ext_url(&gref, "/ext"),
            Some(&json!({"name": "ext3", "a": 1}))
        )
        .status,
        400
    );
    let p = rest(
        &b,
        "PATCH",
        &ext_url(&gref, "/ext"),
        Some(&json!({"a": 1, "b": "x", "c": false})),
    );
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["tier"], "gold");
    let p = rest(
        &b,
        "PATCH",
        &ext_url(&gref, "/ext"),
        Some(&json!({"c": null})),
    );
    assert!(p.json().get("c").is_none());
    let d = rest(
        &b,
        "DELETE",
        &ext_url(&gref, "/ext/fields?name=a|tier"),
        None,
    );
    assert_eq!(d.status, 200);
    let dv = d.json();
    assert!(dv.get("a").is_none() && dv.get("tier").is_none());
    assert_eq!(dv["b"], "x");
    let d = rest(&b, "DELETE", &ext_url(&gref, "/ext/fields"), None);
    assert_eq!(d.status, 200);
    assert!(d.json().get("b").is_none());
    assert_eq!(
        rest(&b, "GET", &ext_url(&gref, "/ext"), None).status,
        200,
        "emptied, not deleted"
    );

    assert_eq!(
        rest(&b, "DELETE", &ext_url(&gref, "/ext"), None).status,
        200
    );
    let nf = rest(&b, "GET", &ext_url(&gref, "/ext"), None);
    assert_eq!(nf.status, 404);
    assert_eq!(nf.json()["code"], 404);
    assert_eq!(
        rest(
            &b,
            "POST",
            &ext_url(&gref, ""),
            Some(&json!({"name": "ext", "z": 1}))
        )
        .status,
        201,
        "name is free again"
    );
    assert_eq!(rest(&b, "GET", &ext_url("nope", ""), None).status, 404);
    assert_eq!(
        rest(&b, "GET", &ext_url(&gref, "/ext/fields"), None).status,
        405
    );
}
