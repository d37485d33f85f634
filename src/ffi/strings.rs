//! UTF-8 byte slices in, caller buffers out. Never C strings: .NET Framework marshals `LPStr` as ANSI.

use super::call::{FfiError, FfiResult};
use super::status::xmcdp_status_t::*;
use interoptopus::{ffi_surrogates, ffi_type};
use interoptopus::lang::c::{CType, PrimitiveType};
use bytes::Bytes;
use std::cell::RefCell;

/// Longest single string field accepted, in bytes.
pub const XMCDP_MAX_STR_LEN: usize = 64 * 1024;
/// Longest `ext_json` / `data_json` accepted, in bytes.
pub const XMCDP_MAX_JSON_LEN: usize = 64 * 1024;
/// Longest settings JSON accepted, in bytes (a settings file, not per-request data).
pub const XMCDP_MAX_SETTINGS_LEN: usize = 1024 * 1024;
/// Most elements accepted in an array argument (street lines, identifiers).
pub const XMCDP_MAX_ITEMS: usize = 64;

// interoptopus 0.14 has no pointer-sized integer: `usize` is described to it as `u64` through these
// surrogates. That is only true on 64-bit targets, the only ones xmcdp ships (bin\x64).
const _: () = assert!(std::mem::size_of::<usize>() == 8, "the C# bindings describe size_t as ulong: 64-bit targets only");

/// interoptopus surrogate: `usize` as `u64` (see the assertion above).
pub fn usize_surrogate() -> CType {
    CType::Primitive(PrimitiveType::U64)
}

/// interoptopus surrogate: `*mut usize` as `*mut u64` (C# `out ulong`).
pub fn usize_out_surrogate() -> CType {
    CType::ReadWritePointer(Box::new(CType::Primitive(PrimitiveType::U64)))
}

/// interoptopus surrogate: an output byte buffer `*mut u8` as `void*`, so C# sees `IntPtr` (a pinned
/// array or stackalloc) rather than `out byte`.
pub fn buffer_surrogate() -> CType {
    CType::ReadWritePointer(Box::new(CType::Primitive(PrimitiveType::Void)))
}

/// interoptopus surrogate: a read-only array argument `*const T` as `const void*`, so C# sees `IntPtr` (a
/// pinned array, or `IntPtr.Zero` for none) rather than `ref T`, which cannot express NULL.
pub fn array_surrogate() -> CType {
    CType::ReadPointer(Box::new(CType::Primitive(PrimitiveType::Void)))
}

/// A UTF-8 string passed by pointer and length, borrowed for the duration of the call.
///
/// `ptr == NULL` means absent (`len` must be 0); a non-NULL `ptr` with `len == 0` is the empty string.
/// The bytes need not be NUL-terminated and must not be used by the library after the call returns.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
#[ffi_surrogates(len = "usize_surrogate")]
pub struct xmcdp_str_t {
    /// First byte, or NULL for "absent".
    pub ptr: *const u8,
    /// Length in bytes (not characters), without any terminator.
    pub len: usize,
}

impl xmcdp_str_t {
    /// The absent string (NULL, 0).
    pub const NONE: xmcdp_str_t = xmcdp_str_t { ptr: std::ptr::null(), len: 0 };

    /// A view of a static string (for returning names).
    pub const fn from_static(s: &'static str) -> xmcdp_str_t {
        xmcdp_str_t { ptr: s.as_ptr(), len: s.len() }
    }

    /// Borrows the bytes, `None` when absent.
    ///
    /// # Safety
    /// A non-NULL `ptr` must point to `len` readable bytes that stay valid and unchanged for `'a`.
    #[inline]
    pub unsafe fn bytes<'a>(&self, field: &str, max: usize) -> FfiResult<Option<&'a [u8]>> {
        if self.ptr.is_null() {
            if self.len != 0 {
                return Err(null_with_len(field));
            }
            return Ok(None);
        }
        if self.len > max {
            return Err(too_large(field, self.len, max));
        }
        Ok(Some(std::slice::from_raw_parts(self.ptr, self.len)))
    }

