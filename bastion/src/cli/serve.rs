//! `bastion serve`: run the bastion until SIGTERM or SIGINT.

use bastion::server::Running;
use config::Config;
use tracing::info;

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// Serve SSH clients.
#[derive(Debug, clap::Args)]
pub struct Serve {
    #[command(flatten)]
    config: ConfigArg,
}

impl Serve {
    pub fn run(self) -> Result<(), Failure> {
        let path = self.config.path();
        let config = self.config.load_checked()?;
        for w in &config.warnings {
            tracing::warn!("configuration: {}", w.render(&path.display().to_string()));
        }
        super::failure::runtime()?.block_on(serve(config))
    }
}

/// Starts the bastion and serves until SIGTERM or SIGINT.
async fn serve(config: Config) -> Result<(), Failure> {
    let running = bastion::server::start(config)
        .await
        .map_err(Failure::failed)?;
    stop_on_signal(&running);
    running.wait().await;
    Ok(())
}

/// Shuts `running` down cleanly (live users told, channels sealed) at the first SIGTERM or
/// SIGINT; `quickstart` serves the same way.
pub fn stop_on_signal(running: &Running) {
    let shutdown = running.shutdown_token();
    tokio::spawn(async move {
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
        shutdown.cancel();
    });
}
