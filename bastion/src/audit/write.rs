//! The writes the relay makes: authentication decisions, sessions and channels opening and
//! closing, and crash recovery at start.

use super::store::{with_pool, AuditStore};
use super::{AuditError, AuthEvent, ChannelEnd, ChannelOpened, OpenChannel, SessionOpened};

impl AuditStore {
    /// Records an authentication decision.
    pub async fn auth_event(&self, e: &AuthEvent) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO auth_events \
             (at_ms, peer, user_name, identity, serial, accepted, reason, principals, offered) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let serial = e.serial.map(|s| s.to_string());
        let principals = e.principals.as_deref().map(principals_json);
        let insert = async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(e.at_ms)
                .bind(&e.peer)
                .bind(&e.user_name)
                .bind(&e.identity)
                .bind(&serial)
                .bind(e.accepted)
                .bind(&e.reason)
                .bind(&principals)
                .bind(&e.offered)
                .execute(pool)
                .await
                .map(|_| ()))
        };
        self.bounded(insert).await
    }

    /// Records a new session (an authenticated connection).
    pub async fn session_opened(&self, s: &SessionOpened) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO sessions \
             (id, instance, started_at_ms, identity, serial, principals, peer, target, login) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let principals = principals_json(&s.principals);
        let insert = async {
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
        };
        self.bounded(insert).await
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
        let close = async {
            with_pool!(self, pool => async {
                let mut tx = pool.begin().await?;
                let updated = sqlx::query(SESSION)
                    .bind(id)
                    .bind(ended_at_ms)
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(CHANNELS)
                    .bind(id)
                    .bind(ended_at_ms)
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?;
                let found: i64 = if updated > 0 {
                    1
                } else {
                    sqlx::query_scalar(EXISTS).bind(id).fetch_one(&mut *tx).await?
                };
                tx.commit().await?;
                Ok(found)
            }
            .await)
        };
        if self.bounded(close).await? == 0 {
            return Err(AuditError::UnknownSession {
                url: self.url.to_string(),
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Records a new channel of a recorded session; its end is recorded against the returned
    /// row.
    ///
    /// # Errors
    ///
    /// [`AuditError::Query`] (a foreign key violation) if the session was never recorded.
    pub async fn channel_opened(&self, c: &ChannelOpened) -> Result<OpenChannel, AuditError> {
        const SQL: &str = "INSERT INTO channels \
             (session_id, channel, started_at_ms, kind, command, target, login, \
              pty_term, pty_cols, pty_rows, recording_path) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
        let (term, cols, rows) = match &c.pty {
            Some((term, cols, rows)) => (
                Some(term.as_str()),
                Some(i64::from(*cols)),
                Some(i64::from(*rows)),
            ),
            None => (None, None, None),
        };
        let insert = async {
            with_pool!(self, pool => sqlx::query_scalar::<_, i64>(SQL)
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
                .fetch_one(pool)
                .await)
        };
        let row = self.bounded(insert).await?;
        Ok(OpenChannel {
            session_id: c.session_id.clone(),
            channel: c.channel,
            row,
        })
    }

    /// Records how a channel ended. It completes the channel's row even if
    /// [`Self::session_closed`] already closed it; a second report changes nothing, so a retry
    /// after a lost acknowledgement is harmless.
    ///
    /// # Errors
    ///
    /// [`AuditError::UnknownChannel`] if the row does not exist;
    /// [`AuditError::OutOfRange`] for byte counts past `i64::MAX`.
    pub async fn channel_closed(
        &self,
        channel: &OpenChannel,
        end: &ChannelEnd,
    ) -> Result<(), AuditError> {
        // "bytes_in IS NULL" means the relay has not reported this channel's end yet.
        const SQL: &str = "UPDATE channels SET ended_at_ms = $2, exit_status = $3, \
             exit_signal = $4, bytes_in = $5, bytes_out = $6, final_hash = $7, signature = $8, \
             close_reason = $9 \
             WHERE id = $1 AND bytes_in IS NULL";
        const EXISTS: &str = "SELECT COUNT(*) FROM channels WHERE id = $1";
        let bytes_in = to_i64("bytes_in", end.bytes_in)?;
        let bytes_out = to_i64("bytes_out", end.bytes_out)?;
        let close = async {
            with_pool!(self, pool => async {
                let updated = sqlx::query(SQL)
                    .bind(channel.row)
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
                sqlx::query_scalar::<_, i64>(EXISTS)
                    .bind(channel.row)
                    .fetch_one(pool)
                    .await
            }
            .await)
        };
        if self.bounded(close).await? == 0 {
            return Err(AuditError::UnknownChannel {
                url: self.url.to_string(),
                session_id: channel.session_id.clone(),
                channel: channel.channel,
            });
        }
        Ok(())
    }

    /// Crash recovery, at start: the recording files of this instance's channels whose rows
    /// hold no final hash. These are the channels that were open when the bastion stopped, and
    /// those whose recording ended without a seal (the recorder failed, or the row was closed
    /// by [`Self::close_unfinished_sessions`] before an earlier recovery could seal it). Any
    /// other unsealed file in the recording directory was not written by this instance and is
    /// left for `bastion verify` to judge.
    ///
    /// # Errors
    ///
    /// [`AuditError`] when the database cannot be read.
    pub async fn unsealed_recordings(&self) -> Result<Vec<(i64, String)>, AuditError> {
        const SQL: &str = "SELECT c.id, c.recording_path FROM channels c \
             JOIN sessions s ON s.id = c.session_id \
             WHERE s.instance = $1 AND c.final_hash IS NULL \
             AND c.recording_path IS NOT NULL ORDER BY c.id";
        let instance = &*self.instance;
        let read = async {
            with_pool!(self, pool => async {
                sqlx::query_as::<_, (i64, String)>(SQL)
                    .bind(instance)
                    .fetch_all(pool)
                    .await
            }
            .await)
        };
        self.bounded(read).await
    }

    /// Crash recovery: stores the final hash and signature of a recording sealed as recovered
    /// in its channel's row (row id from [`Self::unsealed_recordings`]), unless the row
    /// already has one.
    ///
    /// # Errors
    ///
    /// [`AuditError`] when the database cannot be written.
    pub async fn channel_recovered(
        &self,
        row: i64,
        final_hash: &str,
        signature: &str,
    ) -> Result<(), AuditError> {
        const SQL: &str = "UPDATE channels SET final_hash = $2, signature = $3 \
             WHERE id = $1 AND final_hash IS NULL";
        let write = async {
            with_pool!(self, pool => async {
                sqlx::query(SQL)
                    .bind(row)
                    .bind(final_hash)
                    .bind(signature)
                    .execute(pool)
                    .await
                    .map(|_| ())
            }
            .await)
        };
        self.bounded(write).await
    }

    /// The recording at `path` (as stored in its row, one of this instance's) is in the object
    /// store at `url`,
    /// sealed with `final_hash` and `signature`: the row names the object, and takes the seal
    /// if it has none yet (a crash between sealing and the row's update). Returns whether a
    /// row named the path.
    ///
    /// # Errors
    ///
    /// [`AuditError`] when the database cannot be written.
    pub async fn recording_stored(
        &self,
        path: &str,
        url: &str,
        final_hash: &str,
        signature: &str,
    ) -> Result<bool, AuditError> {
        const SQL: &str = "UPDATE channels SET recording_url = $2, \
             final_hash = COALESCE(final_hash, $3), signature = COALESCE(signature, $4) \
             WHERE recording_path = $1 \
             AND session_id IN (SELECT id FROM sessions WHERE instance = $5)";
        let write = async {
            with_pool!(self, pool => async {
                sqlx::query(SQL)
                    .bind(path)
                    .bind(url)
                    .bind(final_hash)
                    .bind(signature)
                    .bind(&*self.instance)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected() > 0)
            }
            .await)
        };
        self.bounded(write).await
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
        let recover = async {
            with_pool!(self, pool => async {
                let mut tx = pool.begin().await?;
                sqlx::query(CHANNELS)
                    .bind(ended_at_ms)
                    .bind(reason)
                    .bind(instance)
                    .execute(&mut *tx)
                    .await?;
                let closed = sqlx::query(SESSIONS)
                    .bind(ended_at_ms)
                    .bind(reason)
                    .bind(instance)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok(closed)
            }
            .await)
        };
        self.bounded(recover).await
    }
}

fn to_i64(field: &'static str, value: u64) -> Result<i64, AuditError> {
    i64::try_from(value).map_err(|_| AuditError::OutOfRange { field, value })
}

fn principals_json(principals: &[String]) -> String {
    // Serializing a list of strings cannot fail; "[]" keeps the column valid regardless.
    serde_json::to_string(principals).unwrap_or_else(|_| "[]".to_string())
}
