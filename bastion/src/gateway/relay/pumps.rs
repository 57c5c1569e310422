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
            let sent = match msg {
                Some(ChannelMsg::Data { data }) => {
                    io.ctx.touch();
                    if !io.input(&data).await {
                        break;
                    }
                    if let Some(t) = &self.typed {
                        t.typed(&data);
                    }
                    if up.over_limit(data.len()) {
                        warn!("the target is not reading its input while the client keeps sending: channel ended");
                        over_limit = true;
                        break;
                    }
                    // Boxed: line holds are rare, and idle sessions should not carry their state.
                    match &self.lines {
                        Some(judge) => {
                            let input = Input {
                                io,
                                rx: &mut rx,
                                up,
                                inflow,
                            };
                            judge.data(input, data).await
                        }
                        None => up.data(data),
                    }
                }
                Some(ChannelMsg::Eof) => match &self.lines {
                    Some(judge) => {
                        let input = Input {
                            io,
                            rx: &mut rx,
                            up,
                            inflow,
                        };
                        judge.eof(input).await
                    }
                    None => up.eof(),
                },
                Some(ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                }) => {
                    if !io.record(RecEvent::Resize(col_width, row_height)).await {
                        break;
                    }
                    if let Some(judge) = &self.lines {
                        judge.resize(col_width, row_height);
                    }
                    let (cols, rows) =
                        crate::gateway::hold::screen_line::capped(col_width, row_height);
                    up.window_change(cols, rows, pix_width, pix_height)
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
                    Ok(())
                }
                Some(ChannelMsg::Signal { signal }) => {
                    // A client may name any signal; its name is stored masked like its text.
                    let name = io.ctx.shared.maskers.client_text(&sig_name(&signal));
                    info!(signal = name, "signal");
                    if !io.record(RecEvent::Marker(format!("signal {name}"))).await {
                        break;
                    }
                    up.signal(signal)
                }
                Some(ChannelMsg::Close) | None => {
                    io.client_left.store(true, Ordering::Relaxed);
                    // The client is done (OpenSSH's ControlMaster closes right after EOF). The
                    // command may still be finishing: let the output pump relay its exit
                    // status, for a while, before everything is torn down.
                    let _ = up.eof();
                    tokio::select! {
                        _ = io.done.cancelled() => {}
                        _ = tokio::time::sleep(CLOSE_DRAIN) => {}
                    }
                    break;
                }
                Some(_) => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        io.input_ended().await;
        if over_limit {
            // The reader goes first: while the user is told, the connection must not wait on
            // it.
            drop(rx);
            io.client_left.store(true, Ordering::Relaxed);
            io.client
                .fail(
                    &format!(
                        "bastion: the target is not reading what you send ({} waiting); the channel is closed",
                        crate::human::bytes(super::inflow::LIMIT as u64)
                    ),
                    status::LOST,
                )
                .await;
        }
        io.done.cancel();
    }

    /// Target → client.
    async fn output(
        &self,
        mut rx: ChannelReadHalf,
        up: Arc<ChannelWriteHalf<russh::client::Msg>>,
        mut pending: VecDeque<Pending>,
        mut redactor: OutputRedactor,
    ) -> ExitInfo {
        let io = &self.io;
        let mut notices = io.ctx.notices.subscribe();
        let tx = &io.client.tx;
        let mut exit: Option<String> = None;
        let mut info = ExitInfo::default();
        let mut shutting_down = false;
        let mut eof_due: Option<std::time::Instant> = None;
        // Whether the client's channel has been closed (or can no longer be written to).
        let mut client_closed = false;
        loop {
            let deadline = redactor.deadline();
            let msg = tokio::select! {
                m = rx.wait() => m,
                _ = sleep_until(eof_due), if eof_due.is_some() => {
                    eof_due = None;
                    if tx.eof().await.is_err() {
                        break;
                    }
                    continue;
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    if Box::pin(self.send_released(redactor.poll())).await.is_err() {
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
                _ = io.ctx.shared.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    io.client.say("bastion: the bastion is shutting down; this session ends now.").await;
                    continue;
                }
                _ = io.done.cancelled() => break,
                _ = io.recording_failed() => break,
            };
            let r = match msg {
                Some(ChannelMsg::Data { data }) => {
                    io.ctx.touch();
                    io.ctx.shared.metrics.bytes_out.inc_by(data.len() as u64);
                    io.relayed().output(data.len());
                    // The taps, in their order (see the module's documentation).
                    if let Some(judge) = &self.lines {
                        judge.output(&data);
                    }
                    let echo = self.typed.as_ref().is_some_and(|t| t.is_echo(&data));
                    let shown = redactor.out(&data, echo);
                    if let Some(r) = shown.recording {
                        if !io.record(RecEvent::Output(r)).await {
                            continue;
                        }
                    }
                    match shown.screen {
                        Some(data) => self.send(data).await,
                        None => Ok(()),
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext }) => {
                    io.ctx.touch();
                    io.relayed().output(data.len());
                    let shown = redactor.err(&data);
                    if let Some(r) = shown.recording {
                        if !io.record(RecEvent::Stderr(r)).await {
                            continue;
                        }
                    }
                    match shown.screen {
                        Some(data) => self.send_stderr(ext, data).await,
                        None => Ok(()),
                    }
                }
                Some(ChannelMsg::Eof) => {
                    let _ = Box::pin(self.send_released(redactor.finish())).await;
                    // The client may close the channel as soon as it sees EOF, and russh drops
                    // a closed channel at once: hold EOF back until the exit status (or the
                    // close) has been relayed, for a moment at most.
                    if self.hold_eof {
                        eof_due = Some(std::time::Instant::now() + EOF_HOLD);
                        Ok(())
                    } else {
                        tx.eof().await.map_err(|_| Ended)
                    }
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    let _ = Box::pin(self.send_released(redactor.finish())).await;
                    exit = Some(exit_status.to_string());
                    info.status = Some(exit_status);
                    io.record(RecEvent::Exit(exit_status.to_string())).await;
                    let r = tx.exit_status(exit_status).await;
                    if eof_due.take().is_some() {
                        let _ = tx.eof().await;
                    }
                    r.map_err(|_| Ended)
                }
                Some(ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    error_message,
                    lang_tag,
                }) => {
                    let name = io.ctx.shared.maskers.client_text(&sig_name(&signal_name));
                    let text = format!("signal {name}");
                    info.signal = Some(name);
                    io.record(RecEvent::Exit(text.clone())).await;
                    exit = Some(text);
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
                    if eof_due.take().is_some() {
                        let _ = tx.eof().await;
                    }
                    Ok(())
                }
                Some(ChannelMsg::Success) => {
                    pending.pop_front();
                    Ok(())
                }
                Some(ChannelMsg::Failure) => match pending.pop_front() {
                    Some(Pending::Pty) => {
                        warn!("target refused the pty");
                        io.client
                            .say("bastion: the target refused to allocate a pty")
                            .await;
                        Ok(())
                    }
                    Some(Pending::Start(kind)) => {
                        warn!("target refused the {kind} request");
                        Box::pin(io.client.fail(
                            &format!("bastion: the target refused the {kind} request"),
                            status::REFUSED,
                        ))
                        .await;
                        client_closed = true;
                        break;
                    }
                    None => Ok(()),
                },
                Some(ChannelMsg::Close) | None => {
                    let _ = Box::pin(self.send_released(redactor.finish())).await;
                    if msg.is_none() && exit.is_none() {
                        // No close from the target: its connection went away under the command.
                        self.target_lost().await;
                    }
                    if eof_due.take().is_some() {
                        let _ = tx.eof().await;
                    }
                    let _ = tx.close().await;
                    client_closed = true;
                    break;
                }
                Some(_) => Ok(()),
            };
            if r.is_err() {
                // A write given up because the channel is done is not the client gone: the
                // user may still have to be told why.
                client_closed = !io.done.is_cancelled();
                break;
            }
        }
        // Whichever pump noticed first, the user is told why the session ended.
        if io.unrecorded() {
            io.ctx.shared.metrics.recording_failures.inc();
            Box::pin(io.client.fail("bastion: the session recording failed; the session is closed (sessions must be recorded)", status::LOST))
                .await;
        } else if !client_closed
            && exit.is_none()
            && !io.client_left.load(Ordering::Relaxed)
            && !io.ctx.closed.is_cancelled()
        {
            // The input side stopped because the target could no longer be written to: the
            // client is still there and must not be left waiting on an open channel.
            self.target_lost().await;
            let _ = tx.eof().await;
            let _ = tx.close().await;
        }
        info!(exit = exit.as_deref().unwrap_or("none"), "channel closed");
        // The target's event loop may be waiting to hand this reader more output: let it go
        // before asking that loop to close the channel.
        drop(rx);
        close_upstream(&up).await;
        io.done.cancel();
        info
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
