//! The third stage: the channel's audit row written (no row, no channel: fail closed), its
//! command held for approval when a rule says so, then the target's channel opened and the
//! client's requests (pty, environment, start) replayed there.
//!
//! Each slow step runs while the client's input is taken in ([`Early`]): the connection's
//! event loop must never wait on this channel's reader.

use std::collections::VecDeque;

use russh::{ChannelMsg, ChannelReadHalf};
use tracing::{info, warn};

use super::authorize::Authorized;
use super::close::Closing;
use super::setup::{PtyRequest, Start};
use crate::gateway::hold::asking::{Asking, Flow, NotApproved, WhileHeld};
use crate::gateway::hold::screen_line::capped;
use crate::gateway::recording::RecEvent;
use crate::gateway::refusal::{status, Refusal};
use crate::gateway::relay::early::Early;
use crate::gateway::relay::inflow::ChannelInflow;
use crate::gateway::relay::io::ChannelIo;
use crate::gateway::relay::pumps::{Pending, TargetEnd};
use crate::gateway::session::SessionCtx;
use crate::policy::Access;

/// A channel open on the target too, ready to relay.
pub struct Connected {
    /// What was authorized.
    pub authorized: Authorized,
    /// The target's end.
    pub target: TargetEnd,
}

/// The target's session channel, or the words for the user.
type Opened = Result<russh::Channel<russh::client::Msg>, Refusal>;

impl Authorized {
    /// Writes the audit row (into `closing`), holds the command for approval if a rule says
    /// so, and connects.
    pub async fn connect(
        mut self,
        ctx: &SessionCtx,
        rx: &mut ChannelReadHalf,
        io: &ChannelIo,
        closing: &mut Closing,
    ) -> Result<Connected, Refusal> {
        let start = &self.requested.start;
        let rule = match start {
            Start::Subsystem(_) => None,
            _ => ctx
                .services
                .approvals
                .rules
                .matching(&self.access, start.command().as_deref()),
        };
        let inflow = self.requested.inflow.clone();
        let early = &mut self.requested.early;
        // Without an approval hold, the target's channel opens while the audit row is written
        // (one round trip saved); nothing is asked of the target until the row exists (fail
        // closed).
        let steps = async {
            let audited = Box::pin(ctx.services.audit.channel_opened(&self.row));
            if rule.is_none() {
                let (a, c) = tokio::join!(audited, Box::pin(open_channel(ctx, &self.access)));
                (a, Some(c))
            } else {
                (audited.await, None)
            }
        };
        let (audited, opened_early) = early
            .draining(rx, &inflow, &ctx.closed, steps)
            .await
            .map_err(|_| too_much())?;
        match audited {
            Ok(row) => closing.row = Some(row),
            Err(e) => {
                tracing::error!("audit store unavailable, channel refused: {e}");
                if let Some(Ok(c)) = opened_early {
                    let _ = tokio::time::timeout(super::stop::GONE_GRACE, c.close()).await;
                }
                let _ = io
                    .record(RecEvent::Marker("refused: audit store unavailable".into()))
                    .await;
                return Err(Refusal::new(
                    "audit store unavailable",
                    status::REFUSED,
                    "the audit store is unavailable, so this session may not start (fail closed)",
                ));
            }
        }
        io.record(RecEvent::Marker(format!("{} started", start.kind())))
            .await;

        if let Some(rule) = rule {
            let asking = Asking {
                io,
                access: &self.access,
                rule,
                what: "command",
                not_run: "not run",
            };
            // The command as the audit row has it: masked once, there.
            let command = match start {
                Start::Exec(_) => self.row.command.clone(),
                _ => None,
            }
            .unwrap_or_else(|| "(interactive shell)".into());
            Box::pin(hold_exec(&asking, command, rx, early, &inflow)).await?;
        }

        let access = &self.access;
        let requested = &mut self.requested;
        let (pty, env, start) = (&requested.pty, &requested.env, &requested.start);
        let steps = async {
            let channel = match opened_early {
                Some(c) => c,
                None => Box::pin(open_channel(ctx, access)).await,
            };
            Box::pin(replay(access, channel?, pty.as_ref(), env, start)).await
        };
        let target = requested
            .early
            .draining(rx, &inflow, &ctx.closed, steps)
            .await
            .map_err(|_| too_much())??;
        Ok(Connected {
            authorized: self,
            target,
        })
    }
}

