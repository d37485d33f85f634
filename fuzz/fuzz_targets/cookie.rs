//! The browser-id cookie: `cookie::read_cookie_header` on arbitrary headers (and headers assembled from the
//! configured names and hostile values), `validate_browser_id`, and `CookieSpec::validate` / `set_cookie`.
//! Checks: no panic; whatever id comes out passes `validate_browser_id` and is only `[A-Za-z0-9._-]`; a
//! `Set-Cookie` built from an accepted spec and id has no control characters, exactly one `name=id` pair and
//! nothing the id could smuggle in; rejection reasons never echo the value.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use xmcdp::cookie::{read_cookie_header, validate_browser_id, CookieSpec};
use xmcdp_fuzz::{hostile_string, opt_string, uuidish};

const REASONS: &[&str] = &[
    "Invalid browser id: empty.",
    "Invalid browser id: too long.",
    "Invalid browser id: unexpected character.",
    "Invalid browser id: contains '..'.",
];

fn run(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let spec = if u.ratio(3, 4)? {
        let mut s = CookieSpec::for_client_key(u.choose(&["ck_test", "ck", "a.b-c_d"])?);
        if u.ratio(1, 4)? {
            s.domain = opt_string(&mut u)?;
        }
        if u.ratio(1, 8)? {
            s.legacy_name = None;
        }
        s
    } else {
        CookieSpec { name: hostile_string(&mut u)?, legacy_name: opt_string(&mut u)?, domain: opt_string(&mut u)?, max_age_days: u.arbitrary()? }
    };

    let header = if u.ratio(1, 4)? {
        String::from_utf8_lossy(u.bytes(u.len().min(4096))?).into_owned()
    } else {
        let mut h = String::new();
        for _ in 0..u.int_in_range(0..=6)? {
            let name = match u.int_in_range(0..=3)? {
                0 => spec.name.clone(),
                1 => spec.legacy_name.clone().unwrap_or_default(),
                2 => hostile_string(&mut u)?,
                _ => format!(" {}\t", spec.name),
            };
            let value = match u.int_in_range(0..=3)? {
                0 => uuidish(&mut u)?,
                1 => format!("\"{}\"", uuidish(&mut u)?),
                _ => hostile_string(&mut u)?,
            };
            h.push_str(&name);
            if u.ratio(7, 8)? {
                h.push('=');
            }
            h.push_str(&value);
            h.push_str(u.choose(&["; ", ";", ",", " ; ", ""])?);
        }
        h
    };

    let r = read_cookie_header(&spec, &header);
    if let Some(b) = &r.browser_id {
        validate_browser_id(b).expect("read_cookie_header returned an id validate_browser_id rejects");
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)) && !b.contains(".."), "{b:?}");
        assert!(header.contains(b.as_str()));
    } else {
        assert!(!r.from_legacy);
    }
    if let Some(e) = &r.rejected {
        assert!(REASONS.contains(&e.message.as_str()), "rejection reason is not a fixed text: {:?}", e.message);
    }

    let candidate = if u.arbitrary()? { hostile_string(&mut u)? } else { uuidish(&mut u)? };
    match validate_browser_id(&candidate) {
        Ok(()) => {
            assert!(!candidate.is_empty() && candidate.len() <= 128 && candidate.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)))
        }
        Err(e) => assert!(REASONS.contains(&e.message.as_str()), "{:?}", e.message),
    }

    if spec.validate().is_ok() {
        for id in r.browser_id.iter().chain(Some(&candidate).filter(|c| validate_browser_id(c).is_ok())) {
            let c = spec.set_cookie(id);
            assert!(!c.chars().any(|ch| ch.is_control()), "{c:?}");
            assert!(c.starts_with(&format!("{}={id}; Max-Age=", spec.name)), "{c:?}");
            // The id adds no attribute: exactly the attributes the spec asks for.
            let attrs = c.matches("; ").count();
            assert_eq!(attrs, 4 + usize::from(spec.domain.is_some()), "{c:?}");
            assert_eq!(c.matches('=').count(), 4 + usize::from(spec.domain.is_some()), "{c:?}");
        }
        if let Some(x) = spec.expire_legacy() {
            assert!(!x.chars().any(|ch| ch.is_control()));
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
