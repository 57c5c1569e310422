//! The two directions of a connected channel: client → target (input) and target → client
//! (output), each its own loop so that a stalled direction never holds up the other. The pumps
//! move bytes; on the way, each chunk passes the channel's taps in a fixed order.
//!
//! Output, target → client:
//! 1. the line judge ([`super::line_judge`]), if the channel's lines are judged, reads the
//!    screen as the target draws it: a line is judged from what the shell shows, before the
//!    user can act on it;
//! 2. the redactor ([`super::redactor`]) masks it, once for the recording and the screen;
//! 3. the recording takes the exactly masked bytes (a recording that fails ends the channel);
//! 4. watching reviewers ([`crate::gateway::watch`]), then the client, get the screen's.
//!
//! Input, client → target: counted and recorded (masked, [`super::io::ChannelIo::input`]),
//! kept for recognising its echo, then judged line by line when approval rules watch the
//! channel ([`super::line_judge`]), and queued for the target ([`super::upward`]).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tracing::{info, warn};

use super::ended::Ended;
use super::inflow::ChannelInflow;
use super::io::{ChannelIo, ExitInfo};
use super::line_judge::{Input, LineJudge};
use super::redactor::{OutputRedactor, Released, Typed};
use super::upward::Upward;
use crate::gateway::client::target_lost_message;
use crate::gateway::recording::RecEvent;
use crate::gateway::refusal::status;
use crate::gateway::watch::Publisher;

/// A request sent upstream whose reply is still due.
#[derive(Debug, Clone, Copy)]
pub enum Pending {
    /// The pty request.
    Pty,
    /// The start request (`shell`, `exec`, `subsystem`).
    Start(&'static str),
}

/// The two directions of a connected channel.
pub struct Pumps {
    /// The channel's shared state.
    pub io: ChannelIo,
    /// Hold the target's EOF until its exit status is relayed (session channels); a port
    /// forward never gets an exit status, so its EOF goes at once.
    pub hold_eof: bool,
    /// Judges the user's lines, when approval rules watch them.
    pub lines: Option<Box<dyn LineJudge>>,
    /// Copies what the user sees to reviewers watching the session.
    pub publisher: Option<Publisher>,
    /// Recent keystrokes of a live-masked terminal, whose echo skips the masking hold.
    pub typed: Option<Typed>,
}

/// The output pump's state.
struct Output {
    /// Requests sent to the target whose replies are due.
    pending: VecDeque<Pending>,
    redactor: OutputRedactor,
    /// How the command ended, for the log.
    exit: Option<String>,
    info: ExitInfo,
    /// When the target's EOF, held for its exit status, goes anyway.
    eof_due: Option<std::time::Instant>,
    /// The client's channel has been closed (or can no longer be written to).
    client_closed: bool,
}

/// Why the input pump stopped early.
enum Stopped {
    /// The channel has ended (a side can no longer be written to, or the recording failed).
    Ended,
    /// The target does not read what the client keeps sending.
    OverLimit,
}

impl From<Ended> for Stopped {
    fn from(_: Ended) -> Stopped {
        Stopped::Ended
    }
}

/// Whether the output pump goes on after a message.
enum Next {
    Continue,
    Stop,
}

/// Longest signal name relayed.
const MAX_SIGNAL_NAME: usize = 32;

/// Longest the target's EOF waits for its exit status before it is relayed anyway.
const EOF_HOLD: std::time::Duration = std::time::Duration::from_secs(2);

/// After the client closes a channel, how long the target still has to report how the command
/// ended.
const CLOSE_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The target's end of a connected channel.
pub struct TargetEnd {
    /// What the target sends.
    pub rx: ChannelReadHalf,
    /// What goes to the target.
    pub tx: ChannelWriteHalf<russh::client::Msg>,
    /// Requests sent to the target whose replies are due.
    pub pending: VecDeque<Pending>,
}

impl Pumps {
    /// Relays until the channel ends. `early` is what the client sent before the channel
    /// started (or while its command was held for approval), counted in `inflow`: it goes
    /// first, through the same path as later input (recorded, lines judged), never straight to
    /// the target.
    ///
    /// Both directions run in this one task: when the channel's task is dropped (a client gone
    /// for good), both stop at once and release the channel's readers, which the connections'
    /// event loops may be waiting on.
    pub async fn run(
        self,
        client_rx: ChannelReadHalf,
        early: Vec<ChannelMsg>,
        target: TargetEnd,
        redactor: OutputRedactor,
        inflow: Arc<ChannelInflow>,
    ) -> ExitInfo {
        let up_tx = Arc::new(target.tx);
        let upward = Upward::start(up_tx.clone(), self.io.done.clone(), inflow.clone());
        let ((), exit) = tokio::join!(
            self.input(client_rx, early, &upward, &inflow),
            self.output(target.rx, up_tx.clone(), target.pending, redactor),
        );
        drop(upward);
        close_upstream(&up_tx).await;
        exit
    }

