//! Signed checkpoints: one JSON line each in the `<file>.sig` sidecar.
//!
//! A checkpoint says "the first `lines` event lines (`bytes` bytes of the file, header and
//! newlines included) hash to `hash`, and the header hashes to `header`". Its `sig` is ed25519
//! over [`Checkpoint::signed_message`], a fixed text encoding of every other field:
//!
//! ```text
//! bastion-recording-checkpoint-v1\n
//! kind=<checkpoint|final|recovered>\n
//! sealed=<true|false>\n
//! lines=<decimal>\n
//! bytes=<decimal>\n
//! header=<hex h0>\n
//! hash=<hex h_lines>\n
//! time=<unix milliseconds>\n
//! key_id=<SHA256:…>\n
//! public_key=<hex of the 32-byte ed25519 key>\n
//! ```
//! A text encoding rather than "the JSON without `sig`" so that a verifier in any language can
//! rebuild it without matching a JSON serialiser byte for byte. The public key travels with the
//! checkpoint so that a signature can be checked even by someone who only trusts a key id, and so
//! that "signed by an unknown key" is told apart from "bad signature".

use serde::{Deserialize, Serialize};

use crate::{hex, SigningKey, VerifyingKey};

/// Whether a checkpoint is periodic or closes the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointKind {
    /// Written while the channel is open; more lines may follow.
    Checkpoint,
    /// Written by [`crate::Recorder::seal`] at a clean close.
    Final,
    /// Written by [`crate::recover`] after a crash, over the lines that were intact.
    Recovered,
}

impl CheckpointKind {
    fn as_str(self) -> &'static str {
        match self {
            CheckpointKind::Checkpoint => "checkpoint",
            CheckpointKind::Final => "final",
            CheckpointKind::Recovered => "recovered",
        }
    }
}

/// One line of the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Periodic, final or recovered.
    pub kind: CheckpointKind,
    /// True for `final` and `recovered`: nothing may follow in the cast file.
    pub sealed: bool,
    /// Event lines covered (the header is not counted).
    pub lines: u64,
    /// Bytes of the cast file covered, from the start, header and newlines included.
    pub bytes: u64,
    /// Hex `h0`: binds the checkpoint to one recording's header.
    pub header: String,
    /// Hex `h_lines`.
    pub hash: String,
    /// When it was written, unix milliseconds.
    pub time: u64,
    /// `SHA256:…` fingerprint of `public_key`.
    pub key_id: String,
    /// Hex of the 32-byte ed25519 public key.
    pub public_key: String,
    /// Hex of the 64-byte ed25519 signature over [`Checkpoint::signed_message`].
    pub sig: String,
}

/// Why a checkpoint's own signature does not hold (independent of who is trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    /// `public_key` or `sig` is not canonical hex of the right length, or a field has a newline.
    #[error("malformed key or signature field")]
    Malformed,
    /// `key_id` is not the fingerprint of `public_key`.
    #[error("key id does not match the public key")]
    KeyIdMismatch,
    /// `sealed` contradicts `kind`.
    #[error("sealed flag contradicts kind")]
    Inconsistent,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

impl Checkpoint {
    /// Builds and signs a checkpoint.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign(
        key: &SigningKey,
        kind: CheckpointKind,
        lines: u64,
        bytes: u64,
        header: &[u8; 32],
        hash: &[u8; 32],
        time: u64,
    ) -> Self {
        let mut cp = Checkpoint {
            kind,
            sealed: kind != CheckpointKind::Checkpoint,
            lines,
            bytes,
            header: hex::encode(header),
            hash: hex::encode(hash),
            time,
            key_id: key.key_id().to_owned(),
            public_key: hex::encode(key.verifying_key().bytes()),
            sig: String::new(),
        };
        cp.sig = hex::encode(&key.sign(&cp.signed_message()));
        cp
    }

    /// The exact bytes the signature covers (see the module docs).
    pub fn signed_message(&self) -> Vec<u8> {
        format!(
            "bastion-recording-checkpoint-v1\nkind={}\nsealed={}\nlines={}\nbytes={}\nheader={}\nhash={}\ntime={}\nkey_id={}\npublic_key={}\n",
            self.kind.as_str(),
            self.sealed,
            self.lines,
            self.bytes,
            self.header,
            self.hash,
            self.time,
            self.key_id,
            self.public_key,
        )
        .into_bytes()
    }

    /// The key that signed, once its own signature has been checked.
    ///
    /// # Errors
    /// A [`SignatureProblem`] when the checkpoint is not validly self-signed. Whether the
    /// returned key is *trusted* is for the caller to decide.
    pub fn verify_signature(&self) -> Result<VerifyingKey, SignatureProblem> {
        if self.sealed != (self.kind != CheckpointKind::Checkpoint) {
            return Err(SignatureProblem::Inconsistent);
        }
        let canonical = hex::decode::<32>(&self.header).is_some()
            && hex::decode::<32>(&self.hash).is_some()
            && !self.key_id.contains('\n');
        let (Some(public), Some(sig), true) = (
            hex::decode::<32>(&self.public_key),
            hex::decode::<64>(&self.sig),
            canonical,
        ) else {
            return Err(SignatureProblem::Malformed);
        };
        let key = VerifyingKey::from_bytes(public);
        if key.key_id() != self.key_id {
            return Err(SignatureProblem::KeyIdMismatch);
        }
        if !key.verify(&self.signed_message(), &sig) {
            return Err(SignatureProblem::BadSignature);
        }
        Ok(key)
    }

    /// The sidecar line (without newline).
    pub fn to_line(&self) -> Vec<u8> {
        // Only strings, integers and booleans: serialisation cannot fail; an empty line would
        // show up as a malformed sidecar line rather than pass silently.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    fn sample(key: &SigningKey) -> Checkpoint {
        Checkpoint::sign(
            key,
            CheckpointKind::Final,
            3,
            120,
            &[1; 32],
            &[0xab; 32],
            1_700_000_000_123,
        )
    }

    #[test]
    fn signed_checkpoint_verifies_and_round_trips() {
        let key = SigningKey::from_seed(&[1; 32]).unwrap();
        let cp = sample(&key);
        assert!(cp.sealed);
        assert_eq!(cp.verify_signature().unwrap(), *key.verifying_key());
        let line = cp.to_line();
        let back: Checkpoint = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, cp);
        let msg = String::from_utf8(cp.signed_message()).unwrap();
        assert!(msg.contains("\nlines=3\nbytes=120\n"), "{msg}");
    }

    #[test]
    fn any_field_change_breaks_the_signature() {
        let key = SigningKey::from_seed(&[1; 32]).unwrap();
        let cp = sample(&key);
        let mut c = cp.clone();
        c.lines += 1;
        assert_eq!(c.verify_signature(), Err(SignatureProblem::BadSignature));
        let mut c = cp.clone();
        c.time += 1;
        assert_eq!(c.verify_signature(), Err(SignatureProblem::BadSignature));
        let mut c = cp.clone();
        c.kind = CheckpointKind::Recovered;
        assert_eq!(c.verify_signature(), Err(SignatureProblem::BadSignature));
        let mut c = cp.clone();
        c.sealed = false;
        assert_eq!(c.verify_signature(), Err(SignatureProblem::Inconsistent));
        let mut c = cp.clone();
        c.key_id = SigningKey::from_seed(&[2; 32]).unwrap().key_id().into();
        assert_eq!(c.verify_signature(), Err(SignatureProblem::KeyIdMismatch));
        let mut c = cp;
        c.hash = c.hash.to_uppercase();
        assert_eq!(c.verify_signature(), Err(SignatureProblem::Malformed));
    }
}
