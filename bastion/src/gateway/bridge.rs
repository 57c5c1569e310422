//! One channel relayed between the client and the target.
//!
//! A session channel goes through three phases: *setup* (pty, env and the start request arrive
//! from the client), *connect* (destination known or chosen in the menu, policy checked, upstream
//! channel opened and the same requests sent there), and *pumping*. Pumping is two loops, one
//! per direction, so a stalled direction never holds up the other. Each write waits for the
//! receiver's SSH window; nothing is buffered beyond russh's bounded per-channel queues, so
//! memory stays constant whatever the stream's size.
//!
//! The recorder, the masker and approval holds attach here: output passes through
//! the output pump ([`super::pumps`]) before it reaches the client, and input through the input loop before it
//! reaches the target; an exec is held before [`connect`] opens the upstream channel.

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use config::Capability;
use recorder::ChannelKind;
use russh::server::{Handle, Msg};
use russh::{Channel, ChannelMsg, ChannelOpenFailure, ChannelReadHalf, ChannelWriteHalf, Pty};
use tracing::{info, warn, Instrument};

use super::early::Early;
use super::held::{not_asked, refusal, Asking};
use super::inflow::ChannelInflow;
use super::line_hold::ShellHold;
use super::live::LiveMasks;
use super::menu;
use super::pumps::{ExitInfo, Pending, Pumps, Relayed};
use super::recording::{self, ChannelInfo, ChannelRecording, RecEvent};
use super::session::SessionCtx;
use super::target::Access;
use crate::audit::{ChannelEnd, ChannelOpened, Ending, OpenChannel};

/// What a client may send before its start request (a shell or command to run), at most.
const MAX_EARLY_BYTES: usize = 256 * 1024;

/// The pty a client asked for.
#[derive(Debug, Clone)]
pub struct PtyRequest {
    /// TERM.
    pub term: String,
    /// Columns.
    pub cols: u32,
    /// Rows.
    pub rows: u32,
    /// Pixel width.
    pub pix_width: u32,
    /// Pixel height.
    pub pix_height: u32,
    /// Terminal modes (unknown codes already dropped by russh).
    pub modes: Vec<(Pty, u32)>,
}

/// What the channel is for.
#[derive(Debug, Clone)]
pub enum Start {
    /// Interactive shell.
    Shell,
    /// A command.
    Exec(Vec<u8>),
    /// A subsystem (`sftp`).
    Subsystem(String),
}

impl Start {
    fn kind(&self) -> &'static str {
        match self {
            Start::Shell => "shell",
            Start::Exec(_) => "exec",
            Start::Subsystem(_) => "subsystem",
        }
    }
}

/// A local port forward (`ssh -L`).
#[derive(Debug, Clone)]
pub struct Forward {
    /// Host the target should connect to.
    pub host: String,
    /// Its port.
    pub port: u32,
    /// Client-side originator address.
    pub originator: String,
    /// Client-side originator port.
    pub originator_port: u32,
}

/// Runs a session channel to its end.
pub async fn run_session(ctx: Arc<SessionCtx>, channel: Channel<Msg>, handle: Handle) {
    let span = tracing::info_span!("channel", session = %ctx.id, channel = %channel.id(), identity = %ctx.user.key_id, peer = %ctx.peer);
    async move {
        let id = channel.id();
        let (rx, tx) = channel.split();
        let client = Client {
            tx: Arc::new(tx),
            handle,
            id,
            pty: false,
        };
        // Menus, review consoles and refusals write to the client outside the relay's own
        // bound (see `until_gone`): the whole channel ends too once its client is long gone.
        let bound = ctx.clone();
        let ended = until_gone_after(&bound, LONG_GONE, session_channel(ctx, rx, client));
        if ended.await.is_none() {
            warn!("the channel's client is gone and its task did not end: dropped");
        }
    }
    .instrument(span)
    .await
}

/// How long any channel task may go on once its client's connection is gone: past the
/// relay's own bound, time to seal its recording and close its row.
const LONG_GONE: Duration = Duration::from_secs(20);

/// The client's end of a channel.
#[derive(Clone)]
pub(super) struct Client {
    pub(super) tx: Arc<ChannelWriteHalf<Msg>>,
    pub(super) handle: Handle,
    pub(super) id: russh::ChannelId,
    pub(super) pty: bool,
}

/// What the user is told when the bastion's connection to the target goes away under a
/// channel.
pub(super) fn target_lost_message(target: &str) -> String {
    format!("bastion: the connection to target \"{target}\" was lost")
}

