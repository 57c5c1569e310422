//! The bastion's tokenizer for terminal escape sequences: it cuts a byte stream, fed in chunks
//! cut anywhere, into the text a terminal draws, the payloads of strings (window titles,
//! hyperlinks), the places where the cursor may move, and control sequences with their
//! parameters. It is the only one in the bastion: the PHI masker (`mask`) matches on the text it
//! finds, and `bastion play --cat` (`player`) keeps only the text and harmless control
//! sequences it reports. (`vte`, which the terminal emulator `vt100` uses, does not report where
//! in the input each piece lies nor stream string payloads; see docs/architecture.md.)
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
//!
//! Cutting a sequence out must not glue together text the terminal draws apart. Full-screen
//! programs (vim, less, top, tmux, anything using curses) end a row with a cursor move instead
//! of a newline: `…6002\x1b[2;24H\x1b[K\x1b[3;1Hrow 003…` shows two rows, not `6002row`. So
//! a sequence after which the next character may not be drawn right after the previous one is
//! reported as a separator, which the masker reads as a line break: every sequence that may
//! move the cursor (positioning, relative moves, tabs, index, restoring a saved position,
//! scroll regions, mode changes such as the alternate screen, resets), scroll the text away
//! (SU, SD, IL, DL), or erase what was drawn before the cursor (EL 1 and 2, ED 1, 2 and 3), and
//! every sequence not known to be harmless. A sequence that leaves both the cursor and the text
//! before it in place is transparent: what comes after it continues that text on the screen.
//! That is SGR (colours: `123-45-\x1b[1m6789` is one identifier), erasing or editing at and
//! after the cursor (EL 0, ED 0, ECH, DCH, ICH: `grep --color` writes `\x1b[m\x1b[K` around
//! every match, inside identifiers too), status queries, cursor style, character set selection
//! and keypad modes. Separating where the screen does not is no safe default: it hides an
//! identifier that is plainly on the screen as surely as gluing does.
//!
//! C0 controls need no such treatment: the ones that move the cursor (backspace, tab, line
//! feed, carriage return, …) are visible bytes that are not word characters, so they separate
//! already.
//!
//! Control sequences (`ESC [` parameters, intermediates, final byte) are also reported piece by
//! piece ([`Piece::CsiStart`], [`Piece::CsiParams`], [`Piece::CsiEnd`]) to readers that ask
//! ([`EscapeParser::feed_sequences`]) because they keep some of them: `cat` lets colours and
//! cursor moves through. The masker does not ask, and its hot path stays as it was. Only 7-bit sequences are
//! recognised: a byte from 0x80 on is text (terminal output is UTF-8), and a reader that wants
//! C1 controls read as sequences feeds their 7-bit forms.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
    /// A sequence that may move the cursor ended just before this index (so it is at least
    /// 1): the visible text before and after it is not contiguous on the screen.
    Separator(usize),
    /// A control sequence begins (`ESC [` was read).
    CsiStart,
    /// Parameter and intermediate bytes of the control sequence begun last (a sequence cut
    /// across chunks comes in several parts).
    CsiParams(Range<usize>),
    /// The control sequence begun last ended with this final byte. A sequence cut short (by
    /// CAN, SUB, ESC, or a byte that cannot be in one) gets none; the next begins with
    /// another [`Piece::CsiStart`].
    CsiEnd(u8),
}

/// What one byte inside a sequence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Visible,
    Payload,
    Hidden,
    /// The last byte of a sequence that separates (see [`Piece::Separator`]).
    Separator,
    /// The `[` of `ESC [`.
    CsiStart,
    /// A parameter or intermediate byte of a control sequence.
    CsiParam,
    /// The final byte of a control sequence, and whether it separates.
    CsiEnd(bool),
}

