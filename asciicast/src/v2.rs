//! asciicast v2: a header with `width` and `height` (`TERM` in `env`), events timed from the
//! start, no comments.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::{Event, EventData, Line};
use crate::header::{close_with_extra, Extra, Header, Term};
use crate::syntax::{micros, push_event, read_event, seconds, size};

/// The header keys v2 defines.
const KEYS: [&str; 8] = [
    "version",
    "width",
    "height",
    "timestamp",
    "idle_time_limit",
    "command",
    "title",
    "env",
];

#[derive(Deserialize)]
struct HeaderIn {
    width: u16,
    height: u16,
    timestamp: Option<u64>,
    idle_time_limit: Option<f64>,
    command: Option<String>,
    title: Option<String>,
    /// v2 writers may put nulls here.
    #[serde(default)]
    env: BTreeMap<String, Option<String>>,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    version: u8,
    width: u16,
    height: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_time_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<&'a str, &'a str>,
}

/// Reads the lines after a v2 header.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// Time of the previous event.
    last: Duration,
}

impl Decoder {
    /// Reads a v2 header line.
    ///
    /// # Errors
    /// When it is not a v2 header, or names a terminal of zero columns or rows.
    pub fn header(line: &str) -> Result<(Header, Decoder), Error> {
        let h: HeaderIn = serde_json::from_str(line)?;
        if h.width == 0 || h.height == 0 {
            return Err(Error::new("terminal size must not be zero"));
        }
        let env: BTreeMap<String, String> = h
            .env
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        let header = Header {
            term: Term {
                cols: h.width,
                rows: h.height,
                term_type: env.get("TERM").cloned(),
            },
            timestamp: h.timestamp,
            idle_time_limit: h.idle_time_limit,
            command: h.command,
            title: h.title,
            env,
            extra: Extra::read(line, &KEYS)?,
        };
        Ok((header, Decoder::default()))
    }

    /// Reads one line after the header. v2 has no comment lines.
    ///
    /// # Errors
    /// When it is neither empty nor an event with a valid time, and valid data for a resize.
    pub fn line<'a>(&mut self, line: &'a str) -> Result<Line<'a>, Error> {
        if line.is_empty() {
            return Ok(Line::Blank);
        }
        let (time, code, data) = read_event(line)?;
        // Times should not go back; clamp rather than reorder what was recorded.
        let time = seconds(time)?.max(self.last);
        self.last = time;
        let data = match code.as_str() {
            "o" => EventData::Output(data),
            "i" => EventData::Input(data),
            "m" => EventData::Marker(data),
            "r" => {
                let (cols, rows) = size(&data)?;
                EventData::Resize { cols, rows }
            }
            _ => EventData::Other { code, data },
        };
        Ok(Line::Event(Event { time, data }))
    }
}

/// Writes v2 lines (each without its newline): the header, and events timed from the start.
#[derive(Debug, Clone, Default)]
pub struct Encoder {}

impl Encoder {
    /// An encoder.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The header line; the terminal type goes into `env` as `TERM` unless `env` has one.
    pub fn header(&self, header: &Header) -> Vec<u8> {
        let mut env: BTreeMap<&str, &str> = header
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(t) = header.term.term_type.as_deref() {
            env.entry("TERM").or_insert(t);
        }
        let head = serde_json::to_vec(&HeaderOut {
            version: 2,
            width: header.term.cols,
            height: header.term.rows,
            timestamp: header.timestamp,
            idle_time_limit: header.idle_time_limit,
            command: header.command.as_deref(),
            title: header.title.as_deref(),
            env,
        })
        .unwrap_or_else(|_| {
            format!(
                "{{\"version\":2,\"width\":{},\"height\":{}}}",
                header.term.cols, header.term.rows
            )
            .into_bytes()
        });
        close_with_extra(head, &header.extra, &KEYS)
    }

    /// Appends the line of `event`. v2 defines `o`, `i`, `m` and `r`; other codes (v3's exit
    /// status `x` among them) are written as they are, and read back as
    /// [`EventData::Other`].
    pub fn encode(&mut self, out: &mut Vec<u8>, event: &Event) {
        let (code, data) = event.data.parts();
        push_event(out, micros(event.time), code, &data);
    }
}