/// How long a message to the user may wait for the client to take it (window); after that it
/// is dropped. A client that never grants window would otherwise hold the channel, its target
/// connection and its recording open for ever.
const SAY_TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// Tells the user something: on the terminal for pty sessions, on stderr otherwise.
    pub(super) async fn say(&self, text: &str) {
        let write = async {
            if self.pty {
                let t = format!("\r\n{}\r\n", text.replace('\n', "\r\n"));
                self.tx.data_bytes(Bytes::from(t)).await
            } else {
                self.tx
                    .extended_data_bytes(1, Bytes::from(format!("{text}\n")))
                    .await
            }
        };
        if tokio::time::timeout(SAY_TIMEOUT, write).await.is_err() {
            warn!("a message to the user was dropped: the client took no data for {SAY_TIMEOUT:?}");
        }
    }

    /// Ends the channel with a message and an exit status. Each write is bounded: a
    /// connection whose event loop is stuck must not keep the channel's task.
    pub(super) async fn fail(&self, text: &str, status: u32) {
        self.say(text).await;
        let end = async {
            let _ = self.tx.exit_status(status).await;
            let _ = self.tx.eof().await;
            let _ = self.tx.close().await;
        };
        if tokio::time::timeout(SAY_TIMEOUT, end).await.is_err() {
            warn!("the channel's end could not be sent: the client's connection does not move");
        }
    }
}

