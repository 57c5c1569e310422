//! Output that is not terminal text: which bytes go into `b` events, and their encoding.
//!
//! An `o` event holds text: a NUL costs 6 bytes there (`\u0000`) and a byte that is not UTF-8
//! cannot be written at all. So the recorder splits each chunk of output into pieces of text,
//! written as `o` events as before, and pieces of binary, written as [`BINARY_CODE`] events
//! whose data is the standard base64 (RFC 4648, padded) of the exact bytes. asciicast v3
//! players skip event codes they do not know (asciinema 3 does); `bastion play` and `cat` turn
//! them back into the bytes.
//!
//! A binary piece starts at a *binary byte*: a C0 control that terminals do not use for text
//! (all but tab, line feed, carriage return, BEL, backspace, SO, SI and ESC) or a byte of an
//! invalid UTF-8 sequence. It goes on over text runs shorter than [`TEXT_RUN`] bytes and ends
//! with the last binary byte before a longer run (or the chunk's end). It is written as a `b`
//! event when it holds invalid UTF-8 (text cannot hold it) or when its `o` encoding would be
//! larger than its base64 plus [`EVENT_COST`] (a few stray NULs stay in the `o` event they
//! came in, as before). Escape sequences never start a piece, so screens stay visible in
//! every player.
//!
//! The split depends only on the bytes of the chunk (and a UTF-8 sequence carried from the one
//! before), so memory stays bounded by the chunk.

use std::ops::Range;

use base64::Engine as _;

/// The event code of binary output: `[interval, "b", "<base64>"]`. After a `# stderr`
/// comment line, like `o`, it is stderr.
pub const BINARY_CODE: &str = "b";

/// Text runs at least this long end a binary piece.
pub const TEXT_RUN: usize = 16;

/// What one more event line costs, about: interval, code, quotes, brackets, newline, and the
/// `o` event split in two around it.
pub const EVENT_COST: usize = 48;

/// Base64 of `bytes`, appended to `out`.
pub fn encode(bytes: &[u8], out: &mut String) {
    base64::engine::general_purpose::STANDARD.encode_string(bytes, out);
}

/// The bytes of a `b` event's data, or `None` when it is not padded standard base64.
pub fn decode(data: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// Length of the base64 of `n` bytes.
pub(crate) fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// One piece of a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Valid UTF-8, for an `o` event.
    Text(Range<usize>),
    /// Raw bytes, for a `b` event.
    Binary(Range<usize>),
}

/// One unit of the input: an ASCII byte or a UTF-8 sequence (valid or not).
enum Unit {
    /// Valid text of this many bytes, costing `cost` bytes in an `o` event.
    Text { len: usize, cost: usize },
    /// A control no text needs, 1 byte.
    Control,
    /// An invalid sequence of this many bytes.
    Invalid(usize),
    /// The rest is the start of a sequence that more bytes may complete.
    Incomplete,
}

fn unit(bytes: &[u8]) -> Unit {
    let Some(&b) = bytes.first() else {
        return Unit::Incomplete;
    };
    if b < 0x80 {
        let text =
            b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x07 | 0x08 | 0x0e | 0x0f | 0x1b);
        return if text {
            Unit::Text {
                len: 1,
                cost: asciicast::escaped_width(b),
            }
        } else {
            Unit::Control
        };
    }
    let need = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Unit::Invalid(1),
    };
    let avail = need.min(bytes.len());
    match std::str::from_utf8(&bytes[..avail]) {
        Ok(_) if avail == need => Unit::Text {
            len: need,
            cost: need,
        },
        Ok(_) => Unit::Incomplete,
        Err(e) => match e.error_len() {
            Some(n) => Unit::Invalid(n),
            None if avail < need => Unit::Incomplete,
            None => Unit::Invalid(1),
        },
    }
}

/// A binary piece being gathered.
struct Open {
    start: usize,
    /// End of its last binary byte.
    end: usize,
    /// What its bytes up to `end` would cost in an `o` event (invalid bytes count 3, as
    /// U+FFFD).
    cost: usize,
    invalid: bool,
}

impl Open {
    fn wants_binary(&self) -> bool {
        let len = self.end - self.start;
        self.invalid || self.cost > encoded_len(len) + EVENT_COST
    }
}

