//! Verifying a recording against its signed sidecar.
//!
//! The cast file is read once, the chain recomputed line by line (see the `recorder` crate docs
//! for the formula), and compared with every checkpoint at the line count it covers. Signatures
//! are checked first; a checkpoint that verifies but whose key is not trusted makes the verdict
//! [`Verdict::UnknownKey`], because anyone can re-sign an altered file with a key of their own.

mod report;

use std::io::{BufRead, BufReader};
use std::path::Path;

use recorder::{
    hex, parse_sidecar, read_sidecar, Checkpoint, HashChain, RecorderError, Sidecar, VerifyingKey,
};

use crate::PlayerError;
pub use report::{Report, UnverifiedTail, Verdict};

/// Verifies `cast` against the checkpoints in `sidecar`.
///
/// `trusted` lists the keys allowed to sign recordings. With an empty list the signatures are
/// still checked against the key each checkpoint names, which proves the file is as that key
/// signed it but not who holds the key; [`Report::signer_trusted`] is then false.
///
/// # Errors
/// Only when a file cannot be read; every finding about the content is in the [`Report`].
pub fn verify(
    cast: &Path,
    sidecar: &Path,
    trusted: &[VerifyingKey],
) -> Result<Report, PlayerError> {
    let file = recorder::files::open_regular(cast).map_err(PlayerError::io(cast))?;
    verify_from(
        cast,
        BufReader::new(file),
        sidecar,
        read_sidecar(sidecar),
        trusted,
    )
}

/// [`verify`] of a cast already read into memory: a player that shows these same bytes shows
/// exactly what was verified, even if the file is replaced meanwhile. `cast` names the file in
/// the report.
///
/// # Errors
/// Only when the sidecar cannot be read, or a line is over-long.
pub fn verify_bytes(
    cast: &Path,
    bytes: &[u8],
    sidecar: &Path,
    trusted: &[VerifyingKey],
) -> Result<Report, PlayerError> {
    verify_from(cast, bytes, sidecar, read_sidecar(sidecar), trusted)
}

/// [`verify_bytes`] with the sidecar in memory too (`None`: there is none), for the fuzz
/// checks (`fuzz-checks`), which must not touch files: not part of the API.
///
/// # Errors
/// Only when a line is over-long.
#[doc(hidden)]
pub fn verify_in_memory(
    cast: &[u8],
    sidecar: Option<&[u8]>,
    trusted: &[VerifyingKey],
) -> Result<Report, PlayerError> {
    let (cast_path, sidecar_path) = (Path::new("memory.cast"), Path::new("memory.cast.sig"));
    let loaded = sidecar
        .map(|raw| parse_sidecar(raw, sidecar_path))
        .transpose();
    verify_from(cast_path, cast, sidecar_path, loaded, trusted)
}

