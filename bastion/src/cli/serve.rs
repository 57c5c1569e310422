//! `bastion serve`: run the gateway until SIGTERM or SIGINT.

use std::net::SocketAddr;

use anyhow::Context;
use config::Config;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{ConfigArg, Failure};
use crate::gateway::listener;
use crate::settings::Settings;

/// How long a stopping bastion waits for the audit database to take the ends it still holds.
const ENDINGS_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Serve SSH clients.
#[derive(Debug, clap::Args)]
pub struct Serve {
    #[command(flatten)]
    config: ConfigArg,
}

impl Serve {
    pub fn run(self) -> Result<(), Failure> {
        let path = self.config.path();
        let config = crate::settings::load_config(&path).map_err(Failure::usage)?;
        for w in &config.warnings {
            tracing::warn!("configuration: {}", w.render(&path.display().to_string()));
        }
        super::runtime()?.block_on(serve(config))
    }
}

/// Starts the demo target if the configuration has one, then serves until a signal arrives.
pub async fn serve(mut config: Config) -> Result<(), Failure> {
    crate::demo::start_if_configured(&mut config).await?;
    let mut audit = crate::audit::AuditStore::connect(&config.audit.database)
        .await
        .map_err(Failure::failed)?;
    if let Some(name) = &config.audit.instance {
        audit = audit.with_instance(name);
    }
    let settings = Settings::load(config, audit).map_err(Failure::failed)?;
    let closed = settings
        .shared
        .audit
        .close_unfinished_sessions(crate::audit::now_ms(), "bastion restarted (unclean stop)")
        .await
        .map_err(Failure::failed)?;
    if closed > 0 {
        tracing::warn!(closed, "closed audit sessions left open by an unclean stop");
    }
    let dir = &settings.shared.config.recording.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("recording.dir {}", dir.display()))?;
    let recovered = crate::gateway::recording::recover_unsealed(
        &settings.shared.recordings.key,
        &settings.shared.audit,
    )
    .await
    .map_err(Failure::failed)?;
    if recovered > 0 {
        tracing::warn!(recovered, "sealed recordings left open by an unclean stop");
    }
    let listen: SocketAddr = settings
        .shared
        .config
        .server
        .listen
        .parse()
        .context("server.listen")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().context("listener address")?;
    info!(address = %local, "bastion listening");
    let shutdown = settings.shared.shutdown.clone();
    let _api = crate::api::start(settings.shared.clone(), shutdown.clone())
        .await
        .map_err(Failure::failed)?;
    tokio::spawn(signal_shutdown(shutdown.clone()));
    listener::run(
        settings.shared.clone(),
        listener,
        settings.server.clone(),
        shutdown,
    )
    .await;
    // Ends still waiting for the database get a last chance; the recordings keep them anyway.
    let lost = settings.shared.endings.drain(ENDINGS_DRAIN).await;
    if lost > 0 {
        tracing::error!(
            lost,
            "audit: session and channel ends never written (database away); \
             their recordings have them"
        );
    }
    info!("bastion stopped");
    Ok(())
}

async fn signal_shutdown(token: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
    }
    token.cancel();
}
