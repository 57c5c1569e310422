//! The SSH gateway: accepts clients, authenticates their certificates, connects to targets and
//! relays session channels.
//!
//! # Layout
//! - [`listener`]: the accept loop and shutdown; [`admission`]: who may start a connection
//!   (unauthenticated places in all and per source, early drop, rate per source).
//! - [`connection`]: one client connection: authentication and channel callbacks (russh handler).
//! - [`early_refusals`]: refusals the SSH library makes before the handlers run (expired
//!   certificates), recognised from its log.
//! - [`device_login`]: signing in from plain `ssh` with the OpenID device grant.
//! - [`inflow`]: how much input a client may send ahead of its targets (the SSH window).
//! - [`refusal_words`]: what a refused client is told before the denial.
//! - [`places`]: bounded places per key (sign-ins waiting per address, sessions per identity).
//! - [`login_clock`]: when an unauthenticated connection is dropped.
//! - [`target`]: which target the user name asks for and whether the roles allow it (the
//!   `access` crate: pure, so that it can be fuzzed without building the gateway).
//! - [`watch`]: live sessions reviewers may watch, read only.
//! - [`upstream`]: the bastion's own connection to the target.
//! - [`bridge`]: one session channel relayed end to end, with backpressure.
//! - [`held`]: one approval request of a channel, asked, waited for and recorded.
//! - [`line`]: the command line of an interactive shell, read from its screen, for approval
//!   holds; [`line_keys`]: which keys may run it; [`shell_syntax`]: whether a shell has read a
//!   whole command yet; [`stdin_lines`]: commands read from stdin by a program run without
//!   a terminal.
//! - [`live`]: live masking of what the user sees.
//! - [`menu`]: the target menu shown to a pty session that named no target.
//! - [`recording`]: one channel's signed recording, written by its own task.
//! - [`session`]: state shared by the channels of one authenticated connection (upstream
//!   connection, activity clock for the idle timeout, notices to users).
//! - [`validity`]: logs a connection off when its certificate expires or is revoked.

pub mod admission;
pub mod bridge;
pub mod connection;
pub mod device_login;
mod early;
pub mod early_refusals;
mod held;
pub mod inflow;
pub mod line;
mod line_hold;
pub mod line_keys;
pub mod listener;
pub mod live;
pub mod login_clock;
pub mod menu;
pub mod places;
mod pumps;
pub mod recording;
pub mod refusal_words;
pub mod session;
pub mod shell_syntax;
mod stdin_hold;
pub mod stdin_lines;
pub use ::access as target;
pub mod upstream;
mod upward;
pub mod validity;
pub mod watch;

use std::sync::Arc;

use russh::keys::PrivateKey;
use ssh_key::PublicKey;

/// Everything connections share: configuration and keys, loaded once at start.
pub struct Shared {
    /// The configuration.
    pub config: config::Config,
    /// Public halves of the user CAs whose certificates are accepted.
    pub user_cas: Vec<PublicKey>,
    /// Signs the per-session upstream certificates.
    pub target_ca: PrivateKey,
    /// russh client settings for targets with pinned or known_hosts keys.
    pub upstream_config: Arc<russh::client::Config>,
    /// The same, also asking for host certificates (targets checked by host CA).
    pub upstream_config_host_ca: Arc<russh::client::Config>,
    /// The audit store (every session and channel is a row; no store, no session).
    pub audit: crate::audit::AuditStore,
    /// Writes session and channel ends, retrying them while the audit store is away.
    pub endings: crate::audit::Endings,
    /// Interactive channels that reviewers may watch.
    pub live: Arc<watch::LiveSessions>,
    /// The approval webhook, if configured.
    pub notifier: Option<crate::approval::notify::Notifier>,
    /// Approval rules, compiled.
    pub approvals: crate::approval::rules::Rules,
    /// Signs recording checkpoints.
    pub recording_key: Arc<recorder::SigningKey>,
    /// PHI maskers (rules compiled once per distinct set in effect; each stream gets its own
    /// state).
    pub maskers: crate::masking::Maskers,
    /// The trusted OpenID providers (`[oidc]`, `[[ci]]`), with their key caches: one set for
    /// the HTTP API and device logins.
    pub identities: Arc<cert_authority::oidc::Identities>,
    /// Device login for users without a certificate (`[oidc] device_login`).
    pub device_login: Option<Arc<device_login::DeviceLogin>>,
    /// Sessions open on this bastion, by identity (`server.max_sessions_per_identity`).
    pub sessions_by_identity: Arc<places::Places<String>>,
    /// Figures for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Cancelled when the bastion shuts down; channels tell their users.
    pub shutdown: tokio_util::sync::CancellationToken,
}
