//! One client connection: certificate authentication and the channel callbacks of russh.
//!
//! The callbacks never wait on a target or a person: russh runs them inside the connection's
//! event loop, and a callback that blocks would stall every channel of the connection. Requests
//! are answered at once from policy that needs no I/O; the channel task ([`crate::gateway::channel`])
//! receives the same requests in order and does the slow work.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cert_authority::{check_user_certificate, Refusal};
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect};
use ssh_key::{Certificate, HashAlg};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::channel::{self, forward};
use crate::audit::{AuthEvent, SessionOpened};
use crate::gateway::session::SessionCtx;
use crate::gateway::shared::Shared;
use crate::policy::{self, Destination};

/// Per-connection state handed to russh.
pub struct Connection {
    shared: Arc<Shared>,
    peer: SocketAddr,
    id: String,
    /// Counts against `max_unauthenticated` until authentication succeeds or a device login
    /// starts waiting for its user.
    permit: Option<crate::gateway::places::Place<std::net::IpAddr>>,
    /// Set once authenticated; read by the login grace timer.
    pub authenticated: Arc<AtomicBool>,
    /// When this connection must have authenticated (device logins move it).
    pub login_clock: Arc<crate::gateway::login_clock::LoginClock>,
    sign_in: crate::gateway::device_login::SignIn,
    /// The session has its audit row (so its end is recorded) and counts in the open-sessions
    /// gauge. False for a session refused at admission, which only shows its reason.
    counted: bool,
    session: Option<Arc<SessionCtx>>,
    /// A destination refusal to tell the user once authentication completes.
    denial: Option<String>,
    /// This session's place among its identity's sessions on this bastion.
    session_place: Option<crate::gateway::places::Place<String>>,
    /// Channels open now; each channel task holds a [`ChannelSlot`] that gives its place back.
    channels: Arc<std::sync::atomic::AtomicUsize>,
    /// Input of this connection's channels waiting for their targets: sets the window granted.
    inflow: Arc<crate::gateway::relay::inflow::Inflow>,
    /// Why certificates were refused, in words for the user: shown once through
    /// keyboard-interactive before the connection is denied (see [`Connection::why`]).
    told: Vec<String>,
    told_shown: bool,
    tasks: TaskTracker,
}

impl Connection {
    /// A connection from `peer`, holding an unauthenticated-connection permit.
    pub fn new(
        shared: Arc<Shared>,
        peer: SocketAddr,
        id: String,
        permit: crate::gateway::places::Place<std::net::IpAddr>,
        tasks: TaskTracker,
    ) -> Connection {
        let login_clock = Arc::new(crate::gateway::login_clock::LoginClock::new(
            shared.config.server.login_grace_time.duration(),
            shared
                .config
                .oidc
                .as_ref()
                .map(|o| o.device_login_timeout.duration())
                .unwrap_or_default(),
        ));
        Connection {
            shared,
            peer,
            id,
            permit: Some(permit),
            authenticated: Arc::new(AtomicBool::new(false)),
            login_clock,
            sign_in: Default::default(),
            counted: false,
            session: None,
            denial: None,
            session_place: None,
            channels: Arc::default(),
            inflow: Arc::default(),
            told: Vec::new(),
            told_shown: false,
            tasks,
        }
    }

    fn refuse(
        &mut self,
        user: &str,
        reason: &dyn std::fmt::Display,
        code: &str,
        offered: Offered<'_>,
    ) -> Auth {
        self.refused(user, reason, code, offered);
        Auth::reject()
    }

    /// Logs and audits a refused authentication, and keeps the words to tell the user why.
    fn refused(
        &mut self,
        user: &str,
        reason: &dyn std::fmt::Display,
        code: &str,
        offered: Offered<'_>,
    ) {
        if let Some(why) = crate::gateway::refusal_words::for_user(code) {
            self.tell(why);
        }
        self.shared.metrics.auth_refused.inc();
        let maskers = &self.shared.maskers;
        warn!(conn = %self.id, peer = %self.peer, user = maskers.client_text(user), reason = %code,
            "authentication refused: {}", maskers.client_text(&reason.to_string()));
        self.audit_refusal(user, code, offered);
    }

