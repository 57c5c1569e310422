//! A reviewer's decision on a request.

use std::fmt;

use config::Config;

use crate::audit::{ApprovalRow, AuditError, AuditStore};

/// Why a vote was not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No such request.
    Unknown(i64),
    /// Already decided (or expired).
    NotPending(i64, String),
    /// The reviewer asked for it.
    OwnRequest(i64),
    /// The reviewer is in none of the rule's approver groups.
    NotAnApprover(i64, String),
    /// The reviewer already voted.
    AlreadyVoted(i64),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Unknown(id) => write!(f, "request {id} does not exist"),
            Refused::NotPending(id, state) => write!(f, "request {id} is already {state}"),
            Refused::OwnRequest(id) => write!(
                f,
                "request {id} is yours: nobody approves their own request"
            ),
            Refused::NotAnApprover(id, rule) => {
                write!(
                    f,
                    "you are in none of the approver groups of rule \"{rule}\" (request {id})"
                )
            }
            Refused::AlreadyVoted(id) => write!(f, "you already decided on request {id}"),
        }
    }
}

/// What the vote did.
#[derive(Debug)]
pub enum Outcome {
    /// The request is now approved.
    Approved,
    /// The request is now denied.
    Denied,
    /// Counted; more approvals are needed.
    Counted {
        /// Approvals so far.
        have: usize,
        /// Approvals needed.
        need: i64,
    },
}

/// Records `reviewer`'s vote on request `id`, and decides the request when the vote settles it.
/// A single denial denies; approval needs the rule's count, and one approval from each approver
/// group when the rule lists several.
pub async fn vote(
    audit: &AuditStore,
    config: &Config,
    id: i64,
    reviewer: &str,
    reviewer_groups: &[String],
    approve: bool,
    reason: &str,
) -> Result<Result<Outcome, Refused>, AuditError> {
    let Some(req) = audit.approval(id).await? else {
        return Ok(Err(Refused::Unknown(id)));
    };
    if req.state != "pending" {
        return Ok(Err(Refused::NotPending(id, req.state)));
    }
    if req.requester == reviewer {
        return Ok(Err(Refused::OwnRequest(id)));
    }
    let groups: Vec<String> = config
        .approval
        .rules
        .iter()
        .find(|r| r.name == req.rule)
        .map(|r| r.approvers.clone())
        .unwrap_or_default();
    let Some(group) = groups.iter().find(|g| reviewer_groups.contains(g)) else {
        return Ok(Err(Refused::NotAnApprover(id, req.rule)));
    };
    if req.votes.iter().any(|v| v.reviewer == reviewer) {
        return Ok(Err(Refused::AlreadyVoted(id)));
    }
    let now = crate::audit::now_ms();
    audit
        .approval_vote(id, reviewer, approve, reason, Some(group), now)
        .await?;
    if !approve {
        audit.approval_decide(id, "denied", now).await?;
        return Ok(Ok(Outcome::Denied));
    }
    let Some(req) = audit.approval(id).await? else {
        return Ok(Err(Refused::Unknown(id)));
    };
    if settled(&req, &groups) {
        audit.approval_decide(id, "approved", now).await?;
        return Ok(Ok(Outcome::Approved));
    }
    let have = req.votes.iter().filter(|v| v.approve).count();
    Ok(Ok(Outcome::Counted {
        have,
        need: req.required,
    }))
}

/// Enough approvals, and every listed group represented when there are several.
fn settled(req: &ApprovalRow, groups: &[String]) -> bool {
    let approvals: Vec<_> = req.votes.iter().filter(|v| v.approve).collect();
    let enough = i64::try_from(approvals.len()).unwrap_or(i64::MAX) >= req.required;
    let every_group = groups.len() <= 1
        || groups.iter().all(|g| {
            approvals
                .iter()
                .any(|v| v.approver_group.as_deref() == Some(g.as_str()))
        });
    enough && every_group
}
