//! Why a line is not asciicast.

/// Why a header or event line could not be read. The caller knows which line it gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Error {
    reason: String,
}

impl Error {
    pub(crate) fn new(reason: impl Into<String>) -> Error {
        Error {
            reason: reason.into(),
        }
    }

    /// What is wrong, in words.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::new(e.to_string())
    }
}
