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
//! Between structures the tracker is *idle* (`idle.rs`): it finds the lines whose first bytes
//! may start one (a rule line's dashes, `-[ RECORD 1 ]-` of a psql expanded record, `{` or
//! `[` of JSON, `MSH|` of HL7) and the lines whose first delimiter follows a short name (a CSV
//! header), without visiting every line, and examines them: a rule line under a header
//! naming a sensitive field starts an aligned table. A structure then owns the lines until it
//! ends: `table.rs` (with `layout.rs`), `record.rs`, `csv.rs`, `json.rs`, `hl7.rs`. A table or
//! CSV without a sensitive column is not tracked at all.
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
mod idle;
mod json;
mod layout;
mod record;
mod table;
mod text;

use std::sync::Arc;

use self::idle::{Idle, Triggers};
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

/// Visible text kept before the current line: a header line (and its line break).
const KEEP: u64 = MAX_LINE as u64 + 2;

/// Which fixed-format messages the tracker reads (besides tables and keys named by fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formats {
    /// HL7 v2 segments (PID, NK1, MRG, IN1, GT1 fields holding PHI).
    pub hl7: bool,
    /// FHIR JSON: `Patient`, `Person` and `RelatedPerson` resources.
    pub fhir: bool,
}

/// What the tracker reads by, built once per rule set and shared by its streams.
#[derive(Debug)]
pub(crate) struct Grammar {
    pub(crate) fields: FieldSet,
    pub(crate) formats: Formats,
    triggers: Triggers,
}

impl Grammar {
    pub(crate) fn new(fields: FieldSet, formats: Formats) -> Grammar {
        let triggers = Triggers::new(!fields.is_empty(), formats.hl7, formats.fhir);
        Grammar {
            fields,
            formats,
            triggers,
        }
    }

    /// Whether there is anything to track.
    fn on(&self) -> bool {
        !self.fields.is_empty() || self.formats.hl7 || self.formats.fhir
    }
}

/// A stretch of visible text to mask, in absolute visible offsets, and why (only built when
/// hits are recorded).
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) why: Option<Arc<str>>,
}

/// What the tracker reads with: the visible text, the grammar, and where spans go.
pub(super) struct Ctx<'a> {
    vis: &'a [u8],
    base: u64,
    g: &'a Grammar,
    /// Build reasons (for `mask-test`).
    record: bool,
    out: &'a mut Vec<Span>,
}

