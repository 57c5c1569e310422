//! Resolved settings: the configuration plus the keys it names, loaded and checked once.

use std::sync::Arc;

use anyhow::{Context, Result};
use cert_authority::load_private_key;
use config::Config;
use russh::keys::PrivateKey;
use russh::server::Config as ServerConfig;
use russh::{MethodKind, MethodSet, SshId};

use crate::gateway::upstream;
use crate::services::Services;

/// Reads and checks the configuration at `path`, including what only the bastion can check
/// (masking rules compile), each problem with its file and line.
pub fn load_config(path: &std::path::Path) -> Result<Config, config::ConfigError> {
    Config::load_with(path, crate::masking::problems)
}

/// Everything a running bastion needs, loaded.
pub struct Settings {
    /// The services every connection reaches.
    pub(crate) services: Arc<Services>,
    /// russh server settings.
    pub(crate) server: Arc<ServerConfig>,
    /// Device login for users without a certificate (`[oidc] device_login`).
    pub(crate) device_login: Option<Arc<crate::gateway::device_login::DeviceLogin>>,
}

impl Settings {
    /// The configuration these settings were loaded from.
    pub fn config(&self) -> &Config {
        &self.services.config
    }

    /// The object store recordings go to, if the configuration names one.
    pub fn store(&self) -> Option<&crate::store::Store> {
        self.services.store.as_ref()
    }

    /// The PHI maskers the configuration's rules make.
    pub fn maskers(&self) -> &crate::masking::Maskers {
        &self.services.maskers
    }

    /// Loads the keys the configuration names; every failure names the file.
    pub fn load(config: Config, audit: crate::audit::AuditStore) -> Result<Settings> {
        let host_key = load(&config.server.host_key, "server.host_key")?;
        let user_ca = load(&config.ca.user_ca, "ca.user_ca")?;
        let target_ca = load(&config.ca.target_ca, "ca.target_ca")?;
        let identities = Arc::new(
            cert_authority::oidc::Identities::new(Arc::new(config.clone()))
                .map_err(|e| anyhow::anyhow!("identity providers: {e}"))?,
        );
        let device_login =
            crate::gateway::device_login::DeviceLogin::new(&config, identities.clone())?;
        let server = server_config(&config, host_key);
        let recording_key = recorder::SigningKey::load_openssh(&config.recording.signing_key)
            .with_context(|| {
                format!(
                    "recording.signing_key ({})",
                    config.recording.signing_key.display()
                )
            })?;
        let maskers = crate::masking::Maskers::new(&config.masking)?;
        let approvals = crate::approval::Approvals::new(&config)?;
        let store = crate::store::Store::open(&config.recording)?;
        let metrics = crate::metrics::Metrics::default();
        let services = Services {
            user_cas: vec![user_ca.public_key().clone()],
            upstream: upstream::Connector::new(&config, target_ca),
            endings: crate::audit::Endings::new(audit.clone()),
            audit,
            recordings: crate::gateway::recording::RecordingSink::new(
                &config.recording,
                Arc::new(recording_key),
                store.as_ref().map(|_| metrics.spool.clone()),
            ),
            store,
            maskers,
            approvals,
            live: Default::default(),
            identities,
            sessions_by_identity: crate::gateway::places::Places::new(
                config
                    .server
                    .max_sessions_per_identity
                    .unwrap_or(usize::MAX),
                usize::MAX,
            ),
            metrics,
            shutdown: tokio_util::sync::CancellationToken::new(),
            config,
        };
        Ok(Settings {
            services: Arc::new(services),
            server: Arc::new(server),
            device_login,
        })
    }
}

fn load(path: &std::path::Path, key: &str) -> Result<PrivateKey> {
    load_private_key(path).with_context(|| format!("{key} ({})", path.display()))
}

fn server_config(config: &Config, host_key: PrivateKey) -> ServerConfig {
    let s = &config.server;
    // Keyboard-interactive serves device login, and tells a refused user why (see
    // `gateway::refusal_words`).
    let methods: &[MethodKind] = &[MethodKind::PublicKey, MethodKind::KeyboardInteractive];
    ServerConfig {
        server_id: SshId::Standard(concat!("SSH-2.0-bastion_", env!("CARGO_PKG_VERSION")).into()),
        methods: MethodSet::from(methods),
        preferred: crate::algorithms::server_preferred(
            s,
            crate::ciphers::offered(s.ciphers.as_deref()),
        ),
        auth_rejection_time: std::time::Duration::from_millis(250),
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        keys: vec![host_key],
        // russh counts the client's opening "none" probe; OpenSSH's MaxAuthTries does not.
        max_auth_attempts: s.max_auth_attempts + 1,
        // The role's idle timeout logs users off with a message; russh's would cut silently.
        inactivity_timeout: None,
        keepalive_interval: Some(s.keepalive_interval.duration()),
        keepalive_max: s.keepalive_max,
        nodelay: true,
        // Input beyond the window is bounded by the input pumps (see gateway::inflow), which
        // always take what arrives: a short queue per channel is enough.
        window_size: crate::gateway::relay::inflow::CHANNEL_WINDOW,
        channel_buffer_size: upstream::CHANNEL_QUEUE,
        ..Default::default()
    }
}
