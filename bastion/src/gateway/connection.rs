//! One client connection: certificate authentication and the channel callbacks of russh.
//!
//! The callbacks never wait on a target or a person: russh runs them inside the connection's
//! event loop, and a callback that blocks would stall every channel of the connection. Requests
//! are answered at once from policy that needs no I/O; the channel task ([`crate::gateway::channel`])
//! receives the same requests in order and does the slow work.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cert_authority::{check_user_certificate, Refusal};
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect};
use ssh_key::{Certificate, HashAlg};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::channel::{self, forward};
use crate::gateway::admit::{Admission, Admit, Admitted, Refused};
use crate::gateway::auth_refusals::{AuthRefusals, Offered};
use crate::gateway::device_login::{DeviceLogin, Round, SignIn};
use crate::gateway::places::Place;
use crate::gateway::relay::inflow::Inflow;
use crate::gateway::session::SessionCtx;
use crate::services::Services;

/// Where a connection stands.
enum State {
    /// Not authenticated yet: holds one of the unauthenticated places.
    Unauthenticated {
        permit: Place<IpAddr>,
        sign_in: SignIn,
    },
    /// A device login waits for its user at a browser: the sign-in's own place bounds it (see
    /// [`crate::gateway::device_login`]), and certificate holders keep the unauthenticated ones.
    SigningIn(SignIn),
    /// Authenticated, but no session may start: why, told once authentication ends.
    Denied(String),
    /// Admitted: the session's audit row is written, it counts in the open-sessions gauge.
    Admitted(Admitted),
}

/// Per-connection state handed to russh.
pub struct Connection {
    services: Arc<Services>,
    peer: SocketAddr,
    id: String,
    state: State,
    /// Device login for users without a certificate (`[oidc] device_login`).
    device_login: Option<Arc<DeviceLogin>>,
    /// Set once authenticated; read by the login grace timer.
    pub authenticated: Arc<AtomicBool>,
    /// When this connection must have authenticated (device logins move it).
    pub login_clock: Arc<crate::gateway::login_clock::LoginClock>,
    /// Channels open now; each channel task holds a [`ChannelSlot`] that gives its place back.
    channels: Arc<std::sync::atomic::AtomicUsize>,
    /// Input of this connection's channels waiting for their targets: sets the window granted.
    inflow: Arc<Inflow>,
    /// Refused authentications, and why in words for the user.
    refusals: AuthRefusals,
    tasks: TaskTracker,
}

impl Connection {
    /// A connection from `peer`, holding an unauthenticated-connection place.
    pub fn new(
        services: Arc<Services>,
        device_login: Option<Arc<DeviceLogin>>,
        peer: SocketAddr,
        id: String,
        permit: Place<IpAddr>,
        tasks: TaskTracker,
    ) -> Connection {
        let login_clock = Arc::new(crate::gateway::login_clock::LoginClock::new(
            services.config.server.login_grace_time.duration(),
            services
                .config
                .oidc
                .as_ref()
                .map(|o| o.device_login_timeout.duration())
                .unwrap_or_default(),
        ));
        Connection {
            refusals: AuthRefusals::new(services.clone(), peer, id.clone()),
            services,
            device_login,
            peer,
            id,
            state: State::Unauthenticated {
                permit,
                sign_in: SignIn::default(),
            },
            authenticated: Arc::new(AtomicBool::new(false)),
            login_clock,
            channels: Arc::default(),
            inflow: Arc::default(),
            tasks,
        }
    }

    /// The admitted session.
    fn session(&self) -> Option<&Arc<SessionCtx>> {
        match &self.state {
            State::Admitted(a) => Some(&a.session),
            _ => None,
        }
    }

    fn refuse(
        &mut self,
        user: &str,
        reason: &dyn std::fmt::Display,
        code: &str,
        offered: Offered<'_>,
    ) -> Auth {
        self.refusals.refused(user, reason, code, offered);
        Auth::reject()
    }

    /// Admits `certified` (see [`crate::gateway::admit`]); `Err` fails authentication.
    async fn admit(
        &mut self,
        user: &str,
        certified: cert_authority::CertifiedUser,
    ) -> Result<(), Refused> {
        let admission = self.admitting().admit(user, certified).await?;
        self.enter(admission);
        Ok(())
    }

    /// The connection's state once an identity is admitted or denied.
    fn enter(&mut self, admission: Admission) {
        self.state = match admission {
            Admission::Denied(reason) => State::Denied(reason),
            Admission::Admitted(a) => State::Admitted(a),
        };
    }

