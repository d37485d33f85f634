//! Field checks shared by events and decision requests. They reproduce the official SDK's helpers
//! (email regex, short-ISO date) and add server-side caps the SDK lacks.

use crate::error::{err, Error, ErrorKind};

/// Cap for short identifiers: channel, currency, language, pos, names, provider, gender, title...
pub const MAX_SHORT: usize = 256;
/// Cap for free text: page, URL, referrer, email, street lines, identifier ids, friendlyId.
pub const MAX_TEXT: usize = 4096;
/// Cap for page URLs and referrers: tracking parameters make real URLs longer than other text.
pub const MAX_URL: usize = 16 * 1024;
/// Cap for an event type name.
pub const MAX_EVENT_TYPE: usize = 100;

/// JavaScript's `\s` (ECMAScript WhiteSpace + LineTerminator), which differs from Unicode White_Space:
/// JS includes U+FEFF and excludes U+0085.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}'
            | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

/// Same result as the SDK's `/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s)`.
pub fn is_valid_email(s: &str) -> bool {
    if s.chars().any(is_js_whitespace) {
        return false;
    }
    let mut parts = s.split('@');
    let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(d), None) => (l, d),
        _ => return false,
    };
    if local.is_empty() {
        return false;
    }
    // `[^\s@]+\.[^\s@]+`: some '.' with at least one char on each side.
    let b = domain.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'.')
}

#[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; the crate supports 1.85.
fn is_leap(y: u32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Same result as the SDK's `new Date(s + 'Z').toISOString().slice(0, 16) === s`: exactly
/// `YYYY-MM-DDTHH:MM` naming a real UTC minute (the round trip rejects Feb 30 and 24:00).
pub fn is_short_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 16 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (num(0..4), num(5..7), num(8..10), num(11..13), num(14..16))
    else {
        return false;
    };
    (1..=12).contains(&mo) && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59
}

pub const MAX_BROWSER_ID: usize = 128;

fn bad_bid(why: &str) -> Error {
    Error::new(ErrorKind::InvalidBrowserId, format!("Invalid browser id: {why}."))
}

/// Accepts what CDP issues (UUIDs, also values like `legacy-bid-value`): ASCII `[A-Za-z0-9._-]`, 1..=128
/// characters, no `..`. Everything else (CR/LF, quotes, `/`, `;`, `,`, spaces, controls, non-ASCII) is rejected,
/// because the value is echoed into a `Set-Cookie` header and into URLs.
pub fn validate_browser_id(v: &str) -> Result<(), Error> {
    if v.is_empty() {
        return Err(bad_bid("empty"));
    }
    if v.len() > MAX_BROWSER_ID {
        return Err(bad_bid("too long"));
    }
    // Runs on the request thread for every event: branch-free folds (they vectorise), and the ".." scan only
    // for ids that have a dot at all (UUIDs do not).
    let b = v.as_bytes();
    let allowed = b.iter().fold(true, |ok, &c| ok & (c.is_ascii_alphanumeric() | (c == b'.') | (c == b'_') | (c == b'-')));
    let dots = b.iter().fold(false, |d, &c| d | (c == b'.')) && b.windows(2).any(|w| w == b"..");
    if !allowed {
        return Err(bad_bid("unexpected character"));
    }
    if dots {
        return Err(bad_bid("contains '..'"));
    }
    Ok(())
}

#[inline]
pub(crate) fn check_len(field: &str, v: &str, max: usize) -> Result<(), Error> {
    if v.len() > max {
        return Err(too_long(field, max));
    }
    Ok(())
}

// Error values stay out of line: the checks are inlined into every field of every event.
#[cold]
#[inline(never)]
fn too_long(field: &str, max: usize) -> Error {
    err(ErrorKind::TooLarge, format!("\"{field}\" is longer than {max} bytes."))
}

#[cold]
#[inline(never)]
fn control_characters(field: &str) -> Error {
    err(ErrorKind::InvalidField, format!("\"{field}\" contains control characters."))
}

/// Control characters never belong in a wire string we build; they usually mean a header or log injection attempt.
#[inline]
pub(crate) fn check_no_control(field: &str, v: &str) -> Result<(), Error> {
    if has_control(v) {
        return Err(control_characters(field));
    }
    Ok(())
}

/// `v.chars().any(char::is_control)` on bytes: C0 and DEL are single bytes, C1 controls are `C2 80..=9F`.
/// Runs on request threads for every field, so it avoids decoding characters.
pub(crate) fn has_control(v: &str) -> bool {
    let b = v.as_bytes();
    // Fast path (vectorised): printable ASCII only, the common case for every field.
    if b.iter().fold(true, |ok, &c| ok & (0x20..0x7f).contains(&c)) {
        return false;
    }
    b.iter().enumerate().any(|(i, &c)| c < 0x20 || c == 0x7f || (c == 0xc2 && matches!(b.get(i + 1), Some(0x80..=0x9f))))
}

