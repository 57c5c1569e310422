//! Device login inside plain `ssh`: a user without a certificate signs in at the OpenID
//! provider while `ssh` waits.
//!
//! Keyboard-interactive (RFC 4256) carries it: the first info request shows the device grant's
//! URL and code (RFC 8628) as instructions, with no prompts, so `ssh` answers at once and
//! nobody has to press Enter. Each later round polls the provider for up to [`ROUND`]; while
//! nobody has signed in, another prompt-less request says so and the client answers again.
//! Returning between rounds lets the connection notice a client that gave up. The ID token is
//! then verified and mapped exactly as the HTTP API does, and the identity is admitted like a
//! certificate holder.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cert_authority::oidc::flows::{self, DeviceAuthorization, DevicePoll, Endpoints, FlowError};
use cert_authority::oidc::{Grant, Identities};
use config::Config;
use tokio::time::Instant;

use crate::gateway::places::source_of;
use crate::gateway::places::{Full, Place, Places};

/// Longest one keyboard-interactive round waits for the provider.
const ROUND: Duration = Duration::from_secs(20);

/// The bastion's client of its OpenID provider, for device logins.
pub struct DeviceLogin {
    http: reqwest::Client,
    issuer: String,
    client_id: String,
    scopes: Vec<String>,
    timeout: Duration,
    /// Discovered on first use (and again after a failure).
    endpoints: tokio::sync::OnceCell<Endpoints>,
    identities: Arc<Identities>,
    /// Places for sign-ins waiting for their user, by source (see [`source_of`]). A waiting
    /// sign-in gives back its unauthenticated-connection place (see `Connection`), so that a
    /// few slow sign-ins, or someone opening many on purpose, cannot lock certificate holders
    /// out; these bound it instead.
    slots: Arc<Places<IpAddr>>,
}

/// One connection's sign-in.
#[derive(Debug, Default)]
pub enum SignIn {
    /// Nothing asked yet.
    #[default]
    NotStarted,
    /// The user has the code; the provider is being polled.
    Waiting(Box<Waiting>),
    /// Finished, one way or the other: no new code on this connection.
    Over,
}

/// A device authorization in progress.
#[derive(Debug)]
pub struct Waiting {
    auth: DeviceAuthorization,
    deadline: Instant,
    next_poll: Instant,
    /// Held while waiting; given back when the sign-in ends either way, or the connection.
    _slot: Place<IpAddr>,
}

/// What one round produced.
#[derive(Debug)]
pub enum Round {
    /// Show this and wait for the next round.
    Show(String),
    /// The sign-in failed: `reason` for the user and the log, `code` for the audit row.
    Failed { code: &'static str, reason: String },
    /// Signed in and mapped to a grant.
    Granted(Box<Grant>),
    /// Over: refuse.
    Done,
}

impl DeviceLogin {
    /// The device login of `[oidc]`, unless it is switched off (or there is no `[oidc]`).
    ///
    /// # Errors
    /// When no HTTP client can be built.
    pub fn new(
        config: &Config,
        identities: Arc<Identities>,
    ) -> anyhow::Result<Option<Arc<DeviceLogin>>> {
        let Some(oidc) = config.oidc.as_ref().filter(|o| o.device_login) else {
            return Ok(None);
        };
        let http = cert_authority::oidc::http::client_builder(Duration::from_secs(10))
            .build()
            .context("HTTP client for the OpenID provider")?;
        Ok(Some(Arc::new(DeviceLogin {
            http,
            issuer: oidc.issuer.clone(),
            client_id: oidc.client_id.clone(),
            scopes: oidc.scopes.clone(),
            timeout: oidc.device_login_timeout.duration(),
            endpoints: tokio::sync::OnceCell::new(),
            identities,
            slots: Places::new(
                oidc.device_login_max_per_source,
                config.server.max_unauthenticated,
            ),
        })))
    }

    async fn endpoints(&self) -> Result<&Endpoints, FlowError> {
        self.endpoints
            .get_or_try_init(|| Endpoints::discover(&self.http, &self.issuer))
            .await
    }

