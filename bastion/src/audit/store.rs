//! [`AuditStore`]: the connection pool, migrations, and the reachability check.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};
use sqlx::{ConnectOptions, Connection};

use super::url::{backend, redact, Backend};
use super::AuditError;

/// How long a new session may wait for a database connection before it is refused (fail
/// closed). Also bounds the first connection at start.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite writers wait this long for each other's locks (WAL: readers never wait).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a ping or a write may take, waiting for a connection included: a database that
/// stops answering (a partition, not a refusal) must not hang the relay.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
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
    pub(super) instance: Arc<str>,
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
    /// told (connection refused, authentication failed, ...); [`AuditError::TimedOut`] if the
    /// database stops answering.
    pub async fn ping(&self) -> Result<(), AuditError> {
        let round_trip = async {
            with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
        };
        match self.bounded(round_trip).await {
            Err(AuditError::Unreachable {
                source: sqlx::Error::PoolTimedOut,
                ..
            }) => Err(self.diagnose().await),
            other => other,
        }
    }

    /// Runs `op` within [`OPERATION_TIMEOUT`], classifying its error.
    pub(super) async fn bounded<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, AuditError> {
        match tokio::time::timeout(OPERATION_TIMEOUT, op).await {
            Ok(result) => result.map_err(|e| self.query_error(e)),
            Err(_) => Err(AuditError::TimedOut {
                url: self.url.to_string(),
                after: OPERATION_TIMEOUT,
            }),
        }
    }

    /// The pool only says it timed out; one direct attempt tells why (refused, auth, ...).
    async fn diagnose(&self) -> AuditError {
        let attempt = tokio::time::timeout(ACQUIRE_TIMEOUT, async {
            match &self.pool {
                Pool::Sqlite(p) => p.connect_options().connect().await.map(|_| ()),
                Pool::Postgres(p) => p.connect_options().connect().await.map(|_| ()),
            }
        });
        let source = match attempt.await {
            Ok(Err(reason)) => reason,
            // It connects now, or it hangs: the pool's verdict stands.
            _ => sqlx::Error::PoolTimedOut,
        };
        AuditError::Unreachable {
            url: self.url.to_string(),
            source,
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
        Err(_) => Err(AuditError::TimedOut {
            url: shown.to_string(),
            after: ACQUIRE_TIMEOUT,
        }),
    }
}

fn migrate_error(shown: &str, source: sqlx::migrate::MigrateError) -> AuditError {
    AuditError::Migrate {
        url: shown.to_string(),
        source,
    }
}

/// The host name (what `hostname` prints), or "bastion".
fn default_instance() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "bastion".to_string())
}
