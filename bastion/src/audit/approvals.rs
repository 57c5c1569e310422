//! Approval requests and reviewers' votes. The state lives in the database so that every
//! bastion sharing it (and every reviewer, whichever bastion they reach) sees the same requests.

use serde::Serialize;

use super::store::{with_pool, AuditStore, Pool};
use super::AuditError;

/// A command held for approval.
#[derive(Debug, Clone)]
pub struct ApprovalRequest {
    /// Session and channel the command came from.
    pub session_id: String,
    /// Channel number.
    pub channel: u32,
    /// Rule that matched.
    pub rule: String,
    /// The command, masked.
    pub command: String,
    /// Identity of the requester.
    pub requester: String,
    /// Target and login.
    pub target: String,
    /// Login on the target.
    pub login: String,
    /// Approvals needed.
    pub required: u32,
    /// When it was asked and when it expires.
    pub requested_at_ms: i64,
    /// Deadline.
    pub expires_at_ms: i64,
    /// The requesting session's screen (masked), for interactive holds.
    pub screen: Option<String>,
}

/// A request as stored, with its votes.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApprovalRow {
    /// Request number (shown to users and reviewers).
    pub id: i64,
    /// Session.
    pub session_id: Option<String>,
    /// Rule.
    pub rule: String,
    /// Command (masked).
    pub command: String,
    /// Requester identity.
    pub requester: String,
    /// Target.
    pub target: String,
    /// Login.
    pub login: String,
    /// Approvals needed.
    pub required: i64,
    /// pending, approved, denied, timed_out, cancelled.
    pub state: String,
    /// Times, unix ms.
    pub requested_at_ms: i64,
    /// Deadline.
    pub expires_at_ms: i64,
    /// When decided.
    pub decided_at_ms: Option<i64>,
    /// The requesting session's screen (masked), for interactive holds.
    pub screen: Option<String>,
    /// Votes so far.
    #[sqlx(skip)]
    pub votes: Vec<VoteRow>,
}

/// One reviewer's decision.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct VoteRow {
    /// Reviewer identity.
    pub reviewer: String,
    /// Approve or deny.
    pub approve: bool,
    /// Why.
    pub reason: String,
    /// Group the vote counts for.
    pub approver_group: Option<String>,
    /// When.
    pub at_ms: i64,
}

macro_rules! columns {
    () => {
        "id, session_id, rule, command, requester, target, login, required, state, \
         requested_at_ms, expires_at_ms, decided_at_ms, screen"
    };
}

impl AuditStore {
    /// Stores a new pending request and returns its number, unless its requester already has
    /// `max_pending` requests waiting (not yet decided or expired): then `None`.
    ///
    /// Count and insert are one statement. SQLite runs writes one at a time, so that is
    /// enough; on PostgreSQL, simultaneous statements would not see each other's rows, so the
    /// requests of one requester take turns on an advisory lock first.
    pub async fn approval_requested(
        &self,
        r: &ApprovalRequest,
        max_pending: u32,
    ) -> Result<Option<i64>, AuditError> {
        // Explicit casts: the values come from a SELECT, where PostgreSQL would not infer
        // parameter types from the target columns.
        const SQL: &str = "INSERT INTO approvals (session_id, channel, rule, command, requester, \
             target, login, required, state, requested_at_ms, expires_at_ms, screen) \
             SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS TEXT), \
             CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TEXT), CAST($8 AS BIGINT), \
             'pending', CAST($9 AS BIGINT), CAST($10 AS BIGINT), CAST($11 AS TEXT) \
             WHERE (SELECT COUNT(*) FROM approvals WHERE state = 'pending' \
             AND requester = CAST($5 AS TEXT) AND expires_at_ms > CAST($9 AS BIGINT)) \
             < CAST($12 AS BIGINT) \
             RETURNING id";
        const TAKE_TURNS: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
        macro_rules! insert_on {
            ($executor:expr) => {
                sqlx::query_scalar::<_, i64>(SQL)
                    .bind(&r.session_id)
                    .bind(i64::from(r.channel))
                    .bind(&r.rule)
                    .bind(&r.command)
                    .bind(&r.requester)
                    .bind(&r.target)
                    .bind(&r.login)
                    .bind(i64::from(r.required))
                    .bind(r.requested_at_ms)
                    .bind(r.expires_at_ms)
                    .bind(&r.screen)
                    .bind(i64::from(max_pending))
                    .fetch_optional($executor)
                    .await
            };
        }
        let insert = async {
            match &self.pool {
                Pool::Sqlite(pool) => insert_on!(pool),
                Pool::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    sqlx::query(TAKE_TURNS)
                        .bind(&r.requester)
                        .execute(&mut *tx)
                        .await?;
                    let id = insert_on!(&mut *tx)?;
                    tx.commit().await?;
                    Ok(id)
                }
            }
        };
        self.bounded(insert).await
    }

    /// One request with its votes.
    pub async fn approval(&self, id: i64) -> Result<Option<ApprovalRow>, AuditError> {
        const SQL: &str = concat!("SELECT ", columns!(), " FROM approvals WHERE id = $1");
        let row: Option<ApprovalRow> = self
            .bounded(async {
                with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)
            })
            .await?;
        match row {
            Some(mut r) => {
                r.votes = self.votes(id).await?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }

    /// Requests, newest last: the pending ones, or the latest `limit` of all.
    pub async fn approvals(
        &self,
        pending_only: bool,
        limit: u32,
    ) -> Result<Vec<ApprovalRow>, AuditError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM approvals WHERE ($1 = FALSE OR state = 'pending') ORDER BY id DESC LIMIT $2"
        );
        let mut rows: Vec<ApprovalRow> = self
            .bounded(async {
                with_pool!(self, pool => sqlx::query_as(SQL)
                    .bind(pending_only)
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await)
            })
            .await?;
        rows.reverse();
        for r in &mut rows {
            r.votes = self.votes(r.id).await?;
        }
        Ok(rows)
    }

    async fn votes(&self, id: i64) -> Result<Vec<VoteRow>, AuditError> {
        const SQL: &str =
            "SELECT reviewer, approve, reason, approver_group, at_ms FROM approval_votes \
             WHERE approval_id = $1 ORDER BY at_ms";
        self.bounded(async {
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_all(pool).await)
        })
        .await
    }

    /// Records a vote. A reviewer votes once per request (a second vote is an error).
    pub async fn approval_vote(
        &self,
        id: i64,
        reviewer: &str,
        approve: bool,
        reason: &str,
        group: Option<&str>,
        at_ms: i64,
    ) -> Result<(), AuditError> {
        const SQL: &str = "INSERT INTO approval_votes (approval_id, reviewer, approve, reason, approver_group, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        self.bounded(async {
            with_pool!(self, pool => sqlx::query(SQL)
                .bind(id)
                .bind(reviewer)
                .bind(approve)
                .bind(reason)
                .bind(group)
                .bind(at_ms)
                .execute(pool)
                .await
                .map(|_| ()))
        })
        .await
    }

    /// Moves a pending request to `state`; false when it was no longer pending (someone else
    /// decided first, or it expired).
    pub async fn approval_decide(
        &self,
        id: i64,
        state: &str,
        at_ms: i64,
    ) -> Result<bool, AuditError> {
        const SQL: &str =
            "UPDATE approvals SET state = $2, decided_at_ms = $3 WHERE id = $1 AND state = 'pending'";
        let n = self
            .bounded(async {
                with_pool!(self, pool => sqlx::query(SQL)
                    .bind(id)
                    .bind(state)
                    .bind(at_ms)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected()))
            })
            .await?;
        Ok(n == 1)
    }
}
