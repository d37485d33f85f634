//! `ext` flattening, as both official SDKs do it: depth-first, keys joined with `_`, arrays kept as-is,
//! `null` and `{}` vanish (no enumerable keys), and a later key overwrites an earlier one in place.

use serde_json::{Map, Value};

use crate::error::{err, Error, ErrorKind};

/// Documented CDP limit, enforced by the SDKs on the flattened count.
pub const MAX_EXT_ATTRIBUTES: usize = 50;
/// Nesting guard: flattening recurses, and a hostile caller could otherwise blow the stack.
pub const MAX_EXT_DEPTH: usize = 32;
/// Caps on one flattened key and on one string value.
pub const MAX_EXT_KEY: usize = 256;
pub const MAX_EXT_STRING: usize = 4096;

/// Flattens `obj` into `out`. Keys keep the insertion order; a collision overwrites the value but keeps the
/// first position, as assigning an existing property does in JavaScript.
pub fn flatten_into(out: &mut Map<String, Value>, prefix: &str, obj: &Map<String, Value>, depth: usize) -> Result<(), Error> {
    if depth > MAX_EXT_DEPTH {
        return Err(err(ErrorKind::InvalidExt, format!("Extension data is nested deeper than {MAX_EXT_DEPTH} levels.")));
    }
    for (k, v) in obj {
        // The SDK tests the prefix for truthiness, so an empty prefix means "top level".
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}_{k}") };
        flatten_value(out, key, v, depth)?;
    }
    Ok(())
}

fn flatten_value(out: &mut Map<String, Value>, key: String, v: &Value, depth: usize) -> Result<(), Error> {
    match v {
        Value::Null => Ok(()),
        Value::Object(o) => flatten_into(out, &key, o, depth + 1),
        other => {
            if let Value::Array(a) = other {
                check_array_depth(a, depth + 1)?;
            }
            out.insert(key, other.clone());
            Ok(())
        }
    }
}