async fn session_channel(ctx: Arc<SessionCtx>, mut rx: ChannelReadHalf, mut client: Client) {
    // What the client sends before its command runs counts against the channel's input bounds
    // like anything queued for the target.
    let inflow = Arc::new(ctx.inflow.channel());
    // Setup: collect what the client asks for until it says what the channel is for.
    let mut pty: Option<PtyRequest> = None;
    let mut env: Vec<(String, String)> = Vec::new();
    let mut early = Early::default();
    let start = loop {
        let msg = tokio::select! {
            m = rx.wait() => m,
            _ = ctx.closed.cancelled() => return,
        };
        match msg {
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                pix_width,
                pix_height,
                terminal_modes,
                ..
            }) => {
                if menu::pty_permitted(&ctx) {
                    pty = Some(PtyRequest {
                        term,
                        cols: col_width,
                        rows: row_height,
                        pix_width,
                        pix_height,
                        modes: terminal_modes,
                    });
                }
            }
            Some(ChannelMsg::SetEnv {
                variable_name,
                variable_value,
                ..
            }) => {
                if env_allowed(&ctx.shared.config.server.env_allow, &variable_name)
                    && env.len() < 64
                    && variable_name.len() <= 256
                    && variable_value.len() <= 4096
                {
                    env.push((variable_name, variable_value));
                } else {
                    tracing::debug!(
                        name = ctx.shared.maskers.client_text(&variable_name),
                        "env variable not in the allowlist; dropped"
                    );
                }
            }
            Some(ChannelMsg::RequestShell { .. }) => break Start::Shell,
            Some(ChannelMsg::Exec { command, .. }) => break Start::Exec(command),
            Some(ChannelMsg::RequestSubsystem { name, .. }) => break Start::Subsystem(name),
            Some(ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            }) => {
                if let Some(p) = &mut pty {
                    (p.cols, p.rows, p.pix_width, p.pix_height) =
                        (col_width, row_height, pix_width, pix_height);
                }
            }
            Some(m @ (ChannelMsg::Data { .. } | ChannelMsg::Eof)) => {
                if early.keep(Some(m), &inflow).is_err() || inflow.queued() > MAX_EARLY_BYTES {
                    warn!("client sent too much data before starting a shell or command");
                    drop(rx);
                    client
                        .fail("bastion: too much data before the session started", 255)
                        .await;
                    return;
                }
            }
            Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    client.pty = pty.is_some();

    // A certificate's force-command replaces whatever the client asked to run, subsystems
    // included, as sshd does; the review console is not that command either.
    let start = match &ctx.user.force_command {
        Some(_) if ctx.review => {
            warn!(identity = %ctx.user.key_id, "review console refused: the certificate has a force-command");
            client
                .fail(
                    "bastion: this certificate may only run its forced command; the review console needs another",
                    1,
                )
                .await;
            return;
        }
        Some(cmd) => Start::Exec(cmd.clone().into_bytes()),
        None => start,
    };

    if ctx.review {
        match (&start, &pty) {
            (Start::Shell, Some(p)) => {
                Box::pin(crate::review::console::run(
                    &ctx, &mut rx, &client.tx, p.cols, p.rows,
                ))
                .await;
                let _ = client.tx.exit_status(0).await;
                let _ = client.tx.eof().await;
                let _ = client.tx.close().await;
            }
            _ => Box::pin(review_channel(&ctx, &client, &start)).await,
        }
        return;
    }

    // Destination: from the user name, or the menu for an interactive session that named none.
    let access = match ctx.access() {
        Some(a) => a,
        None => {
            if !(matches!(start, Start::Shell) && pty.is_some()) {
                let why = match &ctx.note {
                    Some(note) => format!("bastion: {note}; "),
                    None => "bastion: no target given; ".into(),
                };
                client
                    .fail(
                        &format!(
                            "{why}use ssh LOGIN@TARGET@bastion (or ssh -t bastion for a menu)"
                        ),
                        2,
                    )
                    .await;
                return;
            }
            match Box::pin(menu::choose(&ctx, &mut rx, &client.tx, &mut pty)).await {
                Some(a) => ctx.choose(a),
                None => {
                    let _ = client.tx.exit_status(0).await;
                    let _ = client.tx.close().await;
                    return;
                }
            }
        }
    };

    let needed = match &start {
        Start::Shell => Capability::Shell,
        Start::Exec(_) => Capability::Exec,
        Start::Subsystem(name) if name == "sftp" => Capability::Sftp,
        Start::Subsystem(name) => {
            warn!(
                subsystem = ctx.shared.maskers.client_text(name),
                "subsystem refused"
            );
            client
                .fail(
                    &format!("bastion: subsystem \"{name}\" is not available"),
                    1,
                )
                .await;
            return;
        }
    };
    if !access.allows(needed) {
        warn!(target = %access.target.name, login = %access.login, "{needed} refused: not in the roles' capabilities");
        client
            .fail(
                &format!(
                    "bastion: {needed} is not permitted for you on \"{}\" (your roles allow: {})",
                    access.target.name,
                    access.capability_names()
                ),
                1,
            )
            .await;
        return;
    }
    match &start {
        Start::Exec(cmd) => {
            info!(target = %access.target.name, login = %access.login, roles = ?access.roles, command_bytes = cmd.len(), "exec")
        }
        other => {
            info!(target = %access.target.name, login = %access.login, kind = other.kind(), roles = ?access.roles, live_masking = access.live_masking, "start")
        }
    }

    let (kind, command) = match &start {
        Start::Shell => (ChannelKind::Shell, None),
        Start::Exec(c) => (
            ChannelKind::Exec,
            Some(String::from_utf8_lossy(c).into_owned()),
        ),
        Start::Subsystem(n) => (ChannelKind::Subsystem, Some(n.clone())),
    };
    // A transfer never asks for a terminal; one with a terminal is a person's session. A
    // legacy scp or rsync is passed untouched and unrecorded only for roles that may transfer
    // files anyway (sftp): the program is found by name on a target the user controls, so an
    // exec-only user could name any program `scp` and have its output neither masked nor
    // recorded.
    let transfer = match &start {
        Start::Subsystem(_) => true,
        Start::Exec(c) => {
            pty.is_none()
                && access.allows(Capability::Sftp)
                && crate::masking::is_transfer_command(c)
        }
        Start::Shell => false,
    };
    let masker = ctx.shared.maskers.for_access(&access);
    let info = ChannelInfo {
        masker: &masker,
        premasked: !transfer && access.live_masking,
        transfer,
        channel: u32::from(client.id),
        kind,
        pty: pty.as_ref(),
        command,
        env: &env,
        access: &access,
    };
    let recording = match ChannelRecording::start(&ctx, info) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!("cannot start the recording, refusing the session: {e}");
            client
                .fail("bastion: this session cannot be recorded, so it may not start (the recording store failed)", 1)
                .await;
            return;
        }
    };
    info!(path = %recording.path.display(), "recording");
    let opened = ChannelOpened {
        session_id: ctx.id.clone(),
        channel: u32::from(client.id),
        started_at_ms: crate::audit::now_ms(),
        kind: start.kind().to_string(),
        command: match &start {
            Start::Shell => None,
            Start::Exec(c) => Some(recording::mask_text(&masker, &String::from_utf8_lossy(c))),
            Start::Subsystem(n) => Some(n.clone()),
        },
        target: access.target.name.clone(),
        login: access.login.clone(),
        // The client names its terminal type; stored masked like every client string.
        pty: pty
            .as_ref()
            .map(|p| (recording::mask_text(&masker, &p.term), p.cols, p.rows)),
        recording_path: Some(recording.path.display().to_string()),
    };
    let relayed = Arc::new(Relayed::default());
    let relay = Relay {
        ctx: &ctx,
        relayed: relayed.clone(),
        access: &access,
        start: &start,
        pty: pty.as_ref(),
        env: &env,
        masker: &masker,
        transfer,
        recording: &recording,
    };
    // Everything from here waits on the client, the target or a reviewer; once the client's
    // connection is gone for good, it is dropped (see `until_gone`) and the recording sealed
    // all the same.
    let mut row = None;
    let outcome = until_gone(
        &ctx,
        Box::pin(relay.run(opened, &mut row, rx, client, early, inflow)),
    )
    .await;
    let sealed = Box::pin(seal(recording)).await;
    let Some(row) = row else {
        // Refused before its audit row existed: nothing to close.
        return;
    };
    let sealed_hash = sealed.as_ref().map(|s| s.checkpoint.hash.clone());
    let signature = sealed.as_ref().map(|s| s.checkpoint.sig.clone());
    let (exit_status, exit_signal, close_reason) = match outcome {
        Some(Outcome::Ran(exit)) => (exit.status, exit.signal, "closed"),
        Some(Outcome::NotRun { status, reason }) => (Some(status), None, reason),
        None => {
            warn!("the client's connection is gone and the channel did not end by itself: closed");
            (None, None, "client gone")
        }
    };
    let close_reason = if sealed.is_some() {
        close_reason.to_string()
    } else {
        format!("{close_reason}; recording not sealed")
    };
    let end = ChannelEnd {
        ended_at_ms: crate::audit::now_ms(),
        exit_status,
        exit_signal,
        // What the pumps relayed each way, whatever the recording keeps of it.
        bytes_in: relayed.counts().0,
        bytes_out: relayed.counts().1,
        final_hash: sealed_hash,
        signature,
        close_reason,
    };
    ctx.shared
        .endings
        .record(Ending::Channel { channel: row, end })
        .await;
}

