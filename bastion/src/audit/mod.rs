//! The audit store: who authenticated (or was refused), which sessions and channels ran, how
//! they ended, and where their recordings are.
//!
//! # Layout
//!
//! - `store.rs`: [`AuditStore`]: connect (SQLite or PostgreSQL, migrations applied), ping.
//! - `write.rs`: the writes the relay makes, and crash recovery.
//! - `endings.rs`: [`Endings`]: session and channel ends, retried while the database is away.
//! - `query.rs`: the reads behind `bastion audit`, and the row types they return.
//! - `identity.rs`: issued certificates, revocations and the revocation check.
//! - `url.rs`: which backend a URL names, and the URL with its password hidden for messages.
//!
//! Both backends share one schema (`bastion/migrations/sqlite/` and `…/postgres/` differ only in
//! type names) and one set of SQL statements: both accept `$N` parameters. Times are unix
//! milliseconds. Nothing here ever sees stream content: only metadata about it.
//!
//! # Failure
//!
//! Every call returns [`AuditError`]; the caller decides. The relay fails closed: no audit store,
//! no session ([`AuditStore::ping`] before each one). A session already running when the
//! database goes away runs on (its recording is local); its end is kept and written once the
//! database is back ([`Endings`]).

mod approvals;
mod endings;
mod fleet;
mod identity;
mod query;
mod store;
mod url;
mod write;

#[cfg(test)]
mod tests;

pub use approvals::{ApprovalRequest, ApprovalRow};
pub use endings::{Ending, Endings};
pub use fleet::LiveRow;
pub use identity::{CertificateIssued, CertificateRow, Revocation};
pub use query::{AuthRow, ChannelRow, SessionRow};
pub use store::AuditStore;
pub use url::sqlite_file;

/// An authentication decision (accepted or refused).
#[derive(Debug, Clone)]
pub struct AuthEvent {
    pub at_ms: i64,
    /// Client address, `IP:PORT`.
    pub peer: String,
    /// The SSH user name as sent (`LOGIN@TARGET`, `TARGET`, or a local user name).
    pub user_name: String,
    /// Certificate key id, when a certificate was presented.
    pub identity: Option<String>,
    pub serial: Option<u64>,
    pub accepted: bool,
    /// Why: "accepted", or the refusal reason.
    pub reason: String,
    /// The principals of the certificate named by `identity` (its signature checked out).
    pub principals: Option<Vec<String>>,
    /// A certificate whose signature did not check out, as the client wrote it (key id, serial,
    /// principals; masked): never put in `identity`.
    pub offered: Option<String>,
}

/// An authenticated connection begins.
#[derive(Debug, Clone)]
pub struct SessionOpened {
    /// Unique across bastions sharing a database.
    pub id: String,
    pub started_at_ms: i64,
    pub identity: String,
    pub serial: u64,
    pub principals: Vec<String>,
    pub peer: String,
    /// The target named in the user name, if any (none when chosen from the menu).
    pub target: Option<String>,
    pub login: Option<String>,
}

/// A channel of a session begins. The session must have been recorded first.
#[derive(Debug, Clone)]
pub struct ChannelOpened {
    pub session_id: String,
    pub channel: u32,
    pub started_at_ms: i64,
    /// `shell`, `exec`, `subsystem` or `forward`.
    pub kind: String,
    /// The exec command, subsystem name or forwarded address.
    pub command: Option<String>,
    pub target: String,
    pub login: String,
    /// Terminal type, columns, rows.
    pub pty: Option<(String, u32, u32)>,
    pub recording_path: Option<String>,
}

/// A channel row written by [`AuditStore::channel_opened`]: what its end is recorded against.
/// Channel numbers are reused within a session; the row is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChannel {
    pub session_id: String,
    pub channel: u32,
    /// `channels.id`.
    pub row: i64,
}

/// How a channel ended.
#[derive(Debug, Clone)]
pub struct ChannelEnd {
    pub ended_at_ms: i64,
    pub exit_status: Option<u32>,
    pub exit_signal: Option<String>,
    /// Bytes from the client to the target.
    pub bytes_in: u64,
    /// Bytes from the target to the client.
    pub bytes_out: u64,
    /// The recording's final chain hash and its signature.
    pub final_hash: Option<String>,
    pub signature: Option<String>,
    pub close_reason: String,
}

/// Which rows a query returns. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Rows from this time on (sessions and channels by start, auth events by time).
    pub since_ms: Option<i64>,
    /// The identity (certificate key id), exactly.
    pub user: Option<String>,
    /// The target name, exactly. A session matches when it or any of its channels went there.
    /// Auth events have no target (they happen before one is chosen): ignored for them.
    pub target: Option<String>,
    /// At most this many rows: the most recent ones.
    pub limit: Option<u32>,
    /// Only refused authentications (auth events).
    pub refused: bool,
}

/// Why an audit operation failed. Every variant that touches the database names it by its URL,
/// password hidden.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error(
        "audit database {url:?}: expected sqlite://PATH or postgres://USER@HOST[:PORT]/DB{hint}"
    )]
    UnsupportedUrl { url: String, hint: &'static str },
    #[error("audit database {url}: invalid URL: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("audit database {url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("audit database {url}: cannot apply the schema migrations: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("audit database {url} did not answer within {after:?}")]
    TimedOut {
        url: String,
        after: std::time::Duration,
    },
    #[error("audit database {url}: {source}")]
    Query {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("audit database {url}: no session {id:?}")]
    UnknownSession { url: String, id: String },
    #[error("audit database {url}: no channel {channel} in session {session_id:?}")]
    UnknownChannel {
        url: String,
        session_id: String,
        channel: u32,
    },
    /// A value the schema cannot hold (a byte count past i64::MAX).
    #[error("audit: {field} = {value} is out of range")]
    OutOfRange { field: &'static str, value: u64 },
    /// A stored value that does not decode (edited by hand, or a newer schema).
    #[error("audit database {url}: {table} row {row}: bad {field}: {value:?}")]
    BadRow {
        url: String,
        table: &'static str,
        row: String,
        field: &'static str,
        value: String,
    },
}

/// Now, in unix milliseconds (the audit store's time unit).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
