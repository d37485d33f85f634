//! Validation errors of the wire model. Messages never carry the offending value: they end up in logs,
//! and values may be personal data.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelErrorKind {
    InvalidEmail,
    InvalidDate,
    TooManyExtAttributes,
    InvalidExt,
    MissingIdentifiers,
    MissingPointOfSale,
    InvalidEventType,
    InvalidBrowserId,
    TooLong,
    MissingFriendlyId,
    InvalidField,
}

impl ModelErrorKind {
    /// The Engage 1.4.3 error code for the same condition, where Engage has one (for diagnostics parity).
    pub fn sdk_code(self) -> Option<&'static str> {
        match self {
            ModelErrorKind::InvalidEmail => Some("IV-0003"),
            ModelErrorKind::TooManyExtAttributes => Some("IV-0005"),
            ModelErrorKind::MissingIdentifiers => Some("MV-0004"),
            ModelErrorKind::MissingPointOfSale => Some("MV-0003"),
            ModelErrorKind::MissingFriendlyId => Some("MV-0008"),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub kind: ModelErrorKind,
    pub message: String,
}

impl ModelError {
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> ModelError {
        ModelError { kind, message: message.into() }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModelError {}

pub(crate) fn err(kind: ModelErrorKind, message: impl Into<String>) -> ModelError {
    ModelError::new(kind, message)
}
