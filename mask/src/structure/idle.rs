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

use aho_corasick::packed;
use aho_corasick::AhoCorasick;

use super::hl7::Begins;
use super::{hl7, json, Ctx, Mode, Structure, MAX_LINE};

/// How many bytes before a line's first delimiter may hold its first name.
const FIRST_NAME: usize = 64;

/// The first two bytes of lines that may start a structure: rule lines (`----+--`,
/// `---  --`, `-[ RECORD`, `+---+`, `==`, box drawing U+2500 to U+257F) and JSON documents
/// (`{"…`, `{` alone as `jq` prints it, `[{`, …).
const STARTS: &[(u8, &[u8])] = &[
    (b'-', b"-+[ "),
    (b'=', b"=+ "),
    (b'+', b"-="),
    (0xe2, b"\x94\x95"),
    (b'{', b"\"\r\n "),
    (b'[', b"{\r\n "),
];

/// The same after a carriage return that is no line end (bash writes one before a command's
/// output; a pager before each line it redraws): what a command's first line may start. Fewer,
/// as the patterns of both (with HL7's four) must stay at most 32, where the vector search is
/// at its fastest.
const CR_STARTS: &[(u8, &[u8])] = &[
    (b'-', b"["),
    (b'+', b"-="),
    (0xe2, b"\x94\x95"),
    (b'{', b"\"\r"),
    (b'[', b"{\r"),
];

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
const SHORT: usize = 64;

/// The line breaks followed by a byte that may start a structure, searched for at once.
#[derive(Debug)]
pub(crate) struct Triggers {
    /// Teddy, where the CPU has the vector instructions it needs.
    teddy: Option<packed::Searcher>,
    /// Otherwise an automaton.
    ac: Option<AhoCorasick>,
    /// Longest pattern, in bytes: what a search must see again when more text comes.
    longest: usize,
    /// The second bytes of the patterns after a line feed, and after a carriage return:
    /// what makes the byte-by-byte look take the next line for a candidate.
    firsts: [bool; 256],
    cr_firsts: [bool; 256],
}

