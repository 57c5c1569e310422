//! A session channel's life, as stages that each consume the one before:
//!
//! 1. [`setup::Requested`]: the client's pty, environment and start request (shell, exec,
//!    subsystem), with the certificate's force-command applied;
//! 2. [`authorize::Authorized`]: the destination (user name or menu), the roles'
//!    capabilities, and the recording started;
//! 3. [`connect::Connected`]: the audit row written, the command held for approval if a rule
//!    says so, the target's channel opened and the client's requests replayed there;
//! 4. [`relaying`]: the pumps ([`crate::gateway::relay::pumps`]) with the taps the channel
//!    calls for, until either side ends;
//! 5. [`close::Closing`]: the recording sealed and the audit row closed, whatever happened.
//!
//! A stage that refuses ends the channel with a [`Refusal`]: the user's words, the exit status
//! and the code in the log and the audit row. Reviewers' channels ([`review`]), port
//! forwards ([`forward`]) and the listing of permitted targets ([`listing`]) take their own,
//! shorter paths.

pub mod authorize;
pub mod close;
pub mod connect;
pub mod forward;
pub mod listing;
pub mod relaying;
pub mod review;
pub mod setup;
pub mod stop;

use std::sync::Arc;

use russh::server::{Handle, Msg};
use russh::{Channel, ChannelReadHalf};
use tracing::{warn, Instrument};

use self::authorize::Authorized;
use self::close::{Closing, Outcome};
use self::setup::Requested;
use self::stop::{Stop, GONE_GRACE, LONG_GONE};
use super::client::Client;
use super::relay::io::ChannelIo;
use super::session::SessionCtx;

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
        // bound: the whole channel ends too once its client is long gone.
        let bound = ctx.clone();
        if bound
            .until_gone(LONG_GONE, session_channel(ctx, rx, client))
            .await
            .is_none()
        {
            warn!("the channel's client is gone and its task did not end: dropped");
        }
    }
    .instrument(span)
    .await
}

/// The stages, in order.
async fn session_channel(ctx: Arc<SessionCtx>, mut rx: ChannelReadHalf, mut client: Client) {
    let requested = match Requested::collect(&ctx, &mut rx).await {
        Ok(r) => r,
        Err(stop) => return stopped(rx, &client, stop).await,
    };
    client.pty = requested.pty.is_some();
    let requested = match requested.forced(&ctx.user, ctx.review) {
        Ok(r) => r,
        Err(refusal) => return stopped(rx, &client, Stop::Refused(refusal)).await,
    };
    if ctx.review {
        return Box::pin(review::run(&ctx, rx, &client, requested)).await;
    }
    // `ssh bastion list`: no target named, so the bastion answers.
    if ctx.access().is_none() {
        if let setup::Start::Exec(command) = &requested.start {
            if let Some(json) = listing::asked(command) {
                return listing::run(&ctx, rx, &client, json).await;
            }
        }
    }
    let authorized = match Authorized::new(&ctx, &mut rx, &client, requested).await {
        Ok(a) => a,
        Err(stop) => return stopped(rx, &client, stop).await,
    };
    // From here the recording exists: it is sealed, and the audit row closed once written,
    // whatever happens. Everything in between waits on the client, the target or a
    // reviewer; once the client's connection is gone for good, it is dropped.
    let mut closing = Closing::new(authorized.recording.clone());
    let io = ChannelIo::new(
        ctx.clone(),
        client,
        Some(authorized.recording.clone()),
        authorized.redactor.input(),
        closing.relayed.clone(),
    );
    let relay = Box::pin(relay(&ctx, rx, io, authorized, &mut closing));
    let outcome = ctx.until_gone(GONE_GRACE, relay).await;
    Box::pin(closing.close(&ctx, outcome)).await;
}

/// Connects and relays an authorized channel; how it ended.
async fn relay(
    ctx: &SessionCtx,
    mut rx: ChannelReadHalf,
    io: ChannelIo,
    authorized: Authorized,
    closing: &mut Closing,
) -> Outcome {
    match Box::pin(authorized.connect(ctx, &mut rx, &io, closing)).await {
        Ok(connected) => Outcome::Ran(Box::pin(connected.relay(rx, io)).await),
        Err(refusal) => {
            // The reader goes first: while the user is told, the connection must not wait on
            // it.
            drop(rx);
            io.client.refuse(&refusal).await;
            closing.not_run(refusal).await
        }
    }
}

/// Ends a channel a stage stopped before it had a recording.
async fn stopped(rx: ChannelReadHalf, client: &Client, stop: Stop) {
    drop(rx);
    match stop {
        Stop::Gone => {}
        Stop::Quit => client.end(super::refusal::status::OK).await,
        Stop::Refused(r) => client.refuse(&r).await,
    }
}
