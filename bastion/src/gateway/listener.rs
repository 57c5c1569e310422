//! The accept loop: limits unauthenticated connections, enforces the login grace time, and on
//! shutdown tells live users, then waits for their channels to close.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use russh::Disconnect;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::gateway::connection::Connection;
use crate::gateway::device_login::DeviceLogin;
use crate::services::Services;

/// How long live sessions get to see the shutdown notice before they are cut.
const SHUTDOWN_NOTICE: Duration = Duration::from_millis(500);
/// How long shutdown waits for a connection to end once told to.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long shutdown waits for every channel to finish: a connection's end, then its
/// channels' own bound for recording the command's end and sealing (see `channel`).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(30);
/// Longest a disconnect message may wait for a connection's event loop.
const DISCONNECT_WAIT: Duration = Duration::from_secs(2);

/// Serves clients on `listener` until `shutdown` is cancelled.
pub async fn run(
    services: Arc<Services>,
    listener: TcpListener,
    server_config: Arc<russh::server::Config>,
    device_login: Option<Arc<DeviceLogin>>,
    shutdown: CancellationToken,
) {
    let s = &services.config.server;
    let admission = crate::gateway::admission::Admission::new(crate::gateway::admission::Limits {
        total: s.max_unauthenticated,
        per_source: s.unauthenticated_per_source(),
        drop_from: s.early_drop_start(),
        drop_rate: s.early_drop_rate,
        rate_per_source: s.connection_rate_per_source,
    });
    let tasks = TaskTracker::new();
    let quiet = crate::gateway::places::Quiet::default();
    let mut backoff = Duration::from_millis(50);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(50);
                a
            }
            Err(e) => {
                // EMFILE and friends: wait rather than spin.
                warn!("accept failed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let permit = match admission.admit(peer.ip()) {
            Ok(p) => p,
            Err(why) => {
                // Under a flood this is every connection: counted, logged once a second.
                services.metrics.connections_dropped(why);
                if quiet.ready() {
                    let what = match why {
                        crate::gateway::admission::Refused::Full => {
                            "too many unauthenticated connections"
                        }
                        crate::gateway::admission::Refused::Source => {
                            "too many unauthenticated connections from one address"
                        }
                        crate::gateway::admission::Refused::Rate => {
                            "too many new connections from one address"
                        }
                        crate::gateway::admission::Refused::Early => {
                            "unauthenticated connections filling up (early drop)"
                        }
                    };
                    warn!(%peer, reason = why.code(), "connection dropped: {what}");
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let id = new_session_id();
        let conn = Connection::new(
            services.clone(),
            device_login.clone(),
            peer,
            id,
            permit,
            tasks.clone(),
        );
        tasks.spawn(serve_connection(
            services.clone(),
            server_config.clone(),
            tcp,
            peer,
            conn,
            shutdown.clone(),
        ));
    }
    info!("no longer accepting connections; waiting for live sessions");
    tasks.close();
    if tokio::time::timeout(SHUTDOWN_WAIT, tasks.wait())
        .await
        .is_err()
    {
        warn!("sessions still open after {SHUTDOWN_WAIT:?}; exiting anyway");
    }
}

async fn serve_connection(
    services: Arc<Services>,
    server_config: Arc<russh::server::Config>,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: Connection,
    shutdown: CancellationToken,
) {
    let grace = services.config.server.login_grace_time.duration();
    let authenticated = conn.authenticated.clone();
    let clock = conn.login_clock.clone();
    let running = match tokio::time::timeout(
        grace,
        russh::server::run_stream(server_config, tcp, conn),
    )
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            warn!(%peer, "SSH handshake failed: {e}");
            return;
        }
        Err(_) => {
            warn!(%peer, "login grace time exceeded before the SSH handshake");
            return;
        }
    };
    let handle = running.handle();
    let mut running = pin!(running);
    tokio::select! {
        r = &mut running => {
            if let Err(e) = r {
                info!(%peer, "connection ended: {e}");
            }
            return;
        }
        _ = clock.expired() => {
            if !authenticated.load(Ordering::SeqCst) {
                let reason = clock.reason();
                warn!(%peer, "{reason}; disconnecting");
                let bye = handle.disconnect(Disconnect::ByApplication, reason, "en".into());
                let _ = tokio::time::timeout(DISCONNECT_WAIT, bye).await;
            }
        }
        _ = shutdown.cancelled() => {}
    }
    tokio::select! {
        r = &mut running => {
            if let Err(e) = r {
                info!(%peer, "connection ended: {e}");
            }
        }
        _ = shutdown.cancelled() => {
            // The channel pumps show the notice; give it a moment to reach the users.
            tokio::time::sleep(SHUTDOWN_NOTICE).await;
            let bye = handle.disconnect(
                Disconnect::ByApplication,
                "bastion shutting down".into(),
                "en".into(),
            );
            let _ = tokio::time::timeout(DISCONNECT_WAIT, bye).await;
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, running).await;
        }
    }
}

/// A session id: start time (hex seconds) and 32 random bits, sortable by time.
pub fn new_session_id() -> String {
    use ring::rand::SecureRandom;
    let secs = cert_authority::unix_now();
    let mut r = [0u8; 4];
    let _ = ring::rand::SystemRandom::new().fill(&mut r);
    format!("{secs:x}-{:08x}", u32::from_be_bytes(r))
}
