//! The escape-sequence tokenizer (the `escape` crate: what is visible text, what is a string
//! payload such as a window title, where the cursor may move, which control sequences), which
//! the masker reads output with, and the filter `cat` builds on it between a recording and the
//! auditor's terminal.

use ::escape::{EscapeParser, Piece};
use player::TerminalFilter;

use crate::input::{chunks, sizes_and_stream};

/// Chunk sizes and a stream, as [`sizes_and_stream`] reads them.
pub fn check(data: &[u8]) {
    let (sizes, stream) = sizes_and_stream(data);

    // The tokenizer keeps its state across chunks: any cutting gives the same views.
    let whole = tokenize(&[stream], true);
    assert_eq!(
        tokenize(&chunks(stream, &sizes), true),
        whole,
        "cut at {sizes:?}"
    );
    assert_eq!(tokenize(&chunks(stream, &[1]), true), whole, "byte by byte");
    // Without control sequences (what the masker reads), the rest is the same.
    let without = Tokens {
        csis: Vec::new(),
        ..whole
    };
    assert_eq!(
        tokenize(&chunks(stream, &sizes), false),
        without,
        "cut at {sizes:?}, without control sequences"
    );

    let text = String::from_utf8_lossy(stream);
    let filtered = filter(&[&text]);
    assert_harmless(&filtered);
    assert_eq!(
        filter(&char_chunks(&text, &sizes)),
        filtered,
        "cut at {sizes:?}"
    );
    // What the filter lets through passes it again unchanged.
    assert_eq!(filter(&[&filtered]), filtered);
}

/// What the tokenizer found, however the stream was cut.
#[derive(Debug, PartialEq, Eq)]
struct Tokens {
    /// The visible text.
    visible: Vec<u8>,
    /// The payload of each string.
    strings: Vec<Vec<u8>>,
    /// Where in the visible text the cursor may have moved.
    moves: Vec<usize>,
    /// Each control sequence: its parameter bytes, and its final byte unless it was cut short.
    csis: Vec<(Vec<u8>, Option<u8>)>,
}

/// The tokens from feeding `parts` in order; `sequences`: with the control sequences
/// ([`EscapeParser::feed_sequences`]), else as [`EscapeParser::feed`] reports them.
fn tokenize(parts: &[&[u8]], sequences: bool) -> Tokens {
    let mut parser = EscapeParser::default();
    let mut visible = Vec::new();
    let mut strings = Vec::new();
    let mut moves = Vec::new();
    let mut csis: Vec<(Vec<u8>, Option<u8>)> = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for part in parts {
        // Pieces come in order, inside the chunk, and never overlap.
        let mut next = 0;
        let mut take = |r: std::ops::Range<usize>| {
            assert!(
                next <= r.start && r.start < r.end && r.end <= part.len(),
                "{r:?}"
            );
            next = r.end;
            &part[r]
        };
        let mut piece = |piece| match piece {
            Piece::Visible(r) => visible.extend_from_slice(take(r)),
            Piece::Payload(r) => open.get_or_insert_with(Vec::new).extend_from_slice(take(r)),
            Piece::StringEnd => strings.extend(open.take()),
            Piece::Separator(end) => {
                assert!(end >= 1 && end <= part.len(), "{end}");
                moves.push(visible.len());
            }
            Piece::CsiStart => csis.push((Vec::new(), None)),
            Piece::CsiParams(r) => match csis.last_mut() {
                Some((params, None)) => params.extend_from_slice(take(r)),
                _ => panic!("parameters outside a control sequence"),
            },
            Piece::CsiEnd(last) => match csis.last_mut() {
                Some((_, end @ None)) => *end = Some(last),
                _ => panic!("the end of no control sequence"),
            },
        };
        if sequences {
            parser.feed_sequences(part, &mut piece);
        } else {
            parser.feed(part, |p| {
                assert!(
                    !matches!(p, Piece::CsiStart | Piece::CsiParams(_) | Piece::CsiEnd(_)),
                    "feed reported {p:?}"
                );
                piece(p);
            });
        }
    }
    strings.extend(open);
    Tokens {
        visible,
        strings,
        moves,
        csis,
    }
}

fn filter(parts: &[&str]) -> String {
    let mut f = TerminalFilter::default();
    let mut out = String::new();
    for p in parts {
        f.push(p, &mut out);
    }
    out
}

/// `text` cut at the given sizes, each cut moved forward to a character boundary.
fn char_chunks<'a>(text: &'a str, sizes: &[usize]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= text.len() {
            break;
        }
        let mut end = (at + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[at..end]);
        at = end;
    }
    if out.is_empty() {
        out.push(text);
    }
    out
}

/// Final bytes of the control sequences `cat` may pass: colours and attributes, cursor moves,
/// erasing.
const SAFE_FINALS: &str = "mABCDEFGHJKfd";

/// Only text, tab, newline, carriage return, backspace, and `ESC [ digits/;/: final` with a
/// safe final byte: nothing that writes the clipboard, sets a title, makes the terminal
/// answer, or redefines keys.
pub(crate) fn assert_harmless(out: &str) {
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            assert_eq!(chars.next(), Some('['), "a bare ESC in {out:?}");
            let mut params = 0;
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == ';' || *c == ':')
            {
                chars.next();
                params += 1;
            }
            assert!(params <= 64, "a CSI of {params} parameter bytes");
            let last = chars.next();
            assert!(
                last.is_some_and(|f| SAFE_FINALS.contains(f)),
                "CSI final {last:?} in {out:?}"
            );
        } else {
            assert!(
                !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{8}'),
                "control {c:?} in {out:?}"
            );
        }
    }
}
