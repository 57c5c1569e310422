//! Streaming recogniser for terminal escape sequences.
//!
//! The masker matches on the *visible* text: what a terminal would draw. Escape sequences (SGR
//! colours, cursor moves, OSC titles and hyperlinks) are cut out of that view so that
//! `\x1b[1m123\x1b[0m-45-6789` is seen as `123-45-6789`. The parser follows the ECMA-48 / xterm
//! state machine closely enough for that purpose and keeps its state across chunks, so a
//! sequence split anywhere is recognised the same way.
//!
//! Bytes inside a sequence are never visible, with one exception that terminals share: C0
//! controls (newline, carriage return, …) inside CSI or ESC sequences are executed, so they are
//! reported as visible. OSC/DCS/APC/PM/SOS payloads (window titles, hyperlink targets) are not
//! part of the visible text; they are reported as payload, which the masker matches on its own
//! (a shell that puts the running command in the window title must not store it unmasked).

use std::ops::Range;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;
const DEL: u8 = 0x7f;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Esc,
    /// After ESC and one or more intermediate bytes (`ESC ( B`).
    EscIntermediate,
    /// Inside a control sequence (`ESC [ … final`).
    Csi,
    /// Inside a string (OSC, DCS, SOS, PM, APC) until BEL or ST.
    Str,
    /// ESC seen inside a string: `\` completes ST, anything else starts a new sequence.
    StrEsc,
}

/// What a range of a chunk is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text a terminal draws (or executes: C0 controls).
    Visible(Range<usize>),
    /// Part of the payload of an OSC, DCS, SOS, PM or APC string (a window title, a hyperlink
    /// target), without its introducer and terminator.
    Payload(Range<usize>),
    /// The string whose payload was being reported ended (BEL, ST, CAN, SUB, or ESC starting
    /// another sequence).
    StringEnd,
}

/// What one byte inside a sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Visible,
    Payload,
    Hidden,
}

/// Splits a byte stream into visible runs and escape sequences.
#[derive(Debug, Clone, Default)]
pub struct EscapeParser {
    state: State,
}

impl EscapeParser {
    /// Feeds one chunk; calls `piece` with each visible range and payload range of `chunk`, in
    /// order, and when a string ends. Adjacent ranges are not merged.
    pub fn feed(&mut self, chunk: &[u8], mut piece: impl FnMut(Piece)) {
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::Ground => {
                    // Fast path: text without escapes is one run.
                    let j = memchr::memchr(ESC, &chunk[i..]).map_or(chunk.len(), |k| i + k);
                    if j > i {
                        piece(Piece::Visible(i..j));
                    }
                    if j >= chunk.len() {
                        break;
                    }
                    // Second fast path: a whole control sequence (colours, cursor moves) in
                    // this chunk is skipped at once; anything else goes byte by byte.
                    match whole_csi(&chunk[j + 1..]) {
                        Some(len) => i = j + 1 + len,
                        None => {
                            self.state = State::Esc;
                            i = j + 1;
                        }
                    }
                }
                State::Str => {
                    // A payload runs to its terminator in one piece.
                    let j = chunk[i..]
                        .iter()
                        .position(|&b| matches!(b, ESC | BEL | CAN | SUB))
                        .map_or(chunk.len(), |k| i + k);
                    if j > i {
                        piece(Piece::Payload(i..j));
                    }
                    if j < chunk.len() {
                        self.byte(chunk[j], j, &mut piece);
                    }
                    i = j + 1;
                }
                _ => {
                    self.byte(chunk[i], i, &mut piece);
                    i += 1;
                }
            }
        }
    }

    /// Steps over the byte at `at` and reports what it is.
    fn byte(&mut self, b: u8, at: usize, piece: &mut impl FnMut(Piece)) {
        let was = self.state;
        let kind = self.step(b);
        // Any byte after ESC ends a string (ST, or a new sequence, possibly another string
        // right away: `ESC ] 0;a ESC ] 2;b BEL` is two payloads, not one).
        let ended = was == State::StrEsc
            || (was == State::Str && !matches!(self.state, State::Str | State::StrEsc));
        if ended {
            piece(Piece::StringEnd);
        }
        match kind {
            Kind::Visible => piece(Piece::Visible(at..at + 1)),
            Kind::Payload => piece(Piece::Payload(at..at + 1)),
            Kind::Hidden => {}
        }
    }

    /// Advances over one byte while inside a sequence.
    fn step(&mut self, b: u8) -> Kind {
        use State::*;
        match (self.state, b) {
            (Ground, ESC) => {
                self.state = Esc;
                Kind::Hidden
            }
            (Ground, _) => Kind::Visible,
            // CAN and SUB abort any sequence (ECMA-48); ESC inside a string may be ST.
            (_, CAN | SUB) => {
                self.state = Ground;
                Kind::Hidden
            }
            (Str, ESC) => {
                self.state = StrEsc;
                Kind::Hidden
            }
            (_, ESC) => {
                self.state = Esc;
                Kind::Hidden
            }
            (Str, BEL) => {
                self.state = Ground;
                Kind::Hidden
            }
            (Str, _) => Kind::Payload,
            (StrEsc, b'\\') => {
                self.state = Ground;
                Kind::Hidden
            }
            (StrEsc, _) => {
                // The string ended without ST; this byte follows a fresh ESC.
                self.state = Esc;
                self.step(b)
            }
            (Esc | EscIntermediate | Csi, 0x00..=0x1f) => Kind::Visible,
            (Esc | EscIntermediate | Csi, DEL) => Kind::Hidden,
            (Esc | EscIntermediate | Csi, 0x80..=0xff) => {
                // Not a valid sequence byte: the sequence is abandoned and the byte is text.
                self.state = Ground;
                Kind::Visible
            }
            (Esc, b'[') => {
                self.state = Csi;
                Kind::Hidden
            }
            (Esc, b']' | b'P' | b'X' | b'^' | b'_') => {
                self.state = Str;
                Kind::Hidden
            }
            (Esc | EscIntermediate, 0x20..=0x2f) => {
                self.state = EscIntermediate;
                Kind::Hidden
            }
            (Esc | EscIntermediate, _) => {
                self.state = Ground;
                Kind::Hidden
            }
            (Csi, 0x20..=0x3f) => Kind::Hidden,
            (Csi, _) => {
                self.state = Ground;
                Kind::Hidden
            }
        }
    }
}

