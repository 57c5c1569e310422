//! Holding a command until it is decided. The request lives in the audit store; this side polls
//! it, so a reviewer on any bastion sharing the store decides it.

use std::time::Duration;

use config::ApprovalRule;
use tokio_util::sync::CancellationToken;

use crate::audit::{ApprovalRequest, AuditError, AuditStore};

/// How often a held command looks for a decision.
const POLL: Duration = Duration::from_millis(300);

/// How a hold ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved by these reviewers.
    Approved(Vec<String>),
    /// Denied by a reviewer, with the reason.
    Denied {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// Nobody decided in time.
    TimedOut,
    /// The user went away first.
    Cancelled,
}

/// The request as created, before waiting.
pub struct Held {
    /// Request number.
    pub id: i64,
    deadline: tokio::time::Instant,
}

/// Stores the request.
pub async fn request(
    audit: &AuditStore,
    rule: &ApprovalRule,
    mut req: ApprovalRequest,
) -> Result<Held, AuditError> {
    let now = crate::audit::now_ms();
    req.requested_at_ms = now;
    req.expires_at_ms =
        now + i64::try_from(rule.timeout.0.saturating_mul(1000)).unwrap_or(i64::MAX);
    let id = audit.approval_requested(&req).await?;
    Ok(Held {
        id,
        deadline: tokio::time::Instant::now() + rule.timeout.duration(),
    })
}

/// Waits for the decision. A database error while waiting denies (fail closed).
pub async fn wait(
    audit: &AuditStore,
    held: &Held,
    gone: &CancellationToken,
) -> Result<Decision, AuditError> {
    loop {
        if let Some(r) = audit.approval(held.id).await? {
            match r.state.as_str() {
                "approved" => {
                    return Ok(Decision::Approved(
                        r.votes
                            .iter()
                            .filter(|v| v.approve)
                            .map(|v| v.reviewer.clone())
                            .collect(),
                    ))
                }
                "denied" => {
                    let v = r.votes.iter().find(|v| !v.approve);
                    return Ok(Decision::Denied {
                        by: v.map(|v| v.reviewer.clone()).unwrap_or_default(),
                        reason: v.map(|v| v.reason.clone()).unwrap_or_default(),
                    });
                }
                "timed_out" => return Ok(Decision::TimedOut),
                "cancelled" => return Ok(Decision::Cancelled),
                _ => {}
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::time::sleep_until(held.deadline) => {
                // Someone may have decided at the last moment: only a pending request times out.
                if audit.approval_decide(held.id, "timed_out", crate::audit::now_ms()).await? {
                    return Ok(Decision::TimedOut);
                }
            }
            _ = gone.cancelled() => {
                audit.approval_decide(held.id, "cancelled", crate::audit::now_ms()).await?;
                return Ok(Decision::Cancelled);
            }
        }
    }
}
