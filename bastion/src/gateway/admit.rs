//! An authenticated identity (a certificate, or a device login's grant) admitted to a session,
//! or denied: revocation, the identity's sessions on this bastion, roles, the destination in
//! the user name, and the session's audit rows. Denied identities are told why once
//! authentication ends; identities refused outright fail authentication.

use std::net::SocketAddr;
use std::sync::Arc;

use tracing::{info, warn};

use crate::audit::{AuthEvent, SessionOpened};
use crate::gateway::auth_refusals::{AuthRefusals, Offered};
use crate::gateway::places::{Full, Place};
use crate::gateway::relay::inflow::Inflow;
use crate::gateway::session::SessionCtx;
use crate::policy::{self, Destination};
use crate::services::Services;

/// What a denied user is told when the audit store cannot record their session.
const UNAUDITED: &str = "the audit store is unavailable, so no session can be opened (fail closed)";

/// An identity refused outright: its authentication fails. The words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// An authenticated identity's standing.
pub enum Admission {
    /// Authenticated, but no session may start: why, for the user.
    Denied(String),
    /// A session may start.
    Admitted(Admitted),
}

/// An admitted identity's session.
pub struct Admitted {
    /// The session.
    pub session: Arc<SessionCtx>,
    /// Its place among its identity's sessions on this bastion, given back when dropped.
    _place: Place<String>,
}

/// Admits identities on one connection.
pub struct Admit<'a> {
    /// The services.
    pub services: &'a Arc<Services>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's id (the session's, once admitted).
    pub id: &'a str,
    /// The connection's input waiting for targets.
    pub inflow: &'a Arc<Inflow>,
    /// Where refusals go.
    pub refusals: &'a mut AuthRefusals,
}

