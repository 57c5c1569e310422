//! The two directions of a connected channel: client → target (input) and target → client
//! (output), each its own loop so that a stalled direction never holds up the other. Output is
//! recorded and live-masked on its way; input is recorded and, in watched interactive sessions,
//! judged at Enter ([`super::line_hold`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::bridge::Client;
use super::inflow::ChannelInflow;
use super::line_hold::ShellHold;
use super::live::{LiveMasks, Released};
use super::recording::{ChannelRecording, RecEvent};
use super::session::SessionCtx;
use super::upward::Upward;

/// How a channel's command ended.
#[derive(Debug, Default)]
pub(super) struct ExitInfo {
    pub(super) status: Option<u32>,
    pub(super) signal: Option<String>,
    /// Bytes from the client to the target, and back (both output streams).
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
}

/// A request sent upstream whose reply is still due.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pending {
    Pty,
    Start(&'static str),
}

/// The two directions of a connected channel.
pub(super) struct Pumps {
    pub(super) ctx: Arc<SessionCtx>,
    pub(super) client: Client,
    /// Cancelled when either direction ends for good, or the connection closes.
    pub(super) done: CancellationToken,
    /// The client closed its side of the channel (nothing more can be told to it).
    pub(super) client_left: AtomicBool,
    /// Hold the target's EOF until its exit status is relayed (session channels); a port
    /// forward never gets an exit status, so its EOF goes at once.
    pub(super) hold_eof: bool,
    /// The channel's recording (none for port forwards).
    pub(super) rec: Option<Arc<ChannelRecording>>,
    /// Command-line holds of an interactive shell, when approval rules apply to it.
    pub(super) shell_hold: Option<ShellHold>,
    /// Commands read from stdin by a program without a terminal, when approval rules apply.
    pub(super) stdin_lines: Option<std::sync::Mutex<super::stdin_lines::StdinLines>>,
    /// Where the channel goes and its masking rules (session channels).
    pub(super) access: Option<super::target::Access>,
    pub(super) masker: Option<recorder::mask::Masker>,
    /// Copies what the user sees to reviewers watching the session.
    pub(super) publisher: Option<super::watch::Publisher>,
    /// Recent keystrokes of a live-masked terminal, whose echo skips the masking hold.
    pub(super) typed: Option<super::live::Typed>,
    /// Bytes relayed each way, for the audit row (kept by the channel's task, which outlives
    /// the pumps when a client leaves for good).
    pub(super) relayed: Arc<Relayed>,
}

/// Bytes relayed by a channel's pumps.
#[derive(Debug, Default)]
pub(super) struct Relayed {
    pub(super) input: std::sync::atomic::AtomicU64,
    output: std::sync::atomic::AtomicU64,
}

impl Relayed {
    /// Bytes from the client to the target, and back (both output streams).
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.input.load(Ordering::Relaxed),
            self.output.load(Ordering::Relaxed),
        )
    }
}

/// Longest signal name relayed.
const MAX_SIGNAL_NAME: usize = 32;

/// Longest the target's EOF waits for its exit status before it is relayed anyway.
const EOF_HOLD: std::time::Duration = std::time::Duration::from_secs(2);

/// After the client closes a channel, how long the target still has to report how the command
/// ended.
const CLOSE_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

