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
//! part of the visible text and are not matched; see the module docs of `mask`.

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

/// Splits a byte stream into visible runs and escape sequences.
#[derive(Debug, Clone, Default)]
pub(crate) struct EscapeParser {
    state: State,
}

impl EscapeParser {
    /// Feeds one chunk; calls `visible` with each range of `chunk` that is visible text, in
    /// order. Adjacent ranges are not merged.
    pub(crate) fn feed(&mut self, chunk: &[u8], mut visible: impl FnMut(Range<usize>)) {
        let mut i = 0;
        while i < chunk.len() {
            if self.state == State::Ground {
                // Fast path: text without escapes is one run.
                let j = memchr::memchr(ESC, &chunk[i..]).map_or(chunk.len(), |k| i + k);
                if j > i {
                    visible(i..j);
                }
                if j < chunk.len() {
                    self.state = State::Esc;
                }
                i = j + 1;
            } else {
                if self.step(chunk[i]) {
                    visible(i..i + 1);
                }
                i += 1;
            }
        }
    }

    /// Advances over one byte while inside a sequence; returns whether the byte is visible.
    fn step(&mut self, b: u8) -> bool {
        use State::*;
        match (self.state, b) {
            (Ground, ESC) => {
                self.state = Esc;
                false
            }
            (Ground, _) => true,
            // CAN and SUB abort any sequence (ECMA-48); ESC inside a string may be ST.
            (_, CAN | SUB) => {
                self.state = Ground;
                false
            }
            (Str, ESC) => {
                self.state = StrEsc;
                false
            }
            (_, ESC) => {
                self.state = Esc;
                false
            }
            (Str, BEL) => {
                self.state = Ground;
                false
            }
            (Str, _) => false,
            (StrEsc, b'\\') => {
                self.state = Ground;
                false
            }
            (StrEsc, _) => {
                // The string ended without ST; this byte follows a fresh ESC.
                self.state = Esc;
                self.step(b)
            }
            (Esc | EscIntermediate | Csi, 0x00..=0x1f) => true,
            (Esc | EscIntermediate | Csi, DEL) => false,
            (Esc | EscIntermediate | Csi, 0x80..=0xff) => {
                // Not a valid sequence byte: the sequence is abandoned and the byte is text.
                self.state = Ground;
                true
            }
            (Esc, b'[') => {
                self.state = Csi;
                false
            }
            (Esc, b']' | b'P' | b'X' | b'^' | b'_') => {
                self.state = Str;
                false
            }
            (Esc | EscIntermediate, 0x20..=0x2f) => {
                self.state = EscIntermediate;
                false
            }
            (Esc | EscIntermediate, _) => {
                self.state = Ground;
                false
            }
            (Csi, 0x20..=0x3f) => false,
            (Csi, _) => {
                self.state = Ground;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut p = EscapeParser::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            p.feed(c, |r| out.extend_from_slice(&c[r]));
        }
        out
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
