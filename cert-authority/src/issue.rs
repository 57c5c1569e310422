//! Certificates the bastion signs: users' (user CA) and its own upstream logins (target CA).

use std::time::Duration;

use ssh_key::certificate::{Builder, CertType, Certificate};
use ssh_key::{PrivateKey, PublicKey};

use crate::keyfile::{generate_ed25519, KeyError};

/// Clock skew tolerated between the bastion and the machines that check its certificates:
/// certificates start this long before they are signed.
pub const BACKDATE: Duration = Duration::from_secs(60);

/// Extensions a user certificate carries unless told otherwise.
pub const DEFAULT_USER_EXTENSIONS: &[&str] = &["permit-pty", "permit-port-forwarding"];

/// What a user certificate should say.
#[derive(Debug, Clone)]
pub struct UserCertificateRequest {
    /// The key the certificate binds.
    pub public_key: PublicKey,
    /// Who the holder is (OIDC subject or e-mail); shown in every log line and audit row.
    pub key_id: String,
    /// Principals (groups) the holder may act as.
    pub principals: Vec<String>,
    /// How long the certificate is valid from now.
    pub ttl: Duration,
    /// Extensions such as `permit-pty`; `NAME=VALUE` for one that carries data (OpenSSH
    /// extension names never contain `=`).
    pub extensions: Vec<String>,
    /// `source-address` critical option, if the certificate is bound to addresses.
    pub source_address: Option<String>,
    /// `force-command` critical option.
    pub force_command: Option<String>,
}

/// Signs a user certificate with the user CA. The serial is random (64 bits).
///
/// # Errors
/// [`KeyError::Format`] when the certificate cannot be built (no principals, invalid times),
/// [`KeyError::Random`] when no randomness is available.
pub fn sign_user_certificate(
    user_ca: &PrivateKey,
    req: &UserCertificateRequest,
) -> Result<Certificate, KeyError> {
    if req.principals.is_empty() {
        return Err(format_error("a certificate needs at least one principal"));
    }
    let now = crate::unix_now();
    let mut b = builder(&req.public_key, now, req.ttl)?;
    b.cert_type(CertType::User).map_err(cert_error)?;
    b.key_id(req.key_id.clone()).map_err(cert_error)?;
    for p in &req.principals {
        b.valid_principal(p.clone()).map_err(cert_error)?;
    }
    if let Some(s) = &req.source_address {
        b.critical_option("source-address", s.clone())
            .map_err(cert_error)?;
    }
    if let Some(c) = &req.force_command {
        b.critical_option("force-command", c.clone())
            .map_err(cert_error)?;
    }
    for e in &req.extensions {
        let (name, value) = e.split_once('=').unwrap_or((e, ""));
        b.extension(name, value).map_err(cert_error)?;
    }
    b.sign(user_ca).map_err(cert_error)
}

/// A fresh key pair and a certificate for it from the target CA: principal `login`, valid for
/// `ttl`, key id naming the session and the user so that the target's own log says who it was.
///
/// # Errors
/// [`KeyError`] when the key or certificate cannot be made.
pub fn mint_upstream_certificate(
    target_ca: &PrivateKey,
    login: &str,
    key_id: &str,
    ttl: Duration,
) -> Result<(PrivateKey, Certificate), KeyError> {
    let key = generate_ed25519(key_id)?;
    let now = crate::unix_now();
    let mut b = builder(key.public_key(), now, ttl)?;
    b.cert_type(CertType::User).map_err(cert_error)?;
    b.key_id(key_id).map_err(cert_error)?;
    b.valid_principal(login).map_err(cert_error)?;
    // The role decides what the user may do; these only stop the target from refusing it.
    for e in ["permit-pty", "permit-port-forwarding"] {
        b.extension(e, "").map_err(cert_error)?;
    }
    let cert = b.sign(target_ca).map_err(cert_error)?;
    Ok((key, cert))
}

fn builder(key: &PublicKey, now: u64, ttl: Duration) -> Result<Builder, KeyError> {
    let nonce = crate::random::<32>()?;
    let serial = crate::new_serial()?;
    let valid_after = now.saturating_sub(BACKDATE.as_secs());
    let valid_before = now.saturating_add(ttl.as_secs());
    let mut b = Builder::new(
        nonce.to_vec(),
        key.key_data().clone(),
        valid_after,
        valid_before,
    )
    .map_err(cert_error)?;
    b.serial(serial).map_err(cert_error)?;
    Ok(b)
}

fn cert_error(e: ssh_key::Error) -> KeyError {
    format_error(&format!("cannot build certificate: {e}"))
}

fn format_error(message: &str) -> KeyError {
    KeyError::Format {
        path: std::path::PathBuf::new(),
        message: message.to_string(),
    }
}
