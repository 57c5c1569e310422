//! Keeps a connection's identity valid for as long as the connection stays open.
//!
//! Authentication checks the certificate once; a connection can then live for days
//! (ControlMaster, a busy shell). So the promise that an offboarded identity stops working
//! within one TTL holds only if the connection ends when its certificate expires or is revoked:
//! a watchdog logs it off at the certificate's `valid_before`, asks the audit store every
//! `server.revocation_check_interval` whether it was revoked, and every new channel checks both
//! before it opens.

use std::sync::Arc;
use std::time::Duration;

use tracing::{error, warn};

use crate::gateway::session::SessionCtx;
use crate::services::Services;
use cert_authority::CertifiedUser;

/// Whether a connection's identity still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Neither expired nor revoked.
    Valid,
    /// The certificate's validity window has passed.
    Expired,
    /// Revoked (by serial or key id) on some bastion sharing the audit store.
    Revoked,
}

impl Standing {
    /// What the user is told when the connection ends for this reason.
    pub fn notice(self) -> &'static str {
        match self {
            Standing::Valid => "",
            Standing::Expired => {
                "bastion: your certificate has expired; you are being logged off. Sign in again (bastion login)."
            }
            Standing::Revoked => {
                "bastion: your access has been revoked; you are being logged off."
            }
        }
    }

    /// Short reason, for logs and the disconnect message.
    pub fn reason(self) -> &'static str {
        match self {
            Standing::Valid => "valid",
            Standing::Expired => "certificate expired",
            Standing::Revoked => "access revoked",
        }
    }
}

/// Expiry first (no store needed), then revocation.
///
/// # Errors
/// When the audit store cannot answer.
pub async fn standing(
    services: &Services,
    user: &CertifiedUser,
) -> Result<Standing, crate::audit::AuditError> {
    if cert_authority::unix_now() >= user.valid_before {
        return Ok(Standing::Expired);
    }
    if services.audit.is_revoked(user.serial, &user.key_id).await? {
        return Ok(Standing::Revoked);
    }
    Ok(Standing::Valid)
}

/// Logs the connection off when its certificate expires or is revoked.
///
/// A store that cannot answer leaves the connection open (sessions already running carry on
/// through an audit outage, as documented; new channels are refused meanwhile).
pub async fn watchdog(ctx: Arc<SessionCtx>, handle: russh::server::Handle) {
    let every = ctx
        .services
        .config
        .server
        .revocation_check_interval
        .duration()
        .max(Duration::from_secs(1));
    loop {
        let left = ctx
            .user
            .valid_before
            .saturating_sub(cert_authority::unix_now());
        if left > 0 {
            tokio::select! {
                _ = tokio::time::sleep(every.min(Duration::from_secs(left))) => {}
                _ = ctx.closed.cancelled() => return,
            }
        }
        match standing(&ctx.services, &ctx.user).await {
            Ok(Standing::Valid) => {}
            Ok(s) => {
                warn!(session = %ctx.id, identity = %ctx.user.key_id, serial = ctx.user.serial,
                    reason = s.reason(), "logging off: the certificate no longer holds");
                ctx.log_off(&handle, s.notice(), &format!("bastion: {}", s.reason()))
                    .await;
                return;
            }
            Err(e) => {
                error!(session = %ctx.id, identity = %ctx.user.key_id,
                    "revocation check failed (audit store unavailable); the connection stays open: {e}");
            }
        }
    }
}