/// How a channel's relay ended.
enum Outcome {
    /// The command ran; how it ended.
    Ran(ExitInfo),
    /// It never ran (refused by a reviewer, the target unreachable): the status the user got.
    NotRun { status: u32, reason: &'static str },
}

/// How long a channel may go on once its client's connection is gone: time for the command's
/// last output and exit status to reach the recording.
const GONE_GRACE: Duration = Duration::from_secs(5);

/// Runs `work` to its end, or until the client's connection has been gone for [`GONE_GRACE`]:
/// then `work` is dropped, which cancels whatever it waits on (a target that stopped reading, a
/// reviewer, a write the client will never take) and releases the channel's readers, which the
/// connections' event loops may be waiting on. `None` when it was dropped.
async fn until_gone<T>(ctx: &SessionCtx, work: impl std::future::Future<Output = T>) -> Option<T> {
    until_gone_after(ctx, GONE_GRACE, work).await
}

/// [`until_gone`] with another grace.
async fn until_gone_after<T>(
    ctx: &SessionCtx,
    grace: Duration,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let gone = async {
        ctx.closed.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = work => Some(r),
        _ = gone => None,
    }
}

/// A session channel whose recording has started: what it needs to be audited, held, connected
/// and relayed.
struct Relay<'a> {
    ctx: &'a Arc<SessionCtx>,
    relayed: Arc<Relayed>,
    access: &'a Access,
    start: &'a Start,
    pty: Option<&'a PtyRequest>,
    env: &'a [(String, String)],
    masker: &'a recorder::mask::Masker,
    transfer: bool,
    recording: &'a Arc<ChannelRecording>,
}

