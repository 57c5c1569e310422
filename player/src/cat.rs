//! `cat`: a recording's output without its timing.
//!
//! A recording holds whatever the target printed, and anyone with a shell on a target can print
//! escape sequences meant for the terminal that later shows them: OSC 52 writes the clipboard,
//! others set the window title, make the terminal answer on its input, or redefine keys. So
//! by default only text and a few harmless sequences (colours and attributes, cursor moves,
//! erasing) reach the auditor's terminal; everything else is dropped. `raw` writes the bytes as
//! recorded.

use std::io::{self, Write};

use escape::{EscapeParser, Piece};

use crate::{Recording, UnverifiedTail};

/// Writes every output event (stdout and stderr) to `out`, in order, with no delays; unless
/// `raw`, through [`TerminalFilter`].
pub fn cat(recording: &Recording, out: &mut impl Write, raw: bool) -> io::Result<()> {
    cat_marked(recording, out, raw, None)
}

/// [`cat`], with a notice on a line of its own where `tail` (the lines verification could not
/// vouch for) begins. Not with `raw`, which promises the bytes as recorded: the verification
/// report names the lines instead.
pub fn cat_marked(
    recording: &Recording,
    out: &mut impl Write,
    raw: bool,
    tail: Option<&UnverifiedTail>,
) -> io::Result<()> {
    let mut filter = TerminalFilter::default();
    let mut clean = String::new();
    let mut notice = tail.filter(|_| !raw);
    for event in &recording.events {
        if let Some(tail) = notice.filter(|t| event.line >= t.from_line) {
            write_notice(out, tail)?;
            notice = None;
        }
        if let Some(bytes) = event.data.screen_bytes() {
            if raw {
                out.write_all(bytes)?;
            } else {
                clean.clear();
                // Bytes that are not UTF-8 are shown as U+FFFD; the filter drops controls.
                filter.push(&String::from_utf8_lossy(bytes), &mut clean);
                out.write_all(clean.as_bytes())?;
            }
        }
    }
    // The tail may hold no event the parser keeps (comment lines only): still say it is there.
    if let Some(tail) = notice {
        write_notice(out, tail)?;
    }
    out.flush()
}

/// Reverse video on a fresh line, reset after, so it cannot be taken for recorded output
/// whatever colours the recording left set.
fn write_notice(out: &mut impl Write, tail: &UnverifiedTail) -> io::Result<()> {
    write!(out, "\x1b[0m\r\n\x1b[7m[bastion: {tail}]\x1b[0m\r\n")
}

/// Final bytes of the CSI sequences let through: SGR (`m`), cursor movement and erasing.
const SAFE_CSI_FINALS: &[u8] = b"mABCDEFGHJKfd";

/// Longest CSI sequence let through, in parameter bytes; longer ones are dropped.
const MAX_CSI: usize = 64;

/// Keeps text and harmless CSI sequences, drops every other escape sequence and control
/// character. Sequences may be split across calls.
///
/// The sequences are found by the bastion's one escape-sequence tokenizer (the `escape` crate,
/// which the masker reads output with): text is what it reports as visible, minus control
/// characters other than tab, newline, carriage return and backspace; a control sequence is
/// let through when its parameters are only digits, `;` and `:` (at most 64) and its
/// final byte moves the cursor, erases, or sets colours and attributes; string payloads and
/// every other sequence are dropped. C1 controls that introduce sequences (CSI, OSC, DCS, SOS,
/// PM, APC, and ST), which the tokenizer leaves to its reader, are read as their 7-bit forms.
#[derive(Debug, Default)]
pub struct TerminalFilter {
    parser: EscapeParser,
    /// The parameters of the control sequence being read, while it may be let through.
    csi: String,
    /// Whether the control sequence being read may still be let through.
    csi_ok: bool,
    /// Text of the current chunk not yet written (reused buffer).
    text: Vec<u8>,
}

impl TerminalFilter {
    /// Filters `text` into `out`.
    pub fn push(&mut self, text: &str, out: &mut String) {
        let mut rest = text;
        while let Some((at, seven_bit)) = rest
            .char_indices()
            .find_map(|(at, c)| c1_introducer(c).map(|s| (at, s)))
        {
            self.feed(&rest.as_bytes()[..at], out);
            self.feed(seven_bit, out);
            // C1 controls are two bytes in UTF-8.
            rest = rest.get(at + 2..).unwrap_or_default();
        }
        self.feed(rest.as_bytes(), out);
    }