/// Length of the control sequence `[ params intermediates final` at the start of `rest` (the
/// bytes after ESC), if all of it is there and it holds nothing but parameter and intermediate
/// bytes: what [`EscapeParser::step`] would hide byte by byte, returning to the ground state.
fn whole_csi(rest: &[u8]) -> Option<usize> {
    if rest.first() != Some(&b'[') {
        return None;
    }
    let k = 1 + rest[1..].iter().position(|b| !(0x20..=0x3f).contains(b))?;
    (0x40..=0x7e).contains(&rest[k]).then_some(k + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The visible text, and each string's payload.
    fn split(input: &[u8], chunk: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut p = EscapeParser::default();
        let mut out = Vec::new();
        let mut strings = Vec::new();
        let mut open: Option<Vec<u8>> = None;
        for c in input.chunks(chunk.max(1)) {
            p.feed(c, |piece| match piece {
                Piece::Visible(r) => out.extend_from_slice(&c[r]),
                Piece::Payload(r) => open.get_or_insert_with(Vec::new).extend_from_slice(&c[r]),
                Piece::StringEnd => strings.extend(open.take()),
            });
        }
        strings.extend(open);
        (out, strings)
    }

    fn visible(input: &[u8], chunk: usize) -> Vec<u8> {
        split(input, chunk).0
    }

    #[test]
    fn reports_string_payloads_in_any_chunking() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"x\x1b]0;title 123\x07y", &[b"0;title 123"]),
            (
                b"x\x1b]8;;http://h/1\x1b\\link\x1b]8;;\x1b\\y",
                &[b"8;;http://h/1", b"8;;"],
            ),
            (b"x\x1bPq#0;1\x1b\\y", &[b"q#0;1"]),
            (b"x\x1b]2;t\x1b[1my", &[b"2;t"]),
            (b"x\x1b]2;ab\x18cd", &[b"2;ab"]),
            (b"x\x1b]2;unterminated", &[b"2;unterminated"]),
            (b"\x1b]0;a\x1b]2;b\x07", &[b"0;a", b"2;b"]),
            (b"\x1b]0;a\x1bPq\x1b\\", &[b"0;a", b"q"]),
        ];
        for (input, want) in cases {
            for chunk in [1, 2, 3, 7, 64] {
                assert_eq!(
                    &split(input, chunk).1,
                    want,
                    "{input:?} in chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn strips_sequences_in_any_chunking() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"\x1b[1m123\x1b[0m-45-6789", b"123-45-6789"),
            (b"a\x1b[38;5;208mb\x1b[mc", b"abc"),
            (b"x\x1b]0;title 123\x07y", b"xy"),
            (b"x\x1b]8;;http://h/1\x1b\\link\x1b]8;;\x1b\\y", b"xlinky"),
            (b"x\x1b(By", b"xy"),
            (b"x\x1bPq#0;1\x1b\\y", b"xy"),
            (b"a\x1b[1\nm b", b"a\n b"),
            (b"a\x1b[1\x18b", b"ab"),
            (b"caf\xc3\xa9 \x1b[0m!", b"caf\xc3\xa9 !"),
            (b"x\x1b]2;t\x1b[1my", b"xy"),
            // Whole sequences skipped at once, and the same sequences cut short or odd.
            (b"\x1b[2m2025\x1b[0m \x1b[32mINFO\x1b[0m", b"2025 INFO"),
            (b"a\x1b[38;2;1;2;3mb\x1b[?25lc\x1b[ qd", b"abcd"),
            (b"a\x1b[1\x7fmb", b"ab"),
            (b"a\x1b[1\xc3\xa9", b"a\xc3\xa9"),
            (b"a\x1b[", b"a"),
        ];
        for (input, want) in cases {
            for chunk in [1, 2, 3, 7, 64] {
                assert_eq!(
                    &visible(input, chunk),
                    want,
                    "{input:?} in chunks of {chunk}"
                );
            }
        }
    }
}
