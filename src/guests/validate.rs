//! Client-side checks of the documented Guest REST v2.1 data-extension limits, so a mistake gets a clear
//! error before any request: names `ext`, `ext1`…`ext5`; at most 100 key/values; primitive values only;
//! alphanumeric keys; keys unique across the guest's extensions (when those are known).

use crate::error::{Error, ErrorKind, Result};
use serde_json::{Map, Value};

pub const MAX_EXTENSION_KEYS: usize = 100;
pub const EXTENSION_NAMES: &[&str] = &["ext", "ext1", "ext2", "ext3", "ext4", "ext5"];
const MAX_KEY_LEN: usize = 128;
const MAX_STRING_VALUE: usize = 32 * 1024;
/// Fields CDP puts on an extension resource; never user keys.
const RESOURCE_FIELDS: &[&str] = &["href", "ref", "name", "key", "createdAt", "modifiedAt", "guest"];

fn bad(kind: ErrorKind, msg: impl Into<String>) -> Error {
    Error::new(kind, msg)
}

pub fn check_extension_name(name: &str) -> Result<()> {
    if EXTENSION_NAMES.contains(&name) {
        Ok(())
    } else {
        Err(bad(ErrorKind::InvalidExt, "a guest data extension is named ext, ext1, ext2, ext3, ext4 or ext5"))
    }
}

/// Guest refs go into URL paths: the same alphabet as browser ids (UUIDs in practice).
pub fn check_guest_ref(guest_ref: &str) -> Result<()> {
    crate::model::validate_browser_id(guest_ref).map_err(|_| bad(ErrorKind::InvalidArgument, "invalid guest ref (expected an id such as a UUID)"))
}

/// Key names are never echoed in full (they are the caller's, but keep messages short and header-safe).
fn shown(k: &str) -> String {
    k.chars().filter(|c| c.is_ascii_graphic()).take(40).collect()
}

pub fn check_key(k: &str) -> Result<()> {
    if k.is_empty() || k.len() > MAX_KEY_LEN || !k.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // Not echoed: an invalid key is arbitrary caller text and may be personal data (an e-mail used as a key).
        return Err(bad(ErrorKind::InvalidExt, format!("an extension key ({} bytes) must be 1 to {MAX_KEY_LEN} letters or digits (camelCase)", k.len())));
    }
    Ok(())
}

/// The user key/values of an extension body: `name` (must match) and `key` (must be `default`) are
/// accepted and dropped, as CDP sets them itself in v2.1.
pub fn extension_body(name: &str, data: &Value) -> Result<Map<String, Value>> {
    check_extension_name(name)?;
    let Value::Object(o) = data else {
        return Err(bad(ErrorKind::InvalidExt, "extension data must be a JSON object of key/values"));
    };
    let mut out = Map::new();
    for (k, v) in o {
        match k.as_str() {
            "name" if v.as_str() == Some(name) => continue,
            "name" => return Err(bad(ErrorKind::InvalidExt, "\"name\" in the data differs from the extension name")),
            "key" if v.as_str() == Some("default") => continue,
            "key" => return Err(bad(ErrorKind::InvalidExt, "\"key\" can only be \"default\" in Guest REST v2.1")),
            _ => {}
        }
        check_key(k)?;
        match v {
            Value::String(s) if s.len() > MAX_STRING_VALUE => {
                return Err(bad(ErrorKind::TooLarge, format!("the value of \"{}\" is longer than {MAX_STRING_VALUE} bytes", shown(k))))
            }
            Value::String(_) | Value::Bool(_) | Value::Number(_) => {}
            _ => {
                return Err(bad(
                    ErrorKind::InvalidExt,
                    format!("the value of \"{}\" must be a string, boolean or number (no null, arrays or objects)", shown(k)),
                ))
            }
        }
        out.insert(k.clone(), v.clone());
    }
    if out.len() > MAX_EXTENSION_KEYS {
        return Err(bad(ErrorKind::TooManyExtAttributes, format!("a guest data extension holds at most {MAX_EXTENSION_KEYS} key/values ({} given)", out.len())));
    }
    Ok(out)
}