impl<'a> Ctx<'a> {
    fn fields(&self) -> &'a FieldSet {
        &self.g.fields
    }

    fn idx(&self, abs: u64) -> usize {
        usize::try_from(abs.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    /// Visible bytes `[from, to)`, empty if not kept.
    fn slice(&self, from: u64, to: u64) -> &'a [u8] {
        if from < self.base {
            return &[];
        }
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

/// Per-stream state of the tracker.
#[derive(Debug, Clone)]
pub(crate) struct Structure {
    /// Off when the rule set names no field and reads no format: nothing to track.
    on: bool,
    record: bool,
    /// Every visible byte before this offset has been read.
    done: u64,
    /// Where the current line starts (while idle and not reading a line, where the next line
    /// may start at the earliest).
    line_start: u64,
    mode: Mode,
}

impl Structure {
    pub(crate) fn new(g: &Grammar) -> Structure {
        Structure {
            on: g.on(),
            record: false,
            done: 0,
            line_start: 0,
            mode: Mode::Idle(Idle::fresh()),
        }
    }

    /// Whether anything is tracked at all.
    pub(crate) fn on(&self) -> bool {
        self.on
    }

    /// Builds reasons for the spans from now on (for `mask-test`).
    pub(crate) fn record_reasons(&mut self) {
        self.record = true;
    }

    /// Starts a new stream.
    pub(crate) fn reset(&mut self) {
        self.done = 0;
        self.line_start = 0;
        self.mode = Mode::Idle(Idle::fresh());
    }

    /// The earliest visible offset that may still be masked because of bytes not seen yet:
    /// nothing before it changes any more.
    pub(crate) fn pending(&self) -> u64 {
        if !self.on {
            return u64::MAX;
        }
        let held = match &self.mode {
            // Idle, nothing read is ever masked later: what is read again (a line break at
            // the end, which may start a structure with the next bytes) starts no mask.
            Mode::Idle(_) => return u64::MAX,
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
        let line = if self.done - self.line_start.min(self.done) <= MAX_LINE as u64 {
            self.line_start.min(self.done)
        } else {
            self.done
        };
        line.saturating_sub(KEEP).min(self.pending())
    }

    /// Reads `vis[done..]` (`vis[0]` is visible offset `base`, and everything from
    /// [`keep_from`](Structure::keep_from) on is there) and queues spans to mask.
    #[inline]
    pub(crate) fn feed(&mut self, g: &Grammar, vis: &[u8], base: u64, out: &mut Vec<Span>) {
        if !self.on {
            return;
        }
        // Idle text of a few ASCII bytes without a line break or delimiter (typing, the echo
        // of keystrokes): nothing to look at. Checked first, as it is most calls.
        if let Mode::Idle(idle) = &self.mode {
            let from = usize::try_from(self.done.saturating_sub(base)).unwrap_or(usize::MAX);
            if let Some(new) = vis.get(from..).filter(|v| v.len() < 16) {
                if idle.quiet(new) {
                    self.done = base + vis.len() as u64;
                    return;
                }
            }
        }
        self.feed_all(g, vis, base, out);
    }

    fn feed_all(&mut self, g: &Grammar, vis: &[u8], base: u64, out: &mut Vec<Span>) {
        // A character whose last bytes have not arrived is read with them: its width and
        // its cell are only known then.
        let end = base + complete_end(vis) as u64;
        let mut ctx = Ctx {
            vis,
            base,
            g,
            record: self.record,
            out,
        };
        self.run(&mut ctx, end);
    }

    /// Ends the stream: every pending decision is taken as the end of the text makes it.
    pub(crate) fn finish(&mut self, g: &Grammar, vis: &[u8], base: u64, out: &mut Vec<Span>) {
        if !self.on {
            return;
        }
        let end = base + vis.len() as u64;
        let mut ctx = Ctx {
            vis,
            base,
            g,
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
                Mode::Idle(_) => {
                    if self.idle_run(ctx, end) {
                        continue;
                    }
                    break;
                }
                Mode::Table(t) => t.part(ctx, from, end),
                Mode::Record(r) => r.part(ctx, from, end),
                Mode::Csv(c) => c.part(ctx, from, end),
                Mode::Json(j) => {
                    let step = j.part(ctx, from, end);
                    if let Step::Switch(_) = step {
                        self.mode = Mode::Idle(Idle::skip());
                    }
                    step
                }
                Mode::Hl7(h) => match h.part(ctx, from, end) {
                    hl7::Hl7Step::Step(s) => s,
                    hl7::Hl7Step::NotASegment(at, fresh) => {
                        self.mode = Mode::Idle(if fresh { Idle::fresh() } else { Idle::skip() });
                        if fresh {
                            self.line_start = at;
                        }
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
    }

    /// The line `[line_start, at)` is complete (in a structure).
    fn line_end(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        let line = text::line_bounds(ctx, self.line_start, at);
        let next = match &mut self.mode {
            Mode::Idle(_) => Next::Idle,
            Mode::Table(t) => {
                let next = t.line_end(ctx, at);
                let layout = t.layout().clone();
                // A header and a rule of another shape under the rows: a new table, with its
                // own columns (rules between a box's rows have the shape of its own).
                if let Some(t2) = self.table_under(ctx, line, at + 1) {
                    if !t2.layout().same(&layout) {
                        self.mode = Mode::Table(Box::new(t2));
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
            self.mode = Mode::Idle(Idle::fresh());
        }
    }

    /// An idle line read to its end (`at`): what it starts, if anything.
    fn idle_line_end(&mut self, ctx: &mut Ctx<'_>, at: u64, delimited: bool) {
        self.mode = Mode::Idle(Idle::fresh());
        let Some((s, e)) = text::line_bounds(ctx, self.line_start, at) else {
            return;
        };
        let text = ctx.slice(s, e);
        if ctx.fields().is_empty() {
            return;
        }
        if record::is_record_line(text) {
            self.mode = Mode::Record(record::Record::new(text));
        } else if let Some(t) = self.table_under(ctx, Some((s, e)), at + 1) {
            self.mode = Mode::Table(Box::new(t));
        } else if delimited {
            if let Some(c) = csv::Csv::start(ctx, text, at + 1) {
                self.mode = Mode::Csv(Box::new(c));
            }
        }
    }

    /// A table, if `line` (of the line starting at `line_start`) is a rule line under a
    /// header naming a sensitive field.
    fn table_under(
        &self,
        ctx: &Ctx<'_>,
        line: Option<(u64, u64)>,
        next: u64,
    ) -> Option<table::Table> {
        let (s, e) = line?;
        let text = ctx.slice(s, e);
        if !layout::rule_bytes(text) {
            return None;
        }
        let (ps, pe) = idle::prev_line(ctx, self.line_start)?;
        let (hs, he) = text::line_bounds(ctx, ps, pe)?;
        let header = ctx.slice(hs, he);
        if header.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        table::Table::start(ctx, header, text, next)
    }
}