impl Triggers {
    pub(crate) fn new(fields: bool, hl7: bool, fhir: bool) -> Triggers {
        // A line break and the line's first bytes (at least two, so that the vector search
        // compares three bytes at once and rarely stops for nothing: `-rw-r--r--` is no
        // rule line). Exactly the lines `line_start` says start a structure.
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for (brk, starts) in [(b'\n', STARTS), (b'\r', CR_STARTS)] {
            for &(first, seconds) in starts {
                let wanted = match first {
                    b'{' | b'[' => fields || fhir,
                    _ => fields,
                };
                if wanted {
                    for &second in seconds {
                        patterns.push(vec![brk, first, second]);
                    }
                }
            }
        }
        if hl7 {
            for brk in [b'\n', b'\r'] {
                for id in hl7::OPENERS {
                    let mut p = vec![brk];
                    p.extend_from_slice(id);
                    p.push(b'|');
                    patterns.push(p);
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let mut firsts = [false; 256];
        let mut cr_firsts = [false; 256];
        for p in &patterns {
            if let (Some(&brk), Some(&b)) = (p.first(), p.get(1)) {
                let table = if brk == b'\r' {
                    &mut cr_firsts
                } else {
                    &mut firsts
                };
                table[usize::from(b)] = true;
            }
        }
        if patterns.is_empty() {
            return Triggers {
                teddy: None,
                ac: None,
                longest,
                firsts,
                cr_firsts,
            };
        }
        let teddy = packed::Config::new()
            .builder()
            .extend(patterns.iter())
            .build();
        let ac = match teddy {
            Some(_) => None,
            None => AhoCorasick::new(&patterns).ok(),
        };
        Triggers {
            teddy,
            ac,
            longest,
            firsts,
            cr_firsts,
        }
    }

    /// Where the first pattern in `hay` starts (its line break).
    fn find(&self, hay: &[u8]) -> Option<usize> {
        match (&self.teddy, &self.ac) {
            (Some(t), _) => t.find(hay).map(|m| m.start()),
            (None, Some(ac)) => ac.find(hay).map(|m| m.start()),
            (None, None) => None,
        }
    }

    fn enabled(&self) -> bool {
        self.teddy.is_some() || self.ac.is_some()
    }
}

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

impl Structure {
    /// Reads idle text until a structure starts (returns true: go on in the new mode) or the
    /// text runs out (false).
    pub(super) fn idle_run(&mut self, ctx: &mut Ctx<'_>, end: u64) -> bool {
        let Mode::Idle(state) = &self.mode else {
            return true;
        };
        let mut idle = *state;
        let vis = ctx.vis;
        let n = ctx.idx(end);
        let fields = !ctx.g.fields.is_empty();
        loop {
            let i = ctx.idx(self.done);
            if idle.reading || idle.skip {
                // To the end of this line.
                let rest = &vis[i..n];
                let found = if rest.len() < SHORT {
                    rest.iter().position(|&b| b == b'\n')
                } else {
                    memchr::memchr(b'\n', rest)
                };
                let Some(k) = found else {
                    self.done = end;
                    break;
                };
                let at = ctx.base + (i + k) as u64;
                if idle.reading {
                    self.mode = Mode::Idle(idle);
                    self.done = at;
                    self.idle_line_end(ctx, at, idle.delimited);
                } else {
                    self.mode = Mode::Idle(Idle::fresh());
                }
                self.done = at + 1;
                self.line_start = at + 1;
                match &self.mode {
                    Mode::Idle(next) => {
                        idle = Idle {
                            delims_from: idle.delims_from.max(at + 1),
                            ..*next
                        }
                    }
                    _ => return true,
                }
                continue;
            }
            if idle.fresh {
                if i == n {
                    break;
                }
                self.line_start = self.done;
                let first = vis[i];
                let hl7 = ctx.g.formats.hl7;
                let after_cr = i > 0 && vis[i - 1] == b'\r';
                match line_start(&vis[i..n], after_cr, hl7) {
                    // Not all here yet: wait (nothing of a line's first bytes is masked).
                    Begins::Maybe => break,
                    Begins::No => {}
                    Begins::Yes => match first {
                        b'{' | b'[' if fields || ctx.g.formats.fhir => {
                            self.mode = Mode::Json(Box::new(json::Json::new()));
                            return true;
                        }
                        b'A'..=b'Z' => {
                            self.mode = Mode::Hl7(hl7::Hl7::new());
                            return true;
                        }
                        _ if fields => idle.reading = true,
                        _ => {}
                    },
                }
                idle.fresh = false;
                continue;
            }
            // Search ahead: the next line that starts like a structure, and the next line
            // whose first delimiter follows a short name.
            let triggers = &ctx.g.triggers;
            let d_from = ctx.idx(idle.delims_from).max(i);
            let (trigger_at, delim) = if n - i < SHORT {
                match scan_short(vis, i, n, d_from, triggers, fields) {
                    Short::Found(t, d) => (t, d),
                    Short::Nothing(tail) => {
                        self.done = ctx.base + tail as u64;
                        idle.delims_from = end;
                        break;
                    }
                }
            } else {
                let trigger_at = triggers.find(&vis[i..n]).map(|k| i + k);
                let delim = if fields {
                    let limit = trigger_at.unwrap_or(n);
                    memchr::memchr2(b',', b'\t', &vis[d_from.min(limit)..limit]).map(|k| d_from + k)
                } else {
                    None
                };
                (trigger_at, delim)
            };
            match (trigger_at, delim) {
                (_, Some(d)) => {
                    idle.delims_from = ctx.base + d as u64 + 1;
                    // (The line may have started in text read before: a first delimiter that
                    // arrives later is the same.)
                    match first_name_start(ctx, d) {
                        Some(start) => {
                            self.line_start = ctx.base + start as u64;
                            idle.reading = true;
                            idle.delimited = true;
                        }
                        _ => idle.skip = true,
                    }
                    self.done = ctx.base + d as u64 + 1;
                }
                (Some(t), None) => {
                    // Past the line break: the line starts there.
                    self.done = ctx.base + t as u64 + 1;
                    idle.delims_from = idle.delims_from.max(self.done);
                    idle.fresh = true;
                }
                (None, None) => {
                    // Nothing here; a pattern cut off at the end is searched again next time.
                    let keep = triggers.longest.saturating_sub(1).min(n - i);
                    let tail =
                        memchr::memrchr2(b'\n', b'\r', &vis[n - keep..n]).map(|k| n - keep + k);
                    self.done = ctx.base + tail.unwrap_or(n) as u64;
                    idle.delims_from = end;
                    break;
                }
            }
        }
        if let Mode::Idle(state) = &mut self.mode {
            *state = idle;
        }
        false
    }
}

/// What `scan_short` found.
enum Short {
    /// A line break that may start a structure, or a delimiter.
    Found(Option<usize>, Option<usize>),
    /// Neither; where to look again from next time (a line break whose next byte has not
    /// arrived, or the end).
    Nothing(usize),
}

/// The searches of `idle_run` on a few bytes, one at a time: a line break followed by a byte
/// that may start a structure (the line is then looked at), and a delimiter from `d_from` on.
fn scan_short(
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
fn first_name_start(ctx: &Ctx<'_>, d: usize) -> Option<usize> {
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
