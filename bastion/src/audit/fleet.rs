//! What bastions sharing the database tell each other: where each serves its live sessions,
//! which interactive channels run where, and one-use tickets for watching across bastions
//! (see docs/architecture.md, "Several bastions").

use super::store::{with_pool, AuditStore};
use super::{now_ms, AuditError};

/// An interactive channel running on another bastion, and where to reach that bastion.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LiveRow {
    /// `SESSION-CHANNEL`.
    pub id: String,
    /// The bastion running it.
    pub instance: String,
    pub user_name: String,
    pub target: String,
    pub login: String,
    /// Its API, if it has one.
    pub api_url: Option<String>,
    /// Its API's TLS certificate (PEM), pinned when connecting.
    pub api_cert: Option<String>,
}

impl AuditStore {
    /// This bastion's name among the others.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Says this bastion is alive, and where the others reach its API.
    pub async fn instance_seen(
        &self,
        api_url: Option<&str>,
        api_cert: Option<&str>,
    ) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO instances (name, api_url, api_cert, seen_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
             api_url = excluded.api_url, api_cert = excluded.api_cert, \
             seen_at_ms = excluded.seen_at_ms";
        let write = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(&*self.instance)
                .bind(api_url)
                .bind(api_cert)
                .bind(now_ms())
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(write).await
    }

    /// At start: the channels a previous run of this bastion listed are gone.
    pub async fn live_cleared(&self) -> Result<(), AuditError> {
        const SQL: &str = "DELETE FROM live_channels WHERE instance = $1";
        let write = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(&*self.instance)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(write).await
    }

    /// Lists a channel that reviewers may watch.
    pub async fn live_started(
        &self,
        id: &str,
        user: &str,
        target: &str,
        login: &str,
    ) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO live_channels \
             (id, instance, user_name, target, login, started_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
        let write = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(id)
                .bind(&*self.instance)
                .bind(user)
                .bind(target)
                .bind(login)
                .bind(now_ms())
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(write).await
    }

    /// The channel has ended.
    pub async fn live_ended(&self, id: &str) -> Result<(), AuditError> {
        const SQL: &str = "DELETE FROM live_channels WHERE id = $1 AND instance = $2";
        let write = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(id)
                .bind(&*self.instance)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(write).await
    }

    /// Interactive channels of the other bastions seen since `since_ms`.
    pub async fn fleet_live(&self, since_ms: i64) -> Result<Vec<LiveRow>, AuditError> {
        const SQL: &str = "SELECT l.id, l.instance, l.user_name, l.target, l.login, \
             i.api_url, i.api_cert FROM live_channels l JOIN instances i ON i.name = l.instance \
             WHERE l.instance <> $1 AND i.seen_at_ms >= $2 ORDER BY l.started_at_ms, l.id";
        let read = async {
            with_pool!(self, pool => sqlx::query_as::<_, LiveRow>(SQL)
                .bind(&*self.instance)
                .bind(since_ms)
                .fetch_all(pool)
                .await)
        };
        self.bounded(read).await
    }

    /// Writes a ticket (its hash) that lets `reviewer` watch `channel` once, until
    /// `expires_at_ms`.
    pub async fn ticket_issued(
        &self,
        token_hash: &str,
        channel: &str,
        reviewer: &str,
        expires_at_ms: i64,
    ) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO watch_tickets \
             (token_hash, channel_id, reviewer, issued_by, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5)";
        let write = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(token_hash)
                .bind(channel)
                .bind(reviewer)
                .bind(&*self.instance)
                .bind(expires_at_ms)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(write).await
    }

    /// Takes a ticket for `channel`: `(reviewer, issuing bastion)` if it exists, is for that
    /// channel, has not expired and was not taken before; it cannot be taken again.
    pub async fn ticket_taken(
        &self,
        token_hash: &str,
        channel: &str,
    ) -> Result<Option<(String, String)>, AuditError> {
        const SQL: &str = "UPDATE watch_tickets SET used_at_ms = $3 \
             WHERE token_hash = $1 AND channel_id = $2 AND used_at_ms IS NULL \
             AND expires_at_ms > $3 RETURNING reviewer, issued_by";
        let write = async {
            with_pool!(self, pool => sqlx::query_as::<_, (String, String)>(SQL)
                .bind(token_hash)
                .bind(channel)
                .bind(now_ms())
                .fetch_optional(pool)
                .await)
        };
        self.bounded(write).await
    }
}
