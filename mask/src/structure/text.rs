//! Characters and display columns of visible text, and the bounds of a line as a terminal
//! shows it.

use super::ctx::Ctx;
use super::limits::MAX_LINE;

/// Length of `vis` without a trailing character whose last bytes have not arrived.
pub(crate) fn complete_end(vis: &[u8]) -> usize {
    let n = vis.len();
    for j in (n.saturating_sub(3)..n).rev() {
        match vis[j] {
            0x80..=0xbf => continue,
            b @ 0xc2..=0xf4 => {
                let len = match b {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                return if j + len > n { j } else { n };
            }
            _ => return n,
        }
    }
    n
}

/// The character at `bytes[i]`: its length in bytes and its width in display columns (a tab
/// is given width 1 here; callers that track columns expand it). An invalid byte is one
/// column, as terminals draw a replacement character.
pub(super) fn char_at(bytes: &[u8], i: usize) -> (usize, u32) {
    let b = bytes[i];
    if b < 0x80 {
        return (1, u32::from(b >= 0x20 && b != 0x7f));
    }
    let len = match b {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (1, 1),
    };
    let Some(seq) = bytes.get(i..i + len) else {
        return (1, 1);
    };
    match std::str::from_utf8(seq).ok().and_then(|s| s.chars().next()) {
        Some(c) => (
            len,
            unicode_width::UnicodeWidthChar::width(c).map_or(0, |w| w as u32),
        ),
        None => (1, 1),
    }
}

/// The character at `bytes[i]`, decoded (`None` for ASCII or invalid bytes), with its length.
pub(super) fn decode(bytes: &[u8], i: usize) -> (usize, Option<char>) {
    let (len, _) = char_at(bytes, i);
    if len == 1 {
        return (1, None);
    }
    let c = bytes
        .get(i..i + len)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.chars().next());
    (len, c)
}

/// The next display column after a character of width `w` (`b` its first byte) at `col`.
pub(super) fn advance(col: u32, b: u8, w: u32) -> u32 {
    match b {
        b'\t' => (col / 8 + 1) * 8,
        0x08 => col.saturating_sub(1),
        _ => col + w,
    }
}

/// The part of the line `[start, end)` a terminal shows: without a trailing CR, and from the
/// last CR inside it on (a CR returns to the start of the row, and what follows overwrites
/// it: a pager's prompt then the next row). `None` if the line is no longer kept.
pub(super) fn line_bounds(ctx: &Ctx<'_>, start: u64, end: u64) -> Option<(u64, u64)> {
    if end - start > MAX_LINE as u64 || start < ctx.base {
        return None;
    }
    let text = ctx.slice(start, end);
    let mut e = text.len();
    if e > 0 && text[e - 1] == b'\r' {
        e -= 1;
    }
    let s = memchr::memrchr(b'\r', &text[..e]).map_or(0, |k| k + 1);
    Some((start + s as u64, start + e as u64))
}

/// Display columns of each character of a line: `(column, byte index, byte length, width)`.
pub(super) fn columns(text: &[u8]) -> Vec<(u32, usize, usize, u32)> {
    let mut out = Vec::with_capacity(text.len());
    let mut col = 0;
    let mut i = 0;
    while i < text.len() {
        let (len, w) = char_at(text, i);
        out.push((col, i, len, w));
        col = advance(col, text[i], w);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_characters_wait() {
        assert_eq!(complete_end(b"ab"), 2);
        assert_eq!(complete_end("a\u{2502}".as_bytes()), 4);
        assert_eq!(complete_end(&"a\u{2502}".as_bytes()[..3]), 1);
        assert_eq!(complete_end(&"a\u{e9}".as_bytes()[..2]), 1);
        assert_eq!(complete_end(b"a\xff"), 2);
    }

    #[test]
    fn widths() {
        assert_eq!(char_at(b"a", 0), (1, 1));
        assert_eq!(char_at("\u{2502}".as_bytes(), 0), (3, 1));
        assert_eq!(char_at("\u{5c71}".as_bytes(), 0), (3, 2));
        assert_eq!(char_at("e\u{301}".as_bytes(), 1), (2, 0));
        assert_eq!(advance(3, b'\t', 1), 8);
    }
}
