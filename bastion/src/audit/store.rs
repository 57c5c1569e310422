//! [`AuditStore`]: the connection pool, migrations, and the writes the relay makes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{ConnectOptions, Connection};

use super::url::{backend, redact, Backend};
use super::{AuditError, AuthEvent, ChannelEnd, ChannelOpened, SessionOpened};

/// How long a new session may wait for a database connection before it is refused (fail
/// closed). Also bounds the first connection at start.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite writers wait this long for each other's locks (WAL: readers never wait).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per bastion: the relay writes a few small rows per session.
const MAX_CONNECTIONS: u32 = 8;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone)]
pub(super) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool the store has: the SQL text is shared, only the
/// driver types differ.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::audit::store::Pool::Sqlite($pool) => $body,
            $crate::audit::store::Pool::Postgres($pool) => $body,
        }
    };
}
pub(super) use with_pool;

/// The audit database. Cheap to clone: clones share one pool.
#[derive(Clone)]
pub struct AuditStore {
    pub(super) pool: Pool,
    /// The URL with its password hidden, for every error message.
    pub(super) url: Arc<str>,
    /// This bastion's name in `sessions.instance`.
    instance: Arc<str>,
}

impl std::fmt::Debug for AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditStore")
            .field("url", &self.url)
            .field("instance", &self.instance)
            .finish()
    }
}

