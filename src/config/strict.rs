//! Settings checks that need the document as written, not as parsed: a key given twice (a parsed map keeps
//! only the last value, so `{"allowInsecureHttp":false,...,"allowInsecureHttp":true}` would silently win), and
//! how an unknown key may be named in an error without echoing a pasted secret.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

/// The first key given twice in the same object, as `(setting, inner key)`: `inner` is `None` for a top-level
/// duplicate, else the repeated key inside that setting's object (already made safe to show). `None` when the
/// document has no duplicates or is not JSON (the caller's parse reports that).
pub(super) fn first_duplicate(json: &str) -> Option<(String, Option<String>)> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(json);
    let _ = Check { found: &found, top: None }.deserialize(&mut de);
    found.into_inner()
}

/// How an unknown or repeated key may appear in a message: quoted when it looks like a setting name
/// (camelCase letters, at most 24 characters: the longest real key has 23), else by position only. A token
/// or a base64 string pasted as a key has digits, symbols or length and is never repeated back.
pub(super) fn shown_key(key: &str, position: usize) -> String {
    let name_like = !key.is_empty()
        && key.len() <= 24
        && key.as_bytes()[0].is_ascii_lowercase()
        && key.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-');
    if name_like {
        format!("\"{key}\"")
    } else {
        format!("the {} key ({} characters, not shown: too long or it may be a secret)", ordinal(position), key.chars().count())
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[derive(Clone, Copy)]
struct Check<'a> {
    found: &'a RefCell<Option<(String, Option<String>)>>,
    /// The top-level setting being walked (`None` at the top).
    top: Option<&'a str>,
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let position = seen.len() + 1;
                *self.found.borrow_mut() = Some(match self.top {
                    None => (shown_key(&key, position), None),
                    Some(top) => (format!("\"{top}\""), Some(shown_key(&key, position))),
                });
                return Err(de::Error::custom("duplicate key"));
            }
            let top = self.top.unwrap_or(&key);
            map.next_value_seed(Check { found: self.found, top: Some(top) })?;
        }
        Ok(())
    }
}
