//! Reading recordings into one canonical model, whatever the asciicast version.
//!
//! `v3` and `v2` hold the version-specific serde structs; everything else in the crate only sees
//! [`Recording`], [`Header`], [`Event`] and [`EventData`].

mod v2;
mod v3;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::PlayerError;

/// A parsed recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Metadata from the first line.
    pub header: Header,
    /// Events in file order, with times since the start.
    pub events: Vec<Event>,
    /// The file ended in an incomplete line (a crash mid-write); it was skipped.
    pub torn_tail: bool,
}

/// Version-independent header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// asciicast version of the file (2 or 3).
    pub version: u8,
    /// Initial columns.
    pub cols: u16,
    /// Initial rows.
    pub rows: u16,
    /// `TERM`, when known.
    pub term_type: Option<String>,
    /// Start, unix seconds.
    pub timestamp: Option<u64>,
    /// Idle time limit suggested by the file.
    pub idle_time_limit: Option<f64>,
    /// Recorded command.
    pub command: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Captured environment.
    pub env: BTreeMap<String, String>,
    /// The bastion's audit context, for recordings the bastion wrote.
    pub bastion: Option<recorder::BastionMeta>,
}

/// One event at a time since the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Time since the start (v3 intervals are summed on reading).
    pub time: Duration,
    /// What happened.
    pub data: EventData,
    /// Its line in the file, numbered as verification numbers event lines (the header is line
    /// 0), so that a verification finding can be placed among the events.
    pub line: u64,
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// Terminal output (stdout).
    Output(String),
    /// stderr of an exec channel (`o` events after a `# stderr` comment line).
    Stderr(String),
    /// Input typed by the user.
    Input(String),
    /// Terminal resize.
    Resize {
        /// New columns.
        cols: u16,
        /// New rows.
        rows: u16,
    },
    /// Marker text.
    Marker(String),
    /// Exit status.
    Exit(String),
    /// An event code this crate does not know; kept so nothing is silently lost.
    Other {
        /// The code as written.
        code: String,
        /// Its data.
        data: String,
    },
}

impl EventData {
    /// Text that reaches the terminal screen (stdout or stderr), if any.
    pub fn screen_text(&self) -> Option<&str> {
        match self {
            EventData::Output(s) | EventData::Stderr(s) => Some(s),
            _ => None,
        }
    }
}

/// Largest recording [`read`] loads (output is capped at 64 MiB per channel by default, plus
/// JSON escaping and timing).
pub const MAX_RECORDING_BYTES: u64 = 1024 * 1024 * 1024;

/// Reads a whole recording (a regular file of at most [`MAX_RECORDING_BYTES`]), so that it can
/// be verified and then shown from the same bytes.
///
/// # Errors
/// [`PlayerError::Io`] when it cannot be read, is not a regular file or is too large.
pub fn read(path: &Path) -> Result<Vec<u8>, PlayerError> {
    use std::io::Read;
    let file = recorder::files::open_regular(path).map_err(PlayerError::io(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORDING_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(PlayerError::io(path))?;
    if bytes.len() as u64 > MAX_RECORDING_BYTES {
        return Err(PlayerError::io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_RECORDING_BYTES} bytes"),
        )));
    }
    Ok(bytes)
}

/// Opens and parses a recording (v3, or v2).
///
/// # Errors
/// [`PlayerError::Io`] when the file cannot be read, [`PlayerError::Parse`] when a complete line
/// is not valid asciicast.
pub fn open(path: &Path) -> Result<Recording, PlayerError> {
    let file = recorder::files::open_regular(path).map_err(PlayerError::io(path))?;
    parse(BufReader::new(file), path)
}

/// Parses a recording from a reader; `path` only names the source in errors.
pub fn parse(mut reader: impl BufRead, path: &Path) -> Result<Recording, PlayerError> {
    let fail = |line: u64, reason: String| PlayerError::Parse {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut buf = Vec::new();
    let mut lines: Vec<(u64, String)> = Vec::new();
    let mut torn_tail = false;
    let mut number = 0;
    loop {
        buf.clear();
        let n = recorder::files::read_line_capped(&mut reader, &mut buf)
            .map_err(PlayerError::io(path))?;
        if n == 0 {
            break;
        }
        number += 1;
        if buf.last() != Some(&b'\n') {
            // Only the last line can lack its newline: a write cut short by a crash.
            torn_tail = true;
            break;
        }
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let text = String::from_utf8(std::mem::take(&mut buf))
            .map_err(|_| fail(number, "not UTF-8".into()))?;
        lines.push((number, text));
    }
    let mut it = lines.into_iter();
    let Some((_, first)) = it.next() else {
        return Err(fail(1, "empty file: no header line".into()));
    };
    #[derive(Deserialize)]
    struct Probe {
        version: u8,
    }
    let probe: Probe = serde_json::from_str(&first)
        .map_err(|e| fail(1, format!("header is not an asciicast header: {e}")))?;
    let (header, events) = match probe.version {
        3 => v3::parse(&first, it),
        2 => v2::parse(&first, it),
        v => Err((
            1,
            format!("asciicast version {v} is not supported (only 2 and 3)"),
        )),
    }
    .map_err(|(line, reason)| fail(line, reason))?;
    Ok(Recording {
        header,
        events,
        torn_tail,
    })
}

/// Seconds as written in a file to a duration, refusing what no clock produces.
fn seconds(value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("invalid time {value}"))
}

fn parse_size(data: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid resize {data:?}, expected COLSxROWS");
    let (c, r) = data.split_once('x').ok_or_else(bad)?;
    let cols: u16 = c.parse().map_err(|_| bad())?;
    let rows: u16 = r.parse().map_err(|_| bad())?;
    if cols == 0 || rows == 0 {
        return Err(bad());
    }
    Ok((cols, rows))
}

/// The `bastion` header object, if present and readable. A foreign recording may use the key
/// differently; that is not an error for a player.
fn bastion_meta(value: Option<serde_json::Value>) -> Option<recorder::BastionMeta> {
    value.and_then(|v| serde_json::from_value(v).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests;
