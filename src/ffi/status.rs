//! Stable status codes of the C ABI and the mapping from the core's error kinds.
//!
//! Numbers are grouped by tens and are never renumbered or reused: hosts persist and switch on them.
//! New codes go into the free slot of their group.

use crate::error::ErrorKind;
use interoptopus::ffi_type;

/// Result of every `xmcdp_*` call that can fail. `XMCDP_STATUS_OK` (0) is success; every other value
/// has a message available from `xmcdp_last_error` on the same thread.
///
/// Groups: 0 ok; 10s arguments; 20s configuration; 30s event validation; 40s delivery; 50s decisions;
/// 60s remote/HTTP; 90s internal. Numbers are stable and never reused.
#[ffi_type]
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum xmcdp_status_t {
    /// Success.
    XMCDP_STATUS_OK = 0,
    /// A required pointer argument was NULL.
    XMCDP_STATUS_NULL_POINTER = 10,
    /// A string argument was not valid UTF-8; the message names the field.
    XMCDP_STATUS_INVALID_UTF8 = 11,
    /// An argument was out of range or inconsistent (e.g. NULL ptr with a non-zero length).
    XMCDP_STATUS_INVALID_ARGUMENT = 12,
    /// The output buffer was too small; the needed length was written to `*out_len`.
    XMCDP_STATUS_BUFFER_TOO_SMALL = 13,
    /// A string, JSON document or array exceeded its size limit.
    XMCDP_STATUS_TOO_LARGE = 14,
    /// The handle is zero, deleted, stale or was never issued.
    XMCDP_STATUS_INVALID_HANDLE = 15,
    /// Settings JSON could not be parsed.
    XMCDP_STATUS_INVALID_JSON = 20,
    /// Settings JSON contained an unknown key.
    XMCDP_STATUS_UNKNOWN_KEY = 21,
    /// A required setting was missing.
    XMCDP_STATUS_MISSING_SETTING = 22,
    /// A setting had an invalid value.
    XMCDP_STATUS_INVALID_SETTING = 23,
    /// A URL setting was invalid.
    XMCDP_STATUS_INVALID_URL = 24,
    /// An email address was invalid.
    XMCDP_STATUS_INVALID_EMAIL = 30,
    /// A date was invalid.
    XMCDP_STATUS_INVALID_DATE = 31,
    /// The ext object had too many attributes.
    XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES = 32,
    /// The ext JSON was invalid (not an object, too deep, bad values).
    XMCDP_STATUS_INVALID_EXT = 33,
    /// An identity event had no identifiers.
    XMCDP_STATUS_MISSING_IDENTIFIERS = 34,
    /// No point of sale on the event or in the settings.
    XMCDP_STATUS_MISSING_POINT_OF_SALE = 35,
    /// The event type was invalid.
    XMCDP_STATUS_INVALID_EVENT_TYPE = 36,
    /// The browser id was invalid.
    XMCDP_STATUS_INVALID_BROWSER_ID = 37,
    /// An event field was invalid; the message names it.
    XMCDP_STATUS_INVALID_FIELD = 38,
    /// A decision request had no friendly id.
    XMCDP_STATUS_MISSING_FRIENDLY_ID = 39,
    /// The delivery queue is full; the event was dropped.
    XMCDP_STATUS_QUEUE_FULL = 40,
    /// The client is shut down and accepts no more work.
    XMCDP_STATUS_SHUT_DOWN = 41,
    /// `xmcdp_log_next`: no record arrived within the timeout. `xmcdp_result_take`: no result is held.
    XMCDP_STATUS_NO_RECORD = 42,
    /// Shutdown reached its deadline with work left undelivered.
    XMCDP_STATUS_SHUTDOWN_INCOMPLETE = 43,
    /// A decision did not arrive within its budget.
    XMCDP_STATUS_TIMEOUT = 50,
    /// The decision circuit breaker is open.
    XMCDP_STATUS_CIRCUIT_OPEN = 51,
    /// The flow (friendly id) does not exist.
    XMCDP_STATUS_FLOW_NOT_FOUND = 52,
    /// The decision failed.
    XMCDP_STATUS_DECISION_FAILED = 53,
    /// The prefetch ticket is unknown or expired.
    XMCDP_STATUS_TICKET_UNKNOWN = 54,
    /// An HTTP request failed.
    XMCDP_STATUS_HTTP_ERROR = 60,
    /// The remote answered 401/403.
    XMCDP_STATUS_UNAUTHORIZED = 61,
    /// The remote answered 404.
    XMCDP_STATUS_NOT_FOUND = 62,
    /// The remote answered 5xx.
    XMCDP_STATUS_SERVER_ERROR = 63,
    /// The remote answered an unexpected status.
    XMCDP_STATUS_UNEXPECTED_STATUS = 64,
    /// The remote could not be reached.
    XMCDP_STATUS_CONNECT_FAILED = 65,
    /// A panic was caught inside the library (a bug); the call had no effect or a partial one.
    XMCDP_STATUS_PANIC = 90,
    /// An internal error (a bug).
    XMCDP_STATUS_INTERNAL = 91,
    /// The library and its bindings do not match.
    XMCDP_STATUS_VERSION_MISMATCH = 92,
}