    /// Keeps `why` to show the user (see [`crate::gateway::refusal_words`]).
    fn tell(&mut self, why: String) {
        if !self.told.contains(&why) && self.told.len() < 4 {
            self.told.push(why);
        }
    }

    /// Audits the certificates the SSH library refused since the last call (see
    /// [`crate::gateway::early_refusals`]).
    fn note_early_refusals(&mut self, user: &str) {
        for _ in 0..crate::gateway::early_refusals::take_expired() {
            self.refused(
                user,
                &"certificate expired or not yet valid (refused by the SSH library, which does not say which certificate)",
                "certificate-expired",
                Offered::Nothing,
            );
        }
    }

    /// Writes a refusal's audit row, in the background: a refusal must not wait on the
    /// database.
    fn audit_refusal(&self, user: &str, code: &str, offered: Offered<'_>) {
        let maskers = &self.shared.maskers;
        let user = maskers.client_text(user);
        let (identity, serial, principals, unverified) = match offered {
            Offered::Nothing => (None, None, None, None),
            Offered::Certificate {
                key_id,
                serial,
                principals,
            } => (
                Some(key_id.to_string()),
                Some(serial),
                Some(principals.to_vec()),
                None,
            ),
            Offered::Unverified(cert) => (
                None,
                None,
                None,
                Some(maskers.client_text(&format!(
                    "key id {:?}, serial {}, principals {:?}",
                    cert.key_id(),
                    cert.serial(),
                    cert.valid_principals()
                ))),
            ),
        };
        let event = AuthEvent {
            at_ms: crate::audit::now_ms(),
            peer: self.peer.to_string(),
            user_name: user,
            identity,
            serial,
            accepted: false,
            reason: code.to_string(),
            principals,
            offered: unverified,
        };
        let audit = self.shared.audit.clone();
        tokio::spawn(async move {
            if let Err(e) = audit.auth_event(&event).await {
                tracing::error!("audit: cannot record a refused authentication: {e}");
            }
        });
    }
}

/// What a refused client presented, for the audit row.
pub(super) enum Offered<'a> {
    /// No certificate (a plain key, a device login, nothing yet).
    Nothing,
    /// A certificate whose signature checked out.
    Certificate {
        key_id: &'a str,
        serial: u64,
        principals: &'a [String],
    },
    /// A certificate whose signature did not check out: what it claims is kept apart, never
    /// as the identity.
    Unverified(&'a Certificate),
}

impl<'a> Offered<'a> {
    fn certified(c: &'a cert_authority::CertifiedUser) -> Offered<'a> {
        Offered::Certificate {
            key_id: &c.key_id,
            serial: c.serial,
            principals: &c.principals,
        }
    }
}

/// One place among a connection's open channels; given back when dropped.
struct ChannelSlot(Arc<std::sync::atomic::AtomicUsize>, Arc<Shared>);

impl ChannelSlot {
    fn take(count: &Arc<std::sync::atomic::AtomicUsize>, shared: &Arc<Shared>) -> ChannelSlot {
        count.fetch_add(1, Ordering::SeqCst);
        shared.metrics.channels.inc();
        ChannelSlot(count.clone(), shared.clone())
    }
}

impl Drop for ChannelSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.metrics.channels.dec();
    }
}

