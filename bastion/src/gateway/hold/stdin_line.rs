//! Lines a program without a terminal reads from stdin, judged before they reach it (see
//! [`crate::approval::stdin_lines`]). A line that matches a rule waits for reviewers, the
//! input read on meanwhile within the channel's bounds; a line that is not approved ends the
//! channel, and the program gets nothing more.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf};
use tracing::warn;

use super::asking::{Asking, Flow, NotApproved, WhileHeld};
use crate::approval::stdin_lines::{Interpreter, StdinLines, MAX_LINE};
use crate::gateway::refusal::status;
use crate::gateway::relay::ended::Ended;
use crate::gateway::relay::inflow::ChannelInflow;
use crate::gateway::relay::io::ChannelIo;
use crate::gateway::relay::line_judge::{Input, Judged, LineJudge};
use crate::gateway::relay::upward::Upward;
use crate::masking::mask_text;
use crate::policy::Access;

/// What the user is told happens to the input after a line that is not approved.
const REST_NOT_RUN: &str = "this line and the rest of the input were not run";

/// A program reading its commands from stdin, whose lines `access`'s rules judge.
pub struct StdinHold {
    lines: Mutex<StdinLines>,
    access: Access,
    masker: mask::Masker,
}

impl StdinHold {
    /// Judges the lines `interpreter` reads.
    pub fn new(interpreter: Interpreter, access: Access, masker: mask::Masker) -> StdinHold {
        StdinHold {
            lines: Mutex::new(StdinLines::new(interpreter)),
            access,
            masker,
        }
    }

    /// Input for the program: each complete line is passed on once judged. `Err` ends the
    /// channel (the user has been told why).
    async fn data(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
        data: Bytes,
    ) -> Result<(), Ended> {
        self.take(io, inflow, &data).await?;
        self.pass_lines(io, rx, up, inflow, false).await
    }

    /// The end of the input: the last line, even without a newline, is judged too.
    async fn eof(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
    ) -> Result<(), Ended> {
        self.pass_lines(io, rx, up, inflow, true).await
    }

    /// Keeps `data` until its lines are complete.
    async fn take(&self, io: &ChannelIo, inflow: &ChannelInflow, data: &[u8]) -> Result<(), Ended> {
        let taken = match self.lines.lock() {
            Ok(mut l) => l.push(data).is_ok(),
            Err(_) => false,
        };
        inflow.add(data.len());
        if !taken {
            let why = format!(
                "a line of more than {} came on stdin, which is not a command the bastion can \
                 check; {REST_NOT_RUN}",
                crate::human::bytes(MAX_LINE as u64)
            );
            return end(io, &why).await;
        }
        Ok(())
    }

    /// Passes on the complete lines (at `eof`, all that is left, then EOF), each once judged.
    async fn pass_lines(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        inflow: &ChannelInflow,
        mut eof: bool,
    ) -> Result<(), Ended> {
        loop {
            let next = self.lines.lock().ok().and_then(|mut l| l.next_line(eof));
            let Some(line) = next else { break };
            inflow.sub(line.bytes.len());
            let rule = io
                .ctx
                .services
                .approvals
                .rules
                .matching_line(&self.access, &line.readings);
            if let Some(rule) = rule {
                Box::pin(self.hold_line(io, rx, inflow, rule, &line.shown, &mut eof)).await?;
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
    async fn hold_line(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        inflow: &ChannelInflow,
        rule: &config::ApprovalRule,
        shown: &str,
        eof: &mut bool,
    ) -> Result<(), Ended> {
        let asking = Asking {
            io,
            access: &self.access,
            rule,
            what: "stdin line",
            not_run: REST_NOT_RUN,
        };
        let mut reading = ReadOn {
            io,
            hold: self,
            inflow,
            eof,
        };
        let command = mask_text(&self.masker, shown);
        match asking
            .hold(command, None, "", rx, Some(inflow), &mut reading)
            .await
        {
            Ok(()) => Ok(()),
            Err(NotApproved::Ended | NotApproved::Unrecorded) => Err(Ended),
            Err(n) => end(io, n.words().unwrap_or(REST_NOT_RUN)).await,
        }
    }
}

impl LineJudge for StdinHold {
    fn data<'a>(&'a self, input: Input<'a>, data: Bytes) -> Judged<'a> {
        Box::pin(StdinHold::data(
            self,
            input.io,
            input.rx,
            input.up,
            input.inflow,
            data,
        ))
    }

    fn eof<'a>(&'a self, input: Input<'a>) -> Judged<'a> {
        Box::pin(StdinHold::eof(
            self,
            input.io,
            input.rx,
            input.up,
            input.inflow,
        ))
    }
}

/// What a program's channel does with its client's input while a line is held: it reads on.
struct ReadOn<'a> {
    io: &'a ChannelIo,
    hold: &'a StdinHold,
    inflow: &'a ChannelInflow,
    /// Set when the client's EOF comes.
    eof: &'a mut bool,
}

impl WhileHeld for ReadOn<'_> {
    async fn input(&mut self, m: Option<ChannelMsg>) -> Flow {
        match m {
            Some(ChannelMsg::Data { data }) if self.inflow.over_limit(data.len()) => {
                warn!("client sent too much input while a stdin line waited for approval");
                Flow::End
            }
            Some(ChannelMsg::Data { data }) => {
                self.io.input(&data).await;
                if self.hold.take(self.io, self.inflow, &data).await.is_err() {
                    return Flow::End;
                }
                Flow::Wait
            }
            Some(ChannelMsg::Eof) => {
                *self.eof = true;
                Flow::Wait
            }
            Some(ChannelMsg::Close) | None => Flow::Cancel,
            Some(_) => Flow::Wait,
        }
    }
}

/// Ends the channel: the program reads nothing more, the user is told why.
async fn end(io: &ChannelIo, why: &str) -> Result<(), Ended> {
    warn!("input not passed on: the channel ends");
    io.client_left.store(true, Ordering::Relaxed);
    io.client
        .fail(&format!("bastion: {why}"), status::NOT_RUN)
        .await;
    Err(Ended)
}
