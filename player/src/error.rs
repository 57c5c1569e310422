//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

use crate::Report;

/// What can stop reading, verifying or playing a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlayerError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A line of the recording is not valid asciicast.
    #[error("{path} line {line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The verifier found the recording altered (or signed by an untrusted key) and `force` was
    /// not given.
    #[error("refusing to play: {0}")]
    Refused(Box<Report>),
    /// The terminal could not be set up or written.
    #[error("terminal: {0}")]
    Terminal(#[source] io::Error),
    /// A sidecar could not be read for a reason other than tampering.
    #[error(transparent)]
    Recorder(#[from] recorder::RecorderError),
}

impl PlayerError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(io::Error) -> PlayerError + '_ {
        move |source| PlayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
