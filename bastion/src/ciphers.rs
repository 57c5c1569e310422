//! Which ciphers the bastion uses. It encrypts every byte twice (to the user and to the
//! target), so the cipher is a large share of its CPU: with AES in hardware, AES-GCM costs a
//! fraction of ChaCha20-Poly1305. OpenSSH clients take the first cipher of their own list that
//! the server offers (ChaCha20 comes first there), so towards users AES-GCM is only chosen when
//! ChaCha20 is not offered.

use russh::cipher::{self, Name};

const HARDWARE_AES: &[Name] = &[cipher::AES_128_GCM, cipher::AES_256_GCM];
const SOFTWARE: &[Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_GCM,
    cipher::AES_128_GCM,
];
const UPSTREAM_HARDWARE_AES: &[Name] = &[
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_128_CTR,
];
const UPSTREAM_SOFTWARE: &[Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_GCM,
    cipher::AES_128_GCM,
    cipher::AES_256_CTR,
    cipher::AES_128_CTR,
];

/// Whether this CPU has AES and carry-less multiplication instructions (AES-GCM in hardware).
pub fn aes_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Ciphers offered to users: `[server] ciphers` if set (names checked at config load), else
/// chosen for this CPU.
pub fn offered(configured: Option<&[String]>) -> Vec<Name> {
    match configured {
        Some(names) => names
            .iter()
            .filter_map(|n| {
                cipher::ALL_CIPHERS
                    .iter()
                    .find(|c| c.as_ref() == n.as_str())
                    .map(|c| **c)
            })
            .collect(),
        None if aes_in_hardware() => HARDWARE_AES.to_vec(),
        None => SOFTWARE.to_vec(),
    }
}

/// Ciphers the bastion asks targets for, fastest first.
pub fn upstream() -> &'static [Name] {
    if aes_in_hardware() {
        UPSTREAM_HARDWARE_AES
    } else {
        UPSTREAM_SOFTWARE
    }
}
