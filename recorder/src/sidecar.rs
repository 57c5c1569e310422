//! Reading a sidecar back.

use std::io::ErrorKind;
use std::path::Path;

use crate::{Checkpoint, RecorderError};

/// The checkpoints of a sidecar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// Complete checkpoint lines, in file order. Their signatures are not checked here.
    pub checkpoints: Vec<Checkpoint>,
    /// Bytes after the last newline: a checkpoint whose write was cut short by a crash.
    pub partial_tail: u64,
}

/// Reads a sidecar.
///
/// # Returns
/// `Ok(None)` when the file does not exist.
///
/// # Errors
/// [`RecorderError::Sidecar`] for a complete line that is not a checkpoint, and
/// [`RecorderError::Io`] when the file cannot be read.
pub fn read_sidecar(path: &Path) -> Result<Option<Sidecar>, RecorderError> {
    let raw = match crate::files::read_sidecar_bytes(path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RecorderError::io(path)(e)),
    };
    parse_sidecar(&raw, path).map(Some)
}

/// Parses the bytes of a sidecar; `path` only names it in errors.
///
/// # Errors
/// [`RecorderError::Sidecar`] for a complete line that is not a checkpoint.
pub fn parse_sidecar(raw: &[u8], path: &Path) -> Result<Sidecar, RecorderError> {
    let complete = raw.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut checkpoints = Vec::new();
    if complete > 0 {
        // Without the final newline, `split` yields exactly the complete lines.
        for (i, line) in raw[..complete - 1].split(|&b| b == b'\n').enumerate() {
            let cp =
                serde_json::from_slice::<Checkpoint>(line).map_err(|e| RecorderError::Sidecar {
                    path: path.to_path_buf(),
                    line: i as u64 + 1,
                    reason: e.to_string(),
                })?;
            checkpoints.push(cp);
        }
    }
    Ok(Sidecar {
        checkpoints,
        partial_tail: (raw.len() - complete) as u64,
    })
}
