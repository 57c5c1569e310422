//! Reading recordings into one model, whatever the asciicast version.
//!
//! The `asciicast` crate reads the lines of either version; this module adds what the bastion
//! writes on top: stderr after a `# stderr` comment line, the `bastion` header object, and
//! event line numbers as verification counts them. Everything else in the crate only sees
//! [`Recording`], [`Header`], [`Event`] and [`EventData`].

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use asciicast::{Decoder, Line};
use recorder::{BastionMeta, STDERR_COMMENT, STDOUT_COMMENT};

use crate::PlayerError;

/// The header model, from the crate that owns the format.
pub use asciicast::Header;

/// A parsed recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// asciicast version of the file (2 or 3).
    pub version: u8,
    /// Metadata from the first line.
    pub header: Header,
    /// The bastion's audit context (the header's `bastion` object), for recordings the bastion
    /// wrote. A foreign recording may use the key otherwise; that is not an error for a player.
    pub bastion: Option<BastionMeta>,
    /// Events in file order, with times since the start.
    pub events: Vec<Event>,
    /// The file ended in an incomplete line (a crash mid-write); it was skipped.
    pub torn_tail: bool,
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
    /// Output that is not text (a `b` event, base64 of the bytes; see `recorder::binary`): stdout,
    /// or stderr after a `# stderr` comment line.
    Binary {
        /// The bytes as the target sent them (masked as the recording holds them).
        bytes: Vec<u8>,
        /// Whether they came on stderr.
        stderr: bool,
    },
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
    /// An asciicast event's data, as stderr when `stderr` (after a `# stderr` comment line).
    fn from_cast(data: asciicast::EventData, stderr: bool) -> EventData {
        match data {
            asciicast::EventData::Output(s) if stderr => EventData::Stderr(s),
            asciicast::EventData::Output(s) => EventData::Output(s),
            asciicast::EventData::Input(s) => EventData::Input(s),
            asciicast::EventData::Resize { cols, rows } => EventData::Resize { cols, rows },
            asciicast::EventData::Marker(s) => EventData::Marker(s),
            asciicast::EventData::Exit(s) => EventData::Exit(s),
            asciicast::EventData::Other { code, data } if code == recorder::binary::BINARY_CODE => {
                match recorder::binary::decode(&data) {
                    Some(bytes) => EventData::Binary { bytes, stderr },
                    // Not the bastion's: keep it as written.
                    None => EventData::Other { code, data },
                }
            }
            asciicast::EventData::Other { code, data } => EventData::Other { code, data },
        }
    }
}

impl EventData {
    /// Text that reaches the terminal screen (stdout or stderr), if any; binary output is not
    /// text (see [`EventData::screen_bytes`]).
    pub fn screen_text(&self) -> Option<&str> {
        match self {
            EventData::Output(s) | EventData::Stderr(s) => Some(s),
            _ => None,
        }
    }

    /// Bytes that reach the terminal screen (stdout or stderr, text or binary), if any.
    pub fn screen_bytes(&self) -> Option<&[u8]> {
        match self {
            EventData::Output(s) | EventData::Stderr(s) => Some(s.as_bytes()),
            EventData::Binary { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
}

/// Largest recording [`read`] loads (the bastion caps each cast file at 64 MiB by default,
/// `[recording] max_channel_bytes`).
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
    let (header, mut decoder) =
        Decoder::header(&first).map_err(|e| fail(1, e.reason().to_owned()))?;
    let mut events = Vec::new();
    let mut stderr = false;
    for (number, line) in it {
        let event = match decoder.line(&line) {
            Ok(Line::Event(event)) => event,
            Ok(Line::Comment(comment)) => {
                match comment {
                    STDERR_COMMENT => stderr = true,
                    STDOUT_COMMENT => stderr = false,
                    _ => {}
                }
                continue;
            }
            Ok(Line::Blank) => continue,
            Err(e) => return Err(fail(number, e.reason().to_owned())),
        };
        events.push(Event {
            time: event.time,
            data: EventData::from_cast(event.data, stderr),
            // `number` counts the header as line 1.
            line: number.saturating_sub(1),
        });
    }
    let bastion = BastionMeta::from_header(&header).and_then(Result::ok);
    Ok(Recording {
        version: decoder.version().number(),
        header,
        bastion,
        events,
        torn_tail,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests;
