//! The structure tracker: where in the output PHI sits, beyond what a pattern can see.
//!
//! Regular expressions find identifiers by their shape or by a label right before them. Query
//! results put a date of birth under a `birth_date` header several lines up; JSON puts a name
//! inside `"name": [{…}]`; HL7 puts it in the fifth field of a PID segment. This tracker reads
//! the same visible text as the matcher (escape sequences cut out, cursor moves as line breaks),
//! line by line, keeps what it learnt (the columns of a table, the path in a JSON document) as
//! per-stream state, and emits the spans to mask: the cells of sensitive columns, the values of
//! sensitive keys, the PHI fields of HL7 segments. The core masks them like regex matches.
//!
//! # Modes
//!
//! Between structures the tracker is *idle*: it looks at the first bytes of each line (JSON
//! starts with `{` or `[`, HL7 with a segment id such as `PID|`) and at each complete line (a
//! rule line under a header candidate starts an aligned table; `-[ RECORD 1 ]-` a psql
//! expanded record; a line of delimited names a CSV header). A structure then owns the lines
//! until it ends: `table.rs`, `record.rs`, `csv.rs`, `json.rs`, `hl7.rs`. Only a header naming
//! a sensitive field starts a table or CSV: a table without one is not tracked at all.
//!
//! # Exact and streaming
//!
//! The tracker is a deterministic function of the visible bytes, fed as they come; every
//! decision about a byte is made from bytes before it, so the spans are the same in any
//! chunking. Where a decision must wait for later bytes (is this line a row of the table, or
//! the prompt after it? the first cell of a psql row is only known to be one at its first
//! `|`), the tracker reports the earliest such byte as [`Structure::pending`] and the core
//! releases nothing from there on until it is decided; [`Structure::finish`] decides at the end
//! of the stream, masking when in doubt. Where a cell's column is already known, its bytes are
//! masked as they arrive and nothing is held.
//!
//! # Bounds
//!
//! State is per stream and bounded: a header or rule line of at most [`MAX_LINE`] bytes and
//! [`MAX_COLUMNS`] columns (cells past the last known column are masked), a pending decision of
//! at most [`MAX_PENDING`] bytes (then the line is taken for a row and masked), a row of at most
//! [`MAX_ROW`] bytes (the rest of it is masked), a JSON path of at most 64 levels (deeper values
//! are masked), keys of at most 128 bytes (a longer one is taken for sensitive). The lines a
//! header may be read from are kept in the core's visible-text buffer ([`Structure::keep_from`]),
//! at most two lines of [`MAX_LINE`] bytes.
//!
//! The CSV and JSON readers are written here, not taken from a crate: they must consume bytes
//! as they arrive, cut anywhere, keep no more than a few bytes of state, and report where each
//! value starts and ends in the stream; the usual parsers want whole records or documents.

mod csv;
mod hl7;
mod json;
mod layout;
mod record;
mod table;
mod text;

use std::sync::Arc;

use super::fields::FieldSet;

pub(crate) use self::text::complete_end;

/// Longest line read as a table header, rule line, CSV header or psql record line.
pub const MAX_LINE: usize = 4096;
/// Columns known by name; cells past them are masked.
pub const MAX_COLUMNS: usize = 256;
/// Longest row of a table or CSV; past it the rest of the row is masked.
pub const MAX_ROW: usize = 64 * 1024;
/// Longest stretch held while the tracker decides whether a line is a row.
pub const MAX_PENDING: usize = 4096;

/// Which fixed-format messages the tracker reads (besides tables and keys named by fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formats {
    /// HL7 v2 segments (PID, NK1, MRG, IN1, GT1 fields holding PHI).
    pub hl7: bool,
    /// FHIR JSON: `Patient`, `Person` and `RelatedPerson` resources.
    pub fhir: bool,
}

/// A stretch of visible text to mask, in absolute visible offsets, and why (only built when
/// hits are recorded).
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) why: Option<Arc<str>>,
}

/// What the tracker reads with: the visible text, the field list, and where spans go.
pub(super) struct Ctx<'a> {
    vis: &'a [u8],
    base: u64,
    fields: &'a FieldSet,
    formats: Formats,
    /// Build reasons (for `mask-test`).
    record: bool,
    out: &'a mut Vec<Span>,
}