use xmcdp_status_t::*;

/// Every status, in numeric order (tests, `xmcdp_status_name`).
pub const ALL: &[xmcdp_status_t] = &[
    XMCDP_STATUS_OK,
    XMCDP_STATUS_NULL_POINTER,
    XMCDP_STATUS_INVALID_UTF8,
    XMCDP_STATUS_INVALID_ARGUMENT,
    XMCDP_STATUS_BUFFER_TOO_SMALL,
    XMCDP_STATUS_TOO_LARGE,
    XMCDP_STATUS_INVALID_HANDLE,
    XMCDP_STATUS_INVALID_JSON,
    XMCDP_STATUS_UNKNOWN_KEY,
    XMCDP_STATUS_MISSING_SETTING,
    XMCDP_STATUS_INVALID_SETTING,
    XMCDP_STATUS_INVALID_URL,
    XMCDP_STATUS_INVALID_EMAIL,
    XMCDP_STATUS_INVALID_DATE,
    XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES,
    XMCDP_STATUS_INVALID_EXT,
    XMCDP_STATUS_MISSING_IDENTIFIERS,
    XMCDP_STATUS_MISSING_POINT_OF_SALE,
    XMCDP_STATUS_INVALID_EVENT_TYPE,
    XMCDP_STATUS_INVALID_BROWSER_ID,
    XMCDP_STATUS_INVALID_FIELD,
    XMCDP_STATUS_MISSING_FRIENDLY_ID,
    XMCDP_STATUS_QUEUE_FULL,
    XMCDP_STATUS_SHUT_DOWN,
    XMCDP_STATUS_NO_RECORD,
    XMCDP_STATUS_SHUTDOWN_INCOMPLETE,
    XMCDP_STATUS_TIMEOUT,
    XMCDP_STATUS_CIRCUIT_OPEN,
    XMCDP_STATUS_FLOW_NOT_FOUND,
    XMCDP_STATUS_DECISION_FAILED,
    XMCDP_STATUS_TICKET_UNKNOWN,
    XMCDP_STATUS_HTTP_ERROR,
    XMCDP_STATUS_UNAUTHORIZED,
    XMCDP_STATUS_NOT_FOUND,
    XMCDP_STATUS_SERVER_ERROR,
    XMCDP_STATUS_UNEXPECTED_STATUS,
    XMCDP_STATUS_CONNECT_FAILED,
    XMCDP_STATUS_PANIC,
    XMCDP_STATUS_INTERNAL,
    XMCDP_STATUS_VERSION_MISMATCH,
];

