//! The review commands: `ssh review@bastion list | history | approve ID [--reason TEXT] |
//! deny ID --reason TEXT` (add `--json` for JSON lines). `review` is a reserved user name; the
//! user needs a role that allows `review`, and sees the requests whose approver groups they
//! belong to.

pub mod console;
mod pinned;
mod remote;

use std::fmt::Write as _;

use config::Capability;

use crate::approval::decide::{vote, Outcome};
use crate::audit::ApprovalRow;
use crate::policy::roles_for;

/// Who reviews, and the services a review reaches.
pub struct Reviewer<'a> {
    /// The reviewer's identity (the certificate's key id).
    pub identity: &'a str,
    /// The certificate's principals: the groups that may approve.
    pub principals: &'a [String],
    /// The configuration (approval rules and their approver groups).
    pub config: &'a config::Config,
    /// Where requests and decisions are stored.
    pub audit: &'a crate::audit::AuditStore,
    /// Masks free text a reviewer types (reasons) before it is stored.
    pub masker: &'a mask::Masker,
    /// Live sessions that may be watched.
    pub live: &'a crate::gateway::watch::LiveSessions,
    /// Counts watches across bastions.
    pub metrics: &'a crate::metrics::Metrics,
    /// Cancelled when the reviewer's connection ends.
    pub closed: &'a tokio_util::sync::CancellationToken,
}

/// The reserved user name.
pub const USER: &str = "review";

/// Whether the certificate's principals hold a role that allows reviewing.
pub fn may_review(config: &config::Config, principals: &[String]) -> bool {
    roles_for(config, principals)
        .iter()
        .any(|r| r.allow.contains(&Capability::Review))
}

/// What a review command printed and its exit status.
pub struct Output {
    /// For stdout.
    pub out: String,
    /// For stderr.
    pub err: String,
    /// Exit status.
    pub status: u32,
}

fn usage() -> Output {
    Output {
        out: String::new(),
        err: "usage: ssh review@bastion list | history | approve ID [--reason TEXT] | deny ID --reason TEXT  [--json]\n".into(),
        status: 2,
    }
}

/// Runs one review command for the reviewer of `ctx`.
pub async fn run(ctx: &Reviewer<'_>, command: &str) -> Output {
    let mut words: Vec<&str> = command.split_whitespace().collect();
    let json = words.contains(&"--json");
    words.retain(|w| *w != "--json");
    let reason = match words.iter().position(|w| *w == "--reason") {
        Some(i) => {
            let r = words[i + 1..].join(" ");
            words.truncate(i);
            Some(r)
        }
        None => None,
    };
    let audit = &ctx.audit;
    let reviewer = ctx.identity;
    match words.as_slice() {
        ["list"] | ["history"] => {
            let pending = words[0] == "list";
            match audit.approvals(pending, 200).await {
                Ok(rows) => {
                    let mine: Vec<ApprovalRow> =
                        rows.into_iter().filter(|r| visible(ctx, r)).collect();
                    Output {
                        out: if json {
                            json_lines(&mine)
                        } else {
                            table(&mine, pending)
                        },
                        err: String::new(),
                        status: 0,
                    }
                }
                Err(e) => failed(&e.to_string()),
            }
        }
        [verb @ ("approve" | "deny"), id] => {
            let Ok(id) = id.trim_start_matches('#').parse::<i64>() else {
                return usage();
            };
            let approve = *verb == "approve";
            let reason = reason.unwrap_or_default();
            if !approve && reason.trim().is_empty() {
                return Output {
                    out: String::new(),
                    err: "deny needs --reason TEXT\n".into(),
                    status: 2,
                };
            }
            // Free text goes to the audit row, the recording, the logs and the webhook: masked.
            let reason = crate::masking::mask_text(ctx.masker, &reason);
            let result = vote(
                audit,
                ctx.config,
                id,
                reviewer,
                ctx.principals,
                approve,
                &reason,
            )
            .await;
            match result {
                Ok(Ok(outcome)) => {
                    tracing::info!(request = id, reviewer, decision = verb, "approval vote");
                    let text = match outcome {
                        Outcome::Approved => format!("request {id} approved\n"),
                        Outcome::Denied => format!("request {id} denied\n"),
                        Outcome::Counted { have, need } => {
                            format!("request {id}: {have} of {need} approvals\n")
                        }
                    };
                    Output {
                        out: text,
                        err: String::new(),
                        status: 0,
                    }
                }
                Ok(Err(refused)) => {
                    tracing::warn!(request = id, reviewer, "approval vote refused: {refused}");
                    Output {
                        out: String::new(),
                        err: format!("bastion: {refused}\n"),
                        status: 1,
                    }
                }
                Err(e) => failed(&e.to_string()),
            }
        }
        _ => usage(),
    }
}

fn failed(e: &str) -> Output {
    Output {
        out: String::new(),
        err: format!("bastion: audit store: {e}\n"),
        status: 1,
    }
}

/// A reviewer sees requests whose rule names one of their groups.
pub(crate) fn visible(ctx: &Reviewer<'_>, r: &ApprovalRow) -> bool {
    ctx.config
        .approval
        .rules
        .iter()
        .find(|rule| rule.name == r.rule)
        .is_some_and(|rule| rule.approvers.iter().any(|g| ctx.principals.contains(g)))
}

fn json_lines(rows: &[ApprovalRow]) -> String {
    rows.iter()
        .filter_map(|r| serde_json::to_string(r).ok())
        .map(|l| l + "\n")
        .collect()
}

fn table(rows: &[ApprovalRow], pending: bool) -> String {
    let now = crate::audit::now_ms();
    let mut s = format!(
        "{:>5}  {:<22} {:<12} {:<10} {:<18} {:>6}  {}\n",
        "ID",
        "USER",
        "TARGET",
        "LOGIN",
        "RULE",
        if pending { "AGE" } else { "STATE" },
        "COMMAND"
    );
    for r in rows {
        let age = if pending {
            format!("{}s", (now - r.requested_at_ms) / 1000)
        } else {
            r.state.clone()
        };
        let command: String = r
            .command
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        let _ = writeln!(
            s,
            "{:>5}  {:<22} {:<12} {:<10} {:<18} {:>6}  {}",
            r.id, r.requester, r.target, r.login, r.rule, age, command
        );
    }
    s
}
