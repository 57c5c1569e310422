//! The first stage of a session channel: what the client asks for (a pty, environment
//! variables) until it says what the channel is for (a shell, a command, a subsystem). Input it
//! sends meanwhile is kept for the command, within the channel's input bounds.

use std::sync::Arc;

use cert_authority::CertifiedUser;
use russh::{ChannelMsg, ChannelReadHalf, Pty};
use tracing::warn;

use super::stop::Stop;
use crate::gateway::refusal::{status, Refusal};
use crate::gateway::relay::early::Early;
use crate::gateway::relay::inflow::ChannelInflow;
use crate::gateway::session::SessionCtx;

/// What a client may send before its start request (a shell or command to run), at most.
const MAX_EARLY_BYTES: usize = 256 * 1024;
/// Environment variables kept per channel, at most, and the longest name and value.
const MAX_ENV: usize = 64;
const MAX_ENV_NAME: usize = 256;
const MAX_ENV_VALUE: usize = 4096;

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
    /// `shell`, `exec` or `subsystem`: the request's name, in logs, markers and audit rows.
    pub fn kind(&self) -> &'static str {
        match self {
            Start::Shell => "shell",
            Start::Exec(_) => "exec",
            Start::Subsystem(_) => "subsystem",
        }
    }

    /// The command of an exec, as text.
    pub fn command(&self) -> Option<String> {
        match self {
            Start::Exec(c) => Some(String::from_utf8_lossy(c).into_owned()),
            _ => None,
        }
    }
}

/// A session channel whose client has said what it is for.
pub struct Requested {
    /// The terminal, if one was asked for (and the user may have one).
    pub pty: Option<PtyRequest>,
    /// Environment variables from the allowlist.
    pub env: Vec<(String, String)>,
    /// What to run.
    pub start: Start,
    /// Input sent before the start request, for the command.
    pub early: Early,
    /// The channel's input bounds; `early` counts in them.
    pub inflow: Arc<ChannelInflow>,
}

impl Requested {
    /// Reads the client's requests until its start request. [`Stop::Gone`] when the client or
    /// its connection left first.
    pub async fn collect(ctx: &SessionCtx, rx: &mut ChannelReadHalf) -> Result<Requested, Stop> {
        // What the client sends before its command runs counts against the channel's input
        // bounds like anything queued for the target.
        let inflow = Arc::new(ctx.inflow.channel());
        let mut pty: Option<PtyRequest> = None;
        let mut env: Vec<(String, String)> = Vec::new();
        let mut early = Early::default();
        let start = loop {
            let msg = tokio::select! {
                m = rx.wait() => m,
                _ = ctx.closed.cancelled() => return Err(Stop::Gone),
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
                    if ctx.user.permit_pty {
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
                    if env_allowed(&ctx.services.config.server.env_allow, &variable_name)
                        && env.len() < MAX_ENV
                        && variable_name.len() <= MAX_ENV_NAME
                        && variable_value.len() <= MAX_ENV_VALUE
                    {
                        env.push((variable_name, variable_value));
                    } else {
                        tracing::debug!(
                            name = ctx.services.maskers.client_text(&variable_name),
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
                        return Err(Stop::Refused(Refusal::new(
                            "input limit",
                            status::LOST,
                            "too much data before the session started",
                        )));
                    }
                }
                Some(ChannelMsg::Close) | None => return Err(Stop::Gone),
                Some(_) => {}
            }
        };
        Ok(Requested {
            pty,
            env,
            start,
            early,
            inflow,
        })
    }

    /// Applies the certificate's force-command: it replaces whatever the client asked to run,
    /// subsystems included, as sshd does; the review console is not that command either.
    pub fn forced(mut self, user: &CertifiedUser, review: bool) -> Result<Requested, Refusal> {
        match &user.force_command {
            Some(_) if review => {
                warn!(identity = %user.key_id, "review console refused: the certificate has a force-command");
                Err(Refusal::new(
                    "force-command",
                    status::REFUSED,
                    "this certificate may only run its forced command; the review console needs another",
                ))
            }
            Some(cmd) => {
                self.start = Start::Exec(cmd.clone().into_bytes());
                Ok(self)
            }
            None => Ok(self),
        }
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
