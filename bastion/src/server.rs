//! Running a bastion: what `bastion serve` does between loading its configuration and exiting,
//! as one call that the binary and in-process tests share.
//!
//! [`start`] brings the bastion up in order, each step needing the one before: the local demo
//! target (if configured, since targets are pointed at it), the audit store (sessions an
//! unclean stop left open are closed: no store, no session), the keys and rules
//! ([`Settings`]), recovery of recordings an unclean stop left unsealed, the SSH listener and
//! the HTTP API. It returns once both listen, with a [`Running`] that says where, stops the
//! bastion on request and waits for its end. Stopping tells live users, waits for their
//! channels to be recorded and sealed, and gives the audit database a last chance to take the
//! ends it still holds.
//!
//! The caller owns the process: the tokio runtime, logging (with [`refusal_watch`] installed)
//! and signals.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use config::Config;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::audit::{AuditError, AuditStore};
use crate::demo::DemoError;
use crate::settings::Settings;

/// How long a stopping bastion waits for the audit database to take the ends it still holds.
const ENDINGS_DRAIN: Duration = Duration::from_secs(5);
/// How long a stopping bastion goes on emptying its spool into the object store; what is left
/// goes up at the next start.
const SPOOL_DRAIN: Duration = Duration::from_secs(30);

/// Why a bastion could not start. Nothing is left running when [`start`] fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The local demo target (`kind = "local-demo"`) could not start.
    #[error(transparent)]
    Demo(#[from] DemoError),
    /// The audit database could not be opened, or the sessions an unclean stop left open could
    /// not be closed, or the recordings it left unsealed could not be listed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A key, identity provider, masking or approval rule the configuration names could not be
    /// loaded.
    #[error(transparent)]
    Settings(anyhow::Error),
    /// `recording.dir` does not exist and cannot be created.
    #[error("recording.dir {}", path.display())]
    RecordingDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `server.listen` is not an address.
    #[error("server.listen")]
    ListenAddress(#[source] std::net::AddrParseError),
    /// The SSH address cannot be bound.
    #[error("cannot listen on {address}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// `recording.retention` is set, and the store cannot keep it (see
    /// [`crate::store::object_lock::ObjectLock`]), or could not be asked.
    #[error("recording.retention: {0}")]
    Retention(String),
    /// The HTTP API (`server.api_listen`) could not start.
    #[error(transparent)]
    Api(anyhow::Error),
}

/// A started bastion. Dropping it does not stop the bastion: call [`Running::shutdown`], then
/// [`Running::wait`].
#[must_use = "a bastion runs until shut down; keep its handle to stop it and wait for its end"]
#[derive(Debug)]
pub struct Running {
    ssh: SocketAddr,
    api: Option<SocketAddr>,
    shutdown: CancellationToken,
    served: JoinHandle<()>,
}

impl Running {
    /// Where the SSH listener is bound (the real port when `server.listen` names port 0).
    pub fn ssh_addr(&self) -> SocketAddr {
        self.ssh
    }

    /// Where the HTTP API is bound, when `server.api_listen` is set.
    pub fn api_addr(&self) -> Option<SocketAddr> {
        self.api
    }

    /// Starts the shutdown: no new connections, live users told, then cut after a grace
    /// period. Returns at once; [`Running::wait`] waits for the end.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// A token that shuts the bastion down when cancelled, for a signal handler to hold.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the bastion has stopped: every channel sealed (or given up on after the
    /// listener's bound), the audit ends written or reported lost. Without a shutdown, waits
    /// for ever.
    ///
    /// # Panics
    /// If the serving task panicked, with its panic.
    pub async fn wait(self) {
        // The other failure, cancellation, comes only with the runtime's own shutdown: then
        // nothing is left to wait for.
        if let Err(e) = self.served.await {
            if let Ok(panic) = e.try_into_panic() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Starts a bastion from a loaded configuration (see [`crate::settings::load_config`]), on the
/// current tokio runtime; returns once it listens.
///
/// # Errors
/// When any step of the start fails (see [`StartError`]); the error says which.
pub async fn start(mut config: Config) -> Result<Running, StartError> {
    let demo = crate::demo::start_if_configured(&mut config).await?;
    let mut audit = AuditStore::connect(&config.audit.database).await?;
    if let Some(name) = &config.audit.instance {
        audit = audit.with_instance(name);
    }
    let settings = Settings::load(config, audit).map_err(StartError::Settings)?;
    let services = settings.services.clone();
    let closed = services
        .audit
        .close_unfinished_sessions(crate::audit::now_ms(), "bastion restarted (unclean stop)")
        .await?;
    if closed > 0 {
        warn!(closed, "closed audit sessions left open by an unclean stop");
    }
    let dir = &services.config.recording.dir;
    std::fs::create_dir_all(dir).map_err(|source| StartError::RecordingDir {
        path: dir.clone(),
        source,
    })?;
    let recovered =
        crate::gateway::recording::recover_unsealed(&services.recordings.key, &services.audit)
            .await?;
    if recovered > 0 {
        warn!(recovered, "sealed recordings left open by an unclean stop");
    }
    // The spool is emptied from now on: what an unclean stop left goes up first.
    let uploads = match &services.store {
        Some(store) => {
            if let Some((keep, mode)) = store.retention() {
                let answer = store
                    .object_lock()
                    .await
                    .map_err(|e| StartError::Retention(e.to_string()))?;
                crate::store::object_lock::keeps(&answer, keep, mode)
                    .map_err(StartError::Retention)?;
            }
            info!(store = %store.url(), "recordings go to the object store; the recording directory is its spool");
            let stop = CancellationToken::new();
            let uploader = crate::store::spool::Uploader::new(
                store.clone(),
                &services.config.recording,
                services.audit.clone(),
                services.metrics.spool.clone(),
            );
            Some((stop.clone(), tokio::spawn(uploader.run(stop, SPOOL_DRAIN))))
        }
        None => None,
    };
    let listen: SocketAddr = services
        .config
        .server
        .listen
        .parse()
        .map_err(StartError::ListenAddress)?;
    let bind = |source| StartError::Listen {
        address: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind)?;
    let ssh = listener.local_addr().map_err(bind)?;
    info!(address = %ssh, "bastion listening");
    if let Some(key) = settings.server.keys.first() {
        let public = key.public_key();
        info!(
            fingerprint = %public.fingerprint(ssh_key::HashAlg::Sha256),
            "host key; clients trust it with this known_hosts line: {}",
            known_hosts_line(ssh, public)
        );
    }
    let shutdown = services.shutdown.clone();
    let (api, api_task) = match crate::api::start(services.clone(), shutdown.clone(), ssh).await {
        Ok(Some((addr, task))) => (Some(addr), Some(task)),
        Ok(None) => (None, None),
        Err(e) => return Err(StartError::Api(e)),
    };
    if let Some(demo) = demo {
        demo.serve(shutdown.clone());
    }
    // The other bastions sharing the database see this one's live channels, and where to
    // watch them.
    services.live.attach(services.audit.clone());
    let published_cert = match &services.config.server.api_tls_cert {
        Some(path) => Some(certificates_only(path).map_err(StartError::Api)?),
        None => None,
    };
    tokio::spawn(heartbeat(
        services.clone(),
        api,
        published_cert,
        shutdown.clone(),
    ));
    let served = tokio::spawn(serve(settings, listener, api_task, uploads));
    Ok(Running {
        ssh,
        api,
        shutdown,
        served,
    })
}

/// How often a bastion tells the others sharing its database that it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Says, every [`HEARTBEAT`], that this bastion is alive and where its API is, until shutdown.
async fn heartbeat(
    services: std::sync::Arc<crate::services::Services>,
    api: Option<SocketAddr>,
    cert: Option<String>,
    shutdown: CancellationToken,
) {
    let server = &services.config.server;
    let tls = cert.as_ref();
    let url = server.api_url.clone().or_else(|| {
        let addr = api?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        (!addr.ip().is_unspecified()).then(|| format!("{scheme}://{addr}"))
    });
    if api.is_some() && url.is_none() {
        warn!("server.api_url is not set and api_listen names no single address: reviewers on other bastions cannot watch this one's sessions");
    }
    let url = api.and(url);
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if let Err(e) = services
            .audit
            .instance_seen(url.as_deref(), cert.as_deref())
            .await
        {
            warn!("cannot tell the other bastions this one is alive: {e}");
        }
    }
}

/// The certificate blocks of the API's PEM file, and nothing else of it (a combined file may
/// hold the private key too, which must never reach the shared database).
fn certificates_only(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("server.api_tls_cert {}", path.display()))?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        out.push_str(&rest[start..start + len + END.len()]);
        out.push('\n');
        rest = &rest[start + len + END.len()..];
    }
    anyhow::ensure!(
        !out.is_empty(),
        "server.api_tls_cert {}: no certificate in it",
        path.display()
    );
    Ok(out)
}

/// The `known_hosts` line naming the bastion at `addr` with its host key: `[HOST]:PORT KEY`
/// (`HOST KEY` on port 22). An address listening everywhere (`0.0.0.0`, `::`) leaves `HOST`
/// as `bastion.example.com`, for the operator to replace with the name clients use.
pub fn known_hosts_line(addr: SocketAddr, key: &ssh_key::PublicKey) -> String {
    let host = if addr.ip().is_unspecified() {
        "bastion.example.com".to_string()
    } else {
        addr.ip().to_string()
    };
    let key = key.to_openssh().unwrap_or_default();
    // The key's comment (its file's) is no part of the line.
    let key = key.split(' ').take(2).collect::<Vec<_>>().join(" ");
    if addr.port() == 22 {
        format!("{host} {key}")
    } else {
        format!("[{host}]:{} {key}", addr.port())
    }
}

/// Serves until the shutdown token is cancelled, then winds down.
async fn serve(
    settings: Settings,
    listener: TcpListener,
    api: Option<JoinHandle<()>>,
    uploads: Option<(CancellationToken, JoinHandle<()>)>,
) {
    let services = settings.services;
    let shutdown = services.shutdown.clone();
    crate::gateway::listener::run(
        services.clone(),
        listener,
        settings.server,
        settings.device_login,
        shutdown,
    )
    .await;
    // Its accept loop stops at the same shutdown; once it has, the API's port is closed too.
    if let Some(api) = api {
        let _ = api.await;
    }
    // Every channel is sealed now: the uploader's last pass takes them.
    if let Some((stop, uploader)) = uploads {
        stop.cancel();
        let _ = uploader.await;
    }
    // Ends still waiting for the database get a last chance; the recordings keep them anyway.
    let lost = services.endings.drain(ENDINGS_DRAIN).await;
    if lost > 0 {
        tracing::error!(
            lost,
            "audit: session and channel ends never written (database away); \
             their recordings have them"
        );
    }
    info!("bastion stopped");
}

/// The tracing layer a process running a bastion must install in its global subscriber,
/// whatever else it logs: the SSH library refuses expired certificates before any handler of
/// the bastion sees them, and only its warning (seen here, with the `log` records bridged into
/// tracing) lets the bastion audit the refusal and tell the user why.
pub fn refusal_watch<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    crate::gateway::early_refusals::Watch.with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_target(crate::gateway::early_refusals::TARGET, tracing::Level::WARN),
    )
}

#[cfg(test)]
mod tests {
    use super::known_hosts_line;

    #[test]
    fn only_certificates_are_published_never_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("combined.pem");
        std::fs::write(
            &p,
            "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let out = super::certificates_only(&p).unwrap();
        assert_eq!(
            out,
            "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n"
        );
        std::fs::write(
            &p,
            "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert!(super::certificates_only(&p).is_err());
    }

    #[test]
    fn known_hosts_line_names_the_port_unless_it_is_22() {
        let key: ssh_key::PublicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli bastion host_ed25519"
            .parse()
            .unwrap();
        let k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli";
        assert_eq!(
            known_hosts_line("127.0.0.1:2222".parse().unwrap(), &key),
            format!("[127.0.0.1]:2222 {k}")
        );
        assert_eq!(
            known_hosts_line("10.0.0.1:22".parse().unwrap(), &key),
            format!("10.0.0.1 {k}")
        );
        assert_eq!(
            known_hosts_line("[::]:2222".parse().unwrap(), &key),
            format!("[bastion.example.com]:2222 {k}")
        );
    }
}
