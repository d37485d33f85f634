//! Helpers shared by the fuzz targets: hostile string generation, C string views with the awkward shapes a
//! C or C# caller can produce (NULL with a length, huge lengths, invalid UTF-8), arbitrary JSON, and a JSON
//! reader that rejects duplicate keys (serde_json's `Value` silently keeps the last one).

use arbitrary::{Result, Unstructured};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;
use xmcdp::ffi::xmcdp_str_t;

/// Pieces that tend to break parsers, headers and URLs.
pub const HOSTILE: &[&str] = &[
    "\r\n",
    "\n",
    "\r",
    "\0",
    "/",
    "..",
    "../",
    "?",
    "#",
    "%2F",
    "%2e%2e",
    "%0d%0a",
    "\"",
    "'",
    ";",
    ",",
    "=",
    " ",
    "\t",
    "@",
    "é",
    "\u{200b}",
    "\u{feff}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ":",
    "&",
    "+",
    "%",
    "%%",
    "%C3%A9",
    "%ED%A0%80",
    "utm_",
    "UTM_Source",
    "variantid",
    "a",
    "A",
    "0",
    "-",
    "_",
    ".",
    "x@y.z",
    "bid_ck",
    "BID_ck",
    "Set-Cookie: x=1",
    "Host: evil",
    "type",
    "ext",
    "browser_id",
    "pos",
    "client_key",
    "requested_at",
    "pageVariantId",
    "null",
];

/// A string biased towards the hostile pieces above, mixed with arbitrary text, sometimes long.
pub fn hostile_string(u: &mut Unstructured) -> Result<String> {
    let mut s = String::new();
    let parts = u.int_in_range(0..=8)?;
    for _ in 0..parts {
        match u.int_in_range(0..=9)? {
            0..=4 => s.push_str(u.choose(HOSTILE)?),
            5..=7 => s.push_str(&String::arbitrary_take(u)?),
            8 => {
                let n = u.int_in_range(0..=5000)?;
                let c = *u.choose(&['a', 'é', '/', '\n', '%'])?;
                s.extend(std::iter::repeat_n(c, n));
            }
            _ => s.push_str(&uuidish(u)?),
        }
    }
    Ok(s)
}

trait TakeStr {
    fn arbitrary_take(u: &mut Unstructured) -> Result<String>;
}
impl TakeStr for String {
    fn arbitrary_take(u: &mut Unstructured) -> Result<String> {
        let len = u.int_in_range(0..=32)?;
        let bytes = u.bytes(len.min(u.len()))?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Something shaped like a CDP id (valid browser id / guest ref), so valid paths are reached too.
pub fn uuidish(u: &mut Unstructured) -> Result<String> {
    let n: u64 = u.arbitrary()?;
    Ok(format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32,
        (n >> 32) as u16 & 0xffff,
        (n >> 40) as u16 & 0xfff,
        (n >> 48) as u16 & 0xfff,
        n & 0xffff_ffff_ffff
    ))
}

/// Optional hostile string.
pub fn opt_string(u: &mut Unstructured) -> Result<Option<String>> {
    Ok(if u.arbitrary()? { Some(hostile_string(u)?) } else { None })
}

/// Owns the bytes behind the `xmcdp_str_t` views handed to the C ABI for one fuzz input.
#[derive(Default)]
pub struct Arena {
    bufs: Vec<Vec<u8>>,
}

/// Smallest length that every limit of the C ABI refuses (the settings limit is 1 MiB, the rest 64 KiB):
/// a view this long is never read, so pointing it at a small buffer is safe *if* the library checks
/// first. Under ASan a library that reads first is caught.
pub const HUGE_LEN_MIN: usize = 1024 * 1024 + 1;

impl Arena {
    fn keep(&mut self, b: Vec<u8>) -> *const u8 {
        self.bufs.push(b);
        self.bufs.last().expect("just pushed").as_ptr()
    }

    /// A string argument in one of the shapes a caller can produce: absent, NULL with a length, empty,
    /// valid or invalid UTF-8, or a huge length over a small buffer.
    pub fn c_str(&mut self, u: &mut Unstructured) -> Result<xmcdp_str_t> {
        Ok(match u.int_in_range(0..=15)? {
            0 => xmcdp_str_t::NONE,
            1 => xmcdp_str_t { ptr: std::ptr::null(), len: u.int_in_range(1..=usize::MAX)? },
            2 => xmcdp_str_t { ptr: self.keep(vec![b'x'; 8]), len: u.int_in_range(HUGE_LEN_MIN..=usize::MAX)? },
            3 => {
                // Raw bytes: invalid UTF-8 more often than not.
                let len = u.int_in_range(0..=64)?;
                let b = u.bytes(len.min(u.len()))?.to_vec();
                self.view(b)
            }
            _ => {
                let s = hostile_string(u)?;
                self.view(s.into_bytes())
            }
        })
    }

