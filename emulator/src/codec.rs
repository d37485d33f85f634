//! Wire decoding with no protocol knowledge: base64 (Basic auth), percent-decoding, query strings and the
//! legacy `message=` parameter (raw or percent-encoded JSON).

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
