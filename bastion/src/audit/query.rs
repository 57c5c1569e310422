//! The reads behind `bastion audit`: filtered, most recent rows, returned oldest first.

use serde::Serialize;

use super::store::{with_pool, AuditStore};
use super::{AuditError, Filter};

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub instance: String,
    pub started_at_ms: i64,
    /// `None` while the session runs.
    pub ended_at_ms: Option<i64>,
    pub close_reason: Option<String>,
    pub identity: String,
    /// A decimal string in JSON: 64-bit serials do not survive JSON numbers in most consumers.
    #[serde(serialize_with = "decimal")]
    pub serial: u64,
    pub principals: Vec<String>,
    pub peer: String,
    pub target: Option<String>,
    pub login: Option<String>,
}

/// A channel as stored, with its session's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    pub session_id: String,
    pub channel: u32,
    pub identity: String,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub kind: String,
    pub command: Option<String>,
    pub target: String,
    pub login: String,
    pub pty: Option<Pty>,
    pub exit_status: Option<u32>,
    pub exit_signal: Option<String>,
    /// `None` until the relay reports the channel's end (or after a crash).
    pub bytes_in: Option<u64>,
    pub bytes_out: Option<u64>,
    pub recording_path: Option<String>,
    /// The recording's `s3://` address once the object store has it.
    pub recording_url: Option<String>,
    pub final_hash: Option<String>,
    pub signature: Option<String>,
    pub close_reason: Option<String>,
}

/// A channel's terminal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pty {
    pub term: String,
    pub cols: u32,
    pub rows: u32,
}

/// An authentication decision as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthRow {
    pub id: i64,
    pub at_ms: i64,
    pub peer: String,
    pub user_name: String,
    pub identity: Option<String>,
    #[serde(serialize_with = "decimal_opt")]
    pub serial: Option<u64>,
    pub accepted: bool,
    pub reason: String,
    /// The certificate's principals (when its signature checked out).
    pub principals: Option<Vec<String>>,
    /// An unverified certificate as offered (masked).
    pub offered: Option<String>,
}

// `$N IS NULL OR …` keeps the statements static (no SQL built from input); both SQLite and
// PostgreSQL accept it, and an unset filter costs nothing. Newest first with LIMIT picks the
// most recent rows; they are reversed to read oldest first.
const SESSIONS: &str =
    "SELECT s.id, s.instance, s.started_at_ms, s.ended_at_ms, s.close_reason, s.identity, \
     s.serial, s.principals, s.peer, s.target, s.login FROM sessions s \
     WHERE ($1 IS NULL OR s.started_at_ms >= $1) AND ($2 IS NULL OR s.identity = $2) \
     AND ($3 IS NULL OR s.target = $3 \
          OR EXISTS (SELECT 1 FROM channels c WHERE c.session_id = s.id AND c.target = $3)) \
     ORDER BY s.started_at_ms DESC, s.id DESC LIMIT $4";

const CHANNELS: &str = "SELECT c.id, c.session_id, c.channel, s.identity, c.started_at_ms, c.ended_at_ms, c.kind, \
     c.command, c.target, c.login, c.pty_term, c.pty_cols, c.pty_rows, c.exit_status, c.exit_signal, \
     c.bytes_in, c.bytes_out, c.recording_path, c.recording_url, c.final_hash, c.signature, c.close_reason \
     FROM channels c JOIN sessions s ON s.id = c.session_id \
     WHERE ($1 IS NULL OR c.started_at_ms >= $1) AND ($2 IS NULL OR s.identity = $2) \
     AND ($3 IS NULL OR c.target = $3) \
     ORDER BY c.started_at_ms DESC, c.id DESC LIMIT $4";

const AUTH: &str = "SELECT id, at_ms, peer, user_name, identity, serial, accepted, reason, \
     principals, offered FROM auth_events \
     WHERE ($1 IS NULL OR at_ms >= $1) AND ($2 IS NULL OR identity = $2) \
     AND (NOT $4 OR NOT accepted) \
     ORDER BY at_ms DESC, id DESC LIMIT $3";

