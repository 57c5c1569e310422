//! asciicast v3: a header with `term`, events timed by the interval since the previous event,
//! comment lines.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::{Event, EventCode, EventData, Line};
use crate::header::{close_with_extra, Extra, Header, Term};
use crate::syntax::{micros, push_event, read_event, seconds, size};

/// The header keys v3 defines.
const KEYS: [&str; 7] = [
    "version",
    "term",
    "timestamp",
    "idle_time_limit",
    "command",
    "title",
    "env",
];

#[derive(Deserialize)]
struct HeaderIn {
    term: TermIn,
    timestamp: Option<u64>,
    idle_time_limit: Option<f64>,
    command: Option<String>,
    title: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct TermIn {
    cols: u16,
    rows: u16,
    #[serde(rename = "type")]
    term_type: Option<String>,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    version: u8,
    term: TermOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_time_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct TermOut<'a> {
    cols: u16,
    rows: u16,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    term_type: Option<&'a str>,
}

/// Reads the lines after a v3 header: sums the intervals.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    time: Duration,
}

impl Decoder {
    /// Reads a v3 header line.
    ///
    /// # Errors
    /// When it is not a v3 header, or names a terminal of zero columns or rows.
    pub fn header(line: &str) -> Result<(Header, Decoder), Error> {
        let h: HeaderIn = serde_json::from_str(line)?;
        if h.term.cols == 0 || h.term.rows == 0 {
            return Err(Error::new("terminal size must not be zero"));
        }
        let header = Header {
            term: Term {
                cols: h.term.cols,
                rows: h.term.rows,
                term_type: h.term.term_type,
            },
            timestamp: h.timestamp,
            idle_time_limit: h.idle_time_limit,
            command: h.command,
            title: h.title,
            env: h.env,
            extra: Extra::read(line, &KEYS)?,
        };
        Ok((header, Decoder::default()))
    }

    /// Reads one line after the header.
    ///
    /// # Errors
    /// When it is neither empty, a comment nor an event with a valid time, a code, and valid
    /// data for a resize.
    pub fn line<'a>(&mut self, line: &'a str) -> Result<Line<'a>, Error> {
        if line.is_empty() {
            return Ok(Line::Blank);
        }
        if line.starts_with('#') {
            return Ok(Line::Comment(line));
        }
        let (interval, code, data) = read_event(line)?;
        self.time = self
            .time
            .checked_add(seconds(interval)?)
            .ok_or_else(|| Error::new(format!("time overflows after interval {interval}")))?;
        let data = match code.as_str() {
            "o" => EventData::Output(data),
            "i" => EventData::Input(data),
            "m" => EventData::Marker(data),
            "x" => EventData::Exit(data),
            "r" => {
                let (cols, rows) = size(&data)?;
                EventData::Resize { cols, rows }
            }
            "" => return Err(Error::new("missing event code")),
            _ => EventData::Other { code, data },
        };
        Ok(Line::Event(Event {
            time: self.time,
            data,
        }))
    }
}

/// Writes v3 lines (each without its newline): the header, events timed by the interval since
/// the previous one, comments.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    /// Time of the previous event, in microseconds.
    last_us: u64,
}

impl Encoder {
    /// An encoder for a recording whose first event comes next.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The header line.
    pub fn header(&self, header: &Header) -> Vec<u8> {
        let head = serde_json::to_vec(&HeaderOut {
            version: 3,
            term: TermOut {
                cols: header.term.cols,
                rows: header.term.rows,
                term_type: header.term.term_type.as_deref(),
            },
            timestamp: header.timestamp,
            idle_time_limit: header.idle_time_limit,
            command: header.command.as_deref(),
            title: header.title.as_deref(),
            env: &header.env,
        })
        // Integers, strings and a string map cannot fail to serialise; fall back to a minimal
        // valid header rather than panic, should serde_json ever change that.
        .unwrap_or_else(|_| {
            format!(
                "{{\"version\":3,\"term\":{{\"cols\":{},\"rows\":{}}}}}",
                header.term.cols, header.term.rows
            )
            .into_bytes()
        });
        close_with_extra(head, &header.extra, &KEYS)
    }

    /// Appends the line of an event at `time` (since the start) with `code` and `data`. The
    /// interval is counted in whole microseconds from the previous event; a time before it
    /// (a clock that stepped back) is written as interval 0.
    pub fn event(&mut self, out: &mut Vec<u8>, time: Duration, code: EventCode, data: &str) {
        let interval = self.interval(time);
        push_event(out, interval, code.as_str(), data);
    }

    /// Appends the line of an event with a code of the writer's own (v3 lets players skip codes
    /// they do not know), as [`Encoder::event`] does for the codes of the format.
    pub fn custom(&mut self, out: &mut Vec<u8>, time: Duration, code: &str, data: &str) {
        let interval = self.interval(time);
        push_event(out, interval, code, data);
    }

    /// Appends the line of `event`, whatever its code.
    pub fn encode(&mut self, out: &mut Vec<u8>, event: &Event) {
        let interval = self.interval(event.time);
        let (code, data) = event.data.parts();
        push_event(out, interval, code, &data);
    }

    /// Appends a comment line: `#` (unless `text` starts with one) and `text`, line breaks in
    /// it written as spaces.
    pub fn comment(&self, out: &mut Vec<u8>, text: &str) {
        if !text.starts_with('#') {
            out.push(b'#');
        }
        out.extend(
            text.bytes()
                .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { b }),
        );
    }

    fn interval(&mut self, time: Duration) -> u64 {
        let now = micros(time);
        let interval = now.saturating_sub(self.last_us);
        self.last_us = self.last_us.max(now);
        interval
    }
}
