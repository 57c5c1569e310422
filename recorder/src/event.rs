//! Encoding of one asciicast v3 event line.

/// The event codes the recorder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventCode {
    /// `o`: terminal output (stdout, and stderr after a `# stderr` comment line).
    Output,
    /// `i`: input typed by the user (only when input recording is on).
    Input,
    /// `r`: terminal resize, data `COLSxROWS`.
    Resize,
    /// `m`: marker, a human-readable note (exec, policy, approval, output cap …).
    Marker,
    /// `x`: exit status of the remote command, as a string.
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

/// Appends `[interval, "code", "data"]` (no newline) to `out`.
///
/// The interval is integer microseconds printed as seconds with trailing zeros trimmed, as
/// asciinema does; integer arithmetic keeps the bytes (and so the hash chain) reproducible.
pub(crate) fn encode_event(out: &mut Vec<u8>, interval_us: u64, code: EventCode, data: &str) {
    out.push(b'[');
    push_interval(out, interval_us);
    out.extend_from_slice(b", \"");
    out.extend_from_slice(code.as_str().as_bytes());
    out.extend_from_slice(b"\", ");
    push_json_string(out, data);
    out.push(b']');
}

fn push_interval(out: &mut Vec<u8>, us: u64) {
    let mut frac = format!("{:06}", us % 1_000_000);
    while frac.len() > 1 && frac.ends_with('0') {
        frac.pop();
    }
    out.extend_from_slice(format!("{}.{}", us / 1_000_000, frac).as_bytes());
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

/// JSON string escaping, hand-rolled for the hot path: output-heavy streams spend most of
/// their time here, and runs of plain text are copied in one go.
fn push_json_string(out: &mut Vec<u8>, s: &str) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    fn line(us: u64, code: EventCode, data: &str) -> String {
        let mut v = Vec::new();
        encode_event(&mut v, us, code, data);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn intervals_are_trimmed_seconds() {
        assert_eq!(line(0, EventCode::Exit, "0"), "[0.0, \"x\", \"0\"]");
        assert_eq!(line(1_500_000, EventCode::Marker, ""), "[1.5, \"m\", \"\"]");
        assert_eq!(
            line(12_000_003, EventCode::Resize, "80x24"),
            "[12.000003, \"r\", \"80x24\"]"
        );
    }

    #[test]
    fn escapes_like_json_and_round_trips() {
        let data = "a\"b\\c\n\r\t\u{1b}[0m\u{7f}é😀\u{0}";
        let l = line(250_000, EventCode::Output, data);
        assert!(l.contains("\\u001b[0m"), "{l}");
        let parsed: (f64, String, String) = serde_json::from_str(&l).unwrap();
        assert_eq!(parsed, (0.25, "o".to_string(), data.to_string()));
    }
}