impl Ctx<'_> {
    fn idx(&self, abs: u64) -> usize {
        usize::try_from(abs.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    /// Visible bytes `[from, to)`, empty if not kept.
    fn slice(&self, from: u64, to: u64) -> &[u8] {
        self.vis
            .get(self.idx(from)..self.idx(to))
            .unwrap_or_default()
    }

    /// Queues `[start, end)` for masking; joins it to the previous span when they touch.
    fn emit(&mut self, start: u64, end: u64, why: &Option<Arc<str>>) {
        if start >= end {
            return;
        }
        if let Some(last) = self.out.last_mut() {
            if last.end == start && same(&last.why, why) {
                last.end = end;
                return;
            }
        }
        self.out.push(Span {
            start,
            end,
            why: why.clone(),
        });
    }

    /// A reason, only when hits are recorded.
    fn why(&self, make: impl FnOnce() -> String) -> Option<Arc<str>> {
        self.record.then(|| Arc::from(make()))
    }
}

fn same(a: &Option<Arc<str>>, b: &Option<Arc<str>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        _ => false,
    }
}

/// What a mode did with the bytes it was given.
enum Step {
    /// Consumed everything up to here (the end of what is available): needs more.
    More(u64),
    /// The line ends at this offset (a `\n`, not consumed).
    Line(u64),
    /// The mode changed at this offset; go on from there with the new mode.
    Switch(u64),
}

/// What happens after a line ends.
enum Next {
    Stay,
    Idle,
}

#[derive(Debug, Clone)]
enum Mode {
    Idle(Idle),
    Table(Box<table::Table>),
    Record(record::Record),
    Csv(Box<csv::Csv>),
    Json(Box<json::Json>),
    Hl7(hl7::Hl7),
}

/// The idle state of the current line.
#[derive(Debug, Clone, Copy, Default)]
struct Idle {
    /// A non-blank byte has been seen (and the line classified).
    started: bool,
    /// Nothing is to be made of the rest of this line (a JSON document ended or broke in it).
    skip: bool,
    /// The line holds a `,` or a tab: maybe a CSV or TSV header.
    delimited: bool,
}

/// Per-stream state of the tracker.
#[derive(Debug, Clone)]
pub(crate) struct Structure {
    /// Off when the rule set names no field and reads no format: nothing to track.
    on: bool,
    record: bool,
    /// Every visible byte before this offset has been read.
    done: u64,
    /// Where the current line starts.
    line_start: u64,
    /// The last complete line, `[start, end)` without its line break (nor a trailing CR),
    /// when it is short enough to be a table's header.
    prev: Option<(u64, u64)>,
    mode: Mode,
}

impl Structure {
    pub(crate) fn new(fields: &FieldSet, formats: Formats) -> Structure {
        Structure {
            on: !fields.is_empty() || formats.hl7 || formats.fhir,
            record: false,
            done: 0,
            line_start: 0,
            prev: None,
            mode: Mode::Idle(Idle::default()),
        }
    }

    /// Builds reasons for the spans from now on (for `mask-test`).
    pub(crate) fn record_reasons(&mut self) {
        self.record = true;
    }

    /// Starts a new stream.
    pub(crate) fn reset(&mut self) {
        self.done = 0;
        self.line_start = 0;
        self.prev = None;
        self.mode = Mode::Idle(Idle::default());
    }

    /// The earliest visible offset that may still be masked because of bytes not seen yet:
    /// nothing before it changes any more.
    pub(crate) fn pending(&self) -> u64 {
        if !self.on {
            return u64::MAX;
        }
        let held = match &self.mode {
            Mode::Table(t) => t.pending(),
            Mode::Csv(c) => c.pending(),
            _ => None,
        };
        held.map_or(self.done, |p| p.min(self.done))
    }

    /// The earliest visible offset the tracker may still read: the current line and the one
    /// before it (a header is read when the rule line under it ends).
    pub(crate) fn keep_from(&self) -> u64 {
        if !self.on {
            return u64::MAX;
        }
        if self.done - self.line_start > MAX_LINE as u64 {
            return self.pending();
        }
        let from = self
            .prev
            .map_or(self.line_start, |(s, _)| s.min(self.line_start));
        from.min(self.pending())
    }

