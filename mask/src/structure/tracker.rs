//! The tracker: per-stream state, which mode owns the text, and the line-by-line loop that
//! hands text to the modes.

use super::ctx::{Ctx, Next, Span, Step};
use super::grammar::Grammar;
use super::idle::{self, Idle};
use super::limits::MAX_LINE;
use super::text::{self, complete_end};
use super::{csv, hl7, json, layout, record, table};

/// Visible text kept before the current line: a header line (and its line break).
const KEEP: u64 = MAX_LINE as u64 + 2;

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

impl Structure {
    /// Reads idle text until a structure starts (returns true: go on in the new mode) or the
    /// text runs out (false).
    fn idle_run(&mut self, ctx: &mut Ctx<'_>, end: u64) -> bool {
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
                let found = if rest.len() < idle::SHORT {
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
                match idle::line_start(&vis[i..n], after_cr, hl7) {
                    // Not all here yet: wait (nothing of a line's first bytes is masked).
                    hl7::Begins::Maybe => break,
                    hl7::Begins::No => {}
                    hl7::Begins::Yes => match first {
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
            let (trigger_at, delim) = if n - i < idle::SHORT {
                match idle::scan_short(vis, i, n, d_from, triggers, fields) {
                    idle::Short::Found(t, d) => (t, d),
                    idle::Short::Nothing(tail) => {
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
                    match idle::first_name_start(ctx, d) {
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
