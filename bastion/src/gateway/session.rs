//! State shared by all channels of one authenticated client connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cert_authority::CertifiedUser;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::gateway::upstream::{Upstream, UpstreamError};
use crate::policy::Access;
use crate::services::Services;

/// One authenticated connection.
pub struct SessionCtx {
    /// Session id: names the recordings and the upstream certificate.
    pub id: String,
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// Who the certificate says the user is.
    pub user: CertifiedUser,
    /// Why the name given was not used as a target, shown with the menu.
    pub note: Option<String>,
    /// A reviewer's session (`ssh review@bastion …`): commands run on the bastion itself.
    pub review: bool,
    /// Where the session goes, once known (from the user name, or chosen in the menu).
    access: Mutex<Option<Access>>,
    upstream: tokio::sync::Mutex<Option<Arc<Upstream>>>,
    /// Configuration and keys.
    pub services: Arc<Services>,
    started: Instant,
    /// Milliseconds since `started` of the last byte in either direction.
    last_activity: AtomicU64,
    /// Channels without a terminal (commands, transfers) running now: a connection running
    /// one is not idle, however quiet the command is.
    running: std::sync::atomic::AtomicUsize,
    /// Messages for every open channel of this connection (idle logoff, shutdown).
    pub notices: broadcast::Sender<Arc<str>>,
    /// Cancelled when the connection ends; channel tasks stop with it.
    pub closed: CancellationToken,
    /// The connection's input waiting for targets (each channel counts its own in it).
    pub inflow: Arc<crate::gateway::relay::inflow::Inflow>,
}

impl SessionCtx {
    /// Marks the session as a reviewer's.
    pub fn for_review(mut self) -> SessionCtx {
        self.review = true;
        self
    }

    /// A new session for `user` arriving from `peer`.
    pub fn new(
        id: String,
        peer: std::net::SocketAddr,
        user: CertifiedUser,
        access: Option<Access>,
        note: Option<String>,
        services: Arc<Services>,
        inflow: Arc<crate::gateway::relay::inflow::Inflow>,
    ) -> SessionCtx {
        SessionCtx {
            id,
            peer,
            user,
            review: false,
            note,
            access: Mutex::new(access),
            upstream: tokio::sync::Mutex::new(None),
            services,
            started: Instant::now(),
            last_activity: AtomicU64::new(0),
            running: std::sync::atomic::AtomicUsize::new(0),
            notices: broadcast::channel(8).0,
            closed: CancellationToken::new(),
            inflow,
        }
    }

    /// The destination, once resolved.
    pub fn access(&self) -> Option<Access> {
        self.access.lock().ok().and_then(|a| a.clone())
    }

    /// Fixes the destination (menu choice). The first choice sticks: all channels of a
    /// connection share one upstream connection.
    pub fn choose(&self, access: Access) -> Access {
        match self.access.lock() {
            Ok(mut slot) => slot.get_or_insert(access).clone(),
            Err(_) => access,
        }
    }

    /// Notes traffic now (for the idle timeout).
    pub fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_activity.store(ms, Ordering::Relaxed);
    }

    /// Counts a command (a channel without a terminal) as running until the guard drops.
    pub fn command_running(self: &Arc<Self>) -> CommandRunning {
        self.running.fetch_add(1, Ordering::Relaxed);
        CommandRunning(self.clone())
    }

    /// Whether a command is running (see [`SessionCtx::command_running`]).
    pub fn commands_running(&self) -> bool {
        self.running.load(Ordering::Relaxed) > 0
    }

    /// Time since the last traffic.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_activity.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// The upstream connection, made on first use and shared by every channel. One that has
    /// closed (the target rebooted, the network dropped) is made again for the next channel,
    /// so a long-lived ControlMaster keeps working as it would with the target directly.
    pub async fn upstream(&self, access: &Access) -> Result<Arc<Upstream>, UpstreamError> {
        let mut slot = self.upstream.lock().await;
        if let Some(up) = slot.as_ref() {
            if !up.handle.is_closed() {
                return Ok(up.clone());
            }
            tracing::warn!(session = %self.id, target = %access.target.name,
                "the connection to the target was lost; connecting again for a new channel");
        }
        let key_id = format!("bastion session {} for {}", self.id, self.user.key_id);
        let up = Arc::new(
            self.services
                .upstream
                .connect(&access.target, &access.login, &key_id)
                .await?,
        );
        tracing::info!(
            session = %self.id,
            user = %self.user.key_id,
            target = %access.target.name,
            login = %access.login,
            "upstream connected"
        );
        *slot = Some(up.clone());
        Ok(up)
    }

    /// Tells every open channel `text` (shown on stderr, or on the terminal of pty sessions).
    pub fn notify(&self, text: &str) {
        let _ = self.notices.send(Arc::from(text));
    }

    /// Runs `work` to its end, or until the client's connection has been gone for `grace`:
    /// then `work` is dropped, which cancels whatever it waits on (a target that stopped
    /// reading, a reviewer, a write the client will never take) and releases the channel's
    /// readers, which the connections' event loops may be waiting on. `None` when it was
    /// dropped.
    pub async fn until_gone<T>(
        &self,
        grace: Duration,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let gone = async {
            self.closed.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = work => Some(r),
            _ = gone => None,
        }
    }

    /// Ends the connection from a watchdog: every channel is told `notice`, then the client
    /// is disconnected with `reason`.
    pub async fn log_off(&self, handle: &russh::server::Handle, notice: &str, reason: &str) {
        self.notify(notice);
        // Time for the notice to reach the user before the connection goes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let bye = handle.disconnect(russh::Disconnect::ByApplication, reason.into(), "en".into());
        // A connection whose event loop is stuck must not keep its watchdog.
        let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
    }
}

/// See [`SessionCtx::command_running`]. The idle clock restarts when the command ends.
pub struct CommandRunning(Arc<SessionCtx>);

impl Drop for CommandRunning {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl Drop for SessionCtx {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}
