//! The browser-id cookie: `bid_{clientKey}` (legacy `BID_{clientKey}`), as Engage 1.4.3 reads and writes it.
//! Pure functions; the values come from an untrusted request header, so they are checked before use.

use crate::error::{Error, ErrorKind};
pub use crate::model::validate::{validate_browser_id, MAX_BROWSER_ID};

const MAX_COOKIE_NAME: usize = 256;
const MAX_DOMAIN: usize = 253;

/// RFC 6265 cookie-name = RFC 7230 token.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
        })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSpec {
    pub name: String,
    /// Read when `name` is absent; the caller then migrates (writes `name`, expires this one).
    pub legacy_name: Option<String>,
    /// `Domain=` attribute, only when configured.
    pub domain: Option<String>,
    pub max_age_days: u32,
}

impl CookieSpec {
    /// Engage defaults: `bid_{ck}`, legacy `BID_{ck}`, 730 days.
    pub fn for_client_key(ck: &str) -> CookieSpec {
        CookieSpec { name: format!("bid_{ck}"), legacy_name: Some(format!("BID_{ck}")), domain: None, max_age_days: 730 }
    }

    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::new(ErrorKind::InvalidField, m.to_string()));
        if !is_token(&self.name) || self.name.len() > MAX_COOKIE_NAME {
            return bad("The cookie name must be an RFC 6265 token of at most 256 characters.");
        }
        if let Some(l) = &self.legacy_name {
            if !is_token(l) || l.len() > MAX_COOKIE_NAME {
                return bad("The legacy cookie name must be an RFC 6265 token of at most 256 characters.");
            }
            if *l == self.name {
                return bad("The legacy cookie name must differ from the cookie name.");
            }
        }
        if let Some(d) = &self.domain {
            let ok = !d.is_empty()
                && d.len() <= MAX_DOMAIN
                && d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !d.contains("..")
                && !d.trim_start_matches('.').is_empty();
            if !ok {
                return bad("The cookie domain must be a host name ([A-Za-z0-9.-], at most 253 characters).");
            }
        }
        if self.max_age_days == 0 || self.max_age_days > 36_500 {
            return bad("The cookie lifetime must be 1 to 36500 days.");
        }
        Ok(())
    }

    /// `Set-Cookie` value as Engage writes it (TV-E12): `bid_ck=R; Max-Age=63072000; SameSite=None; Secure; Path=/[; Domain=d]`.
    /// The caller must have validated `browser_id` and the spec.
    pub fn set_cookie(&self, browser_id: &str) -> String {
        SetCookie::new(self).render(browser_id)
    }

    /// The legacy cookie's deletion, as Engage writes it (TV-B7).
    pub fn expire_legacy(&self) -> Option<String> {
        self.legacy_name.as_ref().map(|l| format!("{l}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT;"))
    }
}

/// [`CookieSpec::set_cookie`] with everything but the browser id prepared once per client: a first visit
/// then copies three pieces into one exactly sized string (no formatting on the request thread).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// `bid_ck=`
    name_eq: String,
    /// `; Max-Age=63072000; SameSite=None; Secure; Path=/[; Domain=d]`
    attributes: String,
}

impl SetCookie {
    pub fn new(spec: &CookieSpec) -> SetCookie {
        let mut name_eq = String::with_capacity(spec.name.len() + 1);
        name_eq.push_str(&spec.name);
        name_eq.push('=');
        let mut attributes = String::from("; Max-Age=");
        attributes.push_str(&(u64::from(spec.max_age_days) * 86_400).to_string());
        attributes.push_str("; SameSite=None; Secure; Path=/");
        if let Some(d) = &spec.domain {
            attributes.push_str("; Domain=");
            attributes.push_str(d);
        }
        SetCookie { name_eq, attributes }
    }