/// Splits a byte stream into visible runs and escape sequences.
#[derive(Debug, Clone, Default)]
pub struct EscapeParser {
    state: State,
    /// The first intermediate byte of the ESC sequence being read (0: none yet); it decides
    /// what the final byte means (`ESC ( 0` selects a character set, `ESC # 8` fills the
    /// screen).
    intermediate: u8,
    /// What the control sequence being read holds so far.
    csi: CsiShape,
}

/// What the bytes between `CSI` and the final byte say about the function: `CSI K` erases to
/// the right of the cursor, `CSI 2 K` the whole line; `CSI @` inserts characters, `CSI SP @`
/// scrolls the screen left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CsiShape {
    /// An intermediate byte (0x20..=0x2f).
    intermediate: bool,
    /// A parameter byte other than `0` and the private markers `<=>?`.
    nonzero: bool,
}

impl CsiShape {
    #[inline]
    fn step(&mut self, b: u8) {
        match b {
            0x20..=0x2f => self.intermediate = true,
            b'0' | b'<'..=b'?' => {}
            _ => self.nonzero = true,
        }
    }

    fn of(bytes: &[u8]) -> CsiShape {
        let mut shape = CsiShape::default();
        for &b in bytes {
            shape.step(b);
        }
        shape
    }
}

impl EscapeParser {
    /// Feeds one chunk; calls `piece` with each visible range and payload range of `chunk`, in
    /// order, when a string ends, and where the cursor may move. Adjacent ranges are not merged.
    /// Control sequences are not reported piece by piece (see [`feed_sequences`]): what only
    /// needs the text pays nothing for them.
    ///
    /// [`feed_sequences`]: EscapeParser::feed_sequences
    pub fn feed(&mut self, chunk: &[u8], piece: impl FnMut(Piece)) {
        self.feed_as::<false>(chunk, piece);
    }

    /// [`feed`](EscapeParser::feed), also reporting the parts of each control sequence
    /// ([`Piece::CsiStart`], [`Piece::CsiParams`], [`Piece::CsiEnd`]). The other pieces are
    /// the same.
    pub fn feed_sequences(&mut self, chunk: &[u8], piece: impl FnMut(Piece)) {
        self.feed_as::<true>(chunk, piece);
    }

    /// The tokenizer; `CSI`: report control sequences.
    #[inline(always)]
    fn feed_as<const CSI: bool>(&mut self, chunk: &[u8], mut piece: impl FnMut(Piece)) {
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
                        Some((len, last)) => {
                            // The bytes between `[` and the final byte.
                            let inner = j + 2..j + len;
                            i = j + 1 + len;
                            if CSI {
                                piece(Piece::CsiStart);
                                if !inner.is_empty() {
                                    piece(Piece::CsiParams(inner.clone()));
                                }
                                piece(Piece::CsiEnd(last));
                            }
                            // SGR first: colours are most of what is skipped here.
                            if last != b'm' && csi_separates(last, || CsiShape::of(&chunk[inner])) {
                                piece(Piece::Separator(i));
                            }
                        }
                        None => {
                            self.enter_esc();
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
                        self.byte::<CSI>(chunk[j], j, &mut piece);
                    }
                    i = j + 1;
                }
                _ => {
                    self.byte::<CSI>(chunk[i], i, &mut piece);
                    i += 1;
                }
            }
        }
    }

    /// Steps over the byte at `at` and reports what it is.
    fn byte<const CSI: bool>(&mut self, b: u8, at: usize, piece: &mut impl FnMut(Piece)) {
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
            Kind::Separator => piece(Piece::Separator(at + 1)),
            Kind::Hidden => {}
            Kind::CsiStart if CSI => piece(Piece::CsiStart),
            Kind::CsiParam if CSI => piece(Piece::CsiParams(at..at + 1)),
            Kind::CsiStart | Kind::CsiParam => {}
            Kind::CsiEnd(separates) => {
                if CSI {
                    piece(Piece::CsiEnd(b));
                }
                if separates {
                    piece(Piece::Separator(at + 1));
                }
            }
        }
    }

    fn enter_esc(&mut self) {
        self.state = State::Esc;
        self.intermediate = 0;
    }

    /// Advances over one byte while inside a sequence.
    fn step(&mut self, b: u8) -> Kind {
        use State::*;
        match (self.state, b) {
            (Ground, ESC) => {
                self.enter_esc();
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
                self.enter_esc();
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
                self.enter_esc();
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
                self.csi = CsiShape::default();
                Kind::CsiStart
            }
            (Esc, b']' | b'P' | b'X' | b'^' | b'_') => {
                self.state = Str;
                Kind::Hidden
            }
            (Esc, 0x20..=0x2f) => {
                self.state = EscIntermediate;
                self.intermediate = b;
                Kind::Hidden
            }
            (EscIntermediate, 0x20..=0x2f) => Kind::Hidden,
            (Esc | EscIntermediate, _) => {
                self.state = Ground;
                if esc_separates(self.intermediate, b) {
                    Kind::Separator
                } else {
                    Kind::Hidden
                }
            }
            (Csi, 0x20..=0x3f) => {
                self.csi.step(b);
                Kind::CsiParam
            }
            (Csi, _) => {
                self.state = Ground;
                let shape = self.csi;
                Kind::CsiEnd(csi_separates(b, || shape))
            }
        }
    }
}

