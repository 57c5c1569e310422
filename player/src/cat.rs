//! `cat`: a recording's output without its timing.
//!
//! A recording holds whatever the target printed, and anyone with a shell on a target can print
//! escape sequences meant for the terminal that later shows them: OSC 52 writes the clipboard,
//! others set the window title, make the terminal answer on its input, or redefine keys. So
//! by default only text and a few harmless sequences (colours and attributes, cursor moves,
//! erasing) reach the auditor's terminal; everything else is dropped. `raw` writes the bytes as
//! recorded.

use std::io::{self, Write};

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
        if let Some(text) = event.data.screen_text() {
            if raw {
                out.write_all(text.as_bytes())?;
            } else {
                clean.clear();
                filter.push(text, &mut clean);
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
const SAFE_CSI_FINALS: &str = "mABCDEFGHJKfd";

/// Longest CSI sequence let through; longer ones are dropped.
const MAX_CSI: usize = 64;

/// Keeps text and harmless CSI sequences, drops every other escape sequence and control
/// character. Sequences may be split across calls.
#[derive(Debug, Default)]
pub struct TerminalFilter {
    state: State,
    csi: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Ground,
    Esc,
    /// `ESC` followed by intermediate bytes (`ESC ( B`): dropped up to its final byte.
    EscIntermediate,
    Csi,
    /// A CSI sequence being dropped (too long or malformed) up to its final byte.
    CsiDrop,
    /// OSC, DCS, SOS, PM or APC: dropped up to BEL or ST.
    Str,
    StrEsc,
}

impl TerminalFilter {
    /// Filters `text` into `out`.
    pub fn push(&mut self, text: &str, out: &mut String) {
        for c in text.chars() {
            self.step(c, out);
        }
    }

    fn step(&mut self, c: char, out: &mut String) {
        use State::*;
        // CAN and SUB abort any sequence (ECMA-48).
        if matches!(c, '\u{18}' | '\u{1a}') {
            self.state = Ground;
            return;
        }
        match self.state {
            Ground => match c {
                '\u{1b}' => self.state = Esc,
                '\u{9b}' => self.start_csi(),
                '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => self.state = Str,
                '\t' | '\n' | '\r' | '\u{8}' => out.push(c),
                c if c.is_control() => {}
                c => out.push(c),
            },
            Esc => match c {
                '[' => self.start_csi(),
                ']' | 'P' | 'X' | '^' | '_' => self.state = Str,
                '\u{1b}' => {}
                ' '..='/' => self.state = EscIntermediate,
                _ => self.state = Ground,
            },
            EscIntermediate => {
                if !(' '..='/').contains(&c) {
                    self.state = Ground;
                }
            }
            Csi => match c {
                '0'..='9' | ';' | ':' if self.csi.len() < MAX_CSI => self.csi.push(c),
                '@'..='~' => {
                    if SAFE_CSI_FINALS.contains(c) {
                        out.push_str("\u{1b}[");
                        out.push_str(&self.csi);
                        out.push(c);
                    }
                    self.state = Ground;
                }
                ' '..='?' => self.state = CsiDrop,
                _ => self.state = Ground,
            },
            CsiDrop => match c {
                '@'..='~' => self.state = Ground,
                ' '..='?' => {}
                _ => self.state = Ground,
            },
            Str => match c {
                '\u{7}' | '\u{9c}' => self.state = Ground,
                '\u{1b}' => self.state = StrEsc,
                _ => {}
            },
            StrEsc => {
                self.state = if c == '\\' { Ground } else { Str };
            }
        }
    }

    fn start_csi(&mut self) {
        self.csi.clear();
        self.state = State::Csi;
    }
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