    /// A view of exactly these bytes.
    pub fn view(&mut self, b: Vec<u8>) -> xmcdp_str_t {
        let len = b.len();
        xmcdp_str_t { ptr: self.keep(b), len }
    }

    /// A string view that is valid UTF-8 text (the common case, to get past the UTF-8 checks).
    pub fn text(&mut self, s: &str) -> xmcdp_str_t {
        self.view(s.as_bytes().to_vec())
    }
}

/// Keys from a small alphabet, so flattening collisions (`a_b` vs `a.b`, `k` + `_1` → `k__1`) and the
/// 50-attribute limit are actually reached.
const KEYS: &[&str] = &["a", "b", "a_b", "_1", "k", "k_", "", "x", "utm_source", "pageVariantId", "type", "ext", "é", "a b", "\n"];

/// Arbitrary JSON, depth-limited by `depth` (the library's own limit is 32; going past it is the point).
pub fn arb_value(u: &mut Unstructured, depth: usize) -> Result<Value> {
    let max = if depth == 0 { 5 } else { 8 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::Number(Number::from(u.arbitrary::<i64>()?)),
        3 => Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        4 | 5 => Value::String(hostile_string(u)?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            let mut a = Vec::with_capacity(n);
            for _ in 0..n {
                a.push(arb_value(u, depth - 1)?);
            }
            Value::Array(a)
        }
        _ => Value::Object(arb_object(u, depth - 1)?),
    })
}

/// An arbitrary JSON object; sometimes wide (past the 50-attribute limit) or deep (past the depth limit).
pub fn arb_object(u: &mut Unstructured, depth: usize) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    match u.int_in_range(0..=9)? {
        // Wide: numbered keys.
        0 => {
            let n = u.int_in_range(0..=70)?;
            for i in 0..n {
                m.insert(format!("k{i}"), Value::from(i));
            }
        }
        // Deep: a chain of single-key objects.
        1 => {
            let d = u.int_in_range(0..=40)?;
            let mut v = Value::from(1);
            for _ in 0..d {
                let mut o = Map::new();
                o.insert("d".into(), v);
                v = Value::Object(o);
            }
            m.insert("deep".into(), v);
        }
        _ => {}
    }
    let n = u.int_in_range(0..=6)?;
    for _ in 0..n {
        let k = if u.arbitrary()? { (*u.choose(KEYS)?).to_string() } else { hostile_string(u)? };
        let v = if depth == 0 { Value::from(0) } else { arb_value(u, depth)? };
        m.insert(k, v);
    }
    Ok(m)
}

/// Parses JSON like serde_json but fails on a duplicate key in any object.
pub fn strict_json(bytes: &[u8]) -> std::result::Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = StrictValue::deserialize_from(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}

struct StrictValue(Value);

impl StrictValue {
    fn deserialize_from<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Every status the library may return is a documented one, and a panic is never one of them.
pub fn check_status(what: &str, s: xmcdp::ffi::xmcdp_status_t) {
    let n = s as u32;
    assert!(xmcdp::ffi::xmcdp_status_t::from_u32(n).is_some(), "{what}: undocumented status {n}");
    assert_ne!(s, xmcdp::ffi::xmcdp_status_t::XMCDP_STATUS_PANIC, "{what}: panicked: {}", last_error());
}

/// This thread's last error message, read through the C ABI (size query first, then the copy).
pub fn last_error() -> String {
    use xmcdp::ffi::{xmcdp_last_error, xmcdp_status_t::*};
    let mut need = 0usize;
    let s = xmcdp_last_error(std::ptr::null_mut(), 0, &mut need);
    assert!(s == XMCDP_STATUS_OK || s == XMCDP_STATUS_BUFFER_TOO_SMALL, "size query: {s:?}");
    let mut buf = vec![0u8; need];
    let mut n = 0usize;
    assert_eq!(xmcdp_last_error(buf.as_mut_ptr(), buf.len(), &mut n), XMCDP_STATUS_OK);
    assert_eq!(n, need);
    String::from_utf8(buf).expect("last error is UTF-8")
}
