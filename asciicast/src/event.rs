//! Events: what happened, and when.

use std::borrow::Cow;
use std::time::Duration;

/// One event, at a time since the start of the recording (v3 intervals are summed, v2 times
/// taken as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Time since the start.
    pub time: Duration,
    /// What happened.
    pub data: EventData,
}

/// What an event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// `o`: terminal output.
    Output(String),
    /// `i`: input typed by the user.
    Input(String),
    /// `r`: terminal resize.
    Resize {
        /// New columns.
        cols: u16,
        /// New rows.
        rows: u16,
    },
    /// `m`: a marker, with its text.
    Marker(String),
    /// `x` (v3): the exit status of the recorded command.
    Exit(String),
    /// An event code this crate does not know (or one its version does not define); kept so
    /// that nothing is silently lost.
    Other {
        /// The code as written.
        code: String,
        /// Its data.
        data: String,
    },
}

impl EventData {
    /// The code and data as written in an event line.
    pub fn parts(&self) -> (&str, Cow<'_, str>) {
        match self {
            EventData::Output(d) => ("o", Cow::Borrowed(d)),
            EventData::Input(d) => ("i", Cow::Borrowed(d)),
            EventData::Marker(d) => ("m", Cow::Borrowed(d)),
            EventData::Exit(d) => ("x", Cow::Borrowed(d)),
            EventData::Resize { cols, rows } => ("r", Cow::Owned(format!("{cols}x{rows}"))),
            EventData::Other { code, data } => (code, Cow::Borrowed(data)),
        }
    }
}

/// The event codes of the format, for writers that have the data at hand as text
/// ([`v3::Encoder::event`](crate::v3::Encoder::event)) rather than as an [`EventData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCode {
    /// `o`: terminal output.
    Output,
    /// `i`: input typed by the user.
    Input,
    /// `r`: terminal resize, data `COLSxROWS`.
    Resize,
    /// `m`: marker, a human-readable note.
    Marker,
    /// `x`: exit status of the recorded command, as a string (v3).
    Exit,
}

impl EventCode {
    /// The one-letter code as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            EventCode::Output => "o",
            EventCode::Input => "i",
            EventCode::Resize => "r",
            EventCode::Marker => "m",
            EventCode::Exit => "x",
        }
    }
}

/// A line after the header, as a decoder reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// An event.
    Event(Event),
    /// A comment line (v3): the whole line, starting with `#`. Players skip them; a writer may
    /// give them a meaning of its own.
    Comment(&'a str),
    /// An empty line, which readers skip.
    Blank,
}
