//! One approval request of a channel, the same for exec commands, shell lines and lines read
//! from stdin: stored, announced to the user and in the recording, waited for while the
//! caller takes the client's input, and its decision recorded. A decision that lets the
//! command run is told to the user here; what a refusal does (end the channel, clear the line)
//! is the caller's.

use config::ApprovalRule;
use russh::{ChannelMsg, ChannelReadHalf};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::waiting::Waiting;
use crate::approval::hold::{self, Decision, Held, RequestError, Requester};
use crate::gateway::recording::RecEvent;
use crate::gateway::relay::inflow::ChannelInflow;
use crate::gateway::relay::io::ChannelIo;
use crate::human;
use crate::policy::Access;

/// What a held channel does with a message from its client while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep waiting.
    Wait,
    /// Cancel the request (Ctrl-C, or the client closed the channel); the decision that
    /// follows is "cancelled".
    Cancel,
    /// Stop waiting now: the client broke the channel's bounds, or left for good.
    End,
}

/// What a held channel does with its client's input while it waits: each hold has its own
/// (an exec keeps it for the command, a shell line keeps the keys typed meanwhile, a stdin
/// line reads the next lines).
pub trait WhileHeld {
    /// One message from the client (`None`: the channel closed).
    fn input(&mut self, m: Option<ChannelMsg>) -> impl std::future::Future<Output = Flow> + Send;
}

/// Why a held command does not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApproved {
    /// Denied, timed out, or cancelled: the words for the user (after `bastion: `).
    Refused {
        /// What the user is told.
        words: String,
        /// Cancelled by the user (Ctrl-C) or by their leaving.
        cancelled: bool,
    },
    /// The request could not be stored or followed: the words for the user.
    Unavailable(String),
    /// The caller's input handling ended the hold ([`Flow::End`]).
    Ended,
    /// The recording failed while it waited: nothing may run unrecorded.
    Unrecorded,
}

impl NotApproved {
    /// The words for the user, when there are any.
    pub fn words(&self) -> Option<&str> {
        match self {
            NotApproved::Refused { words, .. } | NotApproved::Unavailable(words) => Some(words),
            NotApproved::Ended | NotApproved::Unrecorded => None,
        }
    }
}

/// What a hold is about.
pub struct Asking<'a> {
    /// The channel.
    pub io: &'a ChannelIo,
    /// Where it goes.
    pub access: &'a Access,
    /// The rule that holds it.
    pub rule: &'a ApprovalRule,
    /// What is held, for the log: `command`, `shell line`, `stdin line`.
    pub what: &'static str,
    /// What happens to it when not approved, after a refusal's words: `not run`.
    pub not_run: &'static str,
}

