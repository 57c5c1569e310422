//! What a refused client is told, before the connection is denied, in words it can act on.
//!
//! Stock OpenSSH shows only "Permission denied (publickey)" for any refused key. The bastion
//! offers keyboard-interactive after a refusal and shows these words there (OpenSSH prints them
//! before the denial). They say nothing the offered certificate does not already say, and
//! nothing about the bastion's policy beyond the refusal itself.

use std::time::{Duration, SystemTime};

/// The words for refusal `code`; `None` for refusals that tell the user elsewhere (device
/// logins show their own messages) or that an unauthenticated client must not learn more about.
pub fn for_user(code: &str) -> Option<String> {
    let words = match code {
        "revoked" => "this certificate was revoked",
        "wrong-ca" => "this certificate is not from this bastion's CA: run `bastion login` for one that is",
        "plain-key" => "this bastion accepts only certificates from its CA: run `bastion login` to get one",
        "source-address" => "this certificate may not be used from your address",
        "unknown-principal" => "no role on this bastion grants this certificate's principals",
        "no-principals" => "this certificate names no principal, so it grants nothing here",
        "critical-option" => "this certificate carries a critical option this bastion does not implement",
        "not-user-cert" => "a host certificate cannot be used to log in",
        "sha1-signature" => "ssh-rsa (SHA-1) signatures are refused: use a client that signs with rsa-sha2-256 or rsa-sha2-512 (OpenSSH 7.2 or later), or an ed25519 key",
        "certificate-expired" => "the certificate you offered has expired or is not yet valid: run `bastion login` for a new one (or check this machine's clock)",
        _ => return None,
    };
    Some(format!("bastion: {words}"))
}

/// For a certificate past its end of validity (Unix seconds).
pub fn expired_at(valid_before: u64) -> String {
    format!(
        "bastion: your certificate expired at {}: run `bastion login` for a new one",
        utc(valid_before)
    )
}

/// For a certificate before its start of validity (Unix seconds).
pub fn not_yet_valid(valid_after: u64) -> String {
    format!(
        "bastion: your certificate is not valid before {}: check this machine's clock",
        utc(valid_after)
    )
}

/// `2026-12-03 14:02 UTC`.
fn utc(secs: u64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.min(253_402_300_799));
    let text = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} UTC", text.get(..16).unwrap_or(&text).replace('T', " "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_name_the_refusal_and_what_to_do() {
        assert_eq!(
            super::expired_at(1_796_306_520),
            "bastion: your certificate expired at 2026-12-03 14:02 UTC: run `bastion login` for a new one"
        );
        assert!(super::for_user("revoked").unwrap().contains("revoked"));
        assert!(super::for_user("device-denied").is_none());
        assert!(super::not_yet_valid(u64::MAX).contains("9999-12-31"));
    }
}