/// Whether the control sequence with final byte `last` (and the parameters and intermediates
/// `shape` describes, looked at only when they matter) may move the cursor, scroll, or erase
/// text before the cursor; see the module documentation. Unknown sequences do.
#[inline]
fn csi_separates(last: u8, shape: impl FnOnce() -> CsiShape) -> bool {
    match last {
        // SGR (the common case, first), device status and attribute queries, cursor style.
        b'm' | b'n' | b'c' | b'q' => false,
        // ECH, DCH, ICH: the cursor stays; with an intermediate, other functions (`SP @`
        // scrolls left).
        b'X' | b'P' | b'@' => shape().intermediate,
        // EL and ED from the cursor on; any other parameter erases before the cursor too.
        b'K' | b'J' => {
            let s = shape();
            s.intermediate || s.nonzero
        }
        _ => true,
    }
}

/// Whether the ESC sequence with first intermediate `intermediate` (0: none) and final byte
/// `last` may move the cursor or change the text on the screen. With an intermediate, only the
/// line-size and alignment-test sequences (`ESC # …`) do; character set designations
/// (`ESC ( B`, which curses emits with every attribute reset) and the like do not. Without
/// one, all do (restore cursor `8`, index `D`, next line `E`, reverse index `M`, reset `c`,
/// back and forward index `6`, `9`; and save cursor `7`, which comes before text drawn
/// elsewhere and `8`) except keypad modes (`=`, `>`), tab set (`H`), character set shifts
/// (`N`, `O`, `n`, `o`, `|`, `}`, `~`) and a lone string terminator (`\`).
fn esc_separates(intermediate: u8, last: u8) -> bool {
    match intermediate {
        0 => !matches!(
            last,
            b'=' | b'>' | b'H' | b'N' | b'O' | b'n' | b'o' | b'|' | b'}' | b'~' | b'\\'
        ),
        i => i == b'#',
    }
}

