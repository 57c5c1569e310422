//! The service handles a running bastion is made of, built once from the configuration
//! ([`crate::settings::Settings::load`]) and reached by every connection, channel and API
//! request: each is a handle to one concern, and code reaches for the one it needs.

use std::sync::Arc;

use ssh_key::PublicKey;

use crate::gateway::{places, watch};

/// One running bastion's services.
pub struct Services {
    /// The configuration (timeouts, limits, targets and roles for `policy`).
    pub config: config::Config,
    /// Public halves of the user CAs whose certificates are accepted.
    pub user_cas: Vec<PublicKey>,
    /// The trusted OpenID providers (`[oidc]`, `[[ci]]`), with their key caches: one set for
    /// the HTTP API and device logins.
    pub identities: Arc<cert_authority::oidc::Identities>,
    /// Connects to targets with a certificate minted for each session.
    pub upstream: crate::gateway::upstream::Connector,
    /// The audit store (every session and channel is a row; no store, no session).
    pub audit: crate::audit::AuditStore,
    /// Writes session and channel ends, retrying them while the audit store is away.
    pub endings: crate::audit::Endings,
    /// Approval rules and the webhook that tells reviewers.
    pub approvals: crate::approval::Approvals,
    /// Where channel recordings go, and the key that signs them.
    pub recordings: crate::gateway::recording::RecordingSink,
    /// The object store the spool is emptied into (`[recording] store`), if any.
    pub store: Option<crate::store::Store>,
    /// PHI maskers (rules compiled once per distinct set in effect; each stream gets its own
    /// state).
    pub maskers: crate::masking::Maskers,
    /// Figures for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Interactive channels that reviewers may watch.
    pub live: Arc<watch::LiveSessions>,
    /// Sessions open on this bastion, by identity (`server.max_sessions_per_identity`).
    pub sessions_by_identity: Arc<places::Places<String>>,
    /// Cancelled when the bastion shuts down; channels tell their users.
    pub shutdown: tokio_util::sync::CancellationToken,
}
