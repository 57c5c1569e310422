//! `bastion audit recordings`: every channel's recording checked against its audit row.
//!
//! `bastion verify` proves a file consistent with itself and signed by a trusted key. Someone
//! who can write to the recording directory can still delete a recording, cut it and its
//! sidecar back to an earlier checkpoint, or copy one session's files over another's name; all
//! three are consistent files. The audit row says which file a channel has, which session and
//! channel it belongs to and which final hash sealed it, so checking each row's file against
//! the row finds them.

use std::path::{Path, PathBuf};

use bastion::audit::ChannelRow;
use recorder::VerifyingKey;
use serde::Serialize;

/// The outcome for one channel row.
#[derive(Debug, Serialize)]
pub struct Check {
    pub session_id: String,
    pub channel: u32,
    pub path: String,
    pub status: Status,
    /// Every problem found; empty when the recording matches its row.
    pub problems: Vec<String>,
    /// The channel is still open (or its bastion has not restarted since a crash): the
    /// recording may be unsealed and have no final hash yet.
    pub open: bool,
}

/// The verdict on one row, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Matches its row, sealed.
    Ok,
    /// Matches its row as far as it goes; the channel is still open.
    Open,
    /// Matches its row, but ends in lines no live checkpoint covered (the only problem).
    RecoveredTail,
    /// Anything else.
    Failed,
}

impl Status {
    /// The word in the text listing (at most 6 characters, the column's width).
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Open => "OPEN",
            Status::RecoveredTail => "TAIL",
            Status::Failed => "FAILED",
        }
    }
}

/// Where a path stored in a row is: as stored when absolute; a relative one (written by a
/// bastion started from another directory) is taken under the configured recording directory,
/// from its `YYYY/MM/DD/FILE` part, so the check does not depend on where it is run from.
pub fn resolve(stored: &str, dir: &Path) -> PathBuf {
    let path = Path::new(stored);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let parts: Vec<_> = path.components().collect();
    let from = parts.len().saturating_sub(4);
    parts[from..]
        .iter()
        .fold(dir.to_path_buf(), |p, c| p.join(c.as_os_str()))
}

/// Checks the recording of `row` (which has a recording path) at `path`.
pub fn check(row: &ChannelRow, path: &Path, trusted: &[VerifyingKey]) -> Check {
    let open = row.ended_at_ms.is_none();
    let mut problems = Vec::new();
    let mut tail_only = false;
    let cast = path;
    let sidecar = recorder::sidecar_path(cast);
    match std::fs::symlink_metadata(cast) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push("the recording is missing".to_string());
        }
        _ => {
            match header_owner(cast) {
                Ok((session, channel)) if session == row.session_id && channel == row.channel => {}
                Ok((session, channel)) => problems.push(format!(
                    "the file belongs to session {session} channel {channel}, not to this row"
                )),
                Err(e) => problems.push(format!("the header cannot be read: {e}")),
            }
            match player::verify(cast, &sidecar, trusted) {
                Err(e) => problems.push(format!("cannot verify: {e}")),
                Ok(report) => {
                    // A live channel's recording is never sealed by recovery, so an open row
                    // does not excuse a recovered tail.
                    let acceptable = report.is_ok()
                        || (open
                            && report.is_intact()
                            && !report.is_tampered()
                            && report.recovered_tail().is_none());
                    if !acceptable {
                        tail_only = report.recovered_tail().is_some();
                        problems.push(report.verdict_text());
                    }
                    if let Some(expected) = &row.final_hash {
                        if report.final_hash.as_ref() != Some(expected) {
                            problems.push(format!(
                                "sealed with final hash {} but the audit row holds {expected}",
                                report.final_hash.as_deref().unwrap_or("(none)")
                            ));
                        }
                    }
                }
            }
        }
    }
    let status = match problems.len() {
        0 if open => Status::Open,
        0 => Status::Ok,
        1 if tail_only => Status::RecoveredTail,
        _ => Status::Failed,
    };
    Check {
        session_id: row.session_id.clone(),
        channel: row.channel,
        path: path.display().to_string(),
        status,
        problems,
        open,
    }
}

/// Checks a row's recording copied out of the object store (to `copy`) from `url`; `whole`
/// is false when the store held only its parts (the sealed object never arrived).
pub fn check_stored(
    row: &ChannelRow,
    url: &str,
    copy: &Path,
    trusted: &[VerifyingKey],
    whole: bool,
) -> Check {
    let mut c = check(row, copy, trusted);
    c.path = url.to_string();
    if !whole {
        c.problems.insert(
            0,
            "only parts are in the store: the sealed recording never arrived".into(),
        );
        c.status = Status::Failed;
    }
    c
}

/// A row whose recording cannot be read from `url`, and why.
pub fn missing(row: &ChannelRow, url: &str, why: &str) -> Check {
    Check {
        session_id: row.session_id.clone(),
        channel: row.channel,
        path: url.to_string(),
        status: Status::Failed,
        problems: vec![format!("the recording is missing: {why}")],
        open: row.ended_at_ms.is_none(),
    }
}

/// Session and channel named in the recording's header.
fn header_owner(cast: &Path) -> anyhow::Result<(String, u32)> {
    let file = recorder::files::open_regular(cast)?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    recorder::files::read_line_capped(&mut reader, &mut line)?;
    let line = std::str::from_utf8(line.trim_ascii_end())?;
    let (header, _) = asciicast::Decoder::header(line)?;
    let meta = recorder::BastionMeta::from_header(&header)
        .ok_or_else(|| anyhow::anyhow!("the header has no bastion object"))??;
    Ok((meta.session, meta.channel))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn stored_paths_resolve_under_the_recording_directory() {
        let dir = Path::new("/var/lib/bastion/recordings");
        assert_eq!(
            super::resolve("/srv/rec/2026/12/03/a-2.cast", dir),
            Path::new("/srv/rec/2026/12/03/a-2.cast")
        );
        assert_eq!(
            super::resolve("recordings/2026/12/03/a-2.cast", dir),
            Path::new("/var/lib/bastion/recordings/2026/12/03/a-2.cast")
        );
        assert_eq!(
            super::resolve("../x/recordings/2026/12/03/a-2.cast", dir),
            Path::new("/var/lib/bastion/recordings/2026/12/03/a-2.cast")
        );
    }
}