    /// Borrows as `&str`, `None` when absent; checks the size limit and UTF-8.
    ///
    /// # Safety
    /// As [`xmcdp_str_t::bytes`].
    #[inline]
    pub unsafe fn as_str<'a>(&self, field: &str, max: usize) -> FfiResult<Option<&'a str>> {
        match self.bytes(field, max)? {
            None => Ok(None),
            // ASCII is valid UTF-8, and `is_ascii` tests a word at a time where `from_utf8` walks short strings
            // a byte at a time. Most fields on the request path are ASCII.
            Some(b) if is_ascii(b) => Ok(Some(std::str::from_utf8_unchecked(b))),
            Some(b) => std::str::from_utf8(b).map(Some).map_err(|e| bad_utf8(field, e)),
        }
    }

    /// An owned copy of an optional string field limited to [`XMCDP_MAX_STR_LEN`].
    ///
    /// # Safety
    /// As [`xmcdp_str_t::bytes`].
    pub unsafe fn to_opt_string(&self, field: &str) -> FfiResult<Option<String>> {
        Ok(self.as_str(field, XMCDP_MAX_STR_LEN)?.map(str::to_owned))
    }

    /// A required string: absent is `XMCDP_STATUS_NULL_POINTER` naming the field.
    ///
    /// # Safety
    /// As [`xmcdp_str_t::bytes`].
    pub unsafe fn required<'a>(&self, field: &str, max: usize) -> FfiResult<&'a str> {
        self.as_str(field, max)?
            .ok_or_else(|| FfiError::new(XMCDP_STATUS_NULL_POINTER, format!("{field}: required, got NULL")))
    }
}

/// Refuses a JSON argument nested deeper than [`crate::nesting::MAX_NESTING`] before it is parsed (the parse
/// would recurse once per level on the host's thread), with `status`: the one the argument's syntax errors get.
pub fn check_nesting(json: &str, field: &str, status: super::status::xmcdp_status_t) -> FfiResult<()> {
    if crate::nesting::within(json.as_bytes(), crate::nesting::MAX_NESTING) {
        Ok(())
    } else {
        Err(FfiError::new(status, crate::nesting::too_deep(field)))
    }
}

