//! The second stage: where the channel goes (from the user name, or the menu), whether the
//! user's roles allow what it asks for, and its recording started. Nothing reaches the target
//! before a channel is [`Authorized`]; one that cannot be recorded is refused (fail closed).

use std::sync::Arc;
use std::time::Duration;

use config::Capability;
use mask::Masker;
use recorder::ChannelKind;
use russh::ChannelReadHalf;
use tracing::{info, warn};

use super::setup::{Requested, Start};
use super::stop::Stop;
use crate::audit::ChannelOpened;
use crate::gateway::client::Client;
use crate::gateway::menu;
use crate::gateway::recording::{ChannelInfo, ChannelRecording, RecordingError};
use crate::gateway::refusal::{status, Refusal};
use crate::gateway::relay::redactor::{Redaction, Redactor};
use crate::gateway::session::SessionCtx;
use crate::masking::mask_text;
use crate::policy::Access;

/// A channel the user may open, with its recording started.
pub struct Authorized {
    /// Where it goes.
    pub access: Access,
    /// What the client asked for.
    pub requested: Requested,
    /// A file transfer (sftp, or a legacy scp or rsync for roles that may transfer): passed
    /// untouched, counted and hashed rather than recorded.
    pub transfer: bool,
    /// The masking rules in effect for this channel.
    pub masker: Masker,
    /// Masks what the channel records and shows.
    pub redactor: Redactor,
    /// The channel's recording, sealed whatever happens next.
    pub recording: Arc<ChannelRecording>,
    /// Its audit row, written by the next stage.
    pub row: ChannelOpened,
}

impl Authorized {
    /// Resolves the destination (showing the menu to a terminal session that named none),
    /// checks the roles' capabilities and starts the recording.
    pub async fn new(
        ctx: &SessionCtx,
        rx: &mut ChannelReadHalf,
        client: &Client,
        mut requested: Requested,
    ) -> Result<Authorized, Stop> {
        let access = destination(ctx, rx, client, &mut requested).await?;
        let start = &requested.start;
        let needed = capability(ctx, start)?;
        if !access.allows(needed) {
            warn!(target = %access.target.name, login = %access.login, "{needed} refused: not in the roles' capabilities");
            return Err(Stop::Refused(Refusal::new(
                "capability",
                status::REFUSED,
                format!(
                    "{needed} is not permitted for you on \"{}\" (your roles allow: {})",
                    access.target.name,
                    access.capability_names()
                ),
            )));
        }
        match start {
            Start::Exec(cmd) => {
                info!(target = %access.target.name, login = %access.login, roles = ?access.roles, command_bytes = cmd.len(), "exec")
            }
            other => {
                info!(target = %access.target.name, login = %access.login, kind = other.kind(), roles = ?access.roles, live_masking = access.live_masking, "start")
            }
        }
        let pty = requested.pty.as_ref();
        // A transfer never asks for a terminal; one with a terminal is a person's session. A
        // legacy scp or rsync is passed untouched and unrecorded only for roles that may
        // transfer files anyway (sftp): the program is found by name on a target the user
        // controls, so an exec-only user could name any program `scp` and have its output
        // neither masked nor recorded.
        let transfer = match start {
            Start::Subsystem(_) => true,
            Start::Exec(c) => {
                pty.is_none()
                    && access.allows(Capability::Sftp)
                    && crate::masking::is_transfer_command(c)
            }
            Start::Shell => false,
        };
        let masker = ctx.services.maskers.for_access(&access);
        // Transfers pass untouched; a role may see unmasked live output (recordings are always
        // masked).
        let redaction = if transfer {
            Redaction::Pass
        } else if access.live_masking {
            Redaction::Live
        } else {
            Redaction::Exact
        };
        let hold = Duration::from_millis(ctx.services.config.masking.live_hold_ms);
        let redactor = Redactor::new(&masker, redaction, hold);
        // The command, the terminal type and the environment are whatever the client sent:
        // masked once, here, for the recording, the audit row and a reviewer alike.
        let said = Said {
            command: match start {
                Start::Shell => None,
                Start::Exec(_) => start.command().map(|c| mask_text(&masker, &c)),
                Start::Subsystem(n) => Some(n.clone()),
            },
            term: pty.map(|p| mask_text(&masker, &p.term)),
        };
        let recording =
            start_recording(ctx, &access, &requested, &masker, &said, transfer, client)?;
        let Said { command, term } = said;
        info!(path = %recording.path.display(), "recording");
        let row = ChannelOpened {
            session_id: ctx.id.clone(),
            channel: u32::from(client.id),
            started_at_ms: crate::audit::now_ms(),
            kind: start.kind().to_string(),
            command,
            target: access.target.name.clone(),
            login: access.login.clone(),
            pty: term.zip(pty).map(|(term, p)| (term, p.cols, p.rows)),
            recording_path: Some(recording.path.display().to_string()),
        };
        Ok(Authorized {
            access,
            requested,
            transfer,
            masker,
            redactor,
            recording,
            row,
        })
    }
}

