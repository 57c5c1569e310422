//! Recordings in an S3-compatible object store (`[recording] store`), outside the bastion
//! host: the recording directory becomes a spool that [`spool::Uploader`] empties into the
//! store, and auditors read the store directly ([`fetch`]).
//!
//! Objects, for a recording at `<dir>/<rel>` (`rel` as `2026/12/03/<session>-<channel>.cast`):
//! - `<prefix>/<rel>` and `<prefix>/<rel>.sig`: the sealed recording and its sidecar, written
//!   once the recording is sealed (final, or recovered after a crash);
//! - `<prefix>/<rel>.parts/NNNNNN.cast` and `….sig`: while the recording grows, its bytes up to
//!   each signed checkpoint since the part before, and the sidecar lines that sign them.
//!   Concatenated in order they are a prefix of the recording that verifies on its own, so a
//!   bastion that dies mid-session loses at most the last interval.
//!
//! Objects are never overwritten or deleted by the bastion: its credentials need only
//! `s3:PutObject` (and multipart uploads).

mod client;
mod credentials;
pub mod fetch;
pub mod object_lock;
pub mod spool;

pub use client::Store;
pub use config::store_url::StoreUrl;

/// Why the store could not be reached, or an object not written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `recording.store` or a neighbouring key is unusable.
    #[error("recording.store: {0}")]
    Config(String),
    /// No credentials in the environment and no `recording.store_credentials`.
    #[error(
        "no credentials for the recording store: set AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, or recording.store_credentials"
    )]
    NoCredentials,
    /// The credentials file cannot be read or is malformed.
    #[error("recording.store_credentials {}: {reason}", path.display())]
    Credentials {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong (never the secret itself).
        reason: String,
    },
    /// A request to the store failed (after the client's own retries).
    #[error("{op} {object}: {source}")]
    Request {
        /// put, get, list, head.
        op: &'static str,
        /// `s3://bucket/key`.
        object: String,
        /// The client's error (URLs and status, never credentials).
        #[source]
        source: object_store::Error,
    },
    /// A local file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Object Lock question could not be asked.
    #[error("object lock: {0}")]
    ObjectLock(String),
}

impl StoreError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the object asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::Request {
                source: object_store::Error::NotFound { .. },
                ..
            }
        )
    }
}
