//! Approval holds inside interactive sessions: at Enter, the line on the screen is judged;
//! a matching line waits (keystrokes held, Ctrl-C cancels) until reviewers decide.

use std::time::Duration;

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf};
use tracing::info;

use super::pumps::{Pumps, ShellHold, MAX_HELD_INPUT};
use super::recording::{self, RecEvent};
use super::upward::Upward;

/// How long the screen stays quiet after the echo before the line is read.
const QUIET: Duration = Duration::from_millis(30);
/// Longest wait for the screen to go quiet once the echo has begun (output that never stops).
const BUSY: Duration = Duration::from_millis(300);
/// Longest wait for an echo at all (password prompts, `stty -echo`).
const NO_ECHO: Duration = Duration::from_millis(500);
/// Longest wait for the echo of a recalled or completed line: its text is known only from the
/// screen, so without an echo the line is not let through.
const RECALL_NO_ECHO: Duration = Duration::from_secs(3);
/// Told when the audit store cannot take or follow a request (the bastion fails closed).
const UNAVAILABLE: &str =
    "the approval could not be requested (audit store unavailable); the line was not run";

impl ShellHold {
    /// Waits until the shell has echoed the keystrokes sent before this Enter: a recalled
    /// history line (Up) or a completion (Tab) typed just before Enter must be on the screen
    /// when the line is judged, or a fast Enter would slip past the rules. False when a recall
    /// or completion key was followed by no output at all: the line holds text that is not on
    /// the screen, and cannot be judged. Full-screen programs are exempt (keys there are not
    /// shell lines, and many produce no output).
    async fn settled(&self) -> bool {
        loop {
            let Ok(c) = self.echo.lock().map(|c| *c) else {
                return false;
            };
            let echoed = c.output >= c.input;
            let unseen = c.recall.is_some_and(|r| c.output < r)
                && !self.tracker.lock().is_ok_and(|t| t.alternate_screen());
            let now = std::time::Instant::now();
            let wait = if echoed {
                let quiet = c.output + QUIET;
                let cap = c.input + BUSY;
                quiet.min(cap)
            } else if unseen {
                c.input + RECALL_NO_ECHO
            } else {
                c.input + NO_ECHO
            };
            if wait <= now {
                return echoed || !unseen;
            }
            tokio::time::sleep((wait - now).min(Duration::from_millis(10))).await;
        }
    }
}

