//! The bastion's certificate authority: its keys, the certificates it issues, and the checks it
//! applies to the certificates users present.
//!
//! # Layout
//! - [`keyfile`]: create and load OpenSSH private keys (0600; group- or world-readable keys are
//!   refused; existing files are never overwritten).
//! - [`issue`]: user certificates (from the user CA) and per-session upstream certificates (from
//!   the target CA).
//! - [`check`]: is a presented user certificate acceptable right now, from this address? Each
//!   refusal is its own [`Refusal`] variant so that logs can tell them apart.
//! - [`source_address`]: the `source-address` critical option (comma-separated CIDR list).
//! - [`oidc`]: OpenID Connect ID tokens and CI workload tokens → certificate grants.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod issue;
pub mod keyfile;
pub mod oidc;
pub mod source_address;

pub use check::{check_user_certificate, CertifiedUser, Refusal};
pub use issue::{mint_upstream_certificate, sign_user_certificate, UserCertificateRequest};
pub use keyfile::{generate_ed25519, load_private_key, KeyError};
pub use ssh_key;

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], KeyError> {
    use ring::rand::SecureRandom;
    let mut buf = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| KeyError::Random)?;
    Ok(buf)
}

/// A fresh random certificate serial (64 bits), as every certificate and device login gets.
///
/// # Errors
/// [`KeyError::Random`] if the operating system gives no random bytes.
pub fn new_serial() -> Result<u64, KeyError> {
    Ok(u64::from_be_bytes(random::<8>()?))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
