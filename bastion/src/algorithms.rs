//! Which key exchanges, MACs and public key signature algorithms the bastion offers, towards
//! users (the SSH server) and towards targets (the SSH client). Ciphers are in `ciphers`.
//!
//! Towards users the lists are strict by default, since every user runs a recent client: the
//! post-quantum hybrid, then Curve25519 for OpenSSH 9.0–9.8 (whose hybrid, sntrup761x25519,
//! russh does not implement); encrypt-then-MAC only; no SHA-1 signatures. Towards targets the
//! bastion offers what a stock OpenSSH 9 client offers, strongest first, so that any target
//! such a client reaches is reached, and a target that can do better does.

use std::borrow::Cow;

use russh::keys::{Algorithm, EcdsaCurve, HashAlg};
use russh::{kex, mac};

/// Public key signature algorithms users may authenticate with, advertised as the server's
/// `server-sig-algs`. Every one the SSH library can verify, except the SHA-1 ones (`ssh-rsa`;
/// `ssh-dss` cannot be verified at all).
pub const USER_SIGNATURES: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::SkEd25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::SkEcdsaSha2NistP256,
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// Why a user's signature algorithm is refused, if it is: (audit code, reason).
pub fn refused_signature(algorithm: &Algorithm) -> Option<(&'static str, String)> {
    if USER_SIGNATURES.contains(algorithm) {
        return None;
    }
    Some(match algorithm {
        Algorithm::Rsa { hash: None } | Algorithm::Dsa => (
            "sha1-signature",
            format!(
                "{algorithm} signatures use SHA-1, which is refused; sign with rsa-sha2-512 or \
                 rsa-sha2-256 (OpenSSH 7.2 or later does so by itself)"
            ),
        ),
        _ => (
            "signature-algorithm",
            format!("signature algorithm {algorithm} is not accepted"),
        ),
    })
}

/// Markers the server adds to its key exchange list: RFC 8308 extension negotiation (without
/// it no `server-sig-algs` is sent, and clients fall back to `ssh-rsa`) and OpenSSH's strict
/// key exchange (the Terrapin counter-measure).
const SERVER_KEX_MARKERS: &[kex::Name] = &[
    kex::EXTENSION_SUPPORT_AS_SERVER,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
];

/// Key exchanges offered to users: `[server] kex` if set (names checked at config load), else
/// the defaults of `config::DEFAULT_KEX`; then the markers.
pub fn offered_kex(configured: Option<&[String]>) -> Vec<kex::Name> {
    let names: Vec<&str> = match configured {
        Some(names) => names.iter().map(String::as_str).collect(),
        None => config::DEFAULT_KEX.to_vec(),
    };
    names
        .into_iter()
        .filter_map(|n| kex::Name::try_from(n).ok())
        .chain(SERVER_KEX_MARKERS.iter().copied())
        .collect()
}

/// MACs offered to users: `[server] macs` if set, else encrypt-then-MAC only. With the default
/// ciphers (AEADs) no MAC is negotiated at all.
pub fn offered_macs(configured: Option<&[String]>) -> Vec<mac::Name> {
    let names: Vec<&str> = match configured {
        Some(names) => names.iter().map(String::as_str).collect(),
        None => config::DEFAULT_MACS.to_vec(),
    };
    names
        .into_iter()
        .filter_map(|n| mac::Name::try_from(n).ok())
        .collect()
}

/// The server's algorithm preferences, ciphers aside.
pub fn server_preferred(s: &config::Server, cipher: Vec<russh::cipher::Name>) -> russh::Preferred {
    russh::Preferred {
        kex: offered_kex(s.kex.as_deref()).into(),
        // Also the host key algorithms, of which russh offers only those of the host keys.
        key: Cow::Borrowed(USER_SIGNATURES),
        cipher: cipher.into(),
        mac: offered_macs(s.macs.as_deref()).into(),
        ..Default::default()
    }
}