pub(crate) fn check_short(field: &str, v: &Option<String>) -> Result<(), Error> {
    check_short_str(field, v.as_deref())
}

#[inline]
pub(crate) fn check_short_str(field: &str, v: Option<&str>) -> Result<(), Error> {
    if let Some(s) = v {
        check_len(field, s, MAX_SHORT)?;
        check_no_control(field, s)?;
    }
    Ok(())
}

pub(crate) fn check_email(v: &str) -> Result<(), Error> {
    check_len("email", v, MAX_TEXT)?;
    if !is_valid_email(v) {
        return Err(err(ErrorKind::InvalidEmail, "Incorrect value for \"email\". Set the value to a valid email address."));
    }
    Ok(())
}

pub(crate) fn check_date(field: &str, v: &str) -> Result<(), Error> {
    if !is_short_iso_date(v) {
        return Err(err(
            ErrorKind::InvalidDate,
            format!("Incorrect value for \"{field}\". Format the value according to ISO 8601 (YYYY-MM-DDTHH:MM)."),
        ));
    }
    Ok(())
}

/// Current UTC time as JavaScript's `toISOString()` prints it (`2026-11-29T03:26:59.186Z`), for Edge `requested_at`.
pub fn now_iso8601() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    iso8601_from_unix_millis(d.as_millis() as i64)
}

/// Formats milliseconds since the Unix epoch like `Date.prototype.toISOString` (years 0..=9999).
pub fn iso8601_from_unix_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        y,
        m,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod control_tests {
    #[test]
    fn byte_scan_matches_char_is_control() {
        for cp in (0u32..0x3000).chain([0xfeff, 0x1f600, 0x10ffff]) {
            let Some(ch) = char::from_u32(cp) else { continue };
            let s = format!("a{ch}b");
            assert_eq!(super::has_control(&s), ch.is_control(), "U+{cp:04X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_id_folds_agree_with_a_byte_loop() {
        let reference = |v: &str| -> Option<&'static str> {
            let (mut bad, mut dots, mut prev) = (false, false, 0u8);
            for &b in v.as_bytes() {
                bad |= !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
                dots |= b == b'.' && prev == b'.';
                prev = b;
            }
            if v.is_empty() || v.len() > MAX_BROWSER_ID {
                None
            } else if bad {
                Some("Invalid browser id: unexpected character.")
            } else if dots {
                Some("Invalid browser id: contains '..'.")
            } else {
                Some("")
            }
        };
        let atoms = ["a", "Z", "9", ".", "..", "_", "-", "/", " ", "é", "\u{0}", ":", "`", "{", "@", "[", "~"];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let mut v = String::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.push_str(atoms[(x % atoms.len() as u64) as usize]);
            }
            x = x.wrapping_add(1);
            if let Some(want) = reference(&v) {
                let got = validate_browser_id(&v).err().map(|e| e.message).unwrap_or_default();
                assert_eq!(got, want, "{v:?}");
            }
        }
    }

    #[test]
    fn email_matches_sdk_regex() {
        for ok in ["a@b.c", "jane.doe@example.com", "a@b..c", "x@y.z.w", "a@.b.c"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in ["a@b", "a b@c.d", "foo@bar", "@b.c", "a@@b.c", "a@b.", "a@.b", "a@b.c\u{FEFF}", "", "a@b@c.d", "a\t@b.c"] {
            assert!(!is_valid_email(bad), "{bad:?}");
        }
        // U+0085 is not JS whitespace, so the regex accepts it.
        assert!(is_valid_email("a\u{85}@b.c"));
    }

    #[test]
    fn short_iso_dates() {
        for ok in ["1990-01-31T00:00", "2024-02-29T12:30", "2030-12-31T23:59", "2000-02-29T00:00", "0000-01-01T00:00"] {
            assert!(is_short_iso_date(ok), "{ok}");
        }
        for bad in [
            "1990-01-31",
            "1990-01-31T00:00:00",
            "1990-02-30T00:00",
            "1990-01-31T24:00",
            "2030-12-31T23:59:00Z",
            "1900-02-29T00:00",
            "2023-02-29T00:00",
            "2023-13-01T00:00",
            "2023-00-01T00:00",
            "2023-01-00T00:00",
            "2023-01-01T00:60",
            "2023-01-01 00:00",
            "+02023-01-01T00:0",
            "２０２３-01-01T00:00",
        ] {
            assert!(!is_short_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn iso_formatting() {
        assert_eq!(iso8601_from_unix_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_from_unix_millis(1_795_922_819_186), "2026-11-29T03:26:59.186Z");
        assert_eq!(iso8601_from_unix_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
        let now = now_iso8601();
        assert_eq!(now.len(), 24);
    }
}
