//! Holding a command until it is decided. The request lives in the audit store; this side polls
//! it, so a reviewer on any bastion sharing the store decides it.

use std::time::Duration;

use config::ApprovalRule;
use tokio_util::sync::CancellationToken;

use super::notify::{Event, Notifier};
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

impl Decision {
    /// The recording marker for this decision on request `id`.
    pub fn marker(&self, id: i64) -> String {
        match self {
            Decision::Approved(by) => {
                format!("approval granted: request {id} by {}", by.join(", "))
            }
            Decision::Denied { by, reason } => {
                format!("approval denied: request {id} by {by}: {reason}")
            }
            Decision::TimedOut => format!("approval timed out: request {id}"),
            Decision::Cancelled => format!("approval cancelled: request {id}"),
        }
    }
}

/// Who asks: a channel of a session.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The session's id.
    pub session: &'a str,
    /// The identity its certificate names.
    pub identity: &'a str,
    /// The SSH channel number.
    pub channel: u32,
}

/// A request for `command` (already masked) from `requester` going to `access`.
pub fn new_request(
    requester: Requester<'_>,
    access: &crate::policy::Access,
    rule: &ApprovalRule,
    command: String,
    screen: Option<String>,
) -> ApprovalRequest {
    ApprovalRequest {
        session_id: requester.session.to_string(),
        channel: requester.channel,
        rule: rule.name.clone(),
        command,
        requester: requester.identity.to_string(),
        target: access.target.name.clone(),
        login: access.login.clone(),
        required: super::rules::required(rule),
        requested_at_ms: 0,
        expires_at_ms: 0,
        screen,
    }
}

/// Why a request was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The requester already has this many requests waiting: the most one identity may have.
    #[error("{}", too_many(*.0))]
    TooMany(u32),
    /// The audit store could not take it.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

fn too_many(n: u32) -> String {
    format!(
        "{} of yours {} already waiting for a decision",
        crate::human::count(n, "approval request"),
        crate::human::is_are(n)
    )
}

/// The request as created, before waiting.
pub struct Held {
    /// Request number.
    pub id: i64,
    deadline: tokio::time::Instant,
    /// What the webhook is told about it.
    event: Event,
}

impl Held {
    /// When the request times out.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }
}

/// Stores the request, unless its requester already has `max_pending` requests waiting.
pub async fn request(
    audit: &AuditStore,
    notifier: Option<&Notifier>,
    rule: &ApprovalRule,
    mut req: ApprovalRequest,
    max_pending: u32,
) -> Result<Held, RequestError> {
    let now = crate::audit::now_ms();
    req.requested_at_ms = now;
    req.expires_at_ms =
        now.saturating_add(i64::try_from(rule.timeout.0.saturating_mul(1000)).unwrap_or(i64::MAX));
    let Some(id) = audit.approval_requested(&req, max_pending).await? else {
        tracing::warn!(
            requester = %req.requester,
            rule = %req.rule,
            target = %req.target,
            max_pending,
            "approval request refused: too many waiting"
        );
        return Err(RequestError::TooMany(max_pending));
    };
    let event = Event {
        event: "requested",
        request: id,
        rule: req.rule,
        requester: req.requester,
        target: req.target,
        login: req.login,
        command: req.command,
        state: "pending".into(),
        decided_by: Vec::new(),
        reason: None,
        at_ms: now,
    };
    if let Some(n) = notifier {
        n.send(event.clone());
    }
    Ok(Held {
        id,
        deadline: tokio::time::Instant::now() + rule.timeout.duration(),
        event,
    })
}

/// Waits for the decision, and tells the webhook. A database error while waiting denies
/// (fail closed).
pub async fn wait(
    audit: &AuditStore,
    notifier: Option<&Notifier>,
    held: &Held,
    gone: &CancellationToken,
) -> Result<Decision, AuditError> {
    let decision = wait_decision(audit, held, gone).await?;
    if let Some(n) = notifier {
        let mut event = held.event.clone();
        event.event = "decided";
        event.at_ms = crate::audit::now_ms();
        match &decision {
            Decision::Approved(by) => {
                event.state = "approved".into();
                event.decided_by = by.clone();
            }
            Decision::Denied { by, reason } => {
                event.state = "denied".into();
                event.decided_by = vec![by.clone()];
                event.reason = Some(reason.clone());
            }
            Decision::TimedOut => event.state = "timed_out".into(),
            Decision::Cancelled => event.state = "cancelled".into(),
        }
        n.send(event);
    }
    Ok(decision)
}

async fn wait_decision(
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
