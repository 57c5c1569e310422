//! asciicast v2: `width`/`height` header, events with absolute times.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{bastion_meta, parse_size, seconds, Event, EventData, Header};

#[derive(Deserialize)]
struct V2Header {
    width: u16,
    height: u16,
    timestamp: Option<u64>,
    idle_time_limit: Option<f64>,
    command: Option<String>,
    title: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, Option<String>>,
    bastion: Option<serde_json::Value>,
}

pub(super) fn parse(
    header_line: &str,
    lines: impl Iterator<Item = (u64, String)>,
) -> Result<(Header, Vec<Event>), (u64, String)> {
    let h: V2Header = serde_json::from_str(header_line).map_err(|e| (1, e.to_string()))?;
    if h.width == 0 || h.height == 0 {
        return Err((1, "terminal size must not be zero".into()));
    }
    // v2 keeps TERM in env; v2 writers may put nulls there.
    let env: BTreeMap<String, String> = h
        .env
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let header = Header {
        version: 2,
        cols: h.width,
        rows: h.height,
        term_type: env.get("TERM").cloned(),
        timestamp: h.timestamp,
        idle_time_limit: h.idle_time_limit,
        command: h.command,
        title: h.title,
        env,
        bastion: bastion_meta(h.bastion),
    };
    let mut events: Vec<Event> = Vec::new();
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        let (time, code, data): (f64, String, String) =
            serde_json::from_str(&line).map_err(|e| (number, e.to_string()))?;
        let mut time = seconds(time).map_err(|e| (number, e))?;
        // Absolute times should not go back; clamp rather than reorder what was recorded.
        if let Some(prev) = events.last() {
            time = time.max(prev.time);
        }
        let data = match code.as_str() {
            "o" => EventData::Output(data),
            "i" => EventData::Input(data),
            "m" => EventData::Marker(data),
            "r" => {
                let (cols, rows) = parse_size(&data).map_err(|e| (number, e))?;
                EventData::Resize { cols, rows }
            }
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