    /// Reads `vis[done..]` (`vis[0]` is visible offset `base`, and everything from
    /// [`keep_from`](Structure::keep_from) on is there) and queues spans to mask.
    pub(crate) fn feed(
        &mut self,
        fields: &FieldSet,
        formats: Formats,
        vis: &[u8],
        base: u64,
        out: &mut Vec<Span>,
    ) {
        if !self.on {
            return;
        }
        // A character whose last bytes have not arrived is read with them: its width and
        // its cell are only known then.
        let end = base + complete_end(vis) as u64;
        let mut ctx = Ctx {
            vis,
            base,
            fields,
            formats,
            record: self.record,
            out,
        };
        self.run(&mut ctx, end);
    }

    /// Ends the stream: every pending decision is taken as the end of the text makes it.
    pub(crate) fn finish(
        &mut self,
        fields: &FieldSet,
        formats: Formats,
        vis: &[u8],
        base: u64,
        out: &mut Vec<Span>,
    ) {
        if !self.on {
            return;
        }
        let end = base + vis.len() as u64;
        let mut ctx = Ctx {
            vis,
            base,
            fields,
            formats,
            record: self.record,
            out,
        };
        self.run(&mut ctx, end);
        let done = self.done;
        match &mut self.mode {
            Mode::Table(t) => t.finish(&mut ctx, done),
            Mode::Csv(c) => c.finish(&mut ctx, done),
            _ => {}
        }
        self.reset();
    }

    fn run(&mut self, ctx: &mut Ctx<'_>, end: u64) {
        while self.done < end {
            let from = self.done;
            let step = match &mut self.mode {
                Mode::Idle(idle) => match idle_part(idle, ctx, from, end) {
                    IdleStep::Step(s) => s,
                    IdleStep::Enter(mode, at) => {
                        self.mode = mode;
                        Step::Switch(at)
                    }
                },
                Mode::Table(t) => t.part(ctx, from, end),
                Mode::Record(r) => r.part(ctx, from, end),
                Mode::Csv(c) => c.part(ctx, from, end),
                Mode::Json(j) => {
                    let step = j.part(ctx, from, end);
                    if let Step::Switch(_) = step {
                        self.mode = Mode::Idle(Idle {
                            started: true,
                            skip: true,
                            delimited: false,
                        });
                    }
                    step
                }
                Mode::Hl7(h) => match h.part(ctx, from, end) {
                    hl7::Hl7Step::Step(s) => s,
                    hl7::Hl7Step::NotASegment(at, fresh) => {
                        self.mode = Mode::Idle(Idle {
                            started: !fresh,
                            ..Idle::default()
                        });
                        Step::Switch(at)
                    }
                },
            };
            match step {
                Step::More(at) => {
                    self.done = at;
                    break;
                }
                Step::Switch(at) => self.done = at,
                Step::Line(at) => {
                    self.done = at;
                    self.line_end(ctx, at);
                    self.done = at + 1;
                    self.line_start = at + 1;
                }
            }
        }
        self.check_line_length();
    }

    /// A line too long to be a header, rule or record line is not kept for reading.
    fn check_line_length(&mut self) {
        if self.done - self.line_start > MAX_LINE as u64 {
            self.prev = None;
        }
    }

    /// The line `[line_start, at)` is complete.
    fn line_end(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        let line = text::line_bounds(ctx, self.line_start, at);
        let next = match &mut self.mode {
            Mode::Idle(idle) => {
                let idle = *idle;
                self.mode = Mode::Idle(Idle::default());
                if !idle.skip {
                    if let Some(mode) = self.idle_line(ctx, line, idle.delimited, at + 1) {
                        self.mode = mode;
                    }
                }
                Next::Stay
            }
            Mode::Table(t) => {
                let next = t.line_end(ctx, at);
                let layout = t.layout().clone();
                // A header and a rule of another shape under the rows: a new table, with its
                // own columns (rules between a box's rows have the shape of its own).
                if let Some(t2) = self.table_under(ctx, line, at + 1) {
                    if !t2.layout().same(&layout) {
                        self.mode = Mode::Table(Box::new(t2));
                        self.prev = None;
                        return;
                    }
                }
                next
            }
            Mode::Record(r) => r.line_end(ctx, line),
            Mode::Csv(c) => c.line_end(ctx, at, line),
            Mode::Json(j) => j.line_end(),
            Mode::Hl7(h) => h.line_end(),
        };
        if let Next::Idle = next {
            self.mode = Mode::Idle(Idle::default());
        }
        self.prev = line.filter(|(s, e)| e - s <= MAX_LINE as u64);
        if let Some((s, e)) = self.prev {
            // A blank line is no header.
            if ctx.slice(s, e).iter().all(|b| b.is_ascii_whitespace()) {
                self.prev = None;
            }
        }
    }