impl Admit<'_> {
    /// Admits an authenticated identity (certificate or device login): revocation, roles,
    /// destination, audit rows, session. `Err` (already logged and audited) refuses it.
    pub async fn admit(
        &mut self,
        user: &str,
        certified: cert_authority::CertifiedUser,
    ) -> Result<Admission, Refused> {
        let mut denial = self.revocation(user, &certified).await?;
        let place = match self.session_place(user, &certified) {
            Ok(place) => place,
            // Told once authentication ends (a rejected key would only read "Permission
            // denied"), and no session starts.
            Err(reason) => return Ok(Admission::Denied(reason)),
        };
        let roles = policy::roles_for(&self.services.config, &certified.principals);
        if roles.is_empty() {
            let reason = format!(
                "no role grants any of the principals {:?} (key id {:?})",
                certified.principals, certified.key_id
            );
            self.refusals.refused(
                user,
                &reason,
                "unknown-principal",
                Offered::certified(&certified),
            );
            return Err(Refused(reason));
        }
        let destination = Destination::parse(user);
        let mut note = None;
        let review = user == crate::review::USER;
        if review && !crate::review::may_review(&self.services.config, &certified.principals) {
            warn!(conn = %self.id, identity = %certified.key_id, reason = "not-a-reviewer", "review refused");
            denial = Some("no role of yours allows the review console".into());
        }
        let access = match &destination.target {
            _ if review => None,
            Some(t) => match self.resolve(&certified, t, destination.login.as_deref()) {
                Ok(a) => Some(a),
                // A bare name that is no target is most often the local user name that ssh
                // sends by default: offer the menu (or say how to name a target) instead of
                // closing the connection.
                Err(d) if !user.contains('@') => {
                    note = Some(d.to_string());
                    None
                }
                Err(d) => {
                    let maskers = &self.services.maskers;
                    warn!(conn = %self.id, peer = %self.peer, user = maskers.client_text(user),
                        identity = %certified.key_id, reason = %d.code(),
                        "destination refused: {}", maskers.client_text(&d.to_string()));
                    self.refusals
                        .audit(user, d.code(), Offered::certified(&certified));
                    denial = Some(d.to_string());
                    None
                }
            },
            None => None,
        };
        info!(
            conn = %self.id,
            peer = %self.peer,
            user = self.services.maskers.client_text(user),
            identity = %certified.key_id,
            serial = certified.serial,
            principals = ?certified.principals,
            target = access.as_ref().map(|a| a.target.name.as_str()).unwrap_or("-"),
            login = access.as_ref().map(|a| a.login.as_str()).unwrap_or("-"),
            "authenticated"
        );
        if let Some(reason) = denial {
            return Ok(Admission::Denied(reason));
        }
        // Fail closed: a session the audit store cannot record does not start.
        if let Err(e) = self.audit_session(user, &certified, access.as_ref()).await {
            tracing::error!(conn = %self.id, identity = %certified.key_id, "audit store unavailable, session refused: {e}");
            return Ok(Admission::Denied(UNAUDITED.into()));
        }
        self.services.metrics.auth_accepted.inc();
        self.services.metrics.sessions.inc();
        let ctx = SessionCtx::new(
            self.id.to_string(),
            self.peer,
            certified,
            access,
            note,
            self.services.clone(),
            self.inflow.clone(),
        );
        Ok(Admission::Admitted(Admitted {
            session: Arc::new(if review { ctx.for_review() } else { ctx }),
            _place: place,
        }))
    }

    /// Revoked (by serial or key id) on any bastion sharing the store: refused at once. A
    /// store that cannot answer refuses too (fail closed), but says why once authentication
    /// ends: `Ok(Some(why))`.
    async fn revocation(
        &mut self,
        user: &str,
        certified: &cert_authority::CertifiedUser,
    ) -> Result<Option<String>, Refused> {
        match self
            .services
            .audit
            .is_revoked(certified.serial, &certified.key_id)
            .await
        {
            Ok(false) => Ok(None),
            Ok(true) => {
                let reason = format!(
                    "access revoked for {:?} (serial {})",
                    certified.key_id, certified.serial
                );
                self.refusals
                    .refused(user, &reason, "revoked", Offered::certified(certified));
                Err(Refused(reason))
            }
            Err(e) => {
                tracing::error!(conn = %self.id, identity = %certified.key_id, "audit store unavailable, session refused (cannot check revocation): {e}");
                Ok(Some(UNAUDITED.into()))
            }
        }
    }

    /// A place among the identity's sessions on this bastion; `Err` says why there is none.
    fn session_place(
        &mut self,
        user: &str,
        certified: &cert_authority::CertifiedUser,
    ) -> Result<Place<String>, String> {
        let full = match self
            .services
            .sessions_by_identity
            .take(certified.key_id.clone())
        {
            Ok(place) => return Ok(place),
            Err(full) => full,
        };
        let n = match full {
            Full::Key(n) | Full::All(n) => n,
        };
        let reason = format!(
            "{} of yours {} already open on this bastion (the most one identity may have)",
            crate::human::count(n as u64, "session"),
            crate::human::is_are(n as u64)
        );
        self.refusals.refused(
            user,
            &reason,
            "too-many-sessions",
            Offered::certified(certified),
        );
        Err(reason)
    }

    /// A device login's grant becomes the session's identity: an audit row like a
    /// certificate's (no key: source `ssh-device`), then [`Connection::admit`].
    pub async fn admit_grant(
        &mut self,
        user: &str,
        grant: cert_authority::oidc::Grant,
    ) -> Result<Admission, Refused> {
        let serial = cert_authority::new_serial().map_err(|e| {
            tracing::error!(conn = %self.id, "device login refused: {e}");
            Refused(
                "no certificate serial could be made (the system's random source failed)".into(),
            )
        })?;
        match self
            .services
            .audit
            .is_identity_revoked(&grant.key_id, &grant.subject)
            .await
        {
            Ok(false) => {}
            Ok(true) => {
                let reason = format!("access revoked for {:?}", grant.key_id);
                self.refusals
                    .refused(user, &reason, "revoked", Offered::Nothing);
                return Err(Refused(reason));
            }
            Err(e) => {
                tracing::error!(conn = %self.id, identity = %grant.key_id, "audit store unavailable, device login refused: {e}");
                return Err(Refused(UNAUDITED.into()));
            }
        }
        let now = cert_authority::unix_now();
        let valid_before = now.saturating_add(grant.ttl.as_secs());
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let row = crate::audit::CertificateIssued {
            serial,
            key_id: grant.key_id.clone(),
            principals: grant.principals.clone(),
            public_key: "none (device login over ssh)".into(),
            valid_after_ms: ms(now),
            valid_before_ms: ms(valid_before),
            source: "ssh-device".into(),
            requester: Some(grant.subject.clone()),
            issued_at_ms: crate::audit::now_ms(),
        };
        if let Err(e) = self.services.audit.certificate_issued(&row).await {
            tracing::error!(conn = %self.id, identity = %grant.key_id, "audit store unavailable, device login refused: {e}");
            return Err(Refused(UNAUDITED.into()));
        }
        self.services.metrics.certificates_issued.inc();
        info!(conn = %self.id, peer = %self.peer, identity = %grant.key_id, serial, principals = ?grant.principals, "device login: signed in");
        let has = |e: &str| grant.extensions.iter().any(|x| x == e);
        let certified = cert_authority::CertifiedUser {
            serial,
            principals: grant.principals.clone(),
            valid_before,
            force_command: None,
            permit_pty: has("permit-pty"),
            permit_port_forwarding: has("permit-port-forwarding"),
            ca_fingerprint: "device login".into(),
            default_login: grant.default_login.clone(),
            key_id: grant.key_id,
        };
        self.admit(user, certified).await
    }

    /// The access `user` asks for. Without a login in the name, the holder's own default
    /// login (from the certificate) is used when a role allows it, else the role's or target's.
    fn resolve(
        &self,
        certified: &cert_authority::CertifiedUser,
        target_name: &str,
        login: Option<&str>,
    ) -> Result<policy::Access, policy::Denied> {
        let config = &self.services.config;
        let principals = &certified.principals;
        if login.is_none() {
            if let Some(own) = certified.default_login.as_deref() {
                if let Ok(a) = policy::resolve(config, principals, target_name, Some(own)) {
                    return Ok(a);
                }
            }
        }
        policy::resolve(config, principals, target_name, login)
    }

    async fn audit_session(
        &self,
        user: &str,
        certified: &cert_authority::CertifiedUser,
        access: Option<&crate::policy::Access>,
    ) -> Result<(), crate::audit::AuditError> {
        let audit = &self.services.audit;
        audit.ping().await?;
        audit
            .auth_event(&AuthEvent {
                at_ms: crate::audit::now_ms(),
                peer: self.peer.to_string(),
                user_name: self.services.maskers.client_text(user),
                identity: Some(certified.key_id.clone()),
                serial: Some(certified.serial),
                accepted: true,
                reason: "accepted".into(),
                principals: Some(certified.principals.clone()),
                offered: None,
            })
            .await?;
        audit
            .session_opened(&SessionOpened {
                id: self.id.to_string(),
                started_at_ms: crate::audit::now_ms(),
                identity: certified.key_id.clone(),
                serial: certified.serial,
                principals: certified.principals.clone(),
                peer: self.peer.to_string(),
                target: access.map(|a| a.target.name.clone()),
                login: access.map(|a| a.login.clone()),
            })
            .await
    }
}