impl Relay<'_> {
    /// Writes the audit row (into `row`), holds the command for approval if a rule says so,
    /// connects and relays.
    async fn run(
        self,
        opened: ChannelOpened,
        row: &mut Option<OpenChannel>,
        mut rx: ChannelReadHalf,
        client: Client,
        mut early: Early,
        inflow: Arc<ChannelInflow>,
    ) -> Outcome {
        let Relay {
            ctx,
            relayed,
            access,
            start,
            pty,
            env,
            masker,
            transfer,
            recording,
        } = self;
        // Approval hold: the command is known before the target sees anything.
        let raw_command = match start {
            Start::Exec(c) => Some(String::from_utf8_lossy(c).into_owned()),
            _ => None,
        };
        let rule = match start {
            Start::Subsystem(_) => None,
            _ => ctx
                .shared
                .approvals
                .matching(access, raw_command.as_deref()),
        };
        // Without an approval hold, the target's channel opens while the audit row is written
        // (one round trip saved); nothing is asked of the target until the row exists (fail
        // closed).
        // Each slow step runs while the client's input is taken in (see `early`).
        let steps = async {
            if rule.is_none() {
                let (a, c) = tokio::join!(
                    Box::pin(ctx.shared.audit.channel_opened(&opened)),
                    Box::pin(open_channel(ctx, access))
                );
                (a, Some(c))
            } else {
                (
                    Box::pin(ctx.shared.audit.channel_opened(&opened)).await,
                    None,
                )
            }
        };
        let Ok((audited, opened_early)) =
            early.draining(&mut rx, &inflow, &ctx.closed, steps).await
        else {
            return too_much(rx, &client, recording).await;
        };
        match audited {
            Ok(r) => *row = Some(r),
            Err(e) => {
                tracing::error!("audit store unavailable, channel refused: {e}");
                if let Some(Ok(c)) = opened_early {
                    let _ = tokio::time::timeout(GONE_GRACE, c.close()).await;
                }
                client
                    .fail("bastion: the audit store is unavailable, so this session may not start (fail closed)", 1)
                    .await;
                let _ = recording
                    .send(RecEvent::Marker("refused: audit store unavailable".into()))
                    .await;
                return Outcome::NotRun {
                    status: 1,
                    reason: "audit store unavailable",
                };
            }
        }
        let _ = recording
            .send(RecEvent::Marker(format!("{} started", start.kind())))
            .await;

        if let Some(rule) = rule {
            let masked = raw_command
                .as_deref()
                .map(|c| recording::mask_text(masker, c))
                .unwrap_or_else(|| "(interactive shell)".into());
            let held = Box::pin(hold_exec(
                ctx, access, &client, recording, rule, masked, &mut rx, &mut early, &inflow,
            ))
            .await;
            if let Err((text, status)) = held {
                client.fail(&text, status).await;
                let _ = recording.send(RecEvent::Exit(status.to_string())).await;
                return Outcome::NotRun {
                    status,
                    reason: "not run",
                };
            }
        }

        let steps = async {
            let channel = match opened_early {
                Some(c) => c,
                None => Box::pin(open_channel(ctx, access)).await,
            };
            Box::pin(connect(&client, access, channel, pty, env, start)).await
        };
        let Ok(connected) = early.draining(&mut rx, &inflow, &ctx.closed, steps).await else {
            return too_much(rx, &client, recording).await;
        };
        let Some((up_rx, up_tx, pending)) = connected else {
            // The user has been told why.
            let _ = recording.send(RecEvent::Exit("255".into())).await;
            return Outcome::NotRun {
                status: 255,
                reason: "target unreachable",
            };
        };
        let up_tx = Arc::new(up_tx);
        // Transfers pass untouched; a role may see unmasked live output (recordings are always
        // masked).
        let live = (!transfer && access.live_masking).then(|| {
            LiveMasks::new(
                masker,
                Duration::from_millis(ctx.shared.config.masking.live_hold_ms),
            )
        });
        // Any interactive session (a pty: a shell, or `ssh -t host cmd`) has its lines watched.
        let shell_hold = (!transfer && ctx.shared.approvals.has_line_rules(access))
            .then_some(pty)
            .flatten()
            .map(|p| ShellHold::new(p.cols, p.rows, access.clone(), masker.clone()));
        // Without a terminal, a shell or an interpreter reading its commands from stdin has
        // each line judged before it reads it.
        let stdin_lines =
            (!transfer && pty.is_none() && ctx.shared.approvals.has_line_rules(access))
                .then(|| match start {
                    Start::Shell => Some(super::stdin_lines::Interpreter {
                        program: "shell".into(),
                        shell: true,
                        sql: false,
                    }),
                    Start::Exec(c) => ctx
                        .shared
                        .approvals
                        .stdin_interpreter(&String::from_utf8_lossy(c)),
                    Start::Subsystem(_) => None,
                })
                .flatten()
                .map(|i| {
                    info!(program = %i.program, "commands read from stdin are judged line by line");
                    std::sync::Mutex::new(super::stdin_lines::StdinLines::new(i))
                });
        // Reviewers may watch interactive sessions, masked as the user sees them.
        let publisher = (pty.is_some() && live.is_some()).then(|| {
            ctx.shared.live.publish(
                format!("{}-{}", ctx.id, u32::from(client.id)),
                ctx.user.key_id.clone(),
                access.target.name.clone(),
                access.login.clone(),
                recording.path.clone(),
                recording.flusher(),
            )
        });
        let _running = pty.is_none().then(|| ctx.command_running());
        let pumps = Pumps {
            ctx: ctx.clone(),
            client,
            done: ctx.closed.child_token(),
            client_left: AtomicBool::new(false),
            hold_eof: true,
            rec: Some(recording.clone()),
            shell_hold,
            stdin_lines,
            access: Some(access.clone()),
            masker: Some(masker.clone()),
            typed: (pty.is_some() && live.is_some()).then(Default::default),
            publisher,
            relayed,
        };
        let exit = pumps
            .run(
                rx,
                early.into_messages(),
                up_rx,
                up_tx,
                pending,
                live,
                inflow,
            )
            .await;
        Outcome::Ran(exit)
    }
}

