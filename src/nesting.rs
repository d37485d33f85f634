//! How deep a JSON argument nests, found without parsing it. serde_json's parser (and `Value`'s drop) recurse
//! once per level of objects and arrays, up to serde_json's own limit of 128: a 127-deep document took more than
//! a 256 KiB thread stack in the debug build and 64–128 KiB in release, and a host request thread has 512 KiB
//! on IIS (x64) with the managed frames above the call. Every JSON argument from the host (settings, event
//! data and ext, decision params, guest bodies and extension data) is checked with [`within`] before it is
//! parsed, so its parse costs a bounded stack.

/// The deepest nesting accepted in a JSON argument, the root object counting as 1. The model's own rule for
/// event data and `ext` (32 levels below the root's members) fits within it, so no document it accepted is
/// refused here; the other arguments nest 2–3 levels in practice.
pub const MAX_NESTING: usize = 34;

/// Whether `json` nests objects and arrays at most `max` levels deep. Brackets inside strings do not count;
/// malformed JSON is left to the parser (this only ever refuses depth). One pass, no recursion, no allocation.
pub fn within(json: &[u8], max: usize) -> bool {
    // No document shorter than this can open more than `max` brackets.
    if json.len() <= max {
        return true;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// The message for a refused document: names the argument and the limit, never the content.
pub fn too_deep(field: &str) -> String {
    format!("{field}: JSON nested deeper than {MAX_NESTING} levels")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}1{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn counts_objects_and_arrays_but_not_brackets_in_strings() {
        assert!(within(nested(r#"{"a":"#, "}", MAX_NESTING).as_bytes(), MAX_NESTING));
        assert!(!within(nested(r#"{"a":"#, "}", MAX_NESTING + 1).as_bytes(), MAX_NESTING));
        assert!(!within(nested("[", "]", MAX_NESTING + 1).as_bytes(), MAX_NESTING));
        assert!(within(format!(r#"{{"a":"{}"}}"#, "[{".repeat(500)).as_bytes(), MAX_NESTING));
        // An escaped quote does not end the string; an escaped backslash before the closing quote does.
        assert!(within(format!(r#"{{"a":"\"{}","b":"\\"}}"#, "[".repeat(500)).as_bytes(), MAX_NESTING));
        assert!(!within(format!(r#"{{"a":"\\"{}"#, "[".repeat(40)).as_bytes(), MAX_NESTING));
        // Siblings do not add up; closing brackets do not go below zero.
        assert!(within(format!("[{}]", "[[1]],".repeat(100) + "1").as_bytes(), 3));
        assert!(within("]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]][[1]]".as_bytes(), 2));
    }
}
