//! The recording verifier: a cast file and its signed sidecar.

use std::sync::OnceLock;

use player::{verify_in_memory, Report, Verdict};
use recorder::{SigningKey, VerifyingKey};

/// The key the seed recordings are signed with (`fuzz-checks/tests/corpora.rs` writes them).
pub const SEED: [u8; 32] = [7; 32];

/// The only key trusted.
pub fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| match SigningKey::from_seed(&SEED) {
        Ok(k) => k,
        Err(e) => panic!("fixed key: {e}"),
    })
}

/// A cast file, then (after a NUL byte, which neither JSON lines file holds) its sidecar; no
/// NUL: no sidecar.
pub fn check(data: &[u8]) {
    let (cast, sidecar) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let trusted = [key().verifying_key().clone()];
    let Some(report) = verify(cast, sidecar, &trusted) else {
        return;
    };
    assert!(report.lines <= crate::input::newlines(cast));
    if sidecar.is_none() {
        assert_eq!(report.verdict, Verdict::SidecarMissing);
    }
    if report.is_ok() {
        // An OK recording is exactly what was signed: one byte changed anywhere, or one line
        // more, and it is not.
        let at = usize::from(
            data.iter()
                .fold(0u16, |h, &b| h.wrapping_mul(31) ^ u16::from(b)),
        ) % cast.len().max(1);
        let mut changed = cast.to_vec();
        if let Some(b) = changed.get_mut(at) {
            *b ^= 0x20;
        }
        let mut longer = cast.to_vec();
        longer.extend_from_slice(b"[0.1, \"o\", \"x\"]\n");
        for (what, bytes) in [("changed", &changed), ("appended to", &longer)] {
            if let Some(r) = verify(bytes, sidecar, &trusted) {
                assert!(!r.is_ok(), "{what}, still verifies: {r}");
            }
        }
    }
    // The same without trusted keys checks the same chain, naming no trusted signer.
    if let Some(untrusted) = verify(cast, sidecar, &[]) {
        assert!(!untrusted.is_ok() && !untrusted.signer_trusted);
        assert_eq!(untrusted.lines, report.lines);
    }
}

fn verify(cast: &[u8], sidecar: Option<&[u8]>, trusted: &[VerifyingKey]) -> Option<Report> {
    match verify_in_memory(cast, sidecar, trusted) {
        Ok(report) => {
            let _ = (
                report.to_string(),
                report.summary(),
                report.unverified_tail(),
            );
            if let Err(e) = serde_json::to_string(&report) {
                panic!("report as JSON: {e}");
            }
            Some(report)
        }
        // Only an over-long line is an error rather than a verdict.
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}