fn check_array_depth(a: &[Value], depth: usize) -> Result<(), Error> {
    if depth > MAX_EXT_DEPTH {
        return Err(err(ErrorKind::InvalidExt, format!("Extension data is nested deeper than {MAX_EXT_DEPTH} levels.")));
    }
    for v in a {
        match v {
            Value::Array(x) => check_array_depth(x, depth + 1)?,
            Value::Object(o) => {
                for x in o.values() {
                    check_array_depth(std::slice::from_ref(x), depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Flattens a whole object (no limit check): used for callFlows `params`.
pub fn flatten(obj: &Map<String, Value>) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    flatten_into(&mut out, "", obj, 0)?;
    Ok(out)
}

/// A flattened, validated `ext` object: at most 50 attributes, `_`-joined keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ext(Map<String, Value>);

impl Ext {
    pub fn new() -> Ext {
        Ext(Map::new())
    }

    /// Accepts an object (flattened here) or `null` (empty); anything else is `InvalidExt`.
    pub fn from_value(v: Value) -> Result<Ext, Error> {
        match v {
            Value::Null => Ok(Ext::new()),
            Value::Object(o) => Ext::from_map(&o),
            _ => Err(err(ErrorKind::InvalidExt, "Extension data must be a JSON object.")),
        }
    }

    pub fn from_map(o: &Map<String, Value>) -> Result<Ext, Error> {
        let mut out = Map::new();
        flatten_into(&mut out, "", o, 0)?;
        let ext = Ext(out);
        ext.check()?;
        Ok(ext)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Ext, Error> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| err(ErrorKind::InvalidExt, format!("Extension data is not valid JSON ({:?}).", e.classify())))?;
        Ext::from_value(v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `k` (flattening an object value under `k_`); fails without changing `self` when the result
    /// would break a limit.
    pub fn insert(&mut self, k: String, v: Value) -> Result<(), Error> {
        let mut next = self.0.clone();
        flatten_value(&mut next, k, &v, 0)?;
        let next = Ext(next);
        next.check()?;
        *self = next;
        Ok(())
    }

    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.get(k)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// Heap held by the flattened map, for the byte-bounded queue.
    pub fn approx_bytes(&self) -> usize {
        super::footprint::map(&self.0)
    }

    fn check(&self) -> Result<(), Error> {
        if self.0.len() > MAX_EXT_ATTRIBUTES {
            return Err(err(
                ErrorKind::TooManyExtAttributes,
                format!("This event supports maximum {MAX_EXT_ATTRIBUTES} attributes. Reduce the number of attributes."),
            ));
        }
        for (k, v) in &self.0 {
            if k.len() > MAX_EXT_KEY {
                return Err(err(ErrorKind::TooLarge, format!("An extension key is longer than {MAX_EXT_KEY} bytes.")));
            }
            if let Value::String(s) = v {
                if s.len() > MAX_EXT_STRING {
                    return Err(err(ErrorKind::TooLarge, format!("An extension value is longer than {MAX_EXT_STRING} bytes.")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(v: Value) -> String {
        serde_json::to_string(Ext::from_value(v).unwrap().as_map()).unwrap()
    }

    #[test]
    fn spec_examples() {
        assert_eq!(flat(json!({"a":{"b":{"c":1}}})), r#"{"a_b_c":1}"#);
        assert_eq!(flat(json!({"k":{"_1":2}})), r#"{"k__1":2}"#);
        assert_eq!(flat(json!({"n":null,"e":{},"l":[1,{"x":null}],"s":"v"})), r#"{"l":[1,{"x":null}],"s":"v"}"#);
        // Collision: later value, first position.
        assert_eq!(flat(json!({"a_b":1,"z":0,"a":{"b":2}})), r#"{"a_b":2,"z":0}"#);
        assert_eq!(flat(Value::Null), "{}");
        assert!(Ext::from_value(json!([1])).is_err());
        assert!(Ext::from_value(json!("x")).is_err());
    }

    #[test]
    fn limit_counts_flattened_keys() {
        let mut m = Map::new();
        for i in 0..50 {
            m.insert(format!("k{i}"), json!(i));
        }
        assert_eq!(Ext::from_map(&m).unwrap().len(), 50);
        let mut e = Ext::from_map(&m).unwrap();
        let before = e.clone();
        let r = e.insert("extra".into(), json!(1));
        assert_eq!(r.unwrap_err().kind, ErrorKind::TooManyExtAttributes);
        assert_eq!(e, before);
        // Overwriting an existing key does not count twice.
        e.insert("k0".into(), json!("x")).unwrap();
        assert_eq!(e.len(), 50);
        // 26 nested objects of 2 leaves each = 52 flattened keys.
        let mut n = Map::new();
        for i in 0..26 {
            n.insert(format!("o{i}"), json!({"a":1,"b":2}));
        }
        assert_eq!(Ext::from_map(&n).unwrap_err().kind, ErrorKind::TooManyExtAttributes);
    }

    #[test]
    fn insert_flattens_objects() {
        let mut e = Ext::new();
        e.insert("loyalty".into(), json!({"tier":"gold","pts":{"now":3}})).unwrap();
        e.insert("gone".into(), json!({})).unwrap();
        e.insert("nil".into(), Value::Null).unwrap();
        assert_eq!(serde_json::to_string(e.as_map()).unwrap(), r#"{"loyalty_tier":"gold","loyalty_pts_now":3}"#);
    }

    #[test]
    fn depth_guard() {
        let mut v = json!(1);
        for _ in 0..200 {
            v = json!({ "a": v });
        }
        assert_eq!(Ext::from_value(v).unwrap_err().kind, ErrorKind::InvalidExt);
        let mut a = json!(1);
        for _ in 0..200 {
            a = json!([a]);
        }
        assert_eq!(Ext::from_value(json!({ "a": a })).unwrap_err().kind, ErrorKind::InvalidExt);
    }

    #[test]
    fn from_json_errors() {
        assert_eq!(Ext::from_json(b"{").unwrap_err().kind, ErrorKind::InvalidExt);
        assert_eq!(Ext::from_json(br#"{"a":{"b":true}}"#).unwrap().get("a_b"), Some(&json!(true)));
    }

    // Property tests with a fixed-seed xorshift: no extra dependencies, reproducible failures.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn gen_value(r: &mut XorShift, depth: usize) -> Value {
        let keys = ["a", "b", "c", "_", "a_b", "x1", ""];
        match r.below(if depth > 3 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(r.below(100)),
            2 => json!(r.below(2) == 0),
            3 => json!(format!("s{}", r.below(10))),
            4 => json!([r.below(3), null, {"k": 1}]),
            _ => {
                let mut m = Map::new();
                for _ in 0..r.below(4) {
                    m.insert(keys[r.below(keys.len() as u64) as usize].to_string(), gen_value(r, depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    /// Independent model of the rule: list every (path, leaf) pair depth-first, then apply them in order.
    fn leaves(prefix: Option<String>, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let key = match &prefix {
                        Some(p) if !p.is_empty() => format!("{p}_{k}"),
                        _ => k.clone(),
                    };
                    match x {
                        Value::Object(_) => leaves(Some(key), x, out),
                        Value::Null => {}
                        _ => out.push((key, x.clone())),
                    }
                }
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn property_flatten() {
        let mut r = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2000 {
            let mut top = Map::new();
            for i in 0..r.below(6) {
                top.insert(format!("k{i}"), gen_value(&mut r, 0));
            }
            let v = Value::Object(top);
            let mut pairs = Vec::new();
            leaves(None, &v, &mut pairs);
            let mut expect = Map::new();
            for (k, x) in pairs {
                expect.insert(k, x);
            }
            let got = flatten(v.as_object().unwrap()).unwrap();
            assert_eq!(serde_json::to_string(&got).unwrap(), serde_json::to_string(&expect).unwrap(), "input {v}");
            // No nested objects, no nulls at top level; arrays untouched.
            for x in got.values() {
                assert!(!x.is_object() && !x.is_null());
            }
            // Idempotent.
            assert_eq!(flatten(&got).unwrap(), got);
            // The limit is about the flattened count only.
            assert_eq!(Ext::from_value(v.clone()).is_ok(), got.len() <= MAX_EXT_ATTRIBUTES);
        }
    }
}