    /// Records and sends what the redactor released.
    /// `Err` when the client cannot be written to any more (or the channel is done: a write
    /// waiting for window that never comes must not keep the channel alive).
    async fn send_released(&self, r: Released) -> Result<(), Ended> {
        if let Some(out) = r.out.recording {
            self.io.record(RecEvent::Output(out)).await;
        }
        if let Some(err) = r.err.recording {
            self.io.record(RecEvent::Stderr(err)).await;
        }
        if let Some(out) = r.out.screen {
            self.send(out).await?;
        }
        if let Some(err) = r.err.screen {
            self.send_stderr(1, err).await?;
        }
        Ok(())
    }

    /// Shows output to watchers and the client.
    async fn send(&self, data: Bytes) -> Result<(), Ended> {
        if let Some(p) = &self.publisher {
            p.send(&data);
        }
        tokio::select! {
            r = self.io.client.tx.data_bytes(data) => r.map_err(|_| Ended),
            _ = self.io.done.cancelled() => Err(Ended),
        }
    }

    /// Sends extended data (stderr) to the client.
    async fn send_stderr(&self, ext: u32, data: Bytes) -> Result<(), Ended> {
        tokio::select! {
            r = self.io.client.tx.extended_data_bytes(ext, data) => r.map_err(|_| Ended),
            _ = self.io.done.cancelled() => Err(Ended),
        }
    }

    /// Client → target, starting with `early`.
    async fn input(
        &self,
        mut rx: ChannelReadHalf,
        early: Vec<ChannelMsg>,
        up: &Upward,
        inflow: &ChannelInflow,
    ) {
        let io = &self.io;
        let mut early = early.into_iter();
        let mut over_limit = false;
        loop {
            inflow.room(&io.done).await;
            if io.unrecorded() {
                break;
            }
            let msg = match early.next() {
                Some(m) => {
                    // Counted while it waited; from here on it is counted where it waits next.
                    inflow.sub(super::early::cost(&m));
                    Some(m)
                }
                None => tokio::select! {
                    m = rx.wait() => m,
                    _ = io.done.cancelled() => break,
                    _ = io.recording_failed() => break,
                },
            };
            let closing = matches!(msg, Some(ChannelMsg::Close) | None);
            let input = Input {
                io,
                rx: &mut rx,
                up,
                inflow,
            };
            match Box::pin(self.client_said(input, msg)).await {
                Ok(()) if !closing => {}
                Ok(()) => {
                    io.client_left.store(true, Ordering::Relaxed);
                    // The client is done (OpenSSH's ControlMaster closes right after EOF).
                    // The command may still be finishing: let the output pump relay its exit
                    // status, for a while, before everything is torn down.
                    let _ = up.eof();
                    tokio::select! {
                        _ = io.done.cancelled() => {}
                        _ = tokio::time::sleep(CLOSE_DRAIN) => {}
                    }
                    break;
                }
                Err(Stopped::OverLimit) => {
                    over_limit = true;
                    break;
                }
                Err(Stopped::Ended) => break,
            }
        }
        io.input_ended().await;
        if over_limit {
            // The reader goes first: while the user is told, the connection must not wait on
            // it.
            drop(rx);
            io.client_left.store(true, Ordering::Relaxed);
            let text = format!(
                "bastion: the target is not reading what you send ({} waiting); the channel is closed",
                crate::human::bytes(super::inflow::LIMIT as u64)
            );
            io.client.fail(&text, status::LOST).await;
        }
        io.done.cancel();
    }

