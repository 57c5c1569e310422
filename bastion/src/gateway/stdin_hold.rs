//! Lines a program without a terminal reads from stdin, judged before they reach it (see
//! [`super::stdin_lines`]). A line that matches a rule waits for reviewers, the input read on
//! meanwhile within the channel's bounds; a line that is not approved ends the channel, and the
//! program gets nothing more.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf};
use tracing::warn;

use super::held::{not_asked, refusal, Asking};
use super::inflow::ChannelInflow;
use super::pumps::Pumps;
use super::recording::{self, RecEvent};
use super::stdin_lines::{StdinLines, MAX_LINE};
use super::upward::Upward;
use crate::approval::hold::Decision;

/// What the user is told happens to the input after a line that is not approved.
const REST_NOT_RUN: &str = "this line and the rest of the input were not run";

impl Pumps {
    /// Input for a program whose stdin lines are judged: each complete line is passed on once
    /// judged. `Err` ends the channel (the user has been told why).
    pub(super) async fn stdin_data(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
        lines: &Mutex<StdinLines>,
        data: Bytes,
    ) -> Result<(), ()> {
        self.take_stdin(lines, inflow, &data).await?;
        self.pass_lines(rx, up, inflow, lines, false).await
    }

    /// The end of the input: the last line, even without a newline, is judged too.
    pub(super) async fn stdin_eof(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
        lines: &Mutex<StdinLines>,
    ) -> Result<(), ()> {
        self.pass_lines(rx, up, inflow, lines, true).await
    }

    /// Keeps `data` until its lines are complete.
    async fn take_stdin(
        &self,
        lines: &Mutex<StdinLines>,
        inflow: &ChannelInflow,
        data: &[u8],
    ) -> Result<(), ()> {
        let taken = lines.lock().map_err(drop).and_then(|mut l| l.push(data));
        inflow.add(data.len());
        if taken.is_err() {
            let why = format!(
                "a line of more than {} came on stdin, which is not a command the bastion can \
                 check; {REST_NOT_RUN}",
                crate::human::bytes(MAX_LINE as u64)
            );
            return self.end_stdin(&why).await;
        }
        Ok(())
    }

    /// Passes on the complete lines (at `eof`, all that is left, then EOF), each once judged.
    async fn pass_lines(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
        lines: &Mutex<StdinLines>,
        mut eof: bool,
    ) -> Result<(), ()> {
        let Some(access) = &self.access else {
            return Err(());
        };
        loop {
            let next = lines.lock().ok().and_then(|mut l| l.next_line(eof));
            let Some(line) = next else { break };
            inflow.sub(line.bytes.len());
            let rule = self
                .ctx
                .shared
                .approvals
                .matching_line(access, &line.readings);
            if let Some(rule) = rule {
                Box::pin(self.hold_stdin_line(rx, inflow, lines, rule, &line.shown, &mut eof))
                    .await?;
            }
            up.line(line.bytes)?;
        }
        if eof {
            up.eof()?;
        }
        Ok(())
    }

    /// Holds a line until reviewers decide, reading on meanwhile (an EOF that comes sets
    /// `eof`). `Err` when it may not run: the channel ends.
    async fn hold_stdin_line(
        &self,
        rx: &mut ChannelReadHalf,
        inflow: &ChannelInflow,
        lines: &Mutex<StdinLines>,
        rule: &config::ApprovalRule,
        shown: &str,
        eof: &mut bool,
    ) -> Result<(), ()> {
        let (Some(access), Some(masker)) = (&self.access, &self.masker) else {
            return Err(());
        };
        let asking = Asking {
            ctx: &self.ctx,
            client: &self.client,
            recording: self.rec.as_deref(),
            access,
            rule,
            what: "stdin line",
        };
        let command = recording::mask_text(masker, shown);
        let held = match asking.ask(command, None, "").await {
            Ok(h) => h,
            Err(e) => return self.end_stdin(&not_asked(&e, REST_NOT_RUN)).await,
        };
        let gone = self.done.child_token();
        let wait = asking.decision(&held, &gone, REST_NOT_RUN);
        tokio::pin!(wait);
        let mut reading = true;
        let decision = loop {
            // Past the channel's bound, input is taken slowly (see `inflow`), never left unread.
            let next = async {
                inflow.room(&gone).await;
                rx.wait().await
            };
            tokio::select! {
                d = &mut wait => break d,
                m = next, if reading => match m {
                    Some(ChannelMsg::Data { data }) if inflow.over_limit(data.len()) => {
                        warn!("client sent too much input while a stdin line waited for approval");
                        gone.cancel();
                        return Err(());
                    }
                    Some(ChannelMsg::Data { data }) => {
                        self.relayed.input.fetch_add(data.len() as u64, Ordering::Relaxed);
                        if self.rec.as_ref().is_some_and(|r| r.records_input) {
                            let _ = self.record(RecEvent::Input(data.clone())).await;
                        }
                        if self.take_stdin(lines, inflow, &data).await.is_err() {
                            gone.cancel();
                            return Err(());
                        }
                    }
                    Some(ChannelMsg::Eof) => *eof = true,
                    Some(ChannelMsg::Close) | None => {
                        reading = false;
                        gone.cancel();
                    }
                    Some(_) => {}
                },
                // Nothing runs unrecorded: the channel ends (the pumps tell the user).
                _ = self.recording_failed() => {
                    gone.cancel();
                    return Err(());
                }
            }
        };
        match decision {
            Ok(Decision::Approved(by)) if !gone.is_cancelled() => {
                self.client
                    .say(&format!("bastion: approved by {}", by.join(", ")))
                    .await;
                Ok(())
            }
            Ok(d) => {
                let text = refusal(&d, held.id, rule, REST_NOT_RUN);
                self.end_stdin(&text).await
            }
            Err(why) => self.end_stdin(&why).await,
        }
    }

    /// Ends the channel: the program reads nothing more, the user is told why.
    async fn end_stdin(&self, why: &str) -> Result<(), ()> {
        warn!("input not passed on: the channel ends");
        self.client_left.store(true, Ordering::Relaxed);
        self.client.fail(&format!("bastion: {why}"), 126).await;
        Err(())
    }
}
