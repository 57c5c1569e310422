//! One approval request of a channel: stored, announced to the user and in the recording,
//! waited for, and its decision recorded. Exec commands, shell lines and lines read from stdin
//! are held alike; each caller decides what happens to the user's input meanwhile.

use config::ApprovalRule;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::bridge::Client;
use super::recording::{ChannelRecording, RecEvent};
use super::session::SessionCtx;
use super::target::Access;
use crate::approval::hold::{self, Decision, Held, RequestError};

/// Why a command was not run without a decision: the words after "bastion: " for the user.
pub(super) fn not_asked(e: &RequestError, what: &str) -> String {
    match e {
        RequestError::TooMany(_) => format!("{e} (the most one person may have); {what}"),
        RequestError::Audit(e) => {
            tracing::error!("approval request failed: {e}");
            format!("the approval could not be requested (audit store unavailable); {what}")
        }
    }
}

/// What a hold is about.
pub(super) struct Asking<'a> {
    pub(super) ctx: &'a SessionCtx,
    pub(super) client: &'a Client,
    pub(super) recording: Option<&'a ChannelRecording>,
    pub(super) access: &'a Access,
    pub(super) rule: &'a ApprovalRule,
    /// What is held, for the log: `command`, `shell line`, `stdin line`.
    pub(super) what: &'static str,
}

impl Asking<'_> {
    async fn record(&self, ev: RecEvent) {
        if let Some(r) = self.recording {
            // A failed recording ends the channel through the caller's own watch.
            let _ = r.send(ev).await;
        }
    }

    /// Stores the request for `command` (already masked) and tells the user; `hint` follows
    /// "waiting" in that notice.
    pub(super) async fn ask(
        &self,
        command: String,
        screen: Option<String>,
        hint: &str,
    ) -> Result<Held, RequestError> {
        let (ctx, rule) = (self.ctx, self.rule);
        let request = hold::new_request(
            ctx,
            u32::from(self.client.id),
            self.access,
            rule,
            command,
            screen,
        );
        let held = hold::request(
            &ctx.shared.audit,
            ctx.shared.notifier.as_ref(),
            rule,
            request,
            ctx.shared.approvals.max_pending(),
        )
        .await?;
        info!(request = held.id, rule = %rule.name, "{} held for approval", self.what);
        self.record(RecEvent::Marker(format!(
            "approval requested: request {} (rule \"{}\")",
            held.id, rule.name
        )))
        .await;
        self.client
            .say(&format!(
                "bastion: held for approval: request {} (rule \"{}\") — waiting{hint}",
                held.id, rule.name
            ))
            .await;
        Ok(held)
    }

    /// Waits for the decision on `held` (cancelled when `gone` is); records and logs it. A
    /// store that cannot be read denies (fail closed): `Err` is then the words for the user.
    pub(super) async fn decision(
        &self,
        held: &Held,
        gone: &CancellationToken,
        what: &str,
    ) -> Result<Decision, String> {
        let ctx = self.ctx;
        let decision = hold::wait(&ctx.shared.audit, ctx.shared.notifier.as_ref(), held, gone)
            .await
            .map_err(|e| {
                tracing::error!("approval wait failed: {e}");
                format!("the approval could not be followed (audit store unavailable); {what}")
            })?;
        let marker = decision.marker(held.id);
        info!(request = held.id, "{marker}");
        self.record(RecEvent::Marker(marker)).await;
        Ok(decision)
    }
}

/// What the user is told of a decision on request `id` that does not let the command run.
pub(super) fn refusal(decision: &Decision, id: i64, rule: &ApprovalRule, what: &str) -> String {
    match decision {
        Decision::Approved(_) => String::new(),
        Decision::Denied { by, reason } => {
            format!("denied by {by}: {reason}; {what} (request {id})")
        }
        Decision::TimedOut => format!(
            "request {id} timed out after {}: nobody decided; {what}",
            rule.timeout
        ),
        Decision::Cancelled => format!("cancelled; {what}"),
    }
}