impl AuditStore {
    /// Opens the database at `url` (`sqlite://PATH`, created if missing, or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`AuditError::UnsupportedUrl`], [`AuditError::InvalidUrl`], [`AuditError::Unreachable`]
    /// (with the driver's reason, e.g. connection refused) or [`AuditError::Migrate`]; each
    /// names the URL with its password hidden.
    pub async fn connect(url: &str) -> Result<AuditStore, AuditError> {
        let shown = redact(url);
        let invalid = |source| AuditError::InvalidUrl {
            url: shown.clone(),
            source,
        };
        let backend = backend(url).map_err(|hint| AuditError::UnsupportedUrl {
            url: shown.clone(),
            hint,
        })?;
        // The schema is applied on one direct connection first: a pool would retry a refused
        // connection until its timeout and then report only "timed out", hiding the reason.
        let pool = match backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(invalid)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let mut conn: SqliteConnection = first_connection(&options, &shown).await?;
                let migrated = SQLITE_MIGRATIONS.run(&mut conn).await;
                migrated.map_err(|source| migrate_error(&shown, source))?;
                let _ = conn.close().await;
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(MAX_CONNECTIONS)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_lazy_with(options),
                )
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url).map_err(invalid)?;
                let mut conn: PgConnection = first_connection(&options, &shown).await?;
                // sqlx takes an advisory lock: bastions starting together migrate once.
                let migrated = POSTGRES_MIGRATIONS.run(&mut conn).await;
                migrated.map_err(|source| migrate_error(&shown, source))?;
                let _ = conn.close().await;
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(MAX_CONNECTIONS)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_lazy_with(options),
                )
            }
        };
        Ok(AuditStore {
            pool,
            url: shown.into(),
            instance: default_instance().into(),
        })
    }

    /// Names this bastion in the sessions it records (default: the host name). Bastions that
    /// share a database need distinct names: crash recovery closes only its own sessions.
    pub fn with_instance(mut self, name: &str) -> AuditStore {
        self.instance = name.into();
        self
    }

    /// The database URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One cheap round trip. The relay calls it before each new session and refuses the session
    /// when it fails.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unreachable`] after at most a few seconds, with the reason when it can be
    /// told.
    pub async fn ping(&self) -> Result<(), AuditError> {
        let result = with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()));
        match result {
            Ok(()) => Ok(()),
            Err(sqlx::Error::PoolTimedOut) => Err(self.diagnose().await),
            Err(source) => Err(AuditError::Unreachable {
                url: self.url.to_string(),
                source,
            }),
        }
    }

    /// The pool only says it timed out; one direct attempt tells why (refused, auth, ...).
    async fn diagnose(&self) -> AuditError {
        let attempt = match &self.pool {
            Pool::Sqlite(p) => p.connect_options().connect().await.map(|_| ()),
            Pool::Postgres(p) => p.connect_options().connect().await.map(|_| ()),
        };
        AuditError::Unreachable {
            url: self.url.to_string(),
            source: attempt.err().unwrap_or(sqlx::Error::PoolTimedOut),
        }
    }

    pub(super) fn query_error(&self, source: sqlx::Error) -> AuditError {
        if matches!(source, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) {
            AuditError::Unreachable {
                url: self.url.to_string(),
                source,
            }
        } else {
            AuditError::Query {
                url: self.url.to_string(),
                source,
            }
        }
    }

    /// Records an authentication decision.
    pub async fn auth_event(&self, e: &AuthEvent) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO auth_events (at_ms, peer, user_name, identity, serial, accepted, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let serial = e.serial.map(|s| s.to_string());
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(e.at_ms)
            .bind(&e.peer)
            .bind(&e.user_name)
            .bind(&e.identity)
            .bind(&serial)
            .bind(e.accepted)
            .bind(&e.reason)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records a new session (an authenticated connection).
    pub async fn session_opened(&self, s: &SessionOpened) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO sessions (id, instance, started_at_ms, identity, serial, principals, peer, target, login) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let principals = principals_json(&s.principals);
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&s.id)
            .bind(&*self.instance)
            .bind(s.started_at_ms)
            .bind(&s.identity)
            .bind(s.serial.to_string())
            .bind(&principals)
            .bind(&s.peer)
            .bind(&s.target)
            .bind(&s.login)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records the end of a session, and of its channels still open (a channel whose own end
    /// arrives later still gets its exit status and byte counts: see [`Self::channel_closed`]).
    /// Closing a closed session changes nothing: the first end stays.
    ///
    /// # Errors
    ///
    /// [`AuditError::UnknownSession`] if there is no such session.
    pub async fn session_closed(
        &self,
        id: &str,
        ended_at_ms: i64,
        reason: &str,
    ) -> Result<(), AuditError> {
        const SESSION: &str = "UPDATE sessions SET ended_at_ms = $2, close_reason = $3 \
             WHERE id = $1 AND ended_at_ms IS NULL";
        const CHANNELS: &str = "UPDATE channels SET ended_at_ms = $2, close_reason = $3 \
             WHERE session_id = $1 AND ended_at_ms IS NULL";
        const EXISTS: &str = "SELECT COUNT(*) FROM sessions WHERE id = $1";
        let found: i64 = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(SESSION).bind(id).bind(ended_at_ms).bind(reason)
                .execute(&mut *tx).await?.rows_affected();
            sqlx::query(CHANNELS).bind(id).bind(ended_at_ms).bind(reason)
                .execute(&mut *tx).await?;
            let found = if updated > 0 {
                1
            } else {
                sqlx::query_scalar(EXISTS).bind(id).fetch_one(&mut *tx).await?
            };
            tx.commit().await?;
            Ok(found)
        }.await)
        .map_err(|e| self.query_error(e))?;
        if found == 0 {
            return Err(AuditError::UnknownSession {
                url: self.url.to_string(),
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Records a new channel of a recorded session.
    ///
    /// # Errors
    ///
    /// [`AuditError::Query`] (a foreign key violation) if the session was never recorded.
    pub async fn channel_opened(&self, c: &ChannelOpened) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO channels (session_id, channel, started_at_ms, kind, command, target, login, \
             pty_term, pty_cols, pty_rows, recording_path) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let (term, cols, rows) = match &c.pty {
            Some((term, cols, rows)) => (
                Some(term.as_str()),
                Some(i64::from(*cols)),
                Some(i64::from(*rows)),
            ),
            None => (None, None, None),
        };
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&c.session_id)
            .bind(i64::from(c.channel))
            .bind(c.started_at_ms)
            .bind(&c.kind)
            .bind(&c.command)
            .bind(&c.target)
            .bind(&c.login)
            .bind(term)
            .bind(cols)
            .bind(rows)
            .bind(&c.recording_path)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| self.query_error(e))?;
        Ok(())
    }

    /// Records how a channel ended. It completes the latest row for this channel number that
    /// has no byte counts yet, even one already closed by [`Self::session_closed`]; a second
    /// report for the same channel changes nothing.
    ///
    /// # Errors
    ///
    /// [`AuditError::UnknownChannel`] if the channel was never recorded;
    /// [`AuditError::OutOfRange`] for byte counts past `i64::MAX`.
    pub async fn channel_closed(
        &self,
        session_id: &str,
        channel: u32,
        end: &ChannelEnd,
    ) -> Result<(), AuditError> {
        // "bytes_in IS NULL" means the relay has not reported this channel's end yet.
        const SQL: &str = "UPDATE channels SET ended_at_ms = $3, exit_status = $4, exit_signal = $5, \
             bytes_in = $6, bytes_out = $7, final_hash = $8, signature = $9, close_reason = $10 \
             WHERE id = (SELECT MAX(id) FROM channels \
                         WHERE session_id = $1 AND channel = $2 AND bytes_in IS NULL)";
        const EXISTS: &str = "SELECT COUNT(*) FROM channels WHERE session_id = $1 AND channel = $2";
        let bytes_in = to_i64("bytes_in", end.bytes_in)?;
        let bytes_out = to_i64("bytes_out", end.bytes_out)?;
        let number = i64::from(channel);
        let found: i64 = with_pool!(self, pool => async {
            let updated = sqlx::query(SQL)
                .bind(session_id)
                .bind(number)
                .bind(end.ended_at_ms)
                .bind(end.exit_status.map(i64::from))
                .bind(&end.exit_signal)
                .bind(bytes_in)
                .bind(bytes_out)
                .bind(&end.final_hash)
                .bind(&end.signature)
                .bind(&end.close_reason)
                .execute(pool)
                .await?
                .rows_affected();
            if updated > 0 {
                return Ok(1);
            }
            sqlx::query_scalar(EXISTS).bind(session_id).bind(number).fetch_one(pool).await
        }.await)
        .map_err(|e| self.query_error(e))?;
        if found == 0 {
            return Err(AuditError::UnknownChannel {
                url: self.url.to_string(),
                session_id: session_id.to_string(),
                channel,
            });
        }
        Ok(())
    }

    /// Crash recovery, at start: closes this instance's sessions (and their channels) that have
    /// no end, with `reason`. Returns how many sessions it closed.
    pub async fn close_unfinished_sessions(
        &self,
        ended_at_ms: i64,
        reason: &str,
    ) -> Result<u64, AuditError> {
        const CHANNELS: &str = "UPDATE channels SET ended_at_ms = $1, close_reason = $2 \
             WHERE ended_at_ms IS NULL AND session_id IN \
             (SELECT id FROM sessions WHERE instance = $3 AND ended_at_ms IS NULL)";
        const SESSIONS: &str = "UPDATE sessions SET ended_at_ms = $1, close_reason = $2 \
             WHERE instance = $3 AND ended_at_ms IS NULL";
        let instance = &*self.instance;
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(CHANNELS).bind(ended_at_ms).bind(reason).bind(instance)
                .execute(&mut *tx).await?;
            let closed = sqlx::query(SESSIONS).bind(ended_at_ms).bind(reason).bind(instance)
                .execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok(closed)
        }.await)
        .map_err(|e| self.query_error(e))
    }
}

async fn first_connection<C: Connection>(
    options: &C::Options,
    shown: &str,
) -> Result<C, AuditError> {
    let unreachable = |source| AuditError::Unreachable {
        url: shown.to_string(),
        source,
    };
    match tokio::time::timeout(ACQUIRE_TIMEOUT, C::connect_with(options)).await {
        Ok(result) => result.map_err(unreachable),
        Err(_) => Err(unreachable(sqlx::Error::PoolTimedOut)),
    }
}

fn migrate_error(shown: &str, source: sqlx::migrate::MigrateError) -> AuditError {
    AuditError::Migrate {
        url: shown.to_string(),
        source,
    }
}

fn to_i64(field: &'static str, value: u64) -> Result<i64, AuditError> {
    i64::try_from(value).map_err(|_| AuditError::OutOfRange { field, value })
}

fn principals_json(principals: &[String]) -> String {
    // Serializing a list of strings cannot fail; "[]" keeps the column valid regardless.
    serde_json::to_string(principals).unwrap_or_else(|_| "[]".to_string())
}

/// The host name (what `hostname` prints), or "bastion".
fn default_instance() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "bastion".to_string())
}