impl Asking<'_> {
    /// Asks for approval of `command` (already masked; `screen`, masked, shows reviewers what
    /// the user saw) and waits for the decision. Meanwhile every message from the client goes
    /// to `while_held`, read after `room` has room (past the channel's input bound, input is
    /// taken slowly, never left unread). `hint` follows "waiting" in the notice to the user.
    pub async fn hold(
        &self,
        command: String,
        screen: Option<String>,
        hint: &str,
        rx: &mut ChannelReadHalf,
        room: Option<&ChannelInflow>,
        while_held: &mut impl WhileHeld,
    ) -> Result<(), NotApproved> {
        let held = self
            .ask(command, screen, hint)
            .await
            .map_err(|e| NotApproved::Unavailable(not_asked(&e, self.not_run)))?;
        let gone = self.io.done.child_token();
        let wait = self.decision(&held, &gone);
        tokio::pin!(wait);
        let mut reading = true;
        let mut waiting = Waiting::new(held.id, held.deadline(), self.io.client.pty);
        let every = waiting.every();
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let decision = loop {
            let next = async {
                if let Some(inflow) = room {
                    inflow.room(&gone).await;
                }
                rx.wait().await
            };
            tokio::select! {
                d = &mut wait => break d,
                now = ticks.tick() => waiting.show(&self.io.client, now).await,
                m = next, if reading => {
                    reading = !matches!(m, Some(ChannelMsg::Close) | None);
                    match while_held.input(m).await {
                        Flow::Wait => {}
                        Flow::Cancel => gone.cancel(),
                        Flow::End => {
                            waiting.clear(&self.io.client).await;
                            settle(&gone, &mut wait).await;
                            return Err(NotApproved::Ended);
                        }
                    }
                }
                // Nothing runs unrecorded: the channel ends.
                _ = self.io.recording_failed() => {
                    waiting.clear(&self.io.client).await;
                    settle(&gone, &mut wait).await;
                    return Err(NotApproved::Unrecorded);
                }
            }
        };
        // The status line gives way to the decision and its reason.
        waiting.clear(&self.io.client).await;
        let waited = human::duration(waiting.waited(tokio::time::Instant::now()));
        let decision = decision?;
        match decision {
            // An approval recorded in the instant the client left still runs nothing, nor one
            // whose recording failed while it waited (fail closed).
            Decision::Approved(_) if self.io.unrecorded() => Err(NotApproved::Unrecorded),
            Decision::Approved(_) if gone.is_cancelled() => {
                Err(self.refused(&Decision::Cancelled, &held))
            }
            Decision::Approved(by) => {
                self.io
                    .client
                    .say(&format!(
                        "bastion: approved by {} after {waited}: request {}",
                        by.join(", "),
                        held.id
                    ))
                    .await;
                Ok(())
            }
            d => Err(self.refused(&d, &held)),
        }
    }

    fn refused(&self, d: &Decision, held: &Held) -> NotApproved {
        NotApproved::Refused {
            words: refusal(d, held.id, self.rule, self.not_run),
            cancelled: *d == Decision::Cancelled,
        }
    }

    /// Stores the request and tells the user.
    async fn ask(
        &self,
        command: String,
        screen: Option<String>,
        hint: &str,
    ) -> Result<Held, RequestError> {
        let (ctx, rule) = (&self.io.ctx, self.rule);
        let requester = Requester {
            session: &ctx.id,
            identity: &ctx.user.key_id,
            channel: u32::from(self.io.client.id),
        };
        let request = hold::new_request(requester, self.access, rule, command, screen);
        let approvals = &ctx.services.approvals.rules;
        let held = hold::request(
            &ctx.services.audit,
            ctx.services.approvals.notifier.as_ref(),
            rule,
            request,
            approvals.max_pending(),
        )
        .await?;
        info!(request = held.id, rule = %rule.name, "{} held for approval", self.what);
        // A failed recording ends the hold through its own watch.
        self.io
            .record(RecEvent::Marker(format!(
                "approval requested: request {} (rule \"{}\")",
                held.id, rule.name
            )))
            .await;
        self.io
            .client
            .say(&format!(
                "bastion: held for approval: request {} (rule \"{}\") — waiting{hint}",
                held.id, rule.name
            ))
            .await;
        Ok(held)
    }

    /// Waits for the decision on `held` (cancelled when `gone` is); records and logs it. A
    /// store that cannot be read denies (fail closed).
    async fn decision(
        &self,
        held: &Held,
        gone: &CancellationToken,
    ) -> Result<Decision, NotApproved> {
        let ctx = &self.io.ctx;
        let decision = hold::wait(
            &ctx.services.audit,
            ctx.services.approvals.notifier.as_ref(),
            held,
            gone,
        )
        .await
        .map_err(|e| {
            tracing::error!("approval wait failed: {e}");
            NotApproved::Unavailable(format!(
                "the approval could not be followed (audit store unavailable); {}",
                self.not_run
            ))
        })?;
        let marker = decision.marker(held.id);
        info!(request = held.id, "{marker}");
        self.io.record(RecEvent::Marker(marker)).await;
        Ok(decision)
    }
}

/// How long a hold given up waits for its request to be marked cancelled in the store.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Cancels a request whose hold is given up, and lets the wait mark it cancelled so that
/// reviewers do not see it pending.
async fn settle<F: std::future::Future>(
    gone: &CancellationToken,
    wait: &mut std::pin::Pin<&mut F>,
) {
    gone.cancel();
    let _ = tokio::time::timeout(SETTLE, wait.as_mut()).await;
}

/// Why a command was not run without a decision: the words after "bastion: " for the user.
fn not_asked(e: &RequestError, not_run: &str) -> String {
    match e {
        RequestError::TooMany(_) => format!("{e} (the most one person may have); {not_run}"),
        RequestError::Audit(e) => {
            tracing::error!("approval request failed: {e}");
            format!("the approval could not be requested (audit store unavailable); {not_run}")
        }
    }
}

/// What the user is told of a decision on request `id` that does not let the command run.
fn refusal(decision: &Decision, id: i64, rule: &ApprovalRule, not_run: &str) -> String {
    match decision {
        Decision::Approved(_) => String::new(),
        Decision::Denied { by, reason } => {
            format!("denied by {by}: {reason}; {not_run} (request {id})")
        }
        Decision::TimedOut => format!(
            "request {id} timed out after {}: nobody decided; {not_run}",
            rule.timeout
        ),
        Decision::Cancelled => format!("cancelled; {not_run}"),
    }
}