// Reads have no overall time bound (unlike the relay's writes): an export may take a while.
impl AuditStore {
    /// Sessions matching `f`, oldest first.
    pub async fn sessions(&self, f: &Filter) -> Result<Vec<SessionRow>, AuditError> {
        let raw: Vec<RawSession> = with_pool!(self, pool => sqlx::query_as(SESSIONS)
            .bind(f.since_ms)
            .bind(&f.user)
            .bind(&f.target)
            .bind(limit(f))
            .fetch_all(pool)
            .await)
        .map_err(|e| self.query_error(e))?;
        raw.into_iter().rev().map(|r| r.decode(self)).collect()
    }

    /// The recordings of a session (`SESSION`) or of one of its channels (`SESSION-CHANNEL`):
    /// `(recording_path, recording_url)`, by channel.
    pub async fn session_recordings(
        &self,
        id: &str,
    ) -> Result<Vec<(String, Option<String>)>, AuditError> {
        const SQL: &str = "SELECT recording_path, recording_url FROM channels \
             WHERE session_id = $1 AND ($2 IS NULL OR channel = $2) \
             AND recording_path IS NOT NULL ORDER BY channel, id";
        let (session, channel) = match id.rsplit_once('-') {
            Some((s, c)) if s.contains('-') => (s, c.parse::<i64>().ok()),
            _ => (id, None),
        };
        let read = async {
            with_pool!(self, pool => sqlx::query_as::<_, (String, Option<String>)>(SQL)
                .bind(session)
                .bind(channel)
                .fetch_all(pool)
                .await)
        };
        self.bounded(read).await
    }

    /// Channels matching `f` (the user is the session's identity), oldest first.
    pub async fn channels(&self, f: &Filter) -> Result<Vec<ChannelRow>, AuditError> {
        let raw: Vec<RawChannel> = with_pool!(self, pool => sqlx::query_as(CHANNELS)
            .bind(f.since_ms)
            .bind(&f.user)
            .bind(&f.target)
            .bind(limit(f))
            .fetch_all(pool)
            .await)
        .map_err(|e| self.query_error(e))?;
        raw.into_iter().rev().map(|r| r.decode(self)).collect()
    }

    /// Authentication decisions matching `f` (the target is ignored), oldest first.
    pub async fn auth_events(&self, f: &Filter) -> Result<Vec<AuthRow>, AuditError> {
        let raw: Vec<RawAuth> = with_pool!(self, pool => sqlx::query_as(AUTH)
            .bind(f.since_ms)
            .bind(&f.user)
            .bind(limit(f))
            .bind(f.refused)
            .fetch_all(pool)
            .await)
        .map_err(|e| self.query_error(e))?;
        raw.into_iter().rev().map(|r| r.decode(self)).collect()
    }
}

/// No limit is the largest one: `LIMIT NULL` and negative limits differ between the dialects.
fn limit(f: &Filter) -> i64 {
    f.limit.map_or(i64::MAX, i64::from)
}

// The raw rows hold only types both drivers decode the same way (i64, String, bool); the
// conversions below check what the schema cannot.

#[derive(sqlx::FromRow)]
struct RawSession {
    id: String,
    instance: String,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    close_reason: Option<String>,
    identity: String,
    serial: String,
    principals: String,
    peer: String,
    target: Option<String>,
    login: Option<String>,
}