/// Where the channel goes: the user name's target, or the menu's choice for an interactive
/// session that named none.
async fn destination(
    ctx: &SessionCtx,
    rx: &mut ChannelReadHalf,
    client: &Client,
    requested: &mut Requested,
) -> Result<Access, Stop> {
    if let Some(a) = ctx.access() {
        return Ok(a);
    }
    if !(matches!(requested.start, Start::Shell) && requested.pty.is_some()) {
        let why = match &ctx.note {
            Some(note) => format!("{note}; "),
            None => "no target given; ".into(),
        };
        return Err(Stop::Refused(Refusal::new(
            "no target",
            status::USAGE,
            format!("{why}use ssh LOGIN@TARGET@bastion (or ssh -t bastion for a menu)"),
        )));
    }
    let pty = &mut requested.pty;
    let resized = |cols, rows, pix_width, pix_height| {
        if let Some(p) = pty.as_mut() {
            (p.cols, p.rows, p.pix_width, p.pix_height) = (cols, rows, pix_width, pix_height);
        }
    };
    match Box::pin(menu::choose(ctx, rx, &client.tx, resized)).await {
        Some(a) => Ok(ctx.choose(a)),
        None => Err(Stop::Quit),
    }
}

/// The capability a start request needs; unknown subsystems are refused.
fn capability(ctx: &SessionCtx, start: &Start) -> Result<Capability, Stop> {
    match start {
        Start::Shell => Ok(Capability::Shell),
        Start::Exec(_) => Ok(Capability::Exec),
        Start::Subsystem(name) if name == "sftp" => Ok(Capability::Sftp),
        Start::Subsystem(name) => {
            warn!(
                subsystem = ctx.services.maskers.client_text(name),
                "subsystem refused"
            );
            Err(Stop::Refused(Refusal::new(
                "subsystem",
                status::REFUSED,
                format!("subsystem \"{name}\" is not available"),
            )))
        }
    }
}

/// The command and terminal type the client sent, masked.
struct Said {
    command: Option<String>,
    term: Option<String>,
}

/// Starts the channel's recording; one that cannot start refuses the channel (fail closed).
fn start_recording(
    ctx: &SessionCtx,
    access: &Access,
    requested: &Requested,
    masker: &Masker,
    said: &Said,
    transfer: bool,
    client: &Client,
) -> Result<Arc<ChannelRecording>, Stop> {
    let (start, pty) = (&requested.start, requested.pty.as_ref());
    // The environment is whatever the client sent: recorded masked like any text.
    let info = ChannelInfo {
        transfer,
        channel: u32::from(client.id),
        kind: match start {
            Start::Shell => ChannelKind::Shell,
            Start::Exec(_) => ChannelKind::Exec,
            Start::Subsystem(_) => ChannelKind::Subsystem,
        },
        size: pty.map(|p| (p.cols, p.rows)),
        term: said.term.clone(),
        command: said.command.clone(),
        env: requested
            .env
            .iter()
            .map(|(k, v)| (mask_text(masker, k), mask_text(masker, v)))
            .collect(),
        title: format!(
            "{}@{} ({})",
            access.login, access.target.name, ctx.user.key_id
        ),
        session: ctx.id.clone(),
        user: ctx.user.key_id.clone(),
        cert_serial: ctx.user.serial,
        source: ctx.peer.ip().to_string(),
        target: access.target.name.clone(),
        login: access.login.clone(),
    };
    match ChannelRecording::start(&ctx.services.recordings, info) {
        Ok(r) => Ok(Arc::new(r)),
        Err(e @ RecordingError::LowSpace { free, min_free }) => {
            tracing::error!("refusing the session: {e}");
            Err(Stop::Refused(Refusal::new(
                "recording space low",
                status::REFUSED,
                format!(
                    "the recording volume is nearly full ({} MiB free, {} MiB required), so new sessions are refused until space is freed",
                    free >> 20,
                    min_free.div_ceil(1 << 20)
                ),
            )))
        }
        Err(e @ RecordingError::SpoolFull { bytes, limit }) => {
            tracing::error!("refusing the session: {e}");
            Err(Stop::Refused(Refusal::new(
                "recording spool full",
                status::REFUSED,
                format!(
                    "recordings are waiting for the recording store ({} MiB queued, limit {} MiB), so new sessions are refused until it takes them",
                    bytes >> 20,
                    limit >> 20
                ),
            )))
        }
        Err(e) => {
            tracing::error!("cannot start the recording, refusing the session: {e}");
            Err(Stop::Refused(Refusal::new(
                "recording unavailable",
                status::REFUSED,
                "this session cannot be recorded, so it may not start (the recording store failed)",
            )))
        }
    }
}
