//! Query-string reading for VIEW events, reproducing Engage: `new URLSearchParams(decodeURI(search))`.

/// The query part of a path or absolute URL: after the first `?`, before any `#`.
pub fn query_of(url: &str) -> &str {
    let no_frag = url.split('#').next().unwrap_or("");
    match no_frag.find('?') {
        Some(i) => &no_frag[i + 1..],
        None => "",
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn pct_at(b: &[u8], i: usize) -> Option<u8> {
    if i + 3 <= b.len() && b[i] == b'%' {
        Some(hex(b[i + 1])? << 4 | hex(b[i + 2])?)
    } else {
        None
    }
}

/// ECMAScript `decodeURI`: decodes %XX sequences except those of reserved characters (`;/?:@&=+$,#`),
/// which stay encoded. `None` where JavaScript throws `URIError` (bad escape or invalid UTF-8).
pub fn decode_uri(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let first = pct_at(b, i)?;
        if first < 0x80 {
            if b";/?:@&=+$,#".contains(&first) {
                out.extend_from_slice(&b[i..i + 3]);
            } else {
                out.push(first);
            }
            i += 3;
            continue;
        }
        let n = match first {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return None,
        };
        let mut buf = vec![first];
        let mut j = i + 3;
        for _ in 1..n {
            let c = pct_at(b, j)?;
            if c & 0xC0 != 0x80 {
                return None;
            }
            buf.push(c);
            j += 3;
        }
        // Rejects overlongs and surrogates, as decodeURI does.
        std::str::from_utf8(&buf).ok()?;
        out.extend_from_slice(&buf);
        i = j;
    }
    String::from_utf8(out).ok()
}

/// `application/x-www-form-urlencoded` percent-decoding: `+` is a space, bad escapes stay literal,
/// invalid UTF-8 becomes U+FFFD (as URLSearchParams does).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match pct_at(b, i) {
                Some(c) => {
                    out.push(c);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `new URLSearchParams(query)` entries, in order (a leading `?` is ignored).
pub fn search_params(query: &str) -> Vec<(String, String)> {
    let q = query.strip_prefix('?').unwrap_or(query);
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(i) => (form_decode(&p[..i]), form_decode(&p[i + 1..])),
            None => (form_decode(p), String::new()),
        })
        .collect()
}

/// Query entries of `url` as Engage sees them. Where JavaScript's decodeURI would throw (Engage's pageView
/// would then fail), the raw query is used instead: a malformed URL must not cost the page view.
pub fn engage_params(url: &str) -> Vec<(String, String)> {
    let q = query_of(url);
    match decode_uri(q) {
        Some(d) => search_params(&d),
        None => search_params(q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(u: &str) -> Vec<(String, String)> {
        engage_params(u)
    }

    #[test]
    fn basics() {
        assert_eq!(query_of("/home?a=1#frag?b"), "a=1");
        assert_eq!(query_of("https://x.test/p?q=1"), "q=1");
        assert_eq!(query_of("/p"), "");
        assert_eq!(p("/p?a=1&&b&c=x=y"), vec![("a".into(), "1".into()), ("b".into(), "".into()), ("c".into(), "x=y".into())]);
        assert_eq!(p("/?utm_term=a+b%20c"), vec![("utm_term".into(), "a b c".into())]);
    }

    #[test]
    fn decode_uri_semantics() {
        assert_eq!(decode_uri("a%20b").as_deref(), Some("a b"));
        // Reserved characters stay encoded, so URLSearchParams decodes them once (no split on %26).
        assert_eq!(decode_uri("a%26b%3D").as_deref(), Some("a%26b%3D"));
        assert_eq!(p("/?utm_x=a%26b"), vec![("utm_x".into(), "a&b".into())]);
        // Double decoding of non-reserved escapes, as in Engage.
        assert_eq!(p("/?utm_x=%2541"), vec![("utm_x".into(), "A".into())]);
        assert_eq!(decode_uri("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_uri("%"), None);
        assert_eq!(decode_uri("%zz"), None);
        assert_eq!(decode_uri("%C3"), None);
        assert_eq!(decode_uri("%ED%A0%80"), None);
        assert_eq!(decode_uri("%C0%80"), None);
        // decodeURI failure falls back to the raw query.
        assert_eq!(p("/?utm_x=%E0%A4%A&y=%"), vec![("utm_x".into(), "\u{FFFD}%A".into()), ("y".into(), "%".into())]);
    }
}