impl Pumps {
    /// Enter was typed in a shell that approval rules watch: each line ended by an Enter in
    /// `data` (the first at `at`) is judged on the screen, and its Enter held until the line is
    /// approved; keys after a line that is not run are dropped with it. `Err` ends the channel.
    pub(super) async fn at_enter(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        data: Bytes,
        at: usize,
    ) -> Result<(), ()> {
        let Some(hold) = &self.shell_hold else {
            return up.data(data);
        };
        let (mut data, mut at) = (data, at);
        loop {
            let before = data.slice(..at);
            let after = data.slice(at + 1..);
            if !before.is_empty() {
                hold.typed(&before);
                up.data(before)?;
            }
            let verdict = self.judge_line(rx, up, hold).await;
            hold.entered();
            let Some(typed_while_held) = verdict? else {
                return Ok(());
            };
            up.data(Bytes::from_static(b"\r"))?;
            // What follows this Enter starts the next line, judged the same way.
            let next = if typed_while_held.is_empty() {
                after
            } else {
                let mut v = after.to_vec();
                v.extend_from_slice(&typed_while_held);
                Bytes::from(v)
            };
            match next.iter().position(|&b| b == b'\r') {
                Some(i) => (data, at) = (next, i),
                None => {
                    if !next.is_empty() {
                        hold.typed(&next);
                        up.data(next)?;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Judges the line on the screen once the echo has settled. `Some(keys)`: the Enter may go,
    /// followed by `keys` typed while the line was held; `None`: the line was cleared and the
    /// user told why.
    async fn judge_line(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        hold: &ShellHold,
    ) -> Result<Option<Vec<u8>>, ()> {
        if !hold.settled().await {
            info!("line not run: recalled text never reached the screen");
            self.client
                .say(&format!(
                    "bastion: the shell did not show the recalled or completed line within {}, so \
                     it could not be checked; it was not run (type it again)",
                    crate::human::duration(RECALL_NO_ECHO)
                ))
                .await;
            up.data(Bytes::from_static(b"\x15"))?;
            return Ok(None);
        }
        let line = hold
            .tracker
            .lock()
            .map(|t| t.current_line())
            .unwrap_or_default();
        let Some(rule) = self
            .ctx
            .shared
            .approvals
            .matching(&hold.access, Some(&line))
        else {
            return Ok(Some(Vec::new()));
        };
        let held = self.hold_line(rx, up, hold, rule, &line).await?;
        use crate::approval::hold::Decision;
        let (clear, text) = match held {
            // Keystrokes typed while waiting go through only once the line is approved.
            Ok((Decision::Approved(by), typed)) => {
                let text = format!("approved by {}", by.join(", "));
                self.client.say(&format!("bastion: {text}")).await;
                return Ok(Some(typed));
            }
            Ok((Decision::Denied { by, reason }, _)) => (
                &b"\x15"[..],
                format!("denied by {by}: {reason}; the line was not run"),
            ),
            Ok((Decision::TimedOut, _)) => (
                &b"\x15"[..],
                format!(
                    "nobody decided within {}; the line was not run",
                    rule.timeout
                ),
            ),
            Ok((Decision::Cancelled, _)) => {
                (&b"\x03"[..], "cancelled; the line was not run".into())
            }
            Err(why) => (&b"\x15"[..], why),
        };
        self.client.say(&format!("bastion: {text}")).await;
        up.data(Bytes::from_static(clear))?;
        Ok(None)
    }

    /// Records keys typed while a line is held, when the channel records input.
    async fn record_typed(&self, data: &Bytes) {
        if self.rec.as_ref().is_some_and(|r| r.records_input) {
            // A failed recording ends the channel through the pumps' own watch.
            let _ = self.record(RecEvent::Input(data.clone())).await;
        }
    }

    /// Stores the request and waits for it, holding keystrokes; Ctrl-C cancels. `Ok(Err(why))`
    /// when the request could not be stored or followed: the line is not run, and `why` says
    /// so to the user.
    async fn hold_line(
        &self,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        hold: &ShellHold,
        rule: &config::ApprovalRule,
        line: &str,
    ) -> Result<Result<(crate::approval::hold::Decision, Vec<u8>), String>, ()> {
        use crate::approval::hold;
        let audit = &self.ctx.shared.audit;
        let screen = hold
            .tracker
            .lock()
            .ok()
            .map(|t| recording::mask_text(&hold.masker, &t.screen_text()));
        let command = recording::mask_text(&hold.masker, line);
        let request = hold::new_request(
            &self.ctx,
            u32::from(self.client.id),
            &hold.access,
            rule,
            command,
            screen,
        );
        let max_pending = self.ctx.shared.approvals.max_pending();
        let notifier = self.ctx.shared.notifier.as_ref();
        let held = match hold::request(audit, notifier, rule, request, max_pending).await {
            Ok(h) => h,
            Err(e @ hold::RequestError::TooMany(_)) => {
                return Ok(Err(format!(
                    "{e} (the most one person may have); the line was not run"
                )))
            }
            Err(hold::RequestError::Audit(e)) => {
                tracing::error!("approval request failed: {e}");
                return Ok(Err(UNAVAILABLE.into()));
            }
        };
        info!(request = held.id, rule = %rule.name, "shell line held for approval");
        let _ = self
            .record(RecEvent::Marker(format!(
                "approval requested: request {} (rule \"{}\")",
                held.id, rule.name
            )))
            .await;
        self.client
            .say(&format!(
                "bastion: held for approval: request {} (rule \"{}\") — waiting; Ctrl-C cancels",
                held.id, rule.name
            ))
            .await;
        let gone = self.done.child_token();
        let wait = hold::wait(audit, self.ctx.shared.notifier.as_ref(), &held, &gone);
        tokio::pin!(wait);
        let mut typed: Vec<u8> = Vec::new();
        let decision = loop {
            tokio::select! {
                d = &mut wait => break d,
                m = rx.wait() => match m {
                    Some(ChannelMsg::Data { data }) if data.contains(&0x03) => {
                        self.record_typed(&data).await;
                        gone.cancel();
                    }
                    Some(ChannelMsg::Data { data }) => {
                        // Recorded as typed, even if it never reaches the target.
                        self.record_typed(&data).await;
                        if typed.len() + data.len() <= MAX_HELD_INPUT {
                            typed.extend_from_slice(&data);
                        }
                    }
                    Some(ChannelMsg::WindowChange { col_width, row_height, pix_width, pix_height }) => {
                        let _ = up.window_change(col_width, row_height, pix_width, pix_height);
                    }
                    Some(ChannelMsg::Close) | None => {
                        gone.cancel();
                        return Err(());
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
        let decision = match decision {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("approval wait failed: {e}");
                return Ok(Err(UNAVAILABLE.into()));
            }
        };
        let marker = decision.marker(held.id);
        info!(request = held.id, "{marker}");
        let _ = self.record(RecEvent::Marker(marker)).await;
        Ok(Ok((decision, typed)))
    }
}
