//! Between structures: finding where one may start without reading every line.
//!
//! Almost all output is no structure, and the tracker reads all of it, so this path must cost
//! little more than one fast pass. Structures start at a line whose first byte says so (a rule
//! line's `-`, `+`, `=` or box character; `{` or `[` for JSON; a segment id for HL7) or at a
//! line that is a CSV header. Rather than visit each line, two searches run over the text: a
//! multi-pattern search (aho-corasick's SIMD Teddy) for a line break followed by one of those
//! first bytes, and a search for the first delimiter of a line (`,`, tab), which is a CSV header
//! only if what precedes it on its line is a short name. Only the lines they find are read
//! (to their end, then examined whole); the line before a rule line, its header, is found by
//! looking back.

use super::ctx::Ctx;
use super::hl7::{self, Begins};
use super::limits::MAX_LINE;
use super::triggers::{Triggers, CR_STARTS, STARTS};

/// How many bytes before a line's first delimiter may hold its first name.
const FIRST_NAME: usize = 64;

/// Whether a line starting with `text` starts a structure (or may, when too little of it is
/// here): what the searches of `idle_run` stop at, decided the same way wherever the line
/// starts (after a line break or a carriage return, at the start of the stream, after a
/// structure). `after_cr`: the byte before it is a carriage return.
pub(super) fn line_start(text: &[u8], after_cr: bool, hl7: bool) -> Begins {
    let Some(&first) = text.first() else {
        return Begins::Maybe;
    };
    let starts = if after_cr { CR_STARTS } else { STARTS };
    if let Some(&(_, seconds)) = starts.iter().find(|(f, _)| *f == first) {
        return match text.get(1) {
            Some(b) if seconds.contains(b) => Begins::Yes,
            Some(_) => Begins::No,
            None => Begins::Maybe,
        };
    }
    if hl7 && first.is_ascii_uppercase() {
        return hl7::Hl7::begins(text);
    }
    Begins::No
}

/// Below this many bytes, text is looked at byte by byte: a keystroke's echo is not worth
/// setting up a vector search.
pub(super) const SHORT: usize = 64;

/// The idle state.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Idle {
    /// `done` is where a line starts, and the line has not been looked at.
    pub(super) fresh: bool,
    /// The line from `line_start` is read to its end and examined there.
    pub(super) reading: bool,
    /// The line from `line_start` holds its first delimiter early: maybe a CSV header.
    pub(super) delimited: bool,
    /// Nothing is to be made of the rest of this line: skip to its end.
    pub(super) skip: bool,
    /// The delimiter search has looked at everything before this offset.
    pub(super) delims_from: u64,
}

impl Idle {
    /// At the start of a line.
    pub(super) fn fresh() -> Idle {
        Idle {
            fresh: true,
            ..Idle::default()
        }
    }

    /// Whether reading `new` (the next bytes) would change nothing: ASCII (a character
    /// is not cut), no line end or carriage return in it, and no delimiter when one is looked
    /// for.
    #[inline]
    pub(super) fn quiet(&self, new: &[u8]) -> bool {
        if self.fresh {
            return false;
        }
        if self.reading || self.skip {
            return new.iter().all(|&b| b != b'\n' && b < 0x80);
        }
        // A carriage return may start a line as a line feed does.
        new.iter()
            .all(|&b| b < 0x80 && !matches!(b, b'\n' | b'\r' | b',' | b'\t'))
    }

    /// In a line whose rest is of no interest.
    pub(super) fn skip() -> Idle {
        Idle {
            skip: true,
            ..Idle::default()
        }
    }
}

/// What `scan_short` found.
pub(super) enum Short {
    /// A line break that may start a structure, or a delimiter.
    Found(Option<usize>, Option<usize>),
    /// Neither; where to look again from next time (a line break whose next byte has not
    /// arrived, or the end).
    Nothing(usize),
}

/// The searches of `idle_run` on a few bytes, one at a time: a line break followed by a byte
/// that may start a structure (the line is then looked at), and a delimiter from `d_from` on.
pub(super) fn scan_short(
    vis: &[u8],
    i: usize,
    n: usize,
    d_from: usize,
    triggers: &Triggers,
    fields: bool,
) -> Short {
    let lines = triggers.enabled();
    for (k, &b) in vis[i..n].iter().enumerate() {
        let at = i + k;
        match b {
            b'\n' | b'\r' if lines => {
                let table = if b == b'\r' {
                    &triggers.cr_firsts
                } else {
                    &triggers.firsts
                };
                match vis.get(at + 1) {
                    Some(&next) if table[usize::from(next)] => return Short::Found(Some(at), None),
                    Some(_) => {}
                    // What follows is not here yet: look again from the line break.
                    None => return Short::Nothing(at),
                }
            }
            b',' | b'\t' if fields && at >= d_from => return Short::Found(None, Some(at)),
            _ => {}
        }
    }
    Short::Nothing(n)
}

/// Where the line holding the delimiter at `d` starts, if the text before the delimiter can
/// be a CSV header's first name: short, starting like a name, without a space unless quoted.
pub(super) fn first_name_start(ctx: &Ctx<'_>, d: usize) -> Option<usize> {
    let lo = d.saturating_sub(FIRST_NAME + 1);
    // A carriage return starts the line over too (bash writes one before a command's output).
    let start = match memchr::memrchr2(b'\n', b'\r', &ctx.vis[lo..d]) {
        Some(k) => lo + k + 1,
        // The start of the text kept is a line start only at the start of the stream.
        None if lo == 0 && ctx.base == 0 => 0,
        None => return None,
    };
    let name = &ctx.vis[start..d];
    let first = *name.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'"') {
        return None;
    }
    let mut quoted = false;
    for &b in name {
        match b {
            b'"' => quoted = !quoted,
            b' ' if !quoted => return None,
            _ => {}
        }
    }
    Some(start)
}

/// The line before the one starting at `line_start`, `[start, end)`, if it is kept and short
/// enough to be a header.
pub(super) fn prev_line(ctx: &Ctx<'_>, line_start: u64) -> Option<(u64, u64)> {
    let end = line_start.checked_sub(1)?;
    let e = ctx.idx(end);
    if end < ctx.base || e > ctx.vis.len() {
        return None;
    }
    let lo = e.saturating_sub(MAX_LINE + 1);
    let s = match memchr::memrchr(b'\n', &ctx.vis[lo..e]) {
        Some(k) => lo + k + 1,
        None if lo == 0 && ctx.base == 0 => 0,
        None => return None,
    };
    Some((ctx.base + s as u64, end))
}