impl xmcdp_status_t {
    /// The C constant name without the `XMCDP_STATUS_` prefix, e.g. `"INVALID_UTF8"`.
    pub fn name(self) -> &'static str {
        match self {
            XMCDP_STATUS_OK => "OK",
            XMCDP_STATUS_NULL_POINTER => "NULL_POINTER",
            XMCDP_STATUS_INVALID_UTF8 => "INVALID_UTF8",
            XMCDP_STATUS_INVALID_ARGUMENT => "INVALID_ARGUMENT",
            XMCDP_STATUS_BUFFER_TOO_SMALL => "BUFFER_TOO_SMALL",
            XMCDP_STATUS_TOO_LARGE => "TOO_LARGE",
            XMCDP_STATUS_INVALID_HANDLE => "INVALID_HANDLE",
            XMCDP_STATUS_INVALID_JSON => "INVALID_JSON",
            XMCDP_STATUS_UNKNOWN_KEY => "UNKNOWN_KEY",
            XMCDP_STATUS_MISSING_SETTING => "MISSING_SETTING",
            XMCDP_STATUS_INVALID_SETTING => "INVALID_SETTING",
            XMCDP_STATUS_INVALID_URL => "INVALID_URL",
            XMCDP_STATUS_INVALID_EMAIL => "INVALID_EMAIL",
            XMCDP_STATUS_INVALID_DATE => "INVALID_DATE",
            XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES => "TOO_MANY_EXT_ATTRIBUTES",
            XMCDP_STATUS_INVALID_EXT => "INVALID_EXT",
            XMCDP_STATUS_MISSING_IDENTIFIERS => "MISSING_IDENTIFIERS",
            XMCDP_STATUS_MISSING_POINT_OF_SALE => "MISSING_POINT_OF_SALE",
            XMCDP_STATUS_INVALID_EVENT_TYPE => "INVALID_EVENT_TYPE",
            XMCDP_STATUS_INVALID_BROWSER_ID => "INVALID_BROWSER_ID",
            XMCDP_STATUS_INVALID_FIELD => "INVALID_FIELD",
            XMCDP_STATUS_MISSING_FRIENDLY_ID => "MISSING_FRIENDLY_ID",
            XMCDP_STATUS_QUEUE_FULL => "QUEUE_FULL",
            XMCDP_STATUS_SHUT_DOWN => "SHUT_DOWN",
            XMCDP_STATUS_NO_RECORD => "NO_RECORD",
            XMCDP_STATUS_SHUTDOWN_INCOMPLETE => "SHUTDOWN_INCOMPLETE",
            XMCDP_STATUS_TIMEOUT => "TIMEOUT",
            XMCDP_STATUS_CIRCUIT_OPEN => "CIRCUIT_OPEN",
            XMCDP_STATUS_FLOW_NOT_FOUND => "FLOW_NOT_FOUND",
            XMCDP_STATUS_DECISION_FAILED => "DECISION_FAILED",
            XMCDP_STATUS_TICKET_UNKNOWN => "TICKET_UNKNOWN",
            XMCDP_STATUS_HTTP_ERROR => "HTTP_ERROR",
            XMCDP_STATUS_UNAUTHORIZED => "UNAUTHORIZED",
            XMCDP_STATUS_NOT_FOUND => "NOT_FOUND",
            XMCDP_STATUS_SERVER_ERROR => "SERVER_ERROR",
            XMCDP_STATUS_UNEXPECTED_STATUS => "UNEXPECTED_STATUS",
            XMCDP_STATUS_CONNECT_FAILED => "CONNECT_FAILED",
            XMCDP_STATUS_PANIC => "PANIC",
            XMCDP_STATUS_INTERNAL => "INTERNAL",
            XMCDP_STATUS_VERSION_MISMATCH => "VERSION_MISMATCH",
        }
    }

    /// The status with this number, if any (C passes plain integers; never transmute them).
    pub fn from_u32(n: u32) -> Option<xmcdp_status_t> {
        ALL.iter().copied().find(|s| *s as u32 == n)
    }
}