/// Holds an exec command (or a shell) until its approval request is decided. While it waits,
/// the client may give up (a killed ControlMaster client, a CI timeout): its channel closing
/// cancels the request, so an approval given later runs nothing. Input sent meanwhile is kept
/// in `early` for the command, within the channel's input bounds.
async fn hold_exec(
    asking: &Asking<'_>,
    command: String,
    rx: &mut ChannelReadHalf,
    early: &mut Early,
    inflow: &ChannelInflow,
) -> Result<(), Refusal> {
    let mut keep = KeepEarly { early, inflow };
    match asking
        .hold(command, None, "", rx, Some(inflow), &mut keep)
        .await
    {
        Ok(()) => Ok(()),
        Err(NotApproved::Ended) => Err(Refusal::new(
            "input limit",
            status::LOST,
            "too much input while the command waited for approval; not run",
        )),
        Err(NotApproved::Unrecorded) => Err(Refusal::new(
            "not run",
            status::NOT_RUN,
            "this session can no longer be recorded (the recording store failed), so the command was not run",
        )),
        Err(n) => Err(Refusal::new(
            "not run",
            status::NOT_RUN,
            n.words().unwrap_or("not run"),
        )),
    }
}

/// What a held exec does with its client's input: keeps it for the command.
struct KeepEarly<'a> {
    early: &'a mut Early,
    inflow: &'a ChannelInflow,
}

impl WhileHeld for KeepEarly<'_> {
    async fn input(&mut self, m: Option<ChannelMsg>) -> Flow {
        let closing = matches!(m, Some(ChannelMsg::Close) | None);
        if self.early.keep(m, self.inflow).is_err() {
            warn!("client sent too much input while its command waited for approval");
            return Flow::End;
        }
        if closing {
            info!("the client closed the channel while its command was held");
            return Flow::Cancel;
        }
        Flow::Wait
    }
}

/// A client that sent more than its bound before the command ran (it ignores its window).
fn too_much() -> Refusal {
    warn!("client sent too much input before its command ran");
    Refusal::new(
        "input limit",
        status::LOST,
        "too much input before the command started; not run",
    )
}

/// The target could not be reached or refused the channel.
fn unreachable(message: String) -> Refusal {
    Refusal::new("target unreachable", status::LOST, message)
}

/// Opens a session channel on the target (connecting first unless the session's connection to
/// it is up).
async fn open_channel(ctx: &SessionCtx, access: &Access) -> Opened {
    let upstream = ctx.upstream(access).await.map_err(|e| {
        warn!(target = %access.target.name, "upstream failed: {e}");
        unreachable(format!("target \"{}\": {e}", access.target.name))
    })?;
    let wait = ctx.services.config.server.connect_timeout.duration();
    match tokio::time::timeout(wait, upstream.handle.channel_open_session()).await {
        Ok(opened) => opened.map_err(|e| {
            warn!(target = %access.target.name, "upstream channel refused: {e}");
            unreachable(format!(
                "target \"{}\" refused a session: {e}",
                access.target.name
            ))
        }),
        Err(_) => {
            warn!(target = %access.target.name, "upstream channel not opened in time");
            Err(unreachable(format!(
                "target \"{}\" did not open a session within {}",
                access.target.name,
                crate::human::duration(wait)
            )))
        }
    }
}

/// Replays the client's requests on the target's channel.
async fn replay(
    access: &Access,
    channel: russh::Channel<russh::client::Msg>,
    pty: Option<&PtyRequest>,
    env: &[(String, String)],
    start: &Start,
) -> Result<TargetEnd, Refusal> {
    let mut pending = VecDeque::new();
    let sent = async {
        if let Some(p) = pty {
            // The size the line judge emulates (see `screen_line`): the target's line editor
            // must wrap where the emulation does.
            let (cols, rows) = capped(p.cols, p.rows);
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
        return Err(unreachable(format!(
            "target \"{}\": {e}",
            access.target.name
        )));
    }
    let (rx, tx) = channel.split();
    Ok(TargetEnd { rx, tx, pending })
}