/// Holds an exec command (or a shell) until its approval request is decided. While it waits,
/// the client may give up (a killed ControlMaster client, a CI timeout): its channel closing
/// cancels the request, so an approval given later runs nothing. Input sent meanwhile is kept
/// in `early` for the command, within the channel's input bounds. `Err` carries the message
/// and exit status to end the channel with.
#[allow(clippy::too_many_arguments)]
async fn hold_exec(
    ctx: &SessionCtx,
    access: &Access,
    client: &Client,
    recording: &ChannelRecording,
    rule: &config::ApprovalRule,
    masked: String,
    rx: &mut ChannelReadHalf,
    early: &mut Early,
    inflow: &ChannelInflow,
) -> Result<(), (String, u32)> {
    let gone = ctx.closed.child_token();
    let mut hold = Box::pin(approval_hold(
        ctx, access, client, recording, rule, masked, &gone,
    ));
    let held = loop {
        // Past the channel's bound, input is taken slowly (see `inflow`), never left unread.
        let next = async {
            inflow.room(&gone).await;
            rx.wait().await
        };
        tokio::select! {
            r = &mut hold => break r,
            m = next, if !early.closed() => {
                let closing = matches!(m, Some(ChannelMsg::Close) | None);
                if early.keep(m, inflow).is_err() {
                    warn!("client sent too much input while its command waited for approval");
                    gone.cancel();
                    break Err((
                        "bastion: too much input while the command waited for approval; not run"
                            .to_string(),
                        255,
                    ));
                }
                if closing {
                    info!("the client closed the channel while its command was held");
                    gone.cancel();
                }
            }
        }
    };
    drop(hold);
    // An approval recorded in the instant the client left still runs nothing, nor one whose
    // recording failed while it waited (fail closed).
    match held {
        Ok(()) if gone.is_cancelled() => Err(("cancelled".to_string(), 126)),
        Ok(()) if recording.failed.is_cancelled() => Err((
            "bastion: this session can no longer be recorded (the recording store failed), \
             so the command was not run"
                .to_string(),
            126,
        )),
        other => other,
    }
}

/// Ends a channel whose client sent more than its bound before the command ran (it ignores
/// its window): its reader is let go first, so the connection is not held while the user is
/// told.
async fn too_much(rx: ChannelReadHalf, client: &Client, recording: &ChannelRecording) -> Outcome {
    warn!("client sent too much input before its command ran");
    drop(rx);
    client
        .fail(
            "bastion: too much input before the command started; not run",
            255,
        )
        .await;
    let _ = recording.send(RecEvent::Exit("255".into())).await;
    Outcome::NotRun {
        status: 255,
        reason: "input limit",
    }
}

/// Holds the channel until its approval request is decided. `Err` carries the message and exit
/// status to end the channel with.
async fn approval_hold(
    ctx: &SessionCtx,
    access: &Access,
    client: &Client,
    recording: &ChannelRecording,
    rule: &config::ApprovalRule,
    command: String,
    gone: &tokio_util::sync::CancellationToken,
) -> Result<(), (String, u32)> {
    use crate::approval::hold::Decision;
    const NOT_RUN: &str = "not run";
    let asking = Asking {
        ctx,
        client,
        recording: Some(recording),
        access,
        rule,
        what: "command",
    };
    let held = asking
        .ask(command, None, "")
        .await
        .map_err(|e| (format!("bastion: {}", not_asked(&e, NOT_RUN)), 126))?;
    let decision = asking
        .decision(&held, gone, NOT_RUN)
        .await
        .map_err(|why| (format!("bastion: {why}"), 126))?;
    match decision {
        Decision::Approved(by) => {
            client
                .say(&format!(
                    "bastion: approved by {}: request {}",
                    by.join(", "),
                    held.id
                ))
                .await;
            Ok(())
        }
        d => Err((
            format!("bastion: {}", refusal(&d, held.id, rule, NOT_RUN)),
            126,
        )),
    }
}