impl Pumps {
    /// `early` is what the client sent before the channel started (or while its command was
    /// held for approval), counted in `inflow`: it goes first, through the same path as later
    /// input (recorded, lines judged), never straight to the target.
    ///
    /// Both directions run in this one task: when the channel's task is dropped (a client gone
    /// for good, see [`super::bridge`]), both stop at once and release the channel's readers,
    /// which the connections' event loops may be waiting on.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run(
        self,
        client_rx: ChannelReadHalf,
        early: Vec<ChannelMsg>,
        up_rx: ChannelReadHalf,
        up_tx: Arc<ChannelWriteHalf<russh::client::Msg>>,
        pending: VecDeque<Pending>,
        live: Option<LiveMasks>,
        inflow: Arc<ChannelInflow>,
    ) -> ExitInfo {
        let upward = Upward::start(up_tx.clone(), self.done.clone(), inflow.clone());
        let ((), mut exit) = tokio::join!(
            self.input(client_rx, early, &upward, &inflow),
            self.output(up_rx, up_tx.clone(), pending, live),
        );
        drop(upward);
        close_upstream(&up_tx).await;
        (exit.bytes_in, exit.bytes_out) = self.relayed.counts();
        exit
    }

    /// Records and sends what the maskers released.
    /// `Err` when the client cannot be written to any more (or the channel is done: a write
    /// waiting for window that never comes must not keep the channel alive).
    async fn send_released(&self, r: Released) -> Result<(), ()> {
        if let Some(out) = r.out.recording {
            self.record(RecEvent::Output(out)).await;
        }
        if let Some(err) = r.err.recording {
            self.record(RecEvent::Stderr(err)).await;
        }
        if let Some(out) = r.out.screen {
            self.publish(&out);
            tokio::select! {
                r = self.client.tx.data_bytes(out) => r.map_err(drop)?,
                _ = self.done.cancelled() => return Err(()),
            }
        }
        if let Some(err) = r.err.screen {
            tokio::select! {
                r = self.client.tx.extended_data_bytes(1, err) => r.map_err(drop)?,
                _ = self.done.cancelled() => return Err(()),
            }
        }
        Ok(())
    }

    /// Copies shown output to watching reviewers.
    fn publish(&self, data: &Bytes) {
        if let Some(p) = &self.publisher {
            p.send(data);
        }
    }

    /// Queues an event for the recording; false once the recording has failed.
    pub(super) async fn record(&self, ev: RecEvent) -> bool {
        match &self.rec {
            Some(rec) => rec.send(ev).await.is_ok(),
            None => true,
        }
    }

    /// Resolves when the recording has failed (never for unrecorded channels).
    pub(super) async fn recording_failed(&self) {
        match &self.rec {
            Some(rec) => rec.failed.cancelled().await,
            None => std::future::pending().await,
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
        let mut early = early.into_iter();
        let mut over_limit = false;
        loop {
            inflow.room(&self.done).await;
            if self.rec.as_ref().is_some_and(|r| r.failed.is_cancelled()) {
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
                    _ = self.done.cancelled() => break,
                    _ = self.recording_failed() => break,
                },
            };
            let sent = match msg {
                Some(ChannelMsg::Data { data }) => {
                    self.ctx.touch();
                    self.relayed
                        .input
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let records_input = self.rec.as_ref().is_some_and(|r| r.records_input);
                    if records_input && !self.record(RecEvent::Input(data.clone())).await {
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
                    match (&self.shell_hold, &self.stdin_lines) {
                        (Some(hold), _) => Box::pin(self.shell_keys(&mut rx, up, hold, data)).await,
                        (None, Some(lines)) => {
                            Box::pin(self.stdin_data(&mut rx, up, inflow, lines, data)).await
                        }
                        (None, None) => up.data(data),
                    }
                }
                Some(ChannelMsg::Eof) => match &self.stdin_lines {
                    Some(lines) => Box::pin(self.stdin_eof(&mut rx, up, inflow, lines)).await,
                    None => up.eof(),
                },
                Some(ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                }) => {
                    if !self.record(RecEvent::Resize(col_width, row_height)).await {
                        break;
                    }
                    if let Some(h) = &self.shell_hold {
                        if let Ok(mut t) = h.tracker.lock() {
                            t.resize(col_width, row_height);
                        }
                        h.resized();
                    }
                    let (cols, rows) = super::line::capped(col_width, row_height);
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
                    let name = self.ctx.shared.maskers.client_text(&sig_name(&signal));
                    info!(signal = name, "signal");
                    if !self
                        .record(RecEvent::Marker(format!("signal {name}")))
                        .await
                    {
                        break;
                    }
                    up.signal(signal)
                }
                Some(ChannelMsg::Close) | None => {
                    self.client_left.store(true, Ordering::Relaxed);
                    // The client is done (OpenSSH's ControlMaster closes right after EOF). The
                    // command may still be finishing: let the output pump relay its exit
                    // status, for a while, before everything is torn down.
                    let _ = up.eof();
                    tokio::select! {
                        _ = self.done.cancelled() => {}
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
        if over_limit {
            // The reader goes first: while the user is told, the connection must not wait on
            // it.
            drop(rx);
            self.client_left.store(true, Ordering::Relaxed);
            self.client
                .fail(
                    &format!(
                        "bastion: the target is not reading what you send ({} waiting); the channel is closed",
                        crate::human::bytes(super::inflow::LIMIT as u64)
                    ),
                    255,
                )
                .await;
        }
        self.done.cancel();
    }

    /// Target → client.
    async fn output(
        &self,
        mut rx: ChannelReadHalf,
        up: Arc<ChannelWriteHalf<russh::client::Msg>>,
        mut pending: VecDeque<Pending>,
        mut live: Option<LiveMasks>,
    ) -> ExitInfo {
        let mut notices = self.ctx.notices.subscribe();
        let tx = &self.client.tx;
        let mut exit: Option<String> = None;
        let mut info = ExitInfo::default();
        let mut shutting_down = false;
        let mut eof_due: Option<std::time::Instant> = None;
        // Whether the client's channel has been closed (or can no longer be written to).
        let mut client_closed = false;
        loop {
            let deadline = live.as_ref().and_then(LiveMasks::deadline);
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
                    if let Some(l) = live.as_mut() {
                        if Box::pin(self.send_released(l.poll())).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
                n = notices.recv() => {
                    if let Ok(text) = n {
                        Box::pin(self.client.say(&text)).await;
                    }
                    continue;
                }
                _ = self.ctx.shared.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.client.say("bastion: the bastion is shutting down; this session ends now.").await;
                    continue;
                }
                _ = self.done.cancelled() => break,
                _ = self.recording_failed() => break,
            };
            let r = match msg {
                Some(ChannelMsg::Data { data }) => {
                    self.ctx.touch();
                    self.ctx.shared.metrics.bytes_out.inc_by(data.len() as u64);
                    self.relayed
                        .output
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    if let Some(h) = &self.shell_hold {
                        if let Ok(mut t) = h.tracker.lock() {
                            t.output(&data);
                        }
                        h.shown();
                    }
                    // Masked once, here, for both the recording and the screen; without live
                    // masking the recording's writer masks.
                    let (recorded, shown) = match live.as_mut() {
                        Some(l) => {
                            let echo = self.typed.as_ref().is_some_and(|t| t.is_echo(&data));
                            let s = l.out(&data, echo);
                            (s.recording, s.screen)
                        }
                        None => (Some(data.clone()), Some(data)),
                    };
                    if let Some(r) = recorded {
                        if !self.record(RecEvent::Output(r)).await {
                            continue;
                        }
                    }
                    match shown {
                        Some(data) => {
                            self.publish(&data);
                            tokio::select! {
                                r = tx.data_bytes(data) => r,
                                _ = self.done.cancelled() => break,
                            }
                        }
                        None => Ok(()),
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext }) => {
                    self.ctx.touch();
                    self.relayed
                        .output
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    let (recorded, shown) = match live.as_mut() {
                        Some(l) => {
                            let s = l.err(&data);
                            (s.recording, s.screen)
                        }
                        None => (Some(data.clone()), Some(data)),
                    };
                    if let Some(r) = recorded {
                        if !self.record(RecEvent::Stderr(r)).await {
                            continue;
                        }
                    }
                    match shown {
                        Some(data) => tokio::select! {
                            r = tx.extended_data_bytes(ext, data) => r,
                            _ = self.done.cancelled() => break,
                        },
                        None => Ok(()),
                    }
                }
                Some(ChannelMsg::Eof) => {
                    if let Some(l) = live.as_mut() {
                        let _ = Box::pin(self.send_released(l.finish())).await;
                    }
                    // The client may close the channel as soon as it sees EOF, and russh drops
                    // a closed channel at once: hold EOF back until the exit status (or the
                    // close) has been relayed, for a moment at most.
                    if self.hold_eof {
                        eof_due = Some(std::time::Instant::now() + EOF_HOLD);
                        Ok(())
                    } else {
                        tx.eof().await
                    }
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    // Output may still follow the exit status: shown now, not ended.
                    if let Some(l) = live.as_mut() {
                        let _ = Box::pin(self.send_released(l.settle())).await;
                    }
                    exit = Some(exit_status.to_string());
                    info.status = Some(exit_status);
                    self.record(RecEvent::Exit(exit_status.to_string())).await;
                    let r = tx.exit_status(exit_status).await;
                    if eof_due.take().is_some() {
                        let _ = tx.eof().await;
                    }
                    r
                }
                Some(ChannelMsg::ExitSignal {
                    signal_name,
                    core_dumped,
                    error_message,
                    lang_tag,
                }) => {
                    let name = self.ctx.shared.maskers.client_text(&sig_name(&signal_name));
                    let text = format!("signal {name}");
                    info.signal = Some(name);
                    self.record(RecEvent::Exit(text.clone())).await;
                    exit = Some(text);
                    let _ = self
                        .client
                        .handle
                        .exit_signal_request(
                            self.client.id,
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
                        self.client
                            .say("bastion: the target refused to allocate a pty")
                            .await;
                        Ok(())
                    }
                    Some(Pending::Start(kind)) => {
                        warn!("target refused the {kind} request");
                        Box::pin(self.client.fail(
                            &format!("bastion: the target refused the {kind} request"),
                            1,
                        ))
                        .await;
                        client_closed = true;
                        break;
                    }
                    None => Ok(()),
                },
                Some(ChannelMsg::Close) | None => {
                    if let Some(l) = live.as_mut() {
                        let _ = Box::pin(self.send_released(l.finish())).await;
                    }
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
                client_closed = true;
                break;
            }
        }
        // What is still held (output after the exit status, cut off) reaches the recording;
        // the screen has been served or is gone.
        if let Some(l) = live.as_mut() {
            let r = l.finish();
            if let Some(out) = r.out.recording {
                self.record(RecEvent::Output(out)).await;
            }
            if let Some(err) = r.err.recording {
                self.record(RecEvent::Stderr(err)).await;
            }
        }
        // Whichever pump noticed first, the user is told why the session ended.
        if self.rec.as_ref().is_some_and(|r| r.failed.is_cancelled()) {
            self.ctx.shared.metrics.recording_failures.inc();
            Box::pin(self.client.fail("bastion: the session recording failed; the session is closed (sessions must be recorded)", 255))
                .await;
        } else if !client_closed
            && exit.is_none()
            && !self.client_left.load(Ordering::Relaxed)
            && !self.ctx.closed.is_cancelled()
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
        self.done.cancel();
        info
    }
}

impl Pumps {
    /// Tells the user the target's connection is gone; the channel then closes without an exit
    /// status, so `ssh` exits 255 as it would if it had lost the target itself.
    async fn target_lost(&self) {
        let target = self
            .ctx
            .access()
            .map(|a| a.target.name.clone())
            .unwrap_or_default();
        warn!(target = %target, "the connection to the target was lost during the channel");
        self.client
            .say(&super::bridge::target_lost_message(&target))
            .await;
    }
}

pub(super) fn sig_name(s: &Sig) -> String {
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
