//! How values are written in a line, and read back: times in seconds, terminal sizes, JSON
//! strings.

use std::time::Duration;

use crate::error::Error;

/// Seconds as written in a file to a duration, refusing what no clock produces.
pub(crate) fn seconds(value: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value).map_err(|_| Error::new(format!("invalid time {value}")))
}

/// A resize event's data, `COLSxROWS`, neither zero.
pub(crate) fn size(data: &str) -> Result<(u16, u16), Error> {
    let bad = || Error::new(format!("invalid resize {data:?}, expected COLSxROWS"));
    let (c, r) = data.split_once('x').ok_or_else(bad)?;
    let cols: u16 = c.parse().map_err(|_| bad())?;
    let rows: u16 = r.parse().map_err(|_| bad())?;
    if cols == 0 || rows == 0 {
        return Err(bad());
    }
    Ok((cols, rows))
}

/// Appends integer microseconds as seconds with trailing zeros trimmed (`1.5`, `0.0`,
/// `12.000003`), as asciinema writes them; integer arithmetic keeps the bytes reproducible.
pub(crate) fn push_seconds(out: &mut Vec<u8>, us: u64) {
    let mut frac = format!("{:06}", us % 1_000_000);
    while frac.len() > 1 && frac.ends_with('0') {
        frac.pop();
    }
    out.extend_from_slice(format!("{}.{}", us / 1_000_000, frac).as_bytes());
}

/// Microseconds in `d`, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Bytes that must be escaped in a JSON string (plus DEL, escaped for readability as asciinema
/// does for controls).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Bytes `byte` takes inside a JSON string as [`push_json_string`] writes it: 1, 2 (`\"`,
/// `\\`, `\n`, `\r`, `\t`) or 6 (`\u00XX`).
pub fn escaped_width(byte: u8) -> usize {
    if !NEEDS_ESCAPE[usize::from(byte)] {
        1
    } else if matches!(byte, b'"' | b'\\' | b'\n' | b'\r' | b'\t') {
        2
    } else {
        6
    }
}

/// Appends `s` as a JSON string. Hand-rolled for the hot path: output-heavy streams spend most
/// of their time here, and runs of plain text are copied in one go.
pub(crate) fn push_json_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            // ESC and other controls as \u00XX, as serde_json and asciinema write them.
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends the event line `[seconds, "code", "data"]` (no newline).
pub(crate) fn push_event(out: &mut Vec<u8>, us: u64, code: &str, data: &str) {
    out.push(b'[');
    push_seconds(out, us);
    out.extend_from_slice(b", ");
    push_json_string(out, code);
    out.extend_from_slice(b", ");
    push_json_string(out, data);
    out.push(b']');
}

/// Reads an event line `[seconds, "code", "data"]`.
pub(crate) fn read_event(line: &str) -> Result<(f64, String, String), Error> {
    Ok(serde_json::from_str(line)?)
}