    /// One message from the client, through the taps to the target's queue.
    async fn client_said(&self, input: Input<'_>, msg: Option<ChannelMsg>) -> Result<(), Stopped> {
        let (io, up) = (input.io, input.up);
        match msg {
            Some(ChannelMsg::Data { data }) => {
                io.ctx.touch();
                if !io.input(&data).await {
                    return Err(Stopped::Ended);
                }
                if let Some(t) = &self.typed {
                    t.typed(&data);
                }
                if up.over_limit(data.len()) {
                    warn!("the target is not reading its input while the client keeps sending: channel ended");
                    return Err(Stopped::OverLimit);
                }
                match &self.lines {
                    Some(judge) => judge.data(input, data).await?,
                    None => up.data(data)?,
                }
            }
            Some(ChannelMsg::Eof) => match &self.lines {
                Some(judge) => judge.eof(input).await?,
                None => up.eof()?,
            },
            Some(ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            }) => {
                if !io.record(RecEvent::Resize(col_width, row_height)).await {
                    return Err(Stopped::Ended);
                }
                if let Some(judge) = &self.lines {
                    judge.resize(col_width, row_height);
                }
                let (cols, rows) = crate::gateway::hold::screen_line::capped(col_width, row_height);
                up.window_change(cols, rows, pix_width, pix_height)?;
            }
            // A signal name is a few letters; a long one is only a way to fill logs and
            // recordings.
            Some(ChannelMsg::Signal {
                signal: russh::Sig::Custom(name),
            }) if name.len() > MAX_SIGNAL_NAME => {
                warn!(
                    length = name.len(),
                    "signal request with an overlong name ignored"
                );
            }
            Some(ChannelMsg::Signal { signal }) => {
                // A client may name any signal; its name is stored masked like its text.
                let name = io.ctx.services.maskers.client_text(&sig_name(&signal));
                info!(signal = name, "signal");
                if !io.record(RecEvent::Marker(format!("signal {name}"))).await {
                    return Err(Stopped::Ended);
                }
                up.signal(signal)?;
            }
            // The caller winds the channel down.
            Some(ChannelMsg::Close) | None => {}
            Some(_) => {}
        }
        Ok(())
    }