    /// What a complete line seen while idle starts, if anything (the next line starts at
    /// `next`).
    fn idle_line(
        &self,
        ctx: &Ctx<'_>,
        line: Option<(u64, u64)>,
        delimited: bool,
        next: u64,
    ) -> Option<Mode> {
        let (s, e) = line?;
        let text = ctx.slice(s, e);
        if ctx.fields.is_empty() {
            return None;
        }
        if record::is_record_line(text) {
            return Some(Mode::Record(record::Record::new(text)));
        }
        if let Some(t) = self.table_under(ctx, line, next) {
            return Some(Mode::Table(Box::new(t)));
        }
        if delimited {
            return csv::Csv::start(ctx, text, next).map(|c| Mode::Csv(Box::new(c)));
        }
        None
    }

    /// A table, if `line` is a rule line under a header naming a sensitive field.
    fn table_under(
        &self,
        ctx: &Ctx<'_>,
        line: Option<(u64, u64)>,
        next: u64,
    ) -> Option<table::Table> {
        let (s, e) = line?;
        let text = ctx.slice(s, e);
        let first = *text.iter().find(|b| !matches!(b, b' ' | b'\t'))?;
        if !layout::may_be_rule(first) {
            return None;
        }
        let (ps, pe) = self.prev?;
        table::Table::start(ctx, ctx.slice(ps, pe), text, next)
    }
}

/// What the idle reader did.
enum IdleStep {
    Step(Step),
    /// A structure starts at this offset.
    Enter(Mode, u64),
}

/// Reads an idle line from `from` (its start is `line_start`): classifies it by its first
/// bytes, then skips to its end noting delimiters.
fn idle_part(idle: &mut Idle, ctx: &mut Ctx<'_>, from: u64, end: u64) -> IdleStep {
    let mut i = ctx.idx(from);
    let n = ctx.idx(end);
    if !idle.started && !idle.skip {
        while i < n && matches!(ctx.vis[i], b' ' | b'\t' | b'\r') {
            i += 1;
        }
        if i == n {
            return IdleStep::Step(Step::More(end));
        }
        let at = ctx.base + i as u64;
        match ctx.vis[i] {
            b'{' | b'[' if !ctx.fields.is_empty() || ctx.formats.fhir => {
                return IdleStep::Enter(Mode::Json(Box::new(json::Json::new())), at);
            }
            b'A'..=b'Z' if ctx.formats.hl7 => match hl7::Hl7::begins(&ctx.vis[i..n]) {
                hl7::Begins::Yes => {
                    return IdleStep::Enter(Mode::Hl7(hl7::Hl7::new()), at);
                }
                // The segment id is not all here: wait for it (nothing before it is masked).
                hl7::Begins::Maybe => return IdleStep::Step(Step::More(at)),
                hl7::Begins::No => {}
            },
            _ => {}
        }
        idle.started = true;
    }
    // The rest of the line: find its end, and whether it holds a delimiter (only the first
    // one matters).
    loop {
        let rest = &ctx.vis[i..n];
        let hit = if idle.delimited || idle.skip {
            memchr::memchr(b'\n', rest)
        } else {
            memchr::memchr3(b'\n', b',', b'\t', rest)
        };
        match hit {
            None => return IdleStep::Step(Step::More(end)),
            Some(k) if rest[k] == b'\n' => {
                return IdleStep::Step(Step::Line(ctx.base + (i + k) as u64));
            }
            Some(k) => {
                idle.delimited = true;
                i += k + 1;
            }
        }
    }
}
