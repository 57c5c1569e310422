//! The recording key: an ed25519 key in an OpenSSH file, and its public half.

use std::fmt;
use std::path::Path;

use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use ssh_key::public::Ed25519PublicKey;
use ssh_key::HashAlg;

use crate::RecorderError;

/// The private key that signs checkpoints.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    // Never print key material, even by accident in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its 32-byte ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, RecorderError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| RecorderError::Key {
            path: Default::default(),
            reason: "invalid ed25519 seed".into(),
        })?;
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            pair,
            public: VerifyingKey::from_bytes(public),
        })
    }

    /// Loads an unencrypted OpenSSH ed25519 private key file (as `ssh-keygen -t ed25519 -N ''`
    /// writes it).
    ///
    /// # Errors
    /// [`RecorderError::KeyPermissions`] when the file is group or world readable (Unix), and
    /// [`RecorderError::Key`] when it cannot be read, is encrypted, or is not ed25519.
    pub fn load_openssh(path: &Path) -> Result<Self, RecorderError> {
        check_private_mode(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| RecorderError::Key {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_openssh(&text).map_err(|e| match e {
            RecorderError::Key { reason, .. } => RecorderError::Key {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })
    }

    /// Parses the text of an unencrypted OpenSSH ed25519 private key.
    pub fn from_openssh(text: &str) -> Result<Self, RecorderError> {
        let key_err = |reason: String| RecorderError::Key {
            path: Default::default(),
            reason,
        };
        let key = ssh_key::PrivateKey::from_openssh(text).map_err(|e| key_err(e.to_string()))?;
        if key.is_encrypted() {
            // The bastion signs unattended; a passphrase would have to sit next to the key anyway.
            return Err(key_err(
                "key is encrypted; the recording key must not need a passphrase".into(),
            ));
        }
        let pair = key
            .key_data()
            .ed25519()
            .ok_or_else(|| key_err(format!("key is {}, not ed25519", key.algorithm())))?;
        let signing = Self::from_seed(&pair.private.to_bytes())?;
        if signing.public.bytes != pair.public.0 {
            return Err(key_err(
                "public half does not match the private seed".into(),
            ));
        }
        Ok(signing)
    }

    /// The public half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// `SHA256:…` fingerprint of the public key, as `ssh-keygen -l` prints it.
    pub fn key_id(&self) -> &str {
        &self.public.key_id
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

/// A public recording key, trusted by whoever verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    bytes: [u8; 32],
    key_id: String,
}

impl VerifyingKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let key_id = ssh_key::PublicKey::from(Ed25519PublicKey(bytes))
            .fingerprint(HashAlg::Sha256)
            .to_string();
        Self { bytes, key_id }
    }

    /// Parses an OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
    pub fn from_openssh(line: &str) -> Result<Self, RecorderError> {
        let key_err = |reason: String| RecorderError::Key {
            path: Default::default(),
            reason,
        };
        let key =
            ssh_key::PublicKey::from_openssh(line.trim()).map_err(|e| key_err(e.to_string()))?;
        let ed = key
            .key_data()
            .ed25519()
            .ok_or_else(|| key_err(format!("key is {}, not ed25519", key.algorithm())))?;
        Ok(Self::from_bytes(ed.0))
    }

    /// Reads a `.pub` file, or the public half of a private key file.
    pub fn load(path: &Path) -> Result<Self, RecorderError> {
        let text = std::fs::read_to_string(path).map_err(|e| RecorderError::Key {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let parsed = if text.trim_start().starts_with("-----BEGIN") {
            SigningKey::load_openssh(path).map(|k| k.public)
        } else {
            Self::from_openssh(&text)
        };
        parsed.map_err(|e| match e {
            RecorderError::Key { reason, .. } => RecorderError::Key {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })
    }

    /// The 32 raw bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// `SHA256:…` fingerprint.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Whether `sig` is this key's ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ED25519, &self.bytes)
            .verify(message, sig)
            .is_ok()
    }
}

#[cfg(unix)]
fn check_private_mode(path: &Path) -> Result<(), RecorderError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| RecorderError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(RecorderError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &Path) -> Result<(), RecorderError> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn key_id_is_the_ssh_fingerprint_and_signatures_verify() {
        let key = SigningKey::from_seed(&[7u8; 32]).unwrap();
        assert!(key.key_id().starts_with("SHA256:"));
        assert_eq!(key.key_id().len(), "SHA256:".len() + 43);
        let sig = key.sign(b"msg");
        assert!(key.verifying_key().verify(b"msg", &sig));
        assert!(!key.verifying_key().verify(b"msG", &sig));
        let other = SigningKey::from_seed(&[8u8; 32]).unwrap();
        assert!(!other.verifying_key().verify(b"msg", &sig));
        assert_ne!(other.key_id(), key.key_id());
        assert!(!format!("{key:?}").contains("pair"));
    }
}
