//! A local port forward (`ssh -L`): opened on the target first (so a refused forward reads
//! "open failed: connect failed" as with a direct connection), audited, relayed unrecorded.

use std::collections::VecDeque;
use std::sync::Arc;

use russh::server::{ChannelOpenHandle, Handle, Msg};
use russh::{Channel, ChannelOpenFailure};
use tracing::{warn, Instrument};

use super::stop::LONG_GONE;
use crate::audit::{ChannelEnd, ChannelOpened, Ending};
use crate::gateway::client::Client;
use crate::gateway::relay::io::ChannelIo;
use crate::gateway::relay::pumps::{Pumps, TargetEnd};
use crate::gateway::relay::redactor::{Redaction, Redactor};
use crate::gateway::session::SessionCtx;
use crate::masking::mask_text;

/// Where a forward goes.
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

/// Runs a local port forward to its end.
pub async fn run_forward(
    ctx: Arc<SessionCtx>,
    channel: Channel<Msg>,
    reply: ChannelOpenHandle,
    handle: Handle,
    fwd: Forward,
) {
    let span = tracing::info_span!("forward", session = %ctx.id,
        to = ctx.services.maskers.client_text(&format!("{}:{}", fwd.host, fwd.port)));
    let bound = ctx.clone();
    // A forward whose client is long gone ends, whatever it waits on (a destination that
    // never answers, a target that stopped reading).
    let work = forward(ctx, channel, reply, handle, fwd).instrument(span);
    if bound.until_gone(LONG_GONE, work).await.is_none() {
        warn!("a port forward's client is gone and its task did not end: dropped");
    }
}

async fn forward(
    ctx: Arc<SessionCtx>,
    channel: Channel<Msg>,
    reply: ChannelOpenHandle,
    handle: Handle,
    fwd: Forward,
) {
    let id = channel.id();
    let (rx, tx) = channel.split();
    let client = Client {
        tx: Arc::new(tx),
        handle,
        id,
        pty: false,
    };
    let Some(access) = ctx.access() else { return };
    let Some(up) = open_on_target(&ctx, &access, &fwd).await else {
        reply.reject(ChannelOpenFailure::ConnectFailed).await;
        return;
    };
    let (up_rx, up_tx) = up.split();
    let masker = ctx.services.maskers.for_access(&access);
    let opened = ChannelOpened {
        session_id: ctx.id.clone(),
        channel: u32::from(client.id),
        started_at_ms: crate::audit::now_ms(),
        kind: "forward".into(),
        command: Some(mask_text(&masker, &format!("{}:{}", fwd.host, fwd.port))),
        target: access.target.name.clone(),
        login: access.login.clone(),
        pty: None,
        recording_path: None,
    };
    let row = match Box::pin(ctx.services.audit.channel_opened(&opened)).await {
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
    let relayed = Arc::default();
    let io = ChannelIo::new(ctx.clone(), client, None, None, Arc::clone(&relayed));
    let pumps = Pumps {
        io,
        hold_eof: false,
        lines: None,
        publisher: None,
        typed: None,
    };
    let target = TargetEnd {
        rx: up_rx,
        tx: up_tx,
        pending: VecDeque::new(),
    };
    // Forwarded bytes are not content the bastion keeps or masks.
    let redactor = Redactor::new(&masker, Redaction::Pass, std::time::Duration::ZERO);
    let exit = pumps
        .run(
            rx,
            Vec::new(),
            target,
            redactor.output(),
            Arc::new(ctx.inflow.channel()),
        )
        .await;
    let (bytes_in, bytes_out) = relayed.counts();
    let end = ChannelEnd {
        ended_at_ms: crate::audit::now_ms(),
        exit_status: exit.status,
        exit_signal: exit.signal,
        bytes_in,
        bytes_out,
        final_hash: None,
        signature: None,
        close_reason: "closed (port forward: not recorded)".into(),
    };
    ctx.services
        .endings
        .record(Ending::Channel { channel: row, end })
        .await;
}

/// Opens the forward's channel on the target; `None` (logged) when the target is unreachable
/// or refuses it.
async fn open_on_target(
    ctx: &SessionCtx,
    access: &crate::policy::Access,
    fwd: &Forward,
) -> Option<Channel<russh::client::Msg>> {
    let upstream = match ctx.upstream(access).await {
        Ok(u) => u,
        Err(e) => {
            warn!("upstream failed: {e}");
            return None;
        }
    };
    let opening = upstream.handle.channel_open_direct_tcpip(
        fwd.host.as_str(),
        fwd.port,
        fwd.originator.as_str(),
        fwd.originator_port,
    );
    let wait = ctx.services.config.server.connect_timeout.duration();
    match tokio::time::timeout(wait, opening)
        .await
        .unwrap_or(Err(russh::Error::ConnectionTimeout))
    {
        Ok(c) => Some(c),
        Err(e) => {
            warn!("target refused the forward: {e}");
            None
        }
    }
}