    /// Target → client.
    async fn output(
        &self,
        mut rx: ChannelReadHalf,
        up: Arc<ChannelWriteHalf<russh::client::Msg>>,
        pending: VecDeque<Pending>,
        redactor: OutputRedactor,
    ) -> ExitInfo {
        let io = &self.io;
        let mut notices = io.ctx.notices.subscribe();
        let mut out = Output {
            pending,
            redactor,
            exit: None,
            info: ExitInfo::default(),
            eof_due: None,
            client_closed: false,
        };
        let mut shutting_down = false;
        loop {
            let deadline = out.redactor.deadline();
            let msg = tokio::select! {
                m = rx.wait() => m,
                _ = sleep_until(out.eof_due), if out.eof_due.is_some() => {
                    out.eof_due = None;
                    if io.client.tx.eof().await.is_err() {
                        break;
                    }
                    continue;
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    if Box::pin(self.send_released(out.redactor.poll())).await.is_err() {
                        break;
                    }
                    continue;
                }
                n = notices.recv() => {
                    if let Ok(text) = n {
                        Box::pin(io.client.say(&text)).await;
                    }
                    continue;
                }
                _ = io.ctx.services.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    io.client.say("bastion: the bastion is shutting down; this session ends now.").await;
                    continue;
                }
                _ = io.done.cancelled() => break,
                _ = io.recording_failed() => break,
            };
            match Box::pin(self.target_said(&mut out, msg)).await {
                Ok(Next::Continue) => {}
                Ok(Next::Stop) => break,
                Err(Ended) => {
                    // A write given up because the channel is done is not the client gone:
                    // the user may still have to be told why.
                    out.client_closed = !io.done.is_cancelled();
                    break;
                }
            }
        }
        // What is still held (output after the exit status, cut off) reaches the recording;
        // the screen has been served or is gone.
        let rest = out.redactor.finish();
        if let Some(data) = rest.out.recording {
            io.record(RecEvent::Output(data)).await;
        }
        if let Some(data) = rest.err.recording {
            io.record(RecEvent::Stderr(data)).await;
        }
        Box::pin(self.ended(&out)).await;
        info!(
            exit = out.exit.as_deref().unwrap_or("none"),
            "channel closed"
        );
        // The target's event loop may be waiting to hand this reader more output: let it go
        // before asking that loop to close the channel.
        drop(rx);
        close_upstream(&up).await;
        io.done.cancel();
        out.info
    }

    /// One message from the target, through the taps (in the module's order) to the client.
    /// One arm per kind of message, kept together: EOF, exit status and close share the
    /// ordering rules that [`EOF_HOLD`] describes.
    async fn target_said(&self, out: &mut Output, msg: Option<ChannelMsg>) -> Result<Next, Ended> {
        let io = &self.io;
        let tx = &io.client.tx;
        match msg {
            Some(ChannelMsg::Data { data }) => {
                io.ctx.touch();
                io.ctx.services.metrics.bytes_out.inc_by(data.len() as u64);
                io.relayed().output(data.len());
                if let Some(judge) = &self.lines {
                    judge.output(&data);
                }
                let echo = self.typed.as_ref().is_some_and(|t| t.is_echo(&data));
                let shown = out.redactor.out(&data, echo);
                if let Some(r) = shown.recording {
                    if !io.record(RecEvent::Output(r)).await {
                        // The recording's failure ends the channel through the loop's watch.
                        return Ok(Next::Continue);
                    }
                }
                if let Some(data) = shown.screen {
                    self.send(data).await?;
                }
            }
            Some(ChannelMsg::ExtendedData { data, ext }) => {
                io.ctx.touch();
                io.relayed().output(data.len());
                let shown = out.redactor.err(&data);
                if let Some(r) = shown.recording {
                    if !io.record(RecEvent::Stderr(r)).await {
                        return Ok(Next::Continue);
                    }
                }
                if let Some(data) = shown.screen {
                    self.send_stderr(ext, data).await?;
                }
            }
            Some(ChannelMsg::Eof) => {
                let _ = Box::pin(self.send_released(out.redactor.finish())).await;
                // The client may close the channel as soon as it sees EOF, and russh drops a
                // closed channel at once: hold EOF back until the exit status (or the close)
                // has been relayed, for a moment at most.
                if self.hold_eof {
                    out.eof_due = Some(std::time::Instant::now() + EOF_HOLD);
                } else {
                    tx.eof().await.map_err(|_| Ended)?;
                }
            }
            Some(ChannelMsg::ExitStatus { exit_status }) => {
                // Output may still follow the exit status: shown now, not ended.
                let _ = Box::pin(self.send_released(out.redactor.settle())).await;
                out.exit = Some(exit_status.to_string());
                out.info.status = Some(exit_status);
                io.record(RecEvent::Exit(exit_status.to_string())).await;
                let r = tx.exit_status(exit_status).await;
                if out.eof_due.take().is_some() {
                    let _ = tx.eof().await;
                }
                r.map_err(|_| Ended)?;
            }
            Some(ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                lang_tag,
            }) => {
                let name = io.ctx.services.maskers.client_text(&sig_name(&signal_name));
                let text = format!("signal {name}");
                out.info.signal = Some(name);
                io.record(RecEvent::Exit(text.clone())).await;
                out.exit = Some(text);
                let _ = io
                    .client
                    .handle
                    .exit_signal_request(
                        io.client.id,
                        signal_name,
                        core_dumped,
                        error_message,
                        lang_tag,
                    )
                    .await;
                if out.eof_due.take().is_some() {
                    let _ = tx.eof().await;
                }
            }
            Some(ChannelMsg::Success) => {
                out.pending.pop_front();
            }
            Some(ChannelMsg::Failure) => match out.pending.pop_front() {
                Some(Pending::Pty) => {
                    warn!("target refused the pty");
                    io.client
                        .say("bastion: the target refused to allocate a pty")
                        .await;
                }
                Some(Pending::Start(kind)) => {
                    warn!("target refused the {kind} request");
                    let text = format!("bastion: the target refused the {kind} request");
                    Box::pin(io.client.fail(&text, status::REFUSED)).await;
                    out.client_closed = true;
                    return Ok(Next::Stop);
                }
                None => {}
            },
            Some(ChannelMsg::Close) | None => {
                let _ = Box::pin(self.send_released(out.redactor.finish())).await;
                if msg.is_none() && out.exit.is_none() {
                    // No close from the target: its connection went away under the command.
                    self.target_lost().await;
                }
                if out.eof_due.take().is_some() {
                    let _ = tx.eof().await;
                }
                let _ = tx.close().await;
                out.client_closed = true;
                return Ok(Next::Stop);
            }
            Some(_) => {}
        }
        Ok(Next::Continue)
    }

    /// Whichever pump noticed first, the user is told why the session ended.
    async fn ended(&self, out: &Output) {
        let io = &self.io;
        if io.unrecorded() {
            io.ctx.services.metrics.recording_failures.inc();
            let text = "bastion: the session recording failed; the session is closed (sessions must be recorded)";
            Box::pin(io.client.fail(text, status::LOST)).await;
        } else if !out.client_closed
            && out.exit.is_none()
            && !io.client_left.load(Ordering::Relaxed)
            && !io.ctx.closed.is_cancelled()
        {
            // The input side stopped because the target could no longer be written to: the
            // client is still there and must not be left waiting on an open channel.
            self.target_lost().await;
            let _ = io.client.tx.eof().await;
            let _ = io.client.tx.close().await;
        }
    }

    /// Tells the user the target's connection is gone; the channel then closes without an exit
    /// status, so `ssh` exits 255 as it would if it had lost the target itself.
    async fn target_lost(&self) {
        let target = self
            .io
            .ctx
            .access()
            .map(|a| a.target.name.clone())
            .unwrap_or_default();
        warn!(target = %target, "the connection to the target was lost during the channel");
        self.io.client.say(&target_lost_message(&target)).await;
    }
}

/// A signal's name as the client or the target gave it.
fn sig_name(s: &Sig) -> String {
    match s {
        Sig::Custom(n) => n.clone(),
        other => format!("{other:?}"),
    }
}

/// Longest wait for the target's connection to take a channel close: a target that stopped
/// reading must not keep the channel's task (and its recording) open.
const UPSTREAM_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Asks the target to close its channel, waiting at most [`UPSTREAM_CLOSE_WAIT`].
async fn close_upstream(up: &ChannelWriteHalf<russh::client::Msg>) {
    let _ = tokio::time::timeout(UPSTREAM_CLOSE_WAIT, up.close()).await;
}

/// Sleeps until `deadline`; never returns for `None` (the select branch is disabled then).
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
