//! One error type for the whole core, the pure model included. Each kind maps onto one stable status code in `ffi::status`.

use std::fmt;

/// What went wrong, grouped the way the C ABI groups its status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    // arguments
    InvalidArgument,
    TooLarge,
    // configuration
    ConfigInvalidJson,
    ConfigUnknownKey,
    ConfigMissing,
    ConfigInvalid,
    ConfigInvalidUrl,
    // event validation
    InvalidEmail,
    InvalidDate,
    TooManyExtAttributes,
    InvalidExt,
    MissingIdentifiers,
    MissingPointOfSale,
    InvalidEventType,
    InvalidBrowserId,
    InvalidField,
    MissingFriendlyId,
    // delivery
    QueueFull,
    ShutDown,
    ShutdownIncomplete,
    // decisions
    Timeout,
    CircuitOpen,
    FlowNotFound,
    DecisionFailed,
    TicketUnknown,
    // remote
    Http,
    Unauthorized,
    NotFound,
    ServerError,
    UnexpectedStatus,
    ConnectFailed,
    // internal
    Internal,
}

/// An error with a message fit for a log line: never contains the API token, cookie values or personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl ErrorKind {
    /// The Engage 1.4.3 error code for the same condition, where Engage has one (for diagnostics parity).
    pub fn sdk_code(self) -> Option<&'static str> {
        match self {
            ErrorKind::InvalidEmail => Some("IV-0003"),
            ErrorKind::TooManyExtAttributes => Some("IV-0005"),
            ErrorKind::MissingIdentifiers => Some("MV-0004"),
            ErrorKind::MissingPointOfSale => Some("MV-0003"),
            ErrorKind::MissingFriendlyId => Some("MV-0008"),
            _ => None,
        }
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn err(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}