/// Splits `bytes` into pieces (appended to `out`, in order, covering `bytes[..n]`) and returns
/// `n`: what follows is an incomplete UTF-8 sequence, to be carried into the next chunk (or
/// written as binary when the stream ends, with `last`).
pub(crate) fn split(bytes: &[u8], last: bool, out: &mut Vec<Piece>) -> usize {
    let mut text_start = 0;
    let mut open: Option<Open> = None;
    // Cost, in an `o` event, of the bytes since the open piece's last binary byte.
    let mut tail_cost = 0;
    let mut i = 0;
    let close = |open: Open, text_start: &mut usize, out: &mut Vec<Piece>| {
        if open.wants_binary() {
            if *text_start < open.start {
                out.push(Piece::Text(*text_start..open.start));
            }
            out.push(Piece::Binary(open.start..open.end));
            *text_start = open.end;
        }
    };
    while i < bytes.len() {
        let (len, binary, cost, invalid) = match unit(&bytes[i..]) {
            Unit::Text { len, cost } => (len, false, cost, false),
            Unit::Control => (1, true, 6, false),
            Unit::Invalid(n) => (n, true, 3, true),
            Unit::Incomplete if last => (bytes.len() - i, true, 3, true),
            Unit::Incomplete => break,
        };
        if binary {
            let o = open.get_or_insert(Open {
                start: i,
                end: i,
                cost: 0,
                invalid: false,
            });
            o.cost += tail_cost + cost;
            o.end = i + len;
            o.invalid |= invalid;
            tail_cost = 0;
        } else if let Some(o) = open.take() {
            if i + len - o.end >= TEXT_RUN {
                close(o, &mut text_start, out);
                tail_cost = 0;
            } else {
                tail_cost += cost;
                open = Some(o);
            }
        }
        i += len;
    }
    if let Some(o) = open {
        close(o, &mut text_start, out);
    }
    if text_start < i {
        out.push(Piece::Text(text_start..i));
    }
    i
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    fn pieces(bytes: &[u8]) -> (Vec<Piece>, usize) {
        let mut out = Vec::new();
        let n = split(bytes, false, &mut out);
        (out, n)
    }

    #[test]
    fn text_is_one_piece() {
        let s = "héllo \x1b[1mworld\x1b[0m\r\n\"quoted\"\t\x07".as_bytes();
        assert_eq!(pieces(s), (vec![Piece::Text(0..s.len())], s.len()));
    }

    #[test]
    fn a_stray_nul_stays_text_and_a_run_of_them_is_binary() {
        assert_eq!(pieces(b"a\0b"), (vec![Piece::Text(0..3)], 3));
        let mut s = b"abc".to_vec();
        s.extend([0u8; 100]);
        s.extend(b"0123456789abcdefXYZ");
        assert_eq!(
            pieces(&s).0,
            vec![
                Piece::Text(0..3),
                Piece::Binary(3..103),
                Piece::Text(103..s.len())
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_always_binary() {
        assert_eq!(
            pieces(b"caf\xe9!"),
            (
                vec![Piece::Text(0..3), Piece::Binary(3..4), Piece::Text(4..5)],
                5
            )
        );
    }

    #[test]
    fn short_text_runs_inside_binary_stay_in_it() {
        let mut s = vec![0u8; 60];
        s.extend(b"short");
        s.extend([1u8; 60]);
        assert_eq!(pieces(&s).0, vec![Piece::Binary(0..s.len())]);
    }

    #[test]
    fn an_incomplete_sequence_is_carried_or_finished_as_binary() {
        assert_eq!(pieces(b"ab\xe2\x82"), (vec![Piece::Text(0..2)], 2));
        let mut out = Vec::new();
        assert_eq!(split(b"ab\xe2\x82", true, &mut out), 4);
        assert_eq!(out, vec![Piece::Text(0..2), Piece::Binary(2..4)]);
    }

    #[test]
    fn base64_round_trips() {
        let mut s = String::new();
        encode(b"\0\xff\x01abc", &mut s);
        assert_eq!(s.len(), encoded_len(6));
        assert_eq!(decode(&s).unwrap(), b"\0\xff\x01abc");
        assert_eq!(decode("not base64!"), None);
    }
}