/// Closes the recording and logs its final hash.
async fn seal(recording: Arc<ChannelRecording>) -> Option<recorder::Seal> {
    let Ok(recording) = Arc::try_unwrap(recording) else {
        tracing::error!("recording still in use at channel end; not sealed");
        return None;
    };
    let path = recording.path.clone();
    match recording.finish().await {
        Ok(seal) => {
            info!(
                path = %path.display(),
                lines = seal.checkpoint.lines,
                hash = %seal.checkpoint.hash,
                bytes_out = seal.counters.output_bytes + seal.counters.stderr_bytes,
                bytes_in = seal.counters.input_bytes,
                "recording sealed"
            );
            Some(seal)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "recording could not be sealed: {e}");
            None
        }
    }
}

/// A reviewer's command, run by the bastion itself.
async fn review_channel(ctx: &SessionCtx, client: &Client, start: &Start) {
    let Start::Exec(command) = start else {
        client
            .fail(
                "bastion: the review console needs a terminal (ssh -t review@bastion); for scripts: ssh review@bastion list | history | approve ID [--reason TEXT] | deny ID --reason TEXT",
                2,
            )
            .await;
        return;
    };
    let out = crate::review::run(ctx, &String::from_utf8_lossy(command)).await;
    if !out.out.is_empty() {
        let _ = client
            .tx
            .data_bytes(Bytes::from(
                out.out
                    .replace('\n', if client.pty { "\r\n" } else { "\n" }),
            ))
            .await;
    }
    if !out.err.is_empty() {
        let _ = client.tx.extended_data_bytes(1, Bytes::from(out.err)).await;
    }
    let _ = client.tx.exit_status(out.status).await;
    let _ = client.tx.eof().await;
    let _ = client.tx.close().await;
}

/// Opens a session channel on the target (connecting first unless the session's connection to
/// it is up). `Err` is the text for the user.
async fn open_channel(
    ctx: &SessionCtx,
    access: &Access,
) -> Result<russh::Channel<russh::client::Msg>, String> {
    let upstream = ctx.upstream(access).await.map_err(|e| {
        warn!(target = %access.target.name, "upstream failed: {e}");
        format!("bastion: target \"{}\": {e}", access.target.name)
    })?;
    let wait = ctx.shared.config.server.connect_timeout.duration();
    match tokio::time::timeout(wait, upstream.handle.channel_open_session()).await {
        Ok(opened) => opened.map_err(|e| {
            warn!(target = %access.target.name, "upstream channel refused: {e}");
            format!(
                "bastion: target \"{}\" refused a session: {e}",
                access.target.name
            )
        }),
        Err(_) => {
            warn!(target = %access.target.name, "upstream channel not opened in time");
            Err(format!(
                "bastion: target \"{}\" did not open a session within {}",
                access.target.name,
                crate::human::duration(wait)
            ))
        }
    }
}

/// Replays the client's requests on the upstream channel. Returns `None` after telling the
/// user why it failed.
async fn connect(
    client: &Client,
    access: &Access,
    channel: Result<russh::Channel<russh::client::Msg>, String>,
    pty: Option<&PtyRequest>,
    env: &[(String, String)],
    start: &Start,
) -> Option<(
    ChannelReadHalf,
    ChannelWriteHalf<russh::client::Msg>,
    VecDeque<Pending>,
)> {
    let channel = match channel {
        Ok(c) => c,
        Err(text) => {
            client.fail(&text, 255).await;
            return None;
        }
    };
    let mut pending = VecDeque::new();
    let sent = async {
        if let Some(p) = pty {
            // The size the line judge emulates (see `line`): the target's line editor must
            // wrap where the emulation does.
            let (cols, rows) = super::line::capped(p.cols, p.rows);
            channel
                .request_pty(
                    true,
                    &p.term,
                    cols,
                    rows,
                    p.pix_width,
                    p.pix_height,
                    &p.modes,
                )
                .await?;
            pending.push_back(Pending::Pty);
        }
        for (k, v) in env {
            channel.set_env(false, k.as_str(), v.as_str()).await?;
        }
        match start {
            Start::Shell => channel.request_shell(true).await?,
            Start::Exec(cmd) => channel.exec(true, cmd.clone()).await?,
            Start::Subsystem(name) => channel.request_subsystem(true, name.as_str()).await?,
        }
        pending.push_back(Pending::Start(start.kind()));
        Ok::<(), russh::Error>(())
    }
    .await;
    if let Err(e) = sent {
        client
            .fail(
                &format!("bastion: target \"{}\": {e}", access.target.name),
                255,
            )
            .await;
        return None;
    }
    let (rx, tx) = channel.split();
    Some((rx, tx, pending))
}