    fn feed(&mut self, bytes: &[u8], out: &mut String) {
        let TerminalFilter {
            parser,
            csi,
            csi_ok,
            text,
        } = self;
        parser.feed_sequences(bytes, |piece| match piece {
            Piece::Visible(r) => text.extend_from_slice(&bytes[r]),
            Piece::CsiStart => {
                csi.clear();
                *csi_ok = true;
            }
            Piece::CsiParams(r) => {
                for &b in &bytes[r] {
                    if *csi_ok && csi.len() < MAX_CSI && matches!(b, b'0'..=b'9' | b';' | b':') {
                        csi.push(char::from(b));
                    } else {
                        *csi_ok = false;
                    }
                }
            }
            Piece::CsiEnd(last) => {
                if *csi_ok && SAFE_CSI_FINALS.contains(&last) {
                    write_text(text, out);
                    out.push_str("\x1b[");
                    out.push_str(csi);
                    out.push(char::from(last));
                }
                *csi_ok = false;
            }
            Piece::Payload(_) | Piece::StringEnd | Piece::Separator(_) => {}
        });
        write_text(text, out);
    }
}

/// The 7-bit form of a C1 control that introduces (or ends) a sequence.
fn c1_introducer(c: char) -> Option<&'static [u8]> {
    Some(match c {
        '\u{90}' => b"\x1bP",
        '\u{98}' => b"\x1bX",
        '\u{9b}' => b"\x1b[",
        '\u{9c}' => b"\x1b\\",
        '\u{9d}' => b"\x1b]",
        '\u{9e}' => b"\x1b^",
        '\u{9f}' => b"\x1b_",
        _ => return None,
    })
}

/// Writes the text gathered (whole characters: the chunks fed are cut between characters, and
/// the tokenizer never cuts one from the rest of it) without control characters other than
/// tab, newline, carriage return and backspace.
fn write_text(text: &mut Vec<u8>, out: &mut String) {
    if text.is_empty() {
        return;
    }
    out.extend(
        String::from_utf8_lossy(text)
            .chars()
            .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{8}') || !c.is_control()),
    );
    text.clear();
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
        cat(&rec, &mut out, false).unwrap();
        assert_eq!(out, b"ab");
    }

    fn filtered(parts: &[&str]) -> String {
        let mut f = TerminalFilter::default();
        let mut out = String::new();
        for p in parts {
            f.push(p, &mut out);
        }
        out
    }

    #[test]
    fn keeps_colours_and_text_and_drops_what_could_attack_the_terminal() {
        // Colours, cursor moves and erasing stay, even split across events.
        assert_eq!(
            filtered(&["\x1b[1;3", "1mred\x1b[0m\r\n\x1b[2K\x1b[3A"]),
            "\x1b[1;31mred\x1b[0m\r\n\x1b[2K\x1b[3A"
        );
        // OSC 52 (clipboard), a title, DCS, APC: gone, with their payloads, BEL- or ST-ended.
        assert_eq!(
            filtered(&[
                "a\x1b]52;c;Y3VybCB4fHNoCg==\x07b",
                "\x1b]0;ti",
                "tle\x1b\\c"
            ]),
            "abc"
        );
        assert_eq!(filtered(&["\x1bPq#0;2;0;0;0\x1b\\d\x1b_x\x07e"]), "de");
        // Sequences that make the terminal answer (device status, attributes, window
        // reports), private modes, keypad and charset switches, stray controls.
        assert_eq!(
            filtered(&["\x1b[6n\x1b[c\x1b[21t\x1b[?1049h\x1b=\x1b(Bf\x07\x00\x7fg"]),
            "fg"
        );
        // C1 forms of CSI and OSC.
        assert_eq!(filtered(&["\u{9b}6nh\u{9d}52;c;x\u{9c}i"]), "hi");
        // Non-ASCII text is kept.
        assert_eq!(filtered(&["été ✓"]), "été ✓");
    }
}