impl RawSession {
    fn decode(self, store: &AuditStore) -> Result<SessionRow, AuditError> {
        let bad = |field, value: &str| bad_row(store, "sessions", &self.id, field, value);
        let serial = self
            .serial
            .parse()
            .map_err(|_| bad("serial", &self.serial))?;
        let principals = serde_json::from_str(&self.principals)
            .map_err(|_| bad("principals", &self.principals))?;
        Ok(SessionRow {
            serial,
            principals,
            id: self.id,
            instance: self.instance,
            started_at_ms: self.started_at_ms,
            ended_at_ms: self.ended_at_ms,
            close_reason: self.close_reason,
            identity: self.identity,
            peer: self.peer,
            target: self.target,
            login: self.login,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawChannel {
    id: i64,
    session_id: String,
    channel: i64,
    identity: String,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    kind: String,
    command: Option<String>,
    target: String,
    login: String,
    pty_term: Option<String>,
    pty_cols: Option<i64>,
    pty_rows: Option<i64>,
    exit_status: Option<i64>,
    exit_signal: Option<String>,
    bytes_in: Option<i64>,
    bytes_out: Option<i64>,
    recording_path: Option<String>,
    recording_url: Option<String>,
    final_hash: Option<String>,
    signature: Option<String>,
    close_reason: Option<String>,
}

impl RawChannel {
    fn decode(self, store: &AuditStore) -> Result<ChannelRow, AuditError> {
        let row = self.id.to_string();
        let bad = |field, value: i64| bad_row(store, "channels", &row, field, &value.to_string());
        let u32_of = |field, v: i64| u32::try_from(v).map_err(|_| bad(field, v));
        let u64_of = |field, v: Option<i64>| {
            v.map(|v| u64::try_from(v).map_err(|_| bad(field, v)))
                .transpose()
        };
        let pty = match (self.pty_term, self.pty_cols, self.pty_rows) {
            (Some(term), Some(cols), Some(rows)) => Some(Pty {
                term,
                cols: u32_of("pty_cols", cols)?,
                rows: u32_of("pty_rows", rows)?,
            }),
            _ => None,
        };
        Ok(ChannelRow {
            channel: u32_of("channel", self.channel)?,
            exit_status: self
                .exit_status
                .map(|v| u32_of("exit_status", v))
                .transpose()?,
            bytes_in: u64_of("bytes_in", self.bytes_in)?,
            bytes_out: u64_of("bytes_out", self.bytes_out)?,
            pty,
            session_id: self.session_id,
            identity: self.identity,
            started_at_ms: self.started_at_ms,
            ended_at_ms: self.ended_at_ms,
            kind: self.kind,
            command: self.command,
            target: self.target,
            login: self.login,
            exit_signal: self.exit_signal,
            recording_path: self.recording_path,
            recording_url: self.recording_url,
            final_hash: self.final_hash,
            signature: self.signature,
            close_reason: self.close_reason,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawAuth {
    id: i64,
    at_ms: i64,
    peer: String,
    user_name: String,
    identity: Option<String>,
    serial: Option<String>,
    accepted: bool,
    reason: String,
    principals: Option<String>,
    offered: Option<String>,
}

impl RawAuth {
    fn decode(self, store: &AuditStore) -> Result<AuthRow, AuditError> {
        let serial =
            match &self.serial {
                Some(s) => Some(s.parse().map_err(|_| {
                    bad_row(store, "auth_events", &self.id.to_string(), "serial", s)
                })?),
                None => None,
            };
        Ok(AuthRow {
            id: self.id,
            at_ms: self.at_ms,
            peer: self.peer,
            user_name: self.user_name,
            identity: self.identity,
            serial,
            accepted: self.accepted,
            reason: self.reason,
            principals: match &self.principals {
                Some(p) => Some(serde_json::from_str(p).map_err(|_| {
                    bad_row(store, "auth_events", &self.id.to_string(), "principals", p)
                })?),
                None => None,
            },
            offered: self.offered,
        })
    }
}

fn bad_row(
    store: &AuditStore,
    table: &'static str,
    row: &str,
    field: &'static str,
    value: &str,
) -> AuditError {
    AuditError::BadRow {
        url: store.url.to_string(),
        table,
        row: row.to_string(),
        field,
        value: value.to_string(),
    }
}

fn decimal<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn decimal_opt<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}
