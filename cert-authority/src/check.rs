//! Whether a certificate presented to the bastion is acceptable: signed by the user CA, a user
//! certificate, valid now, usable from the peer's address, with options the bastion understands.

use std::net::IpAddr;

use ssh_key::certificate::{CertType, Certificate};
use ssh_key::{HashAlg, PublicKey};

use crate::source_address;

/// Critical options the bastion enforces. Any other critical option refuses the certificate,
/// as PROTOCOL.certkeys requires.
const KNOWN_CRITICAL_OPTIONS: &[&str] = &["source-address", "force-command"];

/// Who a valid certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedUser {
    /// Identity (OIDC subject or e-mail).
    pub key_id: String,
    /// Serial number of the certificate.
    pub serial: u64,
    /// Principals (groups).
    pub principals: Vec<String>,
    /// End of validity, Unix seconds.
    pub valid_before: u64,
    /// `force-command`, if set: the only command this certificate may run.
    pub force_command: Option<String>,
    /// Whether the certificate permits a pty (`permit-pty`).
    pub permit_pty: bool,
    /// Whether it permits port forwarding (`permit-port-forwarding`).
    pub permit_port_forwarding: bool,
    /// SHA-256 fingerprint of the CA that signed it.
    pub ca_fingerprint: String,
    /// The holder's own login on targets (`default-login@bastion`, from the OIDC username
    /// claim), used when the user names none and a role allows it.
    pub default_login: Option<String>,
}

/// Why a certificate was refused; each has its own wording in the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The client offered a plain key, not a certificate.
    #[error(
        "plain public key {fingerprint} offered; only certificates from the user CA are accepted"
    )]
    PlainKey {
        /// The key's SHA-256 fingerprint.
        fingerprint: String,
    },
    /// Signed by some other CA.
    #[error("certificate signed by unknown CA {ca_fingerprint} (key id {key_id:?})")]
    WrongCa {
        /// The signer's fingerprint.
        ca_fingerprint: String,
        /// The key id it carries (untrusted).
        key_id: String,
    },
    /// A host certificate was offered as a user certificate.
    #[error("host certificate offered for user authentication (key id {key_id:?})")]
    NotAUserCertificate {
        /// The key id it carries.
        key_id: String,
    },
    /// Past its end of validity.
    #[error("certificate expired at {valid_before} (key id {key_id:?}, serial {serial})")]
    Expired {
        /// Key id.
        key_id: String,
        /// Serial.
        serial: u64,
        /// End of validity, Unix seconds.
        valid_before: u64,
    },
    /// Before its start of validity.
    #[error("certificate not valid before {valid_after} (key id {key_id:?}, serial {serial})")]
    NotYetValid {
        /// Key id.
        key_id: String,
        /// Serial.
        serial: u64,
        /// Start of validity, Unix seconds.
        valid_after: u64,
    },
    /// No principals: such a certificate would be valid for every user name in OpenSSH.
    #[error("certificate has no principals (key id {key_id:?}); refusing a wildcard certificate")]
    NoPrincipals {
        /// Key id.
        key_id: String,
    },
    /// Used from an address outside its `source-address` list.
    #[error(
        "certificate (key id {key_id:?}) used from {peer}, outside its source-address {allowed}"
    )]
    SourceAddress {
        /// Key id.
        key_id: String,
        /// The client's address.
        peer: String,
        /// The option's value.
        allowed: String,
    },
    /// A critical option the bastion does not implement.
    #[error("certificate (key id {key_id:?}) has unsupported critical option {option:?}")]
    UnknownCriticalOption {
        /// Key id.
        key_id: String,
        /// The option.
        option: String,
    },
    /// The CA signature does not verify.
    #[error("certificate signature does not verify (key id {key_id:?})")]
    BadSignature {
        /// Key id.
        key_id: String,
    },
}

/// Checks `cert` against the trusted user CA keys at time `now` (Unix seconds) for a client at
/// `peer`.
///
/// # Errors
/// The first [`Refusal`] that applies.
pub fn check_user_certificate(
    cert: &Certificate,
    user_cas: &[PublicKey],
    peer: Option<IpAddr>,
    now: u64,
) -> Result<CertifiedUser, Refusal> {
    let key_id = cert.key_id().to_string();
    let ca_fingerprint = cert
        .signature_key()
        .fingerprint(HashAlg::Sha256)
        .to_string();
    if !user_cas
        .iter()
        .any(|ca| ca.fingerprint(HashAlg::Sha256).to_string() == ca_fingerprint)
    {
        return Err(Refusal::WrongCa {
            ca_fingerprint,
            key_id,
        });
    }
    if cert.verify_signature().is_err() {
        return Err(Refusal::BadSignature { key_id });
    }
    if cert.cert_type() != CertType::User {
        return Err(Refusal::NotAUserCertificate { key_id });
    }
    if now < cert.valid_after() {
        return Err(Refusal::NotYetValid {
            key_id,
            serial: cert.serial(),
            valid_after: cert.valid_after(),
        });
    }
    if now >= cert.valid_before() {
        return Err(Refusal::Expired {
            key_id,
            serial: cert.serial(),
            valid_before: cert.valid_before(),
        });
    }
    if cert.valid_principals().is_empty() {
        return Err(Refusal::NoPrincipals { key_id });
    }
    for option in cert.critical_options().keys() {
        if !KNOWN_CRITICAL_OPTIONS.contains(&option.as_str()) {
            return Err(Refusal::UnknownCriticalOption {
                key_id,
                option: option.clone(),
            });
        }
    }
    if let Some(allowed) = cert.critical_options().get("source-address") {
        let ok = peer.is_some_and(|p| source_address::allows(allowed, p));
        if !ok {
            return Err(Refusal::SourceAddress {
                key_id,
                peer: peer
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "an unknown address".into()),
                allowed: allowed.clone(),
            });
        }
    }
    Ok(CertifiedUser {
        key_id,
        serial: cert.serial(),
        principals: cert.valid_principals().to_vec(),
        valid_before: cert.valid_before(),
        force_command: cert.critical_options().get("force-command").cloned(),
        permit_pty: cert.extensions().contains_key("permit-pty"),
        permit_port_forwarding: cert.extensions().contains_key("permit-port-forwarding"),
        ca_fingerprint,
        default_login: cert
            .extensions()
            .get(crate::oidc::mapping::DEFAULT_LOGIN_EXTENSION)
            .filter(|l| !l.is_empty())
            .cloned(),
    })
}

#[cfg(test)]
mod tests;