fn verify_from(
    cast: &Path,
    mut reader: impl BufRead,
    sidecar: &Path,
    loaded: Result<Option<Sidecar>, RecorderError>,
    trusted: &[VerifyingKey],
) -> Result<Report, PlayerError> {
    let mut report = Report {
        cast: cast.to_path_buf(),
        sidecar: sidecar.to_path_buf(),
        verdict: Verdict::SidecarMissing,
        lines: 0,
        checkpoints: 0,
        key_id: None,
        signer_trusted: !trusted.is_empty(),
        final_hash: None,
    };
    let checkpoints = match loaded {
        Ok(Some(s)) => s.checkpoints,
        Ok(None) => {
            report.lines = walk(cast, &mut reader, &[])?.lines;
            return Ok(report);
        }
        Err(RecorderError::Sidecar { line, reason, .. }) => {
            report.lines = walk(cast, &mut reader, &[])?.lines;
            report.verdict = Verdict::SidecarMalformed { line, reason };
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    report.checkpoints = checkpoints.len();
    report.key_id = checkpoints.last().map(|c| c.key_id.clone());
    report.final_hash = checkpoints
        .last()
        .filter(|c| c.sealed)
        .map(|c| c.hash.clone());

    let walked = walk(cast, &mut reader, &checkpoints)?;
    report.lines = walked.lines;
    report.verdict = sidecar_problem(&checkpoints)
        .or_else(|| signature_problem(&checkpoints, trusted))
        .unwrap_or(walked.verdict);
    Ok(report)
}

/// Checkpoints must cover ever more of the file, and only the last may seal it.
fn sidecar_problem(checkpoints: &[Checkpoint]) -> Option<Verdict> {
    let mut prev: Option<&Checkpoint> = None;
    for (i, cp) in checkpoints.iter().enumerate() {
        let reason = if prev.is_some_and(|p| p.sealed) {
            Some("checkpoint after the seal")
        } else if prev.is_some_and(|p| cp.lines < p.lines || cp.bytes < p.bytes) {
            Some("covers less than the checkpoint before it")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Some(Verdict::SidecarMalformed {
                line: i as u64 + 1,
                reason: reason.into(),
            });
        }
        prev = Some(cp);
    }
    None
}

fn signature_problem(checkpoints: &[Checkpoint], trusted: &[VerifyingKey]) -> Option<Verdict> {
    let mut unknown = None;
    for (i, cp) in checkpoints.iter().enumerate() {
        match cp.verify_signature() {
            Err(problem) => {
                return Some(Verdict::BadSignature {
                    checkpoint: i,
                    problem: problem.to_string(),
                })
            }
            Ok(key) if !trusted.is_empty() && !trusted.contains(&key) && unknown.is_none() => {
                unknown = Some(Verdict::UnknownKey {
                    checkpoint: i,
                    key_id: cp.key_id.clone(),
                });
            }
            Ok(_) => {}
        }
    }
    unknown
}

struct Walked {
    lines: u64,
    verdict: Verdict,
}

/// Reads the cast once, recomputing the chain and checking each checkpoint where it applies.
fn walk(
    cast: &Path,
    reader: &mut impl BufRead,
    checkpoints: &[Checkpoint],
) -> Result<Walked, PlayerError> {
    let mut line = Vec::new();
    let mut read = |line: &mut Vec<u8>| {
        line.clear();
        recorder::files::read_line_capped(reader, line).map_err(PlayerError::io(cast))
    };

    let n = read(&mut line)?;
    if n == 0 || line.last() != Some(&b'\n') {
        let verdict = match checkpoints.first() {
            Some(cp) => Verdict::Truncated {
                checkpoint: 0,
                expected_lines: cp.lines,
                found_lines: 0,
            },
            None => Verdict::Unsealed {
                checkpoint: None,
                signed_lines: 0,
                tail_lines: 0,
                torn_bytes: n as u64,
            },
        };
        return Ok(Walked { lines: 0, verdict });
    }
    let mut chain = HashChain::new(&line[..n - 1]);
    let mut bytes = n as u64;
    let mut next = 0;
    let mut intact_through = 0;
    let mut altered = check(&chain, bytes, checkpoints, &mut next, &mut intact_through);
    let mut lines = 0;
    let mut torn = 0;
    loop {
        let n = read(&mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            torn = n as u64;
            break;
        }
        lines += 1;
        // Once a mismatch is found the rest is only counted.
        if altered.is_none() {
            chain.push(&line[..n - 1]);
            bytes += n as u64;
            altered = check(&chain, bytes, checkpoints, &mut next, &mut intact_through);
        }
    }
    if let Some(verdict) = altered {
        return Ok(Walked { lines, verdict });
    }
    let verdict = if let Some(cp) = checkpoints.get(next) {
        Verdict::Truncated {
            checkpoint: next,
            expected_lines: cp.lines,
            found_lines: lines,
        }
    } else {
        match checkpoints.last() {
            Some(last) if last.sealed => {
                let extra = (bytes + torn).saturating_sub(last.bytes);
                if extra > 0 {
                    Verdict::AppendedAfterSeal { extra_bytes: extra }
                } else if last.kind == recorder::CheckpointKind::Recovered {
                    recovered(checkpoints, last)
                } else {
                    Verdict::Sealed
                }
            }
            last => Verdict::Unsealed {
                checkpoint: checkpoints.len().checked_sub(1),
                signed_lines: last.map_or(0, |c| c.lines),
                tail_lines: lines.saturating_sub(last.map_or(0, |c| c.lines)),
                torn_bytes: torn,
            },
        }
    };
    Ok(Walked { lines, verdict })
}

/// A recovered seal vouches only for the lines a live checkpoint signed before it: recovery
/// signs whatever complete lines it finds, whoever wrote them.
fn recovered(checkpoints: &[Checkpoint], seal: &Checkpoint) -> Verdict {
    let live = checkpoints
        .iter()
        .filter(|c| !c.sealed)
        .map(|c| c.lines)
        .max()
        .unwrap_or(0);
    match seal.lines.saturating_sub(live) {
        0 => Verdict::Recovered {
            signed_while_recording: live,
        },
        tail_lines => Verdict::RecoveredTail {
            signed_while_recording: live,
            tail_lines,
        },
    }
}

/// Checks every checkpoint that covers exactly the lines hashed so far.
fn check(
    chain: &HashChain,
    bytes: u64,
    checkpoints: &[Checkpoint],
    next: &mut usize,
    intact_through: &mut u64,
) -> Option<Verdict> {
    while let Some(cp) = checkpoints.get(*next) {
        if cp.lines != chain.lines() {
            break;
        }
        if cp.header != hex::encode(&chain.header_hash()) {
            return Some(Verdict::Altered {
                checkpoint: *next,
                intact_through: 0,
                line: 0,
            });
        }
        if cp.hash != hex::encode(&chain.hash()) || cp.bytes != bytes {
            return Some(Verdict::Altered {
                checkpoint: *next,
                intact_through: *intact_through,
                line: cp.lines,
            });
        }
        *intact_through = cp.lines;
        *next += 1;
    }
    None
}
