//! What every connection shares: the configuration and the keys, loaded once at start, and the
//! services the gateway talks to (audit store, approvals, maskers, metrics).

use std::sync::Arc;

use ssh_key::PublicKey;

use super::{places, watch};

/// Everything connections share: configuration and keys, loaded once at start.
pub struct Shared {
    /// The configuration.
    pub config: config::Config,
    /// Public halves of the user CAs whose certificates are accepted.
    pub user_cas: Vec<PublicKey>,
    /// Connects to targets with a certificate minted for each session.
    pub upstream: crate::gateway::upstream::Connector,
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
    /// Where channel recordings go, and the key that signs them.
    pub recordings: crate::gateway::recording::RecordingSink,
    /// PHI maskers (rules compiled once per distinct set in effect; each stream gets its own
    /// state).
    pub maskers: crate::masking::Maskers,
    /// The trusted OpenID providers (`[oidc]`, `[[ci]]`), with their key caches: one set for
    /// the HTTP API and device logins.
    pub identities: Arc<cert_authority::oidc::Identities>,
    /// Sessions open on this bastion, by identity (`server.max_sessions_per_identity`).
    pub sessions_by_identity: Arc<places::Places<String>>,
    /// Figures for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Cancelled when the bastion shuts down; channels tell their users.
    pub shutdown: tokio_util::sync::CancellationToken,
}