    /// Advances `state`, a sign-in from `peer`, by one keyboard-interactive round.
    pub async fn round(&self, state: &mut SignIn, peer: IpAddr) -> Round {
        match std::mem::replace(state, SignIn::Over) {
            SignIn::Over => Round::Done,
            SignIn::NotStarted => match self.start(peer).await {
                Ok(w) => {
                    let text = format!(
                        "To sign in, open {} and enter the code {}\n{}Waiting for you to sign in (up to {}s)...",
                        w.auth.verification_uri,
                        w.auth.user_code,
                        w.auth
                            .verification_uri_complete
                            .as_ref()
                            .map(|c| format!("(or open {c})\n"))
                            .unwrap_or_default(),
                        self.timeout.as_secs(),
                    );
                    *state = SignIn::Waiting(Box::new(w));
                    Round::Show(text)
                }
                Err(Start::Busy(full)) => Round::Failed {
                    code: "device-busy",
                    reason: format!("sign-in refused: {}", busy(full)),
                },
                Err(Start::Flow(e)) => Round::Failed {
                    code: "device-unavailable",
                    reason: format!("sign-in is unavailable: {e}"),
                },
            },
            SignIn::Waiting(mut w) => {
                let round = self.poll(&mut w).await;
                if matches!(round, Round::Show(_)) {
                    *state = SignIn::Waiting(w);
                }
                round
            }
        }
    }

    /// Takes a place, then asks the provider for a code (not before: a refused sign-in costs
    /// the provider nothing).
    async fn start(&self, peer: IpAddr) -> Result<Waiting, Start> {
        let slot = self.slots.take(source_of(peer)).map_err(Start::Busy)?;
        let endpoints = self.endpoints().await.map_err(Start::Flow)?;
        let auth = flows::start_device(&self.http, endpoints, &self.client_id, &self.scopes)
            .await
            .map_err(Start::Flow)?;
        let now = Instant::now();
        Ok(Waiting {
            deadline: now + self.timeout.min(auth.expires_in),
            next_poll: now + auth.interval,
            auth,
            _slot: slot,
        })
    }

    /// Polls until signed in, failed, or the round is over.
    async fn poll(&self, w: &mut Waiting) -> Round {
        let round_end = Instant::now() + ROUND;
        let endpoints = match self.endpoints().await {
            Ok(e) => e,
            Err(e) => return failed(e),
        };
        loop {
            // The last poll is at the deadline: someone who signed in just then still gets in.
            let at = w.next_poll.min(w.deadline);
            if at > round_end {
                tokio::time::sleep_until(round_end).await;
                return Round::Show(format!(
                    "Still waiting for you to sign in with the code {}...",
                    w.auth.user_code
                ));
            }
            tokio::time::sleep_until(at).await;
            let polled =
                flows::poll_device(&self.http, endpoints, &self.client_id, &mut w.auth).await;
            match polled {
                Ok(DevicePoll::Token(token)) => {
                    return match self.identities.grant(&token, None).await {
                        Ok(g) => Round::Granted(Box::new(g)),
                        Err(r) => Round::Failed {
                            code: r.code(),
                            reason: format!("the sign-in was refused: {r}"),
                        },
                    }
                }
                Ok(DevicePoll::Pending | DevicePoll::SlowDown) => {}
                Err(e) => return failed(e),
            }
            let now = Instant::now();
            if now >= w.deadline {
                return Round::Failed {
                    code: "device-timeout",
                    reason: format!("nobody signed in within {}s", self.timeout.as_secs()),
                };
            }
            w.next_poll = now + w.auth.interval;
        }
    }
}

/// Why a sign-in did not start.
enum Start {
    Busy(Full),
    Flow(FlowError),
}

/// What the user reads when no place is free.
fn busy(full: Full) -> String {
    use crate::human::{count, is_are};
    match full {
        Full::Key(n) => format!(
            "{} {} already waiting from your address; finish {} first",
            count(n as u64, "sign-in"),
            is_are(n as u64),
            if n == 1 { "it" } else { "one" }
        ),
        Full::All(n) => format!(
            "{} {} already waiting on this bastion; try again shortly",
            count(n as u64, "sign-in"),
            is_are(n as u64)
        ),
    }
}

fn failed(e: FlowError) -> Round {
    let code = match e {
        FlowError::Denied => "device-denied",
        FlowError::Expired => "device-timeout",
        _ => "device-failed",
    };
    Round::Failed {
        code,
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_source_is_an_ipv4_address_or_an_ipv6_64() {
        assert_eq!(source_of(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(source_of(ip("10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(source_of(ip("2001:db8::ffff:2")), ip("2001:db8::"));
        assert_eq!(source_of(ip("2001:db8:0:0:1::9")), ip("2001:db8::"));
        assert_ne!(source_of(ip("2001:db8:0:1::1")), ip("2001:db8::"));
        assert_eq!(
            busy(Full::Key(1)),
            "1 sign-in is already waiting from your address; finish it first"
        );
        assert_eq!(
            busy(Full::All(64)),
            "64 sign-ins are already waiting on this bastion; try again shortly"
        );
    }
}
