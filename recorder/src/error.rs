//! The one error type of the crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while recording, sealing or recovering.
///
/// Every variant means the recording is not (or no longer) trustworthy as written, so the bastion
/// treats any of them as "end the session" (fail closed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// Reading or writing a recording file failed.
    #[error("recording I/O on {path}: {source}")]
    Io {
        /// The cast or sidecar file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A previous write failed part-way, so the file may hold a partial line and the hash chain
    /// can no longer be extended safely; only [`crate::recover`] may touch the file now.
    #[error("recording {path} is unusable after an earlier write error")]
    Poisoned {
        /// The cast file.
        path: PathBuf,
    },
    /// The signing key could not be used.
    #[error("recording key {path}: {reason}")]
    Key {
        /// The key file (empty when the key did not come from a file).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A private key file is readable by group or others.
    #[error("recording key {path} has mode {mode:03o}; it must not be readable by group or others (chmod 600)")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A session id would not make a safe file name.
    #[error("session id {0:?} may only contain ASCII letters, digits, '-', '_' and '.' and must not start with '.'")]
    InvalidSessionId(String),
    /// A sidecar line is not a checkpoint.
    #[error("sidecar {path} line {line}: {reason}")]
    Sidecar {
        /// The sidecar file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// [`crate::recover`] refused to seal the recording.
    #[error("cannot recover {path}: {reason}")]
    Recover {
        /// The cast file.
        path: PathBuf,
        /// Why.
        reason: RecoverRefusal,
    },
}

/// Why [`crate::recover`] refused to seal a recording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverRefusal {
    /// The file does not even hold a complete header line.
    #[error("no complete header line")]
    NoHeader,
    /// The sidecar has no checkpoint: the recorder signs the header when it creates a file, so
    /// this file was not started by it.
    #[error("no signed checkpoint (the recorder signs the header when it creates a file)")]
    NoCheckpoint,
    /// A checkpoint is not validly signed with the recovering key.
    #[error("checkpoint {checkpoint} is not validly signed with this bastion's recording key")]
    ForeignCheckpoint {
        /// 0-based index of the checkpoint in the sidecar.
        checkpoint: usize,
    },
    /// The file no longer matches a checkpoint that was signed before the crash: sealing it
    /// would bless altered content.
    #[error("content does not match signed checkpoint {checkpoint} (lines {lines})")]
    ChainMismatch {
        /// 0-based index of the checkpoint in the sidecar.
        checkpoint: usize,
        /// Event lines that checkpoint covers.
        lines: u64,
    },
    /// The file has fewer lines than a signed checkpoint covers.
    #[error("file has {found} event lines but signed checkpoint {checkpoint} covers {lines}")]
    Truncated {
        /// 0-based index of the checkpoint in the sidecar.
        checkpoint: usize,
        /// Event lines that checkpoint covers.
        lines: u64,
        /// Event lines in the file.
        found: u64,
    },
}

impl RecorderError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(io::Error) -> RecorderError + '_ {
        move |source| RecorderError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
