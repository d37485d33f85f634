//! One error type for the whole core. Each kind maps onto one stable status code in `ffi::status`.

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

impl From<crate::model::ModelError> for Error {
    fn from(e: crate::model::ModelError) -> Self {
        use crate::model::ModelErrorKind as M;
        let kind = match e.kind {
            M::InvalidEmail => ErrorKind::InvalidEmail,
            M::InvalidDate => ErrorKind::InvalidDate,
            M::TooManyExtAttributes => ErrorKind::TooManyExtAttributes,
            M::InvalidExt => ErrorKind::InvalidExt,
            M::MissingIdentifiers => ErrorKind::MissingIdentifiers,
            M::MissingPointOfSale => ErrorKind::MissingPointOfSale,
            M::InvalidEventType => ErrorKind::InvalidEventType,
            M::InvalidBrowserId => ErrorKind::InvalidBrowserId,
            M::TooLong => ErrorKind::TooLarge,
            M::MissingFriendlyId => ErrorKind::MissingFriendlyId,
            M::InvalidField => ErrorKind::InvalidField,
        };
        Error { kind, message: e.message }
    }
}
