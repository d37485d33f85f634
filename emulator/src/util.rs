//! Small helpers with no protocol knowledge: ids, time formatting, base64, percent decoding, hashing.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    splitmix(t ^ addr.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fast non-cryptographic random u64 (per-thread splitmix64 stream). Ids here only need to be unique.
pub fn rand_u64() -> u64 {
    RNG.with(|c| {
        let s = c.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        c.set(s);
        splitmix(s)
    })
}

/// Uniform float in [0, 1).
pub fn rand_f64() -> f64 {
    (rand_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A random version-4 UUID in the canonical lower-case 8-4-4-4-12 form.
pub fn uuid_v4() -> String {
    let hi = rand_u64();
    let lo = rand_u64();
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if i == 4 || i == 6 || i == 8 || i == 10 {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 0xf) as usize] as char);
    }
    s
}

/// FNV-1a 64-bit: stable across runs and platforms, used for sticky experiment bucketing.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        y,
        m,
        d,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        milli
    )
}

// Howard Hinnant's days -> civil date algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Standard base64 decoding (padding optional). Returns None on any invalid character.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in bytes {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Percent-decodes `s`; with `plus_as_space`, `+` becomes a space (form encoding).
pub fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = (b[i + 1] as char).to_digit(16);
                let l = (b[i + 2] as char).to_digit(16);
                if let (Some(h), Some(l)) = (h, l) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_as_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into decoded (name, value) pairs, form-style.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(i) => (
                percent_decode(&p[..i], true),
                percent_decode(&p[i + 1..], true),
            ),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Extracts the `message` parameter of the legacy event GET. The JSON may be sent raw (unencoded, so it can
/// contain `&` inside strings) or percent-encoded; for the raw form the value is cut at the brace that closes it.
pub fn extract_message(raw_query: &str) -> Option<String> {
    let mut start = None;
    let b = raw_query.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if (i == 0 || b[i - 1] == b'&') && raw_query[i..].starts_with("message=") {
            start = Some(i + "message=".len());
            break;
        }
        // Skip over a raw JSON value so a `&message=` inside another raw value cannot match.
        i += 1;
    }
    let start = start?;
    let rest = &raw_query[start..];
    if rest.starts_with('{') || rest.starts_with('[') {
        // Raw JSON: find the matching close bracket, honouring strings (which may be partly %-encoded).
        let rb = rest.as_bytes();
        let mut depth = 0i32;
        let mut in_str = false;
        let mut esc = false;
        for (j, &c) in rb.iter().enumerate() {
            if in_str {
                if esc {
                    esc = false;
                } else if c == b'\\' {
                    esc = true;
                } else if c == b'"' {
                    in_str = false;
                }
                continue;
            }
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(percent_decode(&rest[..=j], false));
                    }
                }
                _ => {}
            }
        }
        Some(percent_decode(rest.split('&').next().unwrap_or(""), false))
    } else {
        Some(percent_decode(rest.split('&').next().unwrap_or(""), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid_v4(), u);
    }

    #[test]
    fn iso() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(1_709_210_096_123), "2024-02-29T12:34:56.123Z");
    }

    #[test]
    fn b64() {
        assert_eq!(
            base64_decode("Y2tfdGVzdDp0b2tfdGVzdA==").unwrap(),
            b"ck_test:tok_test"
        );
        assert!(base64_decode("***").is_none());
    }

    #[test]
    fn message_forms() {
        let raw = r#"client_key=ck&message={"a":"x&y","b":{"c":1}}&z=1"#;
        assert_eq!(extract_message(raw).unwrap(), r#"{"a":"x&y","b":{"c":1}}"#);
        let enc = "message=%7B%22a%22%3A%22b%20c%22%7D&client_key=ck";
        assert_eq!(extract_message(enc).unwrap(), r#"{"a":"b c"}"#);
        assert!(extract_message("client_key=ck").is_none());
    }
}