/// Runs a local port forward to its end.
pub async fn run_forward(
    ctx: Arc<SessionCtx>,
    channel: Channel<Msg>,
    reply: russh::server::ChannelOpenHandle,
    handle: Handle,
    fwd: Forward,
) {
    let span = tracing::info_span!("forward", session = %ctx.id,
        to = ctx.shared.maskers.client_text(&format!("{}:{}", fwd.host, fwd.port)));
    let bound = ctx.clone();
    let work = async move {
        let id = channel.id();
        let (rx, tx) = channel.split();
        let client = Client {
            tx: Arc::new(tx),
            handle,
            id,
            pty: false,
        };
        // The client's channel is accepted only once the target has accepted its own, so a
        // refused forward reads "open failed: connect failed" as with a direct connection.
        let Some(access) = ctx.access() else { return };
        let upstream = match ctx.upstream(&access).await {
            Ok(u) => u,
            Err(e) => {
                warn!("upstream failed: {e}");
                reply.reject(ChannelOpenFailure::ConnectFailed).await;
                return;
            }
        };
        let opening = upstream.handle.channel_open_direct_tcpip(
            fwd.host.as_str(),
            fwd.port,
            fwd.originator.as_str(),
            fwd.originator_port,
        );
        let wait = ctx.shared.config.server.connect_timeout.duration();
        let up = match tokio::time::timeout(wait, opening)
            .await
            .unwrap_or(Err(russh::Error::ConnectionTimeout))
        {
            Ok(c) => c,
            Err(e) => {
                warn!("target refused the forward: {e}");
                reply.reject(ChannelOpenFailure::ConnectFailed).await;
                return;
            }
        };
        let (up_rx, up_tx) = up.split();
        let channel = u32::from(client.id);
        let opened = ChannelOpened {
            session_id: ctx.id.clone(),
            channel,
            started_at_ms: crate::audit::now_ms(),
            kind: "forward".into(),
            command: Some(recording::mask_text(
                &ctx.shared.maskers.for_access(&access),
                &format!("{}:{}", fwd.host, fwd.port),
            )),
            target: access.target.name.clone(),
            login: access.login.clone(),
            pty: None,
            recording_path: None,
        };
        let row = match Box::pin(ctx.shared.audit.channel_opened(&opened)).await {
            Ok(row) => row,
            Err(e) => {
                tracing::error!("audit store unavailable, forward refused: {e}");
                let _ = up_tx.close().await;
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
                return;
            }
        };
        reply.accept().await;
        let pumps = Pumps {
            ctx: ctx.clone(),
            client,
            done: ctx.closed.child_token(),
            client_left: AtomicBool::new(false),
            hold_eof: false,
            rec: None,
            shell_hold: None,
            stdin_lines: None,
            access: None,
            masker: None,
            publisher: None,
            typed: None,
            relayed: Default::default(),
        };
        let exit = pumps
            .run(
                rx,
                Vec::new(),
                up_rx,
                Arc::new(up_tx),
                VecDeque::new(),
                None,
                Arc::new(ctx.inflow.channel()),
            )
            .await;
        let end = ChannelEnd {
            ended_at_ms: crate::audit::now_ms(),
            exit_status: exit.status,
            exit_signal: exit.signal,
            bytes_in: exit.bytes_in,
            bytes_out: exit.bytes_out,
            final_hash: None,
            signature: None,
            close_reason: "closed (port forward: not recorded)".into(),
        };
        ctx.shared
            .endings
            .record(Ending::Channel { channel: row, end })
            .await;
    };
    // A forward whose client is long gone ends, whatever it waits on (a destination that
    // never answers, a target that stopped reading).
    if until_gone_after(&bound, LONG_GONE, work.instrument(span))
        .await
        .is_none()
    {
        warn!("a port forward's client is gone and its task did not end: dropped");
    }
}

/// Whether `name` matches an allowlist entry (`LC_*` matches a prefix).
pub fn env_allowed(allow: &[String], name: &str) -> bool {
    allow.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => p == name,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn env_allowlist() {
        let allow = ["LANG", "LC_*", "TZ"].map(String::from);
        assert!(super::env_allowed(&allow, "LC_ALL"));
        assert!(super::env_allowed(&allow, "LANG"));
        assert!(!super::env_allowed(&allow, "LANGUAGE"));
        assert!(!super::env_allowed(&allow, "LD_PRELOAD"));
    }
}