/// `<[u8]>::is_ascii` for the short strings of a request (a few to a few hundred bytes): eight bytes per step,
/// without the alignment prologue that costs `is_ascii` more than the scan on strings this short.
#[inline(always)]
pub(crate) fn is_ascii(b: &[u8]) -> bool {
    let (n, p) = (b.len(), b.as_ptr());
    let (mut i, mut words, mut tail) = (0, 0u64, 0u8);
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n`, so the eight bytes are inside `b`; unaligned reads are allowed by `read_unaligned`.
        words |= unsafe { p.add(i).cast::<u64>().read_unaligned() };
        i += 8;
    }
    while i < n {
        tail |= b[i];
        i += 1;
    }
    (words & 0x8080_8080_8080_8080) == 0 && tail < 0x80
}

// The error paths stay out of line: `bytes` and `as_str` are inlined into every field of every call.
#[cold]
#[inline(never)]
fn null_with_len(field: &str) -> FfiError {
    FfiError::new(XMCDP_STATUS_INVALID_ARGUMENT, format!("{field}: NULL ptr with non-zero len"))
}

#[cold]
#[inline(never)]
fn too_large(field: &str, len: usize, max: usize) -> FfiError {
    FfiError::new(XMCDP_STATUS_TOO_LARGE, format!("{field}: {len} bytes exceeds the limit of {max}"))
}

#[cold]
#[inline(never)]
fn bad_utf8(field: &str, e: std::str::Utf8Error) -> FfiError {
    FfiError::new(XMCDP_STATUS_INVALID_UTF8, format!("{field}: invalid UTF-8 at byte {}", e.valid_up_to()))
}

/// Rejects a NULL pointer argument with a message naming it.
pub fn non_null<T>(p: *const T, field: &str) -> FfiResult<*const T> {
    if p.is_null() {
        Err(FfiError::new(XMCDP_STATUS_NULL_POINTER, format!("{field}: NULL")))
    } else {
        Ok(p)
    }
}

/// Rejects a NULL output pointer with a message naming it.
pub fn non_null_mut<T>(p: *mut T, field: &str) -> FfiResult<*mut T> {
    if p.is_null() {
        Err(FfiError::new(XMCDP_STATUS_NULL_POINTER, format!("{field}: NULL")))
    } else {
        Ok(p)
    }
}

/// Borrows a C array `(ptr, len)`; NULL with len 0 is the empty array.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` valid `T`s for `'a`.
pub unsafe fn slice<'a, T>(ptr: *const T, len: usize, field: &str) -> FfiResult<&'a [T]> {
    if len > XMCDP_MAX_ITEMS {
        return Err(FfiError::new(XMCDP_STATUS_TOO_LARGE, format!("{field}: {len} items exceeds the limit of {XMCDP_MAX_ITEMS}")));
    }
    if ptr.is_null() {
        if len != 0 {
            return Err(FfiError::new(XMCDP_STATUS_NULL_POINTER, format!("{field}: NULL with {field}_len {len}")));
        }
        return Ok(&[]);
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// Checks an output-buffer triple before any work is done, so a bad call has no side effects.
/// `buf` may be NULL only when `cap` is 0 (a size query).
pub fn check_out_buffer(buf: *mut u8, cap: usize, out_len: *mut usize) -> FfiResult {
    non_null_mut(out_len, "out_len")?;
    if buf.is_null() && cap != 0 {
        return Err(FfiError::new(XMCDP_STATUS_NULL_POINTER, "buf: NULL with non-zero cap"));
    }
    Ok(())
}

/// Copies `bytes` into the caller's buffer and writes the length to `*out_len`; when the buffer is too
/// small writes the needed length instead and fails with `XMCDP_STATUS_BUFFER_TOO_SMALL`. No terminator.
///
/// # Safety
/// `(buf, cap, out_len)` must have passed [`check_out_buffer`]; `buf` must be writable for `cap` bytes.
pub unsafe fn write_out(bytes: &[u8], buf: *mut u8, cap: usize, out_len: *mut usize, what: &str) -> FfiResult {
    check_out_buffer(buf, cap, out_len)?;
    *out_len = bytes.len();
    if bytes.len() > cap {
        return Err(FfiError::new(
            XMCDP_STATUS_BUFFER_TOO_SMALL,
            format!("{what}: buffer of {cap} bytes too small, {} needed", bytes.len()),
        ));
    }
    if !bytes.is_empty() {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len());
    }
    Ok(())
}

thread_local! {
    // The output of the last call on this thread that did not fit its buffer, kept for `xmcdp_result_take`
    // so work already done (a decision, a created browser id, a Guest API write) is never lost or repeated.
    // Per thread, like the last error: the host retries right after the failing call on the same thread.
    static HELD: RefCell<Option<Bytes>> = const { RefCell::new(None) };
}

/// Drops the result held for `xmcdp_result_take`. Every export that can hold one calls this first, so at
/// most one result per thread is held, and only until the thread's next such call.
pub fn clear_held() {
    let _ = HELD.try_with(|h| {
        if let Ok(mut h) = h.try_borrow_mut() {
            *h = None;
        }
    });
}

fn hold(bytes: Bytes) {
    let _ = HELD.try_with(|h| {
        if let Ok(mut h) = h.try_borrow_mut() {
            *h = Some(bytes);
        }
    });
}

/// [`write_out`] for results that cost work to produce: when the buffer is too small the bytes are also
/// kept for `xmcdp_result_take` (the message says so).
///
/// # Safety
/// As [`write_out`].
pub unsafe fn write_or_hold(bytes: Bytes, buf: *mut u8, cap: usize, out_len: *mut usize, what: &str) -> FfiResult {
    match write_out(&bytes, buf, cap, out_len, what) {
        Err(mut e) if e.status == XMCDP_STATUS_BUFFER_TOO_SMALL => {
            hold(bytes);
            e.message.push_str("; the result is kept for xmcdp_result_take");
            Err(e)
        }
        r => r,
    }
}

/// Copies the held result out (see [`write_or_hold`]) and drops it; keeps it when the buffer is still too
/// small. `XMCDP_STATUS_NO_RECORD` when none is held.
///
/// # Safety
/// As [`write_out`].
pub unsafe fn take_held(buf: *mut u8, cap: usize, out_len: *mut usize) -> FfiResult {
    check_out_buffer(buf, cap, out_len)?;
    let held = HELD.try_with(|h| h.borrow().clone()).ok().flatten();
    let Some(bytes) = held else {
        return Err(FfiError::new(
            XMCDP_STATUS_NO_RECORD,
            "xmcdp_result_take: no result is held on this thread (take it right after the call that returned BUFFER_TOO_SMALL, on the same thread)",
        ));
    };
    write_out(&bytes, buf, cap, out_len, "held result")?;
    clear_held();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> xmcdp_str_t {
        xmcdp_str_t { ptr: b.as_ptr(), len: b.len() }
    }

    #[test]
    fn word_ascii_check_matches_std() {
        let mut b = Vec::new();
        for n in 0..40usize {
            b.push((n * 37 % 128) as u8);
            for i in 0..b.len() {
                let mut c = b.clone();
                assert!(is_ascii(&c) && c.is_ascii());
                c[i] |= 0x80;
                assert!(!is_ascii(&c) && !c.is_ascii(), "{c:?}");
            }
        }
        assert!(is_ascii(&[]));
    }

    #[test]
    fn absent_empty_and_invalid() {
        unsafe {
            assert_eq!(xmcdp_str_t::NONE.as_str("f", 10).unwrap(), None);
            assert_eq!(s(b"").as_str("f", 10).unwrap(), Some(""));
            let e = s(b"a\xffb").as_str("page", 10).unwrap_err();
            assert_eq!(e.status, XMCDP_STATUS_INVALID_UTF8);
            assert!(e.message.starts_with("page:"), "{}", e.message);
            assert_eq!(s(b"abcdef").as_str("f", 5).unwrap_err().status, XMCDP_STATUS_TOO_LARGE);
            let bad = xmcdp_str_t { ptr: std::ptr::null(), len: 3 };
            assert_eq!(bad.as_str("f", 5).unwrap_err().status, XMCDP_STATUS_INVALID_ARGUMENT);
            assert_eq!(xmcdp_str_t::NONE.required("event_type", 5).unwrap_err().status, XMCDP_STATUS_NULL_POINTER);
        }
    }

    #[test]
    fn write_out_reports_needed_length() {
        let mut buf = [0u8; 4];
        let mut n = 0usize;
        unsafe {
            let e = write_out(b"hello", buf.as_mut_ptr(), buf.len(), &mut n, "x").unwrap_err();
            assert_eq!((e.status, n), (XMCDP_STATUS_BUFFER_TOO_SMALL, 5));
            write_out(b"hey", buf.as_mut_ptr(), buf.len(), &mut n, "x").unwrap();
            assert_eq!((&buf[..n], n), (&b"hey"[..], 3));
            write_out(b"", std::ptr::null_mut(), 0, &mut n, "x").unwrap();
            assert_eq!(n, 0);
            assert_eq!(write_out(b"a", std::ptr::null_mut(), 0, std::ptr::null_mut(), "x").unwrap_err().status, XMCDP_STATUS_NULL_POINTER);
        }
    }

    #[test]
    fn held_results_are_taken_once_and_cleared_by_the_next_call() {
        let mut buf = [0u8; 8];
        let mut n = 0usize;
        unsafe {
            clear_held();
            assert_eq!(take_held(buf.as_mut_ptr(), buf.len(), &mut n).unwrap_err().status, XMCDP_STATUS_NO_RECORD);
            let e = write_or_hold(Bytes::from_static(b"0123456789"), buf.as_mut_ptr(), 4, &mut n, "d").unwrap_err();
            assert_eq!((e.status, n), (XMCDP_STATUS_BUFFER_TOO_SMALL, 10));
            assert!(e.message.contains("xmcdp_result_take"), "{}", e.message);
            assert_eq!(take_held(buf.as_mut_ptr(), buf.len(), &mut n).unwrap_err().status, XMCDP_STATUS_BUFFER_TOO_SMALL);
            let mut big = [0u8; 16];
            take_held(big.as_mut_ptr(), big.len(), &mut n).unwrap();
            assert_eq!(&big[..n], b"0123456789");
            assert_eq!(take_held(big.as_mut_ptr(), big.len(), &mut n).unwrap_err().status, XMCDP_STATUS_NO_RECORD);
            write_or_hold(Bytes::from_static(b"abc"), buf.as_mut_ptr(), buf.len(), &mut n, "d").unwrap();
            assert_eq!(take_held(big.as_mut_ptr(), big.len(), &mut n).unwrap_err().status, XMCDP_STATUS_NO_RECORD, "a fitting result is not held");
            let _ = write_or_hold(Bytes::from_static(b"0123456789"), buf.as_mut_ptr(), 4, &mut n, "d");
            clear_held();
            assert_eq!(take_held(big.as_mut_ptr(), big.len(), &mut n).unwrap_err().status, XMCDP_STATUS_NO_RECORD);
        }
    }
}