    fn admitting(&mut self) -> Admit<'_> {
        Admit {
            services: &self.services,
            peer: self.peer,
            id: &self.id,
            inflow: &self.inflow,
            refusals: &mut self.refusals,
        }
    }

    /// Checks, before a channel opens, that the certificate has neither expired nor been
    /// revoked since authentication. One that no longer holds ends the connection; a store
    /// that cannot answer refuses the channel (fail closed).
    async fn certificate_holds(&self, ctx: &Arc<SessionCtx>, session: &mut Session) -> bool {
        use crate::gateway::validity::{standing, Standing};
        match standing(&self.services, &ctx.user).await {
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
        let Some(login) = self.device_login.clone() else {
            return Auth::reject();
        };
        let show = |text: String| Auth::Partial {
            name: "bastion sign-in".into(),
            instructions: text.into(),
            prompts: Vec::new().into(),
        };
        // The sign-in is taken out of the connection's state for the round (a connection
        // dropped meanwhile is denied).
        let placeholder = State::Denied("connection closed while signing in".into());
        let (mut sign_in, permit) = match std::mem::replace(&mut self.state, placeholder) {
            State::Unauthenticated { permit, sign_in } => (sign_in, Some(permit)),
            State::SigningIn(sign_in) => (sign_in, None),
            other => {
                self.state = other;
                return Auth::reject();
            }
        };
        let round = login.round(&mut sign_in, self.peer.ip()).await;
        let waiting = matches!(sign_in, SignIn::Waiting(_));
        self.state = match permit {
            // Waiting for a person at a browser: the sign-in's own place bounds it now (see
            // `device_login`), and certificate holders keep this one.
            Some(permit) if !matches!(round, Round::Show(_)) => {
                State::Unauthenticated { permit, sign_in }
            }
            _ => State::SigningIn(sign_in),
        };
        let auth = match round {
            Round::Show(text) => match self.refusals.untold() {
                Some(why) => show(format!("{why}\n{text}")),
                None => show(text),
            },
            // Shown first; the client's answer then gets the refusal.
            Round::Failed { code, reason } => {
                self.refusals.refused(user, &reason, code, Offered::Nothing);
                show(format!("bastion: {reason}"))
            }
            Round::Granted(grant) => match self.admitting().admit_grant(user, *grant).await {
                Ok(admission) => {
                    self.enter(admission);
                    Auth::Accept
                }
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
        if waiting {
            self.login_clock.sign_in_waiting();
        } else if !matches!(auth, Auth::Accept) {
            self.login_clock.sign_in_over();
        }
        auth
    }
}

/// One place among a connection's open channels; given back when dropped.
struct ChannelSlot(Arc<std::sync::atomic::AtomicUsize>, Arc<Services>);

impl ChannelSlot {
    fn take(count: &Arc<std::sync::atomic::AtomicUsize>, services: &Arc<Services>) -> ChannelSlot {
        count.fetch_add(1, Ordering::SeqCst);
        services.metrics.channels.inc();
        ChannelSlot(count.clone(), services.clone())
    }
}

impl Drop for ChannelSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.metrics.channels.dec();
    }
}

impl Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, user: &str) -> Result<Auth, Self::Error> {
        self.refusals.note_early(user);
        debug!(conn = %self.id, user = self.services.maskers.client_text(user), "auth none");
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.refusals.note_early(user);
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
            &self.services.user_cas,
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
                    Refusal::Expired { valid_before, .. } => self
                        .refusals
                        .tell(crate::gateway::refusal_words::expired_at(*valid_before)),
                    Refusal::NotYetValid { valid_after, .. } => self
                        .refusals
                        .tell(crate::gateway::refusal_words::not_yet_valid(*valid_after)),
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
        self.refusals.note_early(user);
        if self.device_login.is_some() {
            return Ok(self.device_login_round(user).await);
        }
        // No sign-in here: keyboard-interactive only tells why the certificates offered were
        // refused, once, before the denial.
        if response.is_none() {
            if let Some(why) = self.refusals.untold() {
                return Ok(Auth::Partial {
                    name: "".into(),
                    instructions: why.into(),
                    prompts: Vec::new().into(),
                });
            }
        }
        Ok(Auth::Reject {
            proceed_with_methods: Some(russh::MethodSet::from(&[russh::MethodKind::PublicKey][..])),
            partial_success: false,
        })
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        self.authenticated.store(true, Ordering::SeqCst);
        if let State::Denied(denial) = &self.state {
            session.disconnect(
                Disconnect::ByApplication,
                &format!("bastion: {denial}"),
                "en",
            )?;
            return Ok(());
        }
        if let Some(ctx) = self.session() {
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
        let Some(ctx) = self.session().cloned() else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        if self.channels.load(Ordering::SeqCst)
            >= self.services.config.server.max_channels_per_connection
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
        let slot = ChannelSlot::take(&self.channels, &self.services);
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
        let Some(ctx) = self.session().cloned() else {
            reply
                .reject(ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        if self.channels.load(Ordering::SeqCst)
            >= self.services.config.server.max_channels_per_connection
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
                to = self.services.maskers.client_text(&format!("{host_to_connect}:{port_to_connect}")),
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
            to = self.services.maskers.client_text(&format!("{host_to_connect}:{port_to_connect}")),
            "port forward");
        let slot = ChannelSlot::take(&self.channels, &self.services);
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
        if self.session().is_some_and(|c| c.user.permit_pty) {
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
        match &self.state {
            State::Admitted(admitted) => {
                let ctx = &admitted.session;
                self.services.metrics.sessions.dec();
                ctx.closed.cancel();
                info!(conn = %self.id, identity = %ctx.user.key_id, "connection closed");
                self.services.endings.spawn(crate::audit::Ending::Session {
                    id: self.id.clone(),
                    ended_at_ms: crate::audit::now_ms(),
                    reason: "connection closed".into(),
                });
            }
            State::Denied(_) => {
                debug!(conn = %self.id, peer = %self.peer, "denied connection closed")
            }
            State::Unauthenticated { .. } | State::SigningIn(_) => {
                // A client that gives up right after the library refused its certificate.
                self.refusals.note_early("");
                debug!(conn = %self.id, peer = %self.peer, "connection closed before authentication")
            }
        }
    }
}