/// The guest's extensions from a `GET …/extensions?expand=true` collection or a `GET /guests/{ref}?expand=true`
/// guest: `(name, user keys)`.
pub fn known_extensions(v: &Value) -> Vec<(String, Vec<String>)> {
    let items = v.get("items").or_else(|| v.get("extensions")).and_then(Value::as_array);
    let mut out = Vec::new();
    for it in items.into_iter().flatten() {
        let Some(o) = it.as_object() else { continue };
        let Some(name) = o.get("name").and_then(Value::as_str) else { continue };
        let keys = o.keys().filter(|k| !RESOURCE_FIELDS.contains(&k.as_str())).cloned().collect();
        out.push((name.to_string(), keys));
    }
    out
}

/// Full check of a create/put (`replace`) or patch body against the guest's known extensions: keys unique
/// across extensions and (patch) at most 100 keys after the merge.
pub fn check_against(name: &str, body: &Map<String, Value>, known: &[(String, Vec<String>)], replace: bool) -> Result<()> {
    for (other, keys) in known {
        if other == name {
            continue;
        }
        if let Some(k) = body.keys().find(|k| keys.contains(k)) {
            return Err(bad(ErrorKind::InvalidExt, format!("key \"{}\" is already used by the guest's extension {other}; keys are unique across extensions", shown(k))));
        }
    }
    if !replace {
        if let Some((_, keys)) = known.iter().find(|(n, _)| n == name) {
            let merged = keys.len() + body.keys().filter(|k| !keys.contains(k)).count();
            if merged > MAX_EXTENSION_KEYS {
                return Err(bad(ErrorKind::TooManyExtAttributes, format!("the patch would give {name} {merged} key/values (at most {MAX_EXTENSION_KEYS})")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits() {
        assert!(extension_body("ext", &json!({"vipMember": true, "tier": "gold", "points": 3, "name": "ext", "key": "default"})).unwrap().len() == 3);
        for n in ["", "ext6", "EXT", "ext0", "ext/1", "extension"] {
            assert_eq!(check_extension_name(n).unwrap_err().kind, ErrorKind::InvalidExt, "{n}");
        }
        for d in [json!({"a": null}), json!({"a": [1]}), json!({"a": {"b": 1}}), json!({"a-b": 1}), json!({"": 1}), json!({"é": 1}), json!([1]), json!({"name": "ext2"}), json!({"key": "x"})] {
            assert_eq!(extension_body("ext", &d).unwrap_err().kind, ErrorKind::InvalidExt, "{d}");
        }
        let mut m = Map::new();
        for i in 0..101 {
            m.insert(format!("k{i}"), json!(i));
        }
        assert_eq!(extension_body("ext", &Value::Object(m.clone())).unwrap_err().kind, ErrorKind::TooManyExtAttributes);
        m.remove("k100");
        extension_body("ext", &Value::Object(m)).unwrap();
    }

    #[test]
    fn uniqueness_against_known() {
        let list = json!({"items": [{"href": "h", "name": "ext", "key": "default", "tier": "gold", "createdAt": "t"}, {"name": "ext1", "points": 1}]});
        let known = known_extensions(&list);
        assert_eq!(known, vec![("ext".to_string(), vec!["tier".to_string()]), ("ext1".to_string(), vec!["points".to_string()])]);
        let body = extension_body("ext1", &json!({"tier": "x"})).unwrap();
        assert_eq!(check_against("ext1", &body, &known, true).unwrap_err().kind, ErrorKind::InvalidExt);
        let body = extension_body("ext", &json!({"tier": "silver"})).unwrap();
        check_against("ext", &body, &known, false).unwrap();
    }
}
