//! `cat`: a recording's output without its timing.

use std::io::{self, Write};

use crate::Recording;

/// Writes every output event (stdout and stderr) to `out`, in order, with no delays.
///
/// The text keeps its escape sequences, so a terminal shows what the user saw; pipe it through
/// a pager with `-R` or strip codes downstream for plain text.
pub fn cat(recording: &Recording, out: &mut impl Write) -> io::Result<()> {
    for event in &recording.events {
        if let Some(text) = event.data.screen_text() {
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn prints_stdout_and_stderr_only() {
        let rec = crate::cast::parse(
            &b"{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n[1, \"o\", \"a\"]\n[1, \"m\", \"M\"]\n# stderr\n[1, \"o\", \"b\"]\n[1, \"i\", \"I\"]\n[1, \"x\", \"0\"]\n"[..],
            Path::new("t"),
        )
        .unwrap();
        let mut out = Vec::new();
        cat(&rec, &mut out).unwrap();
        assert_eq!(out, b"ab");
    }
}