impl Connection {
    /// Admits an authenticated identity (certificate or device login): revocation, roles,
    /// destination, audit rows, session. `Err` (already logged and audited) refuses it.
    pub(super) async fn admit(
        &mut self,
        user: &str,
        certified: cert_authority::CertifiedUser,
    ) -> Result<(), String> {
        // Revoked (by serial or key id) on any bastion sharing the store: refused at once. A
        // store that cannot answer refuses too (fail closed).
        match self
            .shared
            .audit
            .is_revoked(certified.serial, &certified.key_id)
            .await
        {
            Ok(false) => {}
            Ok(true) => {
                let reason = format!(
                    "access revoked for {:?} (serial {})",
                    certified.key_id, certified.serial
                );
                self.refused(user, &reason, "revoked", Offered::certified(&certified));
                return Err(reason);
            }
            Err(e) => {
                // Fail closed, but say why: the session is refused once authentication ends.
                tracing::error!(conn = %self.id, identity = %certified.key_id, "audit store unavailable, session refused (cannot check revocation): {e}");
                self.denial = Some(
                    "the audit store is unavailable, so no session can be opened (fail closed)"
                        .into(),
                );
            }
        }
        match self
            .shared
            .sessions_by_identity
            .take(certified.key_id.clone())
        {
            Ok(place) => self.session_place = Some(place),
            Err(full) => {
                let n = match full {
                    crate::gateway::places::Full::Key(n) | crate::gateway::places::Full::All(n) => {
                        n
                    }
                };
                let reason = format!(
                    "{} of yours {} already open on this bastion (the most one identity may \
                     have)",
                    crate::human::count(n as u64, "session"),
                    crate::human::is_are(n as u64)
                );
                self.refused(
                    user,
                    &reason,
                    "too-many-sessions",
                    Offered::certified(&certified),
                );
                // Told once authentication ends (a rejected key would only read "Permission
                // denied"), and no session starts.
                self.denial = Some(reason);
                return Ok(());
            }
        }
        let roles = policy::roles_for(&self.shared.config, &certified.principals);
        if roles.is_empty() {
            let reason = format!(
                "no role grants any of the principals {:?} (key id {:?})",
                certified.principals, certified.key_id
            );
            self.refused(
                user,
                &reason,
                "unknown-principal",
                Offered::certified(&certified),
            );
            return Err(reason);
        }
        let destination = Destination::parse(user);
        let mut note = None;
        let review = user == crate::review::USER;
        if review && !crate::review::may_review(&self.shared.config, &certified.principals) {
            warn!(conn = %self.id, identity = %certified.key_id, reason = "not-a-reviewer", "review refused");
            self.denial = Some("no role of yours allows the review console".into());
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
                    let maskers = &self.shared.maskers;
                    warn!(conn = %self.id, peer = %self.peer, user = maskers.client_text(user),
                        identity = %certified.key_id, reason = %d.code(),
                        "destination refused: {}", maskers.client_text(&d.to_string()));
                    self.audit_refusal(user, d.code(), Offered::certified(&certified));
                    self.denial = Some(d.to_string());
                    None
                }
            },
            None => None,
        };
        info!(
            conn = %self.id,
            peer = %self.peer,
            user = self.shared.maskers.client_text(user),
            identity = %certified.key_id,
            serial = certified.serial,
            principals = ?certified.principals,
            target = access.as_ref().map(|a| a.target.name.as_str()).unwrap_or("-"),
            login = access.as_ref().map(|a| a.login.as_str()).unwrap_or("-"),
            "authenticated"
        );
        // Fail closed: a session the audit store cannot record does not start.
        let audited = match &self.denial {
            Some(_) => Ok(()),
            None => self.audit_session(user, &certified, access.as_ref()).await,
        };
        if let Err(e) = audited {
            tracing::error!(conn = %self.id, identity = %certified.key_id, "audit store unavailable, session refused: {e}");
            self.denial = Some(
                "the audit store is unavailable, so no session can be opened (fail closed)".into(),
            );
        }
        if self.denial.is_none() {
            self.shared.metrics.auth_accepted.inc();
            self.shared.metrics.sessions.inc();
            self.counted = true;
        }
        let ctx = SessionCtx::new(
            self.id.clone(),
            self.peer,
            certified,
            access,
            note,
            self.shared.clone(),
            self.inflow.clone(),
        );
        self.session = Some(Arc::new(if review { ctx.for_review() } else { ctx }));
        Ok(())
    }

    /// Checks, before a channel opens, that the certificate has neither expired nor been
    /// revoked since authentication. One that no longer holds ends the connection; a store
    /// that cannot answer refuses the channel (fail closed).
    async fn certificate_holds(&self, ctx: &Arc<SessionCtx>, session: &mut Session) -> bool {
        use crate::gateway::validity::{standing, Standing};
        match standing(&self.shared, &ctx.user).await {
            Ok(Standing::Valid) => true,
            Ok(s) => {
                warn!(conn = %self.id, identity = %ctx.user.key_id, serial = ctx.user.serial,
                    reason = s.reason(), "channel refused and connection closed: the certificate no longer holds");
                ctx.notify(s.notice());
                let _ = session.disconnect(
                    Disconnect::ByApplication,
                    &format!("bastion: {}", s.reason()),
                    "en",
                );
                false
            }
            Err(e) => {
                tracing::error!(conn = %self.id, identity = %ctx.user.key_id,
                    "channel refused: the audit store cannot say whether the certificate was revoked (fail closed): {e}");
                false
            }
        }
    }

    /// One keyboard-interactive round of a device login (see [`crate::gateway::device_login`]).
    async fn device_login_round(&mut self, user: &str) -> Auth {
        use crate::gateway::device_login::Round;
        let shared = self.shared.clone();
        let Some(login) = shared.device_login.as_ref() else {
            return Auth::reject();
        };
        let show = |text: String| Auth::Partial {
            name: "bastion sign-in".into(),
            instructions: text.into(),
            prompts: Vec::new().into(),
        };
        let auth = match login.round(&mut self.sign_in, self.peer.ip()).await {
            Round::Show(text) => {
                // Waiting for a person at a browser: the sign-in's own place bounds it now
                // (see `device_login`), and certificate holders keep this one.
                self.permit = None;
                if self.told.is_empty() || self.told_shown {
                    show(text)
                } else {
                    self.told_shown = true;
                    show(format!("{}\n{text}", self.told.join("\n")))
                }
            }
            // Shown first; the client's answer then gets the refusal.
            Round::Failed { code, reason } => {
                self.refused(user, &reason, code, Offered::Nothing);
                show(format!("bastion: {reason}"))
            }
            Round::Granted(grant) => match self.admit_grant(user, *grant).await {
                Ok(()) => Auth::Accept,
                Err(reason) => show(format!("bastion: {reason}")),
            },
            Round::Done => {
                // No new code on this connection: OpenSSH would otherwise retry
                // keyboard-interactive and start over.
                Auth::Reject {
                    proceed_with_methods: Some(russh::MethodSet::from(
                        &[russh::MethodKind::PublicKey][..],
                    )),
                    partial_success: false,
                }
            }
        };
        // The login grace time is extended while a sign-in waits; a connection whose sign-in
        // is over holds no place at all, so it must not linger. (An accepted one is
        // authenticated next, which the clock's owner checks.)
        if matches!(
            self.sign_in,
            crate::gateway::device_login::SignIn::Waiting(_)
        ) {
            self.login_clock.sign_in_waiting();
        } else if !matches!(auth, Auth::Accept) {
            self.login_clock.sign_in_over();
        }
        auth
    }

    /// A device login's grant becomes the session's identity: an audit row like a
    /// certificate's (no key: source `ssh-device`), then [`Connection::admit`].
    async fn admit_grant(
        &mut self,
        user: &str,
        grant: cert_authority::oidc::Grant,
    ) -> Result<(), String> {
        let serial = cert_authority::new_serial().map_err(|e| {
            tracing::error!(conn = %self.id, "device login refused: {e}");
            "no certificate serial could be made (the system's random source failed)".to_string()
        })?;
        match self
            .shared
            .audit
            .is_identity_revoked(&grant.key_id, &grant.subject)
            .await
        {
            Ok(false) => {}
            Ok(true) => {
                let reason = format!("access revoked for {:?}", grant.key_id);
                self.refused(user, &reason, "revoked", Offered::Nothing);
                return Err(reason);
            }
            Err(e) => {
                tracing::error!(conn = %self.id, identity = %grant.key_id, "audit store unavailable, device login refused: {e}");
                return Err(
                    "the audit store is unavailable, so no session can be opened (fail closed)"
                        .into(),
                );
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
        if let Err(e) = self.shared.audit.certificate_issued(&row).await {
            tracing::error!(conn = %self.id, identity = %grant.key_id, "audit store unavailable, device login refused: {e}");
            return Err(
                "the audit store is unavailable, so no session can be opened (fail closed)".into(),
            );
        }
        self.shared.metrics.certificates_issued.inc();
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
        let config = &self.shared.config;
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
        let audit = &self.shared.audit;
        audit.ping().await?;
        audit
            .auth_event(&AuthEvent {
                at_ms: crate::audit::now_ms(),
                peer: self.peer.to_string(),
                user_name: self.shared.maskers.client_text(user),
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
                id: self.id.clone(),
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

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        self.note_early_refusals(user);
        debug!(conn = %self.id, user = self.shared.maskers.client_text(user), "auth none");
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.note_early_refusals(user);
        // russh verifies whatever signature algorithm the client names (server-sig-algs only
        // advises), so a SHA-1 one is refused here, before the client is asked to sign.
        if let Some((code, reason)) = crate::algorithms::refused_signature(offer.algorithm) {
            let fingerprint = offer.public_key.fingerprint(HashAlg::Sha256);
            let reason = format!("{reason} (key {fingerprint})");
            return Ok(self.refuse(user, &reason, code, Offered::Nothing));
        }
        // Certificates go on to the signature check; plain keys are refused in auth_publickey
        // once proven, so that the log names the key that was actually used.
        Ok(Auth::Accept)
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let refusal = Refusal::PlainKey {
            fingerprint: key.public_key.fingerprint(HashAlg::Sha256).to_string(),
        };
        Ok(self.refuse(user, &refusal, "plain-key", Offered::Nothing))
    }

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        certificate: &Certificate,
    ) -> Result<Auth, Self::Error> {
        let now = cert_authority::unix_now();
        let certified = match check_user_certificate(
            certificate,
            &self.shared.user_cas,
            Some(self.peer.ip()),
            now,
        ) {
            Ok(c) => c,
            Err(r) => {
                let code = match &r {
                    Refusal::WrongCa { .. } => "wrong-ca",
                    Refusal::Expired { .. } => "expired",
                    Refusal::NotYetValid { .. } => "not-yet-valid",
                    Refusal::SourceAddress { .. } => "source-address",
                    Refusal::NoPrincipals { .. } => "no-principals",
                    Refusal::UnknownCriticalOption { .. } => "critical-option",
                    Refusal::NotAUserCertificate { .. } => "not-user-cert",
                    _ => "bad-certificate",
                };
                match &r {
                    Refusal::Expired { valid_before, .. } => {
                        self.tell(crate::gateway::refusal_words::expired_at(*valid_before))
                    }
                    Refusal::NotYetValid { valid_after, .. } => {
                        self.tell(crate::gateway::refusal_words::not_yet_valid(*valid_after))
                    }
                    _ => {}
                }
                // Before the signature checks out, the key id is whatever the client wrote:
                // it is kept apart, never as the row's identity.
                let verified = !matches!(r, Refusal::WrongCa { .. } | Refusal::BadSignature { .. });
                let offered = if verified {
                    Offered::Certificate {
                        key_id: certificate.key_id(),
                        serial: certificate.serial(),
                        principals: certificate.valid_principals(),
                    }
                } else {
                    Offered::Unverified(certificate)
                };
                return Ok(self.refuse(user, &r, code, offered));
            }
        };
        Ok(match self.admit(user, certified).await {
            Ok(()) => Auth::Accept,
            Err(_) => Auth::reject(),
        })
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.note_early_refusals(user);
        if self.shared.device_login.is_some() {
            return Ok(self.device_login_round(user).await);
        }
        // No sign-in here: keyboard-interactive only tells why the certificates offered were
        // refused, once, before the denial.
        if response.is_none() && !self.told.is_empty() && !self.told_shown {
            self.told_shown = true;
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: self.told.join("\n").into(),
                prompts: Vec::new().into(),
            });
        }
        Ok(Auth::Reject {
            proceed_with_methods: Some(russh::MethodSet::from(&[russh::MethodKind::PublicKey][..])),
            partial_success: false,
        })
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        self.authenticated.store(true, Ordering::SeqCst);
        self.permit = None;
        if let Some(denial) = self.denial.take() {
            session.disconnect(
                Disconnect::ByApplication,
                &format!("bastion: {denial}"),
                "en",
            )?;
            return Ok(());
        }
        if let Some(ctx) = &self.session {
            ctx.touch();
            self.tasks.spawn(crate::gateway::idle::watchdog(
                ctx.clone(),
                session.handle(),
            ));
            self.tasks.spawn(crate::gateway::validity::watchdog(
                ctx.clone(),
                session.handle(),
            ));
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ctx) = self.session.clone() else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        if self.channels.load(Ordering::SeqCst)
            >= self.shared.config.server.max_channels_per_connection
        {
            warn!(conn = %self.id, identity = %ctx.user.key_id, "channel refused: too many channels on one connection");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        if !self.certificate_holds(&ctx, session).await {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        let slot = ChannelSlot::take(&self.channels, &self.shared);
        reply.accept().await;
        let task = channel::run_session(ctx, channel, session.handle());
        self.tasks.spawn(async move {
            task.await;
            drop(slot);
        });
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(ctx) = self.session.clone() else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        if self.channels.load(Ordering::SeqCst)
            >= self.shared.config.server.max_channels_per_connection
        {
            warn!(conn = %self.id, identity = %ctx.user.key_id, "port forward refused: too many channels on one connection");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        let allowed = ctx.user.permit_port_forwarding
            && ctx
                .access()
                .is_some_and(|a| a.allows(config::Capability::PortForward));
        if !allowed {
            warn!(conn = %self.id, identity = %ctx.user.key_id,
                to = self.shared.maskers.client_text(&format!("{host_to_connect}:{port_to_connect}")),
                "port forwarding refused: no role allows port-forward here");
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        if !self.certificate_holds(&ctx, session).await {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        }
        info!(conn = %self.id, identity = %ctx.user.key_id,
            to = self.shared.maskers.client_text(&format!("{host_to_connect}:{port_to_connect}")),
            "port forward");
        let slot = ChannelSlot::take(&self.channels, &self.shared);
        let fwd = forward::Forward {
            host: host_to_connect.to_string(),
            port: port_to_connect,
            originator: originator_address.to_string(),
            originator_port,
        };
        let task = forward::run_forward(ctx, channel, reply, session.handle(), fwd);
        self.tasks.spawn(async move {
            task.await;
            drop(slot);
        });
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        warn!(conn = %self.id, bind = %format!("{address}:{port}"), "remote port forwarding refused: not supported");
        Ok(false)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.session.as_ref().is_some_and(|c| c.user.permit_pty) {
            session.channel_success(channel)?;
        } else {
            warn!(conn = %self.id, "pty refused: certificate lacks permit-pty");
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Filtered by the allowlist in the channel task; OpenSSH asks for no reply.
        session.channel_success(channel)?;
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Accepted here; a refusal is explained in-band by the channel task (exit status 1),
        // which tells the user more than OpenSSH's "shell request failed".
        session.channel_success(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        Ok(())
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        warn!(conn = %self.id, "X11 forwarding refused");
        session.channel_failure(channel)?;
        Ok(())
    }

    /// russh grants window as data arrives; the window it grants next is smaller while much
    /// input waits for the targets (see [`crate::gateway::relay::inflow`]).
    fn adjust_window(&mut self, _channel: ChannelId, _current: u32) -> u32 {
        self.inflow.window()
    }

    async fn agent_request(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        warn!(conn = %self.id, "agent forwarding refused");
        Ok(false)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A client that gives up right after the library refused its certificate.
        if self.session.is_none() {
            self.note_early_refusals("");
        }
        if self.counted {
            self.shared.metrics.sessions.dec();
        }
        match &self.session {
            Some(ctx) => {
                ctx.closed.cancel();
                info!(conn = %self.id, identity = %ctx.user.key_id, "connection closed");
                if self.counted {
                    self.shared.endings.spawn(crate::audit::Ending::Session {
                        id: self.id.clone(),
                        ended_at_ms: crate::audit::now_ms(),
                        reason: "connection closed".into(),
                    });
                }
            }
            None => {
                debug!(conn = %self.id, peer = %self.peer, "connection closed before authentication")
            }
        }
    }
}