impl From<ErrorKind> for xmcdp_status_t {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => XMCDP_STATUS_INVALID_ARGUMENT,
            ErrorKind::TooLarge => XMCDP_STATUS_TOO_LARGE,
            ErrorKind::ConfigInvalidJson => XMCDP_STATUS_INVALID_JSON,
            ErrorKind::ConfigUnknownKey => XMCDP_STATUS_UNKNOWN_KEY,
            ErrorKind::ConfigMissing => XMCDP_STATUS_MISSING_SETTING,
            ErrorKind::ConfigInvalid => XMCDP_STATUS_INVALID_SETTING,
            ErrorKind::ConfigInvalidUrl => XMCDP_STATUS_INVALID_URL,
            ErrorKind::InvalidEmail => XMCDP_STATUS_INVALID_EMAIL,
            ErrorKind::InvalidDate => XMCDP_STATUS_INVALID_DATE,
            ErrorKind::TooManyExtAttributes => XMCDP_STATUS_TOO_MANY_EXT_ATTRIBUTES,
            ErrorKind::InvalidExt => XMCDP_STATUS_INVALID_EXT,
            ErrorKind::MissingIdentifiers => XMCDP_STATUS_MISSING_IDENTIFIERS,
            ErrorKind::MissingPointOfSale => XMCDP_STATUS_MISSING_POINT_OF_SALE,
            ErrorKind::InvalidEventType => XMCDP_STATUS_INVALID_EVENT_TYPE,
            ErrorKind::InvalidBrowserId => XMCDP_STATUS_INVALID_BROWSER_ID,
            ErrorKind::InvalidField => XMCDP_STATUS_INVALID_FIELD,
            ErrorKind::MissingFriendlyId => XMCDP_STATUS_MISSING_FRIENDLY_ID,
            ErrorKind::QueueFull => XMCDP_STATUS_QUEUE_FULL,
            ErrorKind::ShutDown => XMCDP_STATUS_SHUT_DOWN,
            ErrorKind::ShutdownIncomplete => XMCDP_STATUS_SHUTDOWN_INCOMPLETE,
            ErrorKind::Timeout => XMCDP_STATUS_TIMEOUT,
            ErrorKind::CircuitOpen => XMCDP_STATUS_CIRCUIT_OPEN,
            ErrorKind::FlowNotFound => XMCDP_STATUS_FLOW_NOT_FOUND,
            ErrorKind::DecisionFailed => XMCDP_STATUS_DECISION_FAILED,
            ErrorKind::TicketUnknown => XMCDP_STATUS_TICKET_UNKNOWN,
            ErrorKind::Http => XMCDP_STATUS_HTTP_ERROR,
            ErrorKind::Unauthorized => XMCDP_STATUS_UNAUTHORIZED,
            ErrorKind::NotFound => XMCDP_STATUS_NOT_FOUND,
            ErrorKind::ServerError => XMCDP_STATUS_SERVER_ERROR,
            ErrorKind::UnexpectedStatus => XMCDP_STATUS_UNEXPECTED_STATUS,
            ErrorKind::ConnectFailed => XMCDP_STATUS_CONNECT_FAILED,
            ErrorKind::Internal => XMCDP_STATUS_INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_grouped() {
        // A change here breaks every deployed host: add codes, never renumber.
        let expected: &[(u32, &str)] = &[
            (0, "OK"),
            (10, "NULL_POINTER"),
            (11, "INVALID_UTF8"),
            (12, "INVALID_ARGUMENT"),
            (13, "BUFFER_TOO_SMALL"),
            (14, "TOO_LARGE"),
            (15, "INVALID_HANDLE"),
            (20, "INVALID_JSON"),
            (21, "UNKNOWN_KEY"),
            (22, "MISSING_SETTING"),
            (23, "INVALID_SETTING"),
            (24, "INVALID_URL"),
            (30, "INVALID_EMAIL"),
            (31, "INVALID_DATE"),
            (32, "TOO_MANY_EXT_ATTRIBUTES"),
            (33, "INVALID_EXT"),
            (34, "MISSING_IDENTIFIERS"),
            (35, "MISSING_POINT_OF_SALE"),
            (36, "INVALID_EVENT_TYPE"),
            (37, "INVALID_BROWSER_ID"),
            (38, "INVALID_FIELD"),
            (39, "MISSING_FRIENDLY_ID"),
            (40, "QUEUE_FULL"),
            (41, "SHUT_DOWN"),
            (42, "NO_RECORD"),
            (43, "SHUTDOWN_INCOMPLETE"),
            (50, "TIMEOUT"),
            (51, "CIRCUIT_OPEN"),
            (52, "FLOW_NOT_FOUND"),
            (53, "DECISION_FAILED"),
            (54, "TICKET_UNKNOWN"),
            (60, "HTTP_ERROR"),
            (61, "UNAUTHORIZED"),
            (62, "NOT_FOUND"),
            (63, "SERVER_ERROR"),
            (64, "UNEXPECTED_STATUS"),
            (65, "CONNECT_FAILED"),
            (90, "PANIC"),
            (91, "INTERNAL"),
            (92, "VERSION_MISMATCH"),
        ];
        assert_eq!(ALL.len(), expected.len());
        for (s, (n, name)) in ALL.iter().zip(expected) {
            assert_eq!((*s as u32, s.name()), (*n, *name));
            assert_eq!(xmcdp_status_t::from_u32(*n), Some(*s));
        }
        assert_eq!(xmcdp_status_t::from_u32(1), None);
    }
}
