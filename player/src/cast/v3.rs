//! asciicast v3: header with `term`, events with intervals since the previous event.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{bastion_meta, parse_size, seconds, Event, EventData, Header};

#[derive(Deserialize)]
struct V3Header {
    term: V3Term,
    timestamp: Option<u64>,
    idle_time_limit: Option<f64>,
    command: Option<String>,
    title: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    bastion: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct V3Term {
    cols: u16,
    rows: u16,
    #[serde(rename = "type")]
    term_type: Option<String>,
}

/// The comment line the recorder writes before stderr output (see the recorder crate docs).
const STDERR: &str = recorder::STDERR_COMMENT;
const STDOUT: &str = recorder::STDOUT_COMMENT;

pub(super) fn parse(
    header_line: &str,
    lines: impl Iterator<Item = (u64, String)>,
) -> Result<(Header, Vec<Event>), (u64, String)> {
    let h: V3Header = serde_json::from_str(header_line).map_err(|e| (1, e.to_string()))?;
    if h.term.cols == 0 || h.term.rows == 0 {
        return Err((1, "terminal size must not be zero".into()));
    }
    let header = Header {
        version: 3,
        cols: h.term.cols,
        rows: h.term.rows,
        term_type: h.term.term_type,
        timestamp: h.timestamp,
        idle_time_limit: h.idle_time_limit,
        command: h.command,
        title: h.title,
        env: h.env,
        bastion: bastion_meta(h.bastion),
    };
    let mut events = Vec::new();
    let mut time = Duration::ZERO;
    let mut stderr = false;
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            match line.as_str() {
                STDERR => stderr = true,
                STDOUT => stderr = false,
                _ => {}
            }
            continue;
        }
        let (interval, code, data): (f64, String, String) =
            serde_json::from_str(&line).map_err(|e| (number, e.to_string()))?;
        time = time
            .checked_add(seconds(interval).map_err(|e| (number, e))?)
            .ok_or_else(|| (number, format!("time overflows after interval {interval}")))?;
        let data = match code.as_str() {
            "o" if stderr => EventData::Stderr(data),
            "o" => EventData::Output(data),
            "i" => EventData::Input(data),
            "m" => EventData::Marker(data),
            "x" => EventData::Exit(data),
            "r" => {
                let (cols, rows) = parse_size(&data).map_err(|e| (number, e))?;
                EventData::Resize { cols, rows }
            }
            "" => return Err((number, "missing event code".into())),
            _ => EventData::Other { code, data },
        };
        events.push(Event {
            time,
            data,
            // `number` counts the header as line 1.
            line: number.saturating_sub(1),
        });
    }
    Ok((header, events))
}
