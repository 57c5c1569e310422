//! Refused authentications: logged (names the client chose masked), counted, audited in the
//! background (a refusal never waits on the database), and kept in words to tell the user once,
//! through keyboard-interactive, before the denial.

use std::net::SocketAddr;
use std::sync::Arc;

use ssh_key::Certificate;
use tracing::warn;

use crate::audit::AuthEvent;
use crate::services::Services;

/// Reasons kept to tell the user, at most.
const MAX_TOLD: usize = 4;

/// What a refused client presented, for the audit row.
pub enum Offered<'a> {
    /// No certificate (a plain key, a device login, nothing yet).
    Nothing,
    /// A certificate whose signature checked out.
    Certificate {
        /// Its key id.
        key_id: &'a str,
        /// Its serial.
        serial: u64,
        /// Its principals.
        principals: &'a [String],
    },
    /// A certificate whose signature did not check out: what it claims is kept apart, never
    /// as the identity.
    Unverified(&'a Certificate),
}

impl<'a> Offered<'a> {
    /// A certificate the user CA signed.
    pub fn certified(c: &'a cert_authority::CertifiedUser) -> Offered<'a> {
        Offered::Certificate {
            key_id: &c.key_id,
            serial: c.serial,
            principals: &c.principals,
        }
    }
}

/// One connection's refused authentications.
pub struct AuthRefusals {
    services: Arc<Services>,
    peer: SocketAddr,
    conn: String,
    /// Why certificates were refused, in words for the user.
    told: Vec<String>,
    told_shown: bool,
}

impl AuthRefusals {
    /// The refusals of connection `conn` from `peer`.
    pub fn new(services: Arc<Services>, peer: SocketAddr, conn: String) -> AuthRefusals {
        AuthRefusals {
            services,
            peer,
            conn,
            told: Vec::new(),
            told_shown: false,
        }
    }

    /// Logs, counts and audits a refused authentication, and keeps the words to tell the user
    /// why.
    pub fn refused(
        &mut self,
        user: &str,
        reason: &dyn std::fmt::Display,
        code: &str,
        offered: Offered<'_>,
    ) {
        if let Some(why) = crate::gateway::refusal_words::for_user(code) {
            self.tell(why);
        }
        self.services.metrics.auth_refused.inc();
        let maskers = &self.services.maskers;
        warn!(conn = %self.conn, peer = %self.peer, user = maskers.client_text(user), reason = %code,
            "authentication refused: {}", maskers.client_text(&reason.to_string()));
        self.audit(user, code, offered);
    }

    /// Keeps `why` to show the user (see [`crate::gateway::refusal_words`]).
    pub fn tell(&mut self, why: String) {
        if !self.told.contains(&why) && self.told.len() < MAX_TOLD {
            self.told.push(why);
        }
    }

    /// What the user has not been told yet, once.
    pub fn untold(&mut self) -> Option<String> {
        if self.told.is_empty() || self.told_shown {
            return None;
        }
        self.told_shown = true;
        Some(self.told.join("\n"))
    }

    /// Audits the certificates the SSH library refused since the last call (see
    /// [`crate::gateway::early_refusals`]).
    pub fn note_early(&mut self, user: &str) {
        for _ in 0..crate::gateway::early_refusals::take_expired() {
            self.refused(
                user,
                &"certificate expired or not yet valid (refused by the SSH library, which does not say which certificate)",
                "certificate-expired",
                Offered::Nothing,
            );
        }
    }

    /// Writes a refusal's audit row, in the background.
    pub fn audit(&self, user: &str, code: &str, offered: Offered<'_>) {
        let maskers = &self.services.maskers;
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
        let audit = self.services.audit.clone();
        tokio::spawn(async move {
            if let Err(e) = audit.auth_event(&event).await {
                tracing::error!("audit: cannot record a refused authentication: {e}");
            }
        });
    }
}