/// Length and final byte of the control sequence `[ params intermediates final` at the start of
/// `rest` (the bytes after ESC), if all of it is there and it holds nothing but parameter and
/// intermediate bytes: what [`EscapeParser::step`] would step over byte by byte, returning to
/// the ground state.
#[inline]
fn whole_csi(rest: &[u8]) -> Option<(usize, u8)> {
    if rest.first() != Some(&b'[') {
        return None;
    }
    let k = 1 + rest[1..].iter().position(|b| !(0x20..=0x3f).contains(b))?;
    let last = rest[k];
    (0x40..=0x7e).contains(&last).then_some((k + 1, last))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    /// The visible text with each separator as `|`, and each string's payload.
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
                Piece::Separator(at) => {
                    assert!(at <= c.len() && at > 0, "{at} in {}", c.len());
                    out.push(b'|');
                }
                Piece::CsiStart | Piece::CsiParams(_) | Piece::CsiEnd(_) => {
                    panic!("feed reports no control sequence")
                }
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
            (b"a\x1b[38;2;1;2;3mb\x1b[?25lc\x1b[ qd", b"ab|cd"),
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

    #[test]
    fn reports_moves_and_erases_as_separators_in_any_chunking() {
        let cases: &[(&[u8], &[u8])] = &[
            // vim's rows and ruler.
            (
                b"6002\x1b[2;24H\x1b[K\x1b[3;1Hrow\x1b[30;183H1,1",
                b"6002||row|1,1",
            ),
            // Every CSI final byte that moves the cursor.
            (
                b"\x1b[Ha\x1b[fb\x1b[Ac\x1b[Bd\x1b[Ce\x1b[Df\x1b[Eg\x1b[Fh\x1b[Gi\x1b[dj\x1b[ek\x1b[`l",
                b"|a|b|c|d|e|f|g|h|i|j|k|l",
            ),
            // Scrolling, inserting and deleting lines, scroll regions, erasing before the
            // cursor.
            (
                b"\x1b[am\x1b[Ln\x1b[Mo\x1b[Sp\x1b[Tq\x1b[1;9rr\x1b[1Ks\x1b[2Kt\x1b[1Ju\x1b[2Jv\x1b[3Jw",
                b"|m|n|o|p|q|r|s|t|u|v|w",
            ),
            // Modes, tabs, repeat, rectangles, horizontal scrolling, and finals nobody knows:
            // moves until shown not.
            (
                b"a\x1b[?1049hb\x1b[?25lc\x1b[Id\x1b[Ze\x1b[3bf\x1b[1;1;2;2$zg\x1b[5~h\x1b[2 @i\x1b[;Kj",
                b"a|b|c|d|e|f|g|h|i|j",
            ),
            // Erasing and editing from the cursor on leave it where it is (`grep --color`).
            (
                b"123-\x1b[01;31m\x1b[K45\x1b[m\x1b[K-6789\x1b[0Ka\x1b[Jb\x1b[0Jc\x1b[?Kd\x1b[5Xe\x1b[2Pf\x1b[3@g",
                b"123-45-6789abcdefg",
            ),
            // ESC sequences: save/restore cursor, index, next line, reverse index, reset,
            // back/forward index, line attributes and the alignment test.
            (
                b"a\x1b7b\x1b8c\x1bDd\x1bEe\x1bMf\x1bcg\x1b6h\x1b9i\x1b#3j\x1b#8k",
                b"a|b|c|d|e|f|g|h|i|j|k",
            ),
            // Not moves: SGR, queries, cursor style, character sets, keypad, shifts, tab set.
            (
                b"a\x1b[1;31mb\x1b[6nc\x1b[>cd\x1b[2 qe\x1b(Bf\x1b)0g\x1b%Gh\x1b=i\x1b>j\x1bNk\x1bHl\x1b\\m",
                b"abcdefghijklm",
            ),
            // Cut short, aborted or broken sequences do not act.
            (b"a\x1b[2\x18b\x1b[3\x1b[mc\x1b[1\xc3\xa9", b"abc\xc3\xa9"),
            (b"a\x1b[2", b"a"),
            (b"a\x1b", b"a"),
            // A string ended by a move: the payload, then the separator.
            (b"a\x1b]0;t\x1b[Hb", b"a|b"),
            // C0 controls inside a move are executed before it.
            (b"a\x1b[1\r;2Hb", b"a\r|b"),
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

    /// Each control sequence that ended, as its parameter bytes and final byte; a sequence cut
    /// short is `(params, None)`.
    fn sequences(input: &[u8], chunk: usize) -> Vec<(Vec<u8>, Option<u8>)> {
        let mut p = EscapeParser::default();
        let mut out: Vec<(Vec<u8>, Option<u8>)> = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            p.feed_sequences(c, |piece| match piece {
                Piece::CsiStart => out.push((Vec::new(), None)),
                Piece::CsiParams(r) => {
                    let last = out.last_mut().expect("params after a start");
                    assert!(last.1.is_none());
                    last.0.extend_from_slice(&c[r]);
                }
                Piece::CsiEnd(f) => {
                    let last = out.last_mut().expect("an end after a start");
                    assert!(last.1.is_none());
                    last.1 = Some(f);
                }
                _ => {}
            });
        }
        out
    }

    /// Every piece `feed_sequences` reports, in order, as owned values.
    fn all_pieces(input: &[u8], chunk: usize, sequences: bool) -> Vec<(Piece, Vec<u8>)> {
        let mut p = EscapeParser::default();
        let mut out = Vec::new();
        for c in input.chunks(chunk.max(1)) {
            let mut take = |piece: Piece| {
                let bytes = match &piece {
                    Piece::Visible(r) | Piece::Payload(r) | Piece::CsiParams(r) => {
                        c[r.clone()].to_vec()
                    }
                    _ => Vec::new(),
                };
                out.push((piece, bytes));
            };
            if sequences {
                p.feed_sequences(c, &mut take);
            } else {
                p.feed(c, &mut take);
            }
        }
        out
    }

    #[test]
    fn feed_is_feed_sequences_without_the_control_sequences() {
        let input: &[u8] =
            b"a\x1b[1;31mb\x1b[2;24H\x1b[K\x1b]0;t\x07c\x1b[?25l\x1b[1\n2Kd\x1b[3\x18e\x1b7f";
        for chunk in [1, 2, 3, 7, 64] {
            let mut full = all_pieces(input, chunk, true);
            full.retain(|(p, _)| {
                !matches!(p, Piece::CsiStart | Piece::CsiParams(_) | Piece::CsiEnd(_))
            });
            assert_eq!(all_pieces(input, chunk, false), full, "chunks of {chunk}");
        }
    }

    #[test]
    fn reports_control_sequences_in_any_chunking() {
        type Seq = (&'static [u8], Option<u8>);
        let cases: &[(&[u8], &[Seq])] = &[
            (
                b"a\x1b[1;31mred\x1b[0m",
                &[(b"1;31", Some(b'm')), (b"0", Some(b'm'))],
            ),
            (
                b"\x1b[H\x1b[?1049h\x1b[2 q",
                &[
                    (b"", Some(b'H')),
                    (b"?1049", Some(b'h')),
                    (b"2 ", Some(b'q')),
                ],
            ),
            // C0 controls inside are executed, not parameters; DEL is ignored.
            (b"\x1b[1\n2\x7fm", &[(b"12", Some(b'm'))]),
            // Cut short by CAN, by ESC, by a byte that cannot be in one, by the end.
            (
                b"\x1b[2\x18\x1b[3\x1b[4\xc3\xa9\x1b[5",
                &[(b"2", None), (b"3", None), (b"4", None), (b"5", None)],
            ),
            // Not control sequences: strings and other escapes.
            (b"\x1b]0;[1m\x07\x1b(B\x1bP[1m\x1b\\", &[]),
            // After a string ended by ESC.
            (b"\x1b]0;t\x1b[1m", &[(b"1", Some(b'm'))]),
        ];
        for (input, want) in cases {
            let want: Vec<(Vec<u8>, Option<u8>)> =
                want.iter().map(|(p, f)| (p.to_vec(), *f)).collect();
            for chunk in [1, 2, 3, 7, 64] {
                assert_eq!(
                    sequences(input, chunk),
                    want,
                    "{input:?} in chunks of {chunk}"
                );
            }
        }
    }
}