    /// The caller must have validated `browser_id` (and the spec).
    pub fn render(&self, browser_id: &str) -> String {
        let mut s = String::with_capacity(self.name_eq.len() + browser_id.len() + self.attributes.len());
        s.push_str(&self.name_eq);
        s.push_str(browser_id);
        s.push_str(&self.attributes);
        s
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CookieRead {
    pub browser_id: Option<String>,
    /// The id came from the legacy cookie: write the current one and expire the legacy one.
    pub from_legacy: bool,
    /// Why a present cookie was ignored (the first rejected value), for a diagnostic that never shows the value.
    pub rejected: Option<Error>,
}

/// Picks the browser id from a raw `Cookie:` header value. The current name wins, else the legacy name.
/// Names compare case-sensitively (`bid_` and `BID_` differ only in case). Of several cookies with the same name
/// the first valid one is used (user agents send the most specific path first). An RFC 6265 quoted value is unquoted.
///
/// Runs on every page request, so it works on bytes: every delimiter is ASCII, hence every piece it cuts
/// is still UTF-8.
pub fn read_cookie_header(spec: &CookieSpec, cookie_header: &str) -> CookieRead {
    let mut current: Option<String> = None;
    let mut legacy: Option<String> = None;
    let mut rejected = None;
    let (current_name, legacy_name) = (spec.name.as_bytes(), spec.legacy_name.as_deref().map(str::as_bytes));
    let mut rest = Some(cookie_header.as_bytes());
    // A hand-rolled split: `slice::split` costs about twice as much per byte on headers this short.
    while let Some(h) = rest {
        let pair = match h.iter().position(|&b| b == b';') {
            Some(i) => {
                rest = Some(&h[i + 1..]);
                &h[..i]
            }
            None => {
                rest = None;
                h
            }
        };
        let pair = trim_blanks(pair);
        let Some(eq) = pair.iter().position(|&b| b == b'=') else { continue };
        let name = trim_blanks(&pair[..eq]);
        let is_current = name == current_name;
        let is_legacy = !is_current && legacy_name == Some(name);
        if !is_current && !is_legacy {
            continue;
        }
        let slot = if is_current { &mut current } else { &mut legacy };
        if slot.is_some() {
            continue;
        }
        let mut value = trim_blanks(&pair[eq + 1..]);
        if let [b'"', inner @ .., b'"'] = value {
            value = inner;
        }
        let Ok(value) = std::str::from_utf8(value) else { continue };
        match validate_browser_id(value) {
            Ok(()) => *slot = Some(value.to_string()),
            Err(e) => {
                rejected.get_or_insert(e);
            }
        }
    }
    match (current, legacy) {
        (Some(b), _) => CookieRead { browser_id: Some(b), from_legacy: false, rejected },
        (None, Some(b)) => CookieRead { browser_id: Some(b), from_legacy: true, rejected },
        (None, None) => CookieRead { browser_id: None, from_legacy: false, rejected },
    }
}

fn trim_blanks(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    const BID: &str = "a38b230c-11eb-4cf9-8d5d-274e9f344925";

    #[test]
    fn cookie_strings_match_engage() {
        let mut spec = CookieSpec::for_client_key("ck_test");
        spec.validate().unwrap();
        assert_eq!(spec.set_cookie("legacy-bid-value"), "bid_ck_test=legacy-bid-value; Max-Age=63072000; SameSite=None; Secure; Path=/");
        assert_eq!(spec.expire_legacy().unwrap(), "BID_ck_test=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT;");
        spec.domain = Some(".example.com".into());
        spec.validate().unwrap();
        assert_eq!(spec.set_cookie("R"), "bid_ck_test=R; Max-Age=63072000; SameSite=None; Secure; Path=/; Domain=.example.com");
        spec.max_age_days = 365;
        assert!(spec.set_cookie("R").contains("Max-Age=31536000;"));
        spec.legacy_name = None;
        assert_eq!(spec.expire_legacy(), None);
    }

    #[test]
    fn spec_validation() {
        for bad in ["", "a b", "a;b", "a=b", "a,b", "a\"b", "a\r\nb", "a/b", "é", "a(b)", "a\tb"] {
            let s = CookieSpec { name: bad.into(), ..CookieSpec::for_client_key("k") };
            assert!(s.validate().is_err(), "{bad:?}");
        }
        assert!(CookieSpec::for_client_key("bad key").validate().is_err());
        assert!(CookieSpec { max_age_days: 0, ..CookieSpec::for_client_key("k") }.validate().is_err());
        for d in ["", ".", "a..b", "a;b", "a b", "x\r\n"] {
            assert!(CookieSpec { domain: Some(d.into()), ..CookieSpec::for_client_key("k") }.validate().is_err(), "{d:?}");
        }
        assert!(CookieSpec { legacy_name: Some("bid_k".into()), ..CookieSpec::for_client_key("k") }.validate().is_err());
    }

    #[test]
    fn browser_ids() {
        for ok in [BID, "legacy-bid-value", "a", "A.b_c-1", &"x".repeat(128)] {
            validate_browser_id(ok).unwrap();
        }
        let long = "x".repeat(129);
        for bad in [
            "", &long, "a\r\nSet-Cookie: x=y", "a\n", "a/b", "../etc", "a..b", "\"a\"", "a'b", "a;b", "a,b", "a b", "a\u{0}", "a\u{7f}", "é",
            "a\u{200b}", "%2e%2e", "a=b", "a\\b",
        ] {
            assert_eq!(validate_browser_id(bad).unwrap_err().kind, ErrorKind::InvalidBrowserId, "{bad:?}");
        }
    }

    #[test]
    fn read_header() {
        let spec = CookieSpec::for_client_key("ck_test");
        let r = read_cookie_header(&spec, &format!("other=1; bid_ck_test={BID}"));
        assert_eq!(r, CookieRead { browser_id: Some(BID.into()), from_legacy: false, rejected: None });
        // Legacy only: migrate.
        let r = read_cookie_header(&spec, "BID_ck_test=legacy-bid-value");
        assert_eq!(r.browser_id.as_deref(), Some("legacy-bid-value"));
        assert!(r.from_legacy);
        // Current wins over legacy, whatever the order.
        let r = read_cookie_header(&spec, &format!("BID_ck_test=old; bid_ck_test={BID}"));
        assert_eq!((r.browser_id.as_deref(), r.from_legacy), (Some(BID), false));
        // Case matters.
        assert_eq!(read_cookie_header(&spec, "Bid_ck_test=x").browser_id, None);
        // Quoted value, tabs and odd spacing.
        assert_eq!(read_cookie_header(&spec, "\tbid_ck_test = \"abc\" ;x").browser_id.as_deref(), Some("abc"));
        // Empty or garbage headers.
        assert_eq!(read_cookie_header(&spec, ""), CookieRead::default());
        assert_eq!(read_cookie_header(&spec, ";;; =;bid_ck_test").browser_id, None);
        // Prefix of another name does not match.
        assert_eq!(read_cookie_header(&spec, "bid_ck_test2=abc; xbid_ck_test=abc").browser_id, None);
    }

    #[test]
    fn hostile_cookie_values() {
        let spec = CookieSpec::for_client_key("ck_test");
        let long = format!("bid_ck_test={}", "a".repeat(129));
        for h in [
            "bid_ck_test=a\r\nSet-Cookie: evil=1",
            "bid_ck_test=../../etc/passwd",
            "bid_ck_test=a/b",
            "bid_ck_test=a..b",
            "bid_ck_test=\"a\"b\"",
            "bid_ck_test='a'",
            "bid_ck_test=",
            "bid_ck_test=\"\"",
            long.as_str(),
            "bid_ck_test=caf\u{e9}",
            "bid_ck_test=a\u{0}b",
            "bid_ck_test=a b",
            "bid_ck_test=a,b",
        ] {
            let r = read_cookie_header(&spec, h);
            assert_eq!(r.browser_id, None, "{h:?}");
            let e = r.rejected.expect("reason");
            assert_eq!(e.kind, ErrorKind::InvalidBrowserId);
            // The reason never echoes the value.
            assert!(!e.message.contains("evil") && !e.message.contains("passwd"));
        }
        // A bad current cookie falls back to a good legacy one; the rejection is still reported.
        let r = read_cookie_header(&spec, "bid_ck_test=a/b; BID_ck_test=good");
        assert_eq!((r.browser_id.as_deref(), r.from_legacy, r.rejected.is_some()), (Some("good"), true, true));
        // First valid of duplicates.
        let r = read_cookie_header(&spec, "bid_ck_test=a/b; bid_ck_test=ok2");
        assert_eq!(r.browser_id.as_deref(), Some("ok2"));
    }

    /// The `str`-based reader this byte-based one replaced, kept as the reference it must agree with.
    fn reference_read(spec: &CookieSpec, cookie_header: &str) -> CookieRead {
        let (mut current, mut legacy, mut rejected): (Option<String>, Option<String>, Option<Error>) = (None, None, None);
        for pair in cookie_header.split(';') {
            let pair = pair.trim_matches(|c| c == ' ' || c == '\t');
            let Some((name, value)) = pair.split_once('=') else { continue };
            let name = name.trim_matches(|c| c == ' ' || c == '\t');
            let is_current = name == spec.name;
            let is_legacy = !is_current && spec.legacy_name.as_deref() == Some(name);
            if !is_current && !is_legacy {
                continue;
            }
            let slot = if is_current { &mut current } else { &mut legacy };
            if slot.is_some() {
                continue;
            }
            let value = value.trim_matches(|c| c == ' ' || c == '\t');
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            match validate_browser_id(value) {
                Ok(()) => *slot = Some(value.to_string()),
                Err(e) => {
                    rejected.get_or_insert(e);
                }
            }
        }
        let from_legacy = current.is_none() && legacy.is_some();
        CookieRead { browser_id: current.or(legacy), from_legacy, rejected }
    }

    #[test]
    fn byte_reader_agrees_with_the_str_reader() {
        let spec = CookieSpec::for_client_key("ck");
        let atoms = ["bid_ck", "BID_ck", "x", "=", ";", " ", "\t", "\"", "a", "a.b", "..", "é", "\u{a0}", "-", "b=c", "bid_ck2"];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut h = String::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                h.push_str(atoms[(x % atoms.len() as u64) as usize]);
            }
            x = x.wrapping_add(1);
            assert_eq!(read_cookie_header(&spec, &h), reference_read(&spec, &h), "{h:?}");
        }
    }

    #[test]
    fn prepared_set_cookie_is_the_spec_s() {
        let mut spec = CookieSpec::for_client_key("ck_test");
        assert_eq!(SetCookie::new(&spec).render(BID), spec.set_cookie(BID));
        assert_eq!(SetCookie::new(&spec).render(BID), format!("bid_ck_test={BID}; Max-Age=63072000; SameSite=None; Secure; Path=/"));
        spec.domain = Some("example.com".into());
        spec.max_age_days = 1;
        assert_eq!(SetCookie::new(&spec).render("R"), "bid_ck_test=R; Max-Age=86400; SameSite=None; Secure; Path=/; Domain=example.com");
    }
}