/// Key exchanges asked of targets: OpenSSH 9's client list, with ML-KEM for its sntrup761
/// hybrid. The finite-field groups stay for old targets; the client's order decides, so a
/// target offering something better never gets them.
const UPSTREAM_KEX: &[kex::Name] = &[
    kex::MLKEM768X25519_SHA256,
    kex::CURVE25519,
    kex::CURVE25519_PRE_RFC_8731,
    kex::ECDH_SHA2_NISTP256,
    kex::ECDH_SHA2_NISTP384,
    kex::ECDH_SHA2_NISTP521,
    kex::DH_GEX_SHA256,
    kex::DH_G16_SHA512,
    kex::DH_G18_SHA512,
    kex::DH_G14_SHA256,
    kex::EXTENSION_SUPPORT_AS_CLIENT,
    kex::EXTENSION_OPENSSH_STRICT_KEX_AS_CLIENT,
];

/// Host key algorithms accepted from targets: no `ssh-rsa` (SHA-1), as in OpenSSH since 8.8.
const UPSTREAM_HOST_KEYS: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// MACs asked of targets (for CTR ciphers only): encrypt-then-MAC first, SHA-2 only.
const UPSTREAM_MACS: &[mac::Name] = &[
    mac::HMAC_SHA512_ETM,
    mac::HMAC_SHA256_ETM,
    mac::HMAC_SHA512,
    mac::HMAC_SHA256,
];

/// The client's algorithm preferences towards targets, ciphers aside.
pub fn upstream_preferred(cipher: &'static [russh::cipher::Name]) -> russh::Preferred {
    russh::Preferred {
        kex: Cow::Borrowed(UPSTREAM_KEX),
        key: Cow::Borrowed(UPSTREAM_HOST_KEYS),
        cipher: Cow::Borrowed(cipher),
        mac: Cow::Borrowed(UPSTREAM_MACS),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<T: AsRef<str>>(list: &[T]) -> Vec<&str> {
        list.iter().map(AsRef::as_ref).collect()
    }

    #[test]
    fn server_defaults_are_post_quantum_first_without_finite_field_groups() {
        let kex = offered_kex(None);
        assert_eq!(
            names(&kex),
            [
                "mlkem768x25519-sha256",
                "curve25519-sha256",
                "ext-info-s",
                "kex-strict-s-v00@openssh.com"
            ]
        );
        assert_eq!(
            names(&offered_macs(None)),
            [
                "hmac-sha2-512-etm@openssh.com",
                "hmac-sha2-256-etm@openssh.com"
            ]
        );
    }

    #[test]
    fn every_name_the_configuration_accepts_is_known_to_russh() {
        for n in config::KEX_NAMES {
            assert!(kex::Name::try_from(*n).is_ok(), "{n}");
        }
        for n in config::MAC_NAMES {
            assert!(mac::Name::try_from(*n).is_ok(), "{n}");
        }
        let configured: Vec<String> = config::KEX_NAMES.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            offered_kex(Some(&configured)).len(),
            config::KEX_NAMES.len() + SERVER_KEX_MARKERS.len()
        );
    }

    #[test]
    fn sha1_signatures_are_neither_accepted_nor_advertised() {
        let sha1 = Algorithm::Rsa { hash: None };
        assert!(!USER_SIGNATURES.contains(&sha1));
        let (code, reason) = refused_signature(&sha1).unwrap();
        assert_eq!(code, "sha1-signature");
        assert!(
            reason.starts_with("ssh-rsa signatures use SHA-1"),
            "{reason}"
        );
        for ok in USER_SIGNATURES {
            assert_eq!(refused_signature(ok), None, "{ok}");
        }
        assert!(!UPSTREAM_HOST_KEYS.contains(&sha1));
    }

    #[test]
    fn upstream_prefers_post_quantum_and_keeps_old_groups_last() {
        let kex = names(UPSTREAM_KEX);
        assert_eq!(kex[0], "mlkem768x25519-sha256");
        assert!(!kex.iter().any(|k| k.ends_with("-sha1")), "{kex:?}");
        assert!(!names(UPSTREAM_MACS).iter().any(|m| m.contains("sha1")));
        assert!(names(UPSTREAM_MACS)[0].ends_with("-etm@openssh.com"));
    }
}
