//! Sealing a recording that a crash left open.

use std::fs::OpenOptions;
use std::io::{BufReader, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::RecoverRefusal;
use crate::{
    hex, read_sidecar, sidecar_path, Checkpoint, CheckpointKind, HashChain, RecorderError,
    SigningKey,
};

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoverOutcome {
    /// The sidecar already ends in a sealed checkpoint; nothing was written.
    AlreadySealed(Checkpoint),
    /// A `recovered` checkpoint was appended.
    Recovered(Recovery),
}

/// Details of a recovery, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The `recovered` checkpoint appended to the sidecar.
    pub checkpoint: Checkpoint,
    /// Lines after the last signed checkpoint that are now covered by the recovered seal only
    /// (they were written but never signed before the crash).
    pub unsigned_lines: u64,
    /// Bytes of a partial last line removed from the cast file (a write cut by the crash).
    pub dropped_cast_bytes: u64,
    /// Bytes of a partial last line removed from the sidecar.
    pub dropped_sidecar_bytes: u64,
}

/// Seals a recording without a final checkpoint, covering every complete line.
///
/// Lines already covered by signed checkpoints must still match them; otherwise recovery
/// refuses, because sealing would bless altered content. A partial trailing line (in the cast
/// or the sidecar) cannot be a complete event or checkpoint and is cut off; the byte counts are
/// reported. Signatures of earlier checkpoints are not judged here: that is the verifier's job.
///
/// # Errors
/// [`RecorderError::Recover`] when the file is unusable or disagrees with a checkpoint,
/// [`RecorderError::Sidecar`] for a malformed sidecar, [`RecorderError::Io`] on I/O failure.
pub fn recover(
    path: &Path,
    key: &SigningKey,
    now: SystemTime,
) -> Result<RecoverOutcome, RecorderError> {
    let sig_path = sidecar_path(path);
    let sidecar = read_sidecar(&sig_path)?;
    let (checkpoints, sidecar_tail) = match sidecar {
        Some(s) => (s.checkpoints, s.partial_tail),
        None => (Vec::new(), 0),
    };
    if let Some(last) = checkpoints.last() {
        if last.sealed && sidecar_tail == 0 {
            return Ok(RecoverOutcome::AlreadySealed(last.clone()));
        }
    }
    let refuse = |reason| RecorderError::Recover {
        path: path.to_path_buf(),
        reason,
    };
    // The recorder signs the header as soon as it creates a file, so a recording it started
    // has at least one checkpoint, every one signed with this key. Sealing anything else would
    // put this key's signature on text someone else wrote.
    if checkpoints.is_empty() {
        return Err(refuse(RecoverRefusal::NoCheckpoint));
    }
    for (index, cp) in checkpoints.iter().enumerate() {
        let signer = cp.verify_signature().ok();
        if signer.as_ref() != Some(key.verifying_key()) {
            return Err(refuse(RecoverRefusal::ForeignCheckpoint {
                checkpoint: index,
            }));
        }
    }

    let file = crate::files::open_regular(path).map_err(RecorderError::io(path))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let n =
        crate::files::read_line_capped(&mut reader, &mut line).map_err(RecorderError::io(path))?;
    if n == 0 || line.last() != Some(&b'\n') {
        return Err(refuse(RecoverRefusal::NoHeader));
    }
    let mut chain = HashChain::new(&line[..n - 1]);
    let mut intact = n as u64;
    let mut pending = order_by_lines(&checkpoints);
    check_reached(&chain, intact, &mut pending).map_err(refuse)?;
    let mut dropped = 0;
    loop {
        line.clear();
        let n = crate::files::read_line_capped(&mut reader, &mut line)
            .map_err(RecorderError::io(path))?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            dropped = n as u64;
            break;
        }
        chain.push(&line[..n - 1]);
        intact += n as u64;
        check_reached(&chain, intact, &mut pending).map_err(refuse)?;
    }
    if let Some((index, cp)) = pending.first() {
        return Err(refuse(RecoverRefusal::Truncated {
            checkpoint: *index,
            lines: cp.lines,
            found: chain.lines(),
        }));
    }

    if dropped > 0 {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(RecorderError::io(path))?;
        file.set_len(intact).map_err(RecorderError::io(path))?;
        file.sync_all().map_err(RecorderError::io(path))?;
    }
    let mut sig_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&sig_path)
        .map_err(RecorderError::io(&sig_path))?;
    if sidecar_tail > 0 {
        let len = sig_file
            .metadata()
            .map_err(RecorderError::io(&sig_path))?
            .len();
        sig_file
            .set_len(len - sidecar_tail)
            .map_err(RecorderError::io(&sig_path))?;
    }
    let time = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let cp = Checkpoint::sign(
        key,
        CheckpointKind::Recovered,
        chain.lines(),
        intact,
        &chain.header_hash(),
        &chain.hash(),
        time,
    );
    let mut out = cp.to_line();
    out.push(b'\n');
    sig_file
        .write_all(&out)
        .and_then(|()| sig_file.sync_all())
        .map_err(RecorderError::io(&sig_path))?;
    let signed = checkpoints.iter().map(|c| c.lines).max().unwrap_or(0);
    Ok(RecoverOutcome::Recovered(Recovery {
        checkpoint: cp,
        unsigned_lines: chain.lines().saturating_sub(signed),
        dropped_cast_bytes: dropped,
        dropped_sidecar_bytes: sidecar_tail,
    }))
}

/// Checkpoints with their sidecar index, sorted by the lines they cover.
fn order_by_lines(checkpoints: &[Checkpoint]) -> Vec<(usize, &Checkpoint)> {
    let mut v: Vec<_> = checkpoints.iter().enumerate().collect();
    v.sort_by_key(|(_, c)| c.lines);
    v
}

/// Pops every pending checkpoint that covers exactly the lines hashed so far, checking it.
fn check_reached(
    chain: &HashChain,
    bytes: u64,
    pending: &mut Vec<(usize, &Checkpoint)>,
) -> Result<(), RecoverRefusal> {
    while let Some((index, cp)) = pending.first() {
        if cp.lines != chain.lines() {
            break;
        }
        if cp.hash != hex::encode(&chain.hash())
            || cp.header != hex::encode(&chain.header_hash())
            || cp.bytes != bytes
        {
            return Err(RecoverRefusal::ChainMismatch {
                checkpoint: *index,
                lines: cp.lines,
            });
        }
        pending.remove(0);
    }
    Ok(())
}
