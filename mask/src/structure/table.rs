//! Aligned tables: once a header naming a sensitive field is confirmed by the rule line under
//! it, each row's cells in those columns are masked until the table ends.
//!
//! Rows are read as they arrive, a character at a time, tracking the display column. A cell's
//! column is known when the cell starts, so its bytes are masked at once, with one exception:
//! whether a line is a row at all. A psql row is one when a `|` arrives where the rule had a
//! `+`; a spaced row when its first gap is blank. Until then the first cell is pending (if
//! its column is sensitive): a shell prompt after a table is not masked, a row is.
//!
//! A table ends at a line that is no row: a blank line (bars and boxed layouts; sqlite3
//! separates multi-line rows with blank lines, so not for spaced ones), a footer such as
//! `(3 rows)`, a box's bottom border, or any other text. A CR inside a line starts it over, as
//! on the screen: a pager's `:` prompt followed by CR and the next row is that row.
//!
//! A cell wider than its column (overflow) goes on to the next separator: in a sensitive
//! column the overflow is masked too.

use std::sync::Arc;

use super::ctx::{Ctx, Next, Step};
use super::layout::{self, draw_at, Draw, Kind, Layout};
use super::limits::{MAX_COLUMNS, MAX_PENDING, MAX_ROW};
use super::text::{advance, char_at};
use crate::fields::trim_name;

/// One column: whether it is masked, and why.
#[derive(Debug, Clone)]
struct Column {
    sensitive: bool,
    why: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing but spaces yet.
    Start,
    /// Maybe a row: the first cell is read, the proof (a `|` in place, a blank gap) is to
    /// come.
    Candidate,
    Row,
    /// A rule line inside the table (between rows of a box).
    Rule,
    /// A box's bottom border: the table ends with this line.
    Bottom,
    /// Not a row (so far: a CR may start the line over).
    NotRow,
}

/// A confirmed table.
#[derive(Debug, Clone)]
pub(super) struct Table {
    layout: Layout,
    columns: Vec<Column>,
    /// Why cells past the known columns are masked.
    beyond: Option<Arc<str>>,
    row: Row,
}

/// The current line.
#[derive(Debug, Clone)]
struct Row {
    phase: Phase,
    /// Display column of the next character.
    col: u32,
    cell: usize,
    /// Where the unqueued part of the current cell starts.
    cell_from: u64,
    /// Where the first cell starts while the line is only a candidate (if that cell is masked).
    pending_from: Option<u64>,
    /// Spaced layout: the first gap has only spaces so far; the last character was a space.
    gap_clean: bool,
    last_space: bool,
    /// Bytes in this line; past `MAX_ROW` everything is masked.
    bytes: usize,
    /// The last byte was a CR: the next one (unless a line feed) starts the line over.
    cr: bool,
    /// Any non-blank character in the line.
    inked: bool,
}

impl Row {
    fn new(at: u64) -> Row {
        Row {
            phase: Phase::Start,
            col: 0,
            cell: 0,
            cell_from: at,
            pending_from: None,
            gap_clean: true,
            last_space: true,
            bytes: 0,
            cr: false,
            inked: false,
        }
    }
}

impl Table {
    /// A table, if `header` and `rule` make one with at least one sensitive column.
    pub(super) fn start(ctx: &Ctx<'_>, header: &[u8], rule: &[u8], next: u64) -> Option<Table> {
        let padded = header.first() == Some(&b' ');
        let layout = layout::parse_rule(rule, padded)?;
        let names = layout::header_names(&layout, header)?;
        let mut columns = Vec::with_capacity(names.len().min(MAX_COLUMNS));
        let mut any = false;
        for (k, name) in names.iter().enumerate() {
            let name = trim_name(name);
            let field = if k < MAX_COLUMNS {
                ctx.fields().lookup(name)
            } else {
                None
            };
            let sensitive =
                field.is_some() || k >= MAX_COLUMNS || name.len() > crate::fields::MAX_NAME;
            any |= sensitive;
            let why = match field {
                Some(f) if sensitive => ctx.why(|| ctx.fields().reason("column", name, f)),
                _ if sensitive => ctx.why(|| "column past the ones known by name".into()),
                _ => None,
            };
            columns.push(Column { sensitive, why });
        }
        if !any {
            return None;
        }
        Some(Table {
            layout,
            columns,
            beyond: ctx.why(|| "cell past the table's header".into()),
            row: Row::new(next),
        })
    }

    pub(super) fn pending(&self) -> Option<u64> {
        self.row.pending_from
    }

    pub(super) fn layout(&self) -> &Layout {
        &self.layout
    }

    fn sensitive(&self, cell: usize) -> bool {
        self.row.bytes > MAX_ROW || self.columns.get(cell).is_none_or(|c| c.sensitive)
    }

    fn why(&self, cell: usize) -> &Option<Arc<str>> {
        self.columns.get(cell).map_or(&self.beyond, |c| &c.why)
    }

    /// Queues the current cell up to `upto` if it is masked.
    fn flush(&mut self, ctx: &mut Ctx<'_>, upto: u64) {
        if self.row.phase == Phase::Row && self.sensitive(self.row.cell) {
            let why = self.why(self.row.cell).clone();
            ctx.emit(self.row.cell_from, upto, &why);
        }
        self.row.cell_from = upto;
    }

    /// The current line is a row: its first cell (if masked) is queued from where it began.
    fn confirm(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        self.row.phase = Phase::Row;
        if let Some(from) = self.row.pending_from.take() {
            self.row.cell_from = from;
        }
        self.flush(ctx, at);
    }

    pub(super) fn part(&mut self, ctx: &mut Ctx<'_>, from: u64, end: u64) -> Step {
        let mut i = ctx.idx(from);
        let n = ctx.idx(end);
        while i < n {
            let b = ctx.vis[i];
            let at = ctx.base + i as u64;
            if b == b'\n' {
                self.flush(ctx, at);
                return Step::Line(at);
            }
            if self.row.cr {
                // A CR not followed by a line feed: the row is drawn over from its start.
                self.row.cr = false;
                self.flush(ctx, at);
                self.row = Row::new(at);
            }
            if b == b'\r' {
                self.flush(ctx, at);
                self.row.cr = true;
                i += 1;
                continue;
            }
            let (len, w) = char_at(ctx.vis, i);
            self.step(ctx, i, at, len, w);
            i += len;
            if let Some(p) = self.row.pending_from {
                if at + len as u64 - p > MAX_PENDING as u64 {
                    // Undecided for too long: a row, masked (fail safe).
                    self.confirm(ctx, at + len as u64);
                }
            }
        }
        self.flush(ctx, end);
        Step::More(end)
    }

    /// Reads one character of the current line.
    fn step(&mut self, ctx: &mut Ctx<'_>, i: usize, at: u64, len: usize, w: u32) {
        let b = ctx.vis[i];
        let col = self.row.col;
        self.row.col = advance(col, b, w);
        if self.row.bytes <= MAX_ROW && self.row.bytes + len > MAX_ROW {
            // From here on the row is masked: what came before is queued as it was.
            self.flush(ctx, at);
        }
        self.row.bytes += len;
        let space = b == b' ' || b == b'\t';
        self.row.inked |= !space;
        let bound = |t: &Table, k: usize| t.layout.bounds.get(k).copied();
        let nbounds = self.layout.bounds.len();
        match (self.layout.kind, self.row.phase) {
            (_, Phase::NotRow | Phase::Rule | Phase::Bottom) => {}
            (Kind::Bars, Phase::Start) => {
                if space {
                    self.row.phase = Phase::Candidate;
                    self.row.cell_from = at;
                    if self.sensitive(0) {
                        self.row.pending_from = Some(at);
                    }
                    if nbounds == 0 {
                        self.confirm(ctx, at);
                    }
                } else {
                    self.row.phase = Phase::NotRow;
                }
            }
            (Kind::Bars, Phase::Candidate) => {
                let (_, d) = draw_at(ctx.vis, i);
                if d == Draw::Vertical && bound(self, 0).is_some_and(|c| col >= c) {
                    self.confirm(ctx, at);
                    self.row.cell = 1;
                    self.row.cell_from = at + len as u64;
                }
            }
            (Kind::Bars, Phase::Row) => {
                let cell = self.row.cell;
                if bound(self, cell).is_some_and(|c| col >= c) {
                    let (_, d) = draw_at(ctx.vis, i);
                    if d == Draw::Vertical {
                        self.flush(ctx, at);
                        self.row.cell = cell + 1;
                        self.row.cell_from = at + len as u64;
                    }
                }
            }
            (Kind::Boxed, Phase::Start) => {
                if space {
                    return;
                }
                let (_, d) = draw_at(ctx.vis, i);
                self.row.phase = match d {
                    Draw::Vertical => {
                        self.row.cell = 0;
                        self.row.cell_from = at + len as u64;
                        Phase::Row
                    }
                    Draw::Horizontal | Draw::Junction => Phase::Rule,
                    Draw::Bottom => Phase::Bottom,
                    _ => Phase::NotRow,
                };
            }
            (Kind::Boxed, Phase::Row) => {
                let next = self.row.cell + 1;
                if bound(self, next).is_some_and(|c| col >= c) {
                    let (_, d) = draw_at(ctx.vis, i);
                    if d == Draw::Vertical {
                        self.flush(ctx, at);
                        self.row.cell = next;
                        self.row.cell_from = at + len as u64;
                        if next + 1 == nbounds {
                            // Past the right border: no cell.
                            self.row.phase = Phase::Rule;
                        }
                    }
                }
            }
            (Kind::Spaced, Phase::Start | Phase::Candidate) => {
                if self.row.phase == Phase::Start {
                    if space && bound(self, 0).is_some_and(|c| col < c) {
                        return;
                    }
                    self.row.phase = Phase::Candidate;
                    self.row.cell_from = at;
                    if self.sensitive(0) {
                        self.row.pending_from = Some(at);
                    }
                }
                match bound(self, 1) {
                    Some(next) if col >= next => {
                        if self.row.gap_clean {
                            self.confirm(ctx, at);
                            self.row.cell = 1;
                            self.row.cell_from = at;
                            self.spaced_cell(ctx, at, col, space);
                        } else {
                            self.row.pending_from = None;
                            self.row.phase = Phase::NotRow;
                        }
                    }
                    _ => {
                        if col >= self.layout.first_end && !space {
                            self.row.gap_clean = nbounds == 1;
                        }
                    }
                }
            }
            (Kind::Spaced, Phase::Row) => self.spaced_cell(ctx, at, col, space),
            (_, Phase::Candidate) => {}
        }
        self.row.last_space = space;
    }

    /// Spaced layout: a new column starts where its run of dashes did, unless the cell before
    /// runs on into it (then it goes on to the next space).
    fn spaced_cell(&mut self, ctx: &mut Ctx<'_>, at: u64, col: u32, space: bool) {
        let mut next = self.row.cell + 1;
        if !space && self.row.last_space {
            let mut moved = false;
            while self.layout.bounds.get(next).is_some_and(|&c| col >= c) {
                next += 1;
                moved = true;
            }
            if moved {
                self.flush(ctx, at);
                self.row.cell = next - 1;
                self.row.cell_from = at;
            }
        }
    }

    pub(super) fn line_end(&mut self, ctx: &mut Ctx<'_>, at: u64) -> Next {
        self.flush(ctx, at);
        let row = std::mem::replace(&mut self.row, Row::new(at + 1));
        match (self.layout.kind, row.phase) {
            (_, Phase::Row | Phase::Rule) => Next::Stay,
            (Kind::Spaced, Phase::Start) => Next::Stay,
            (Kind::Spaced, Phase::Candidate) if self.layout.bounds.len() == 1 => {
                // One column: a line no wider than the rule is a row.
                if row.col <= self.layout.width {
                    if let Some(from) = row.pending_from {
                        let why = self.why(0).clone();
                        ctx.emit(from, at, &why);
                    }
                    Next::Stay
                } else {
                    Next::Idle
                }
            }
            (Kind::Spaced, Phase::Candidate) if !row.inked => Next::Stay,
            _ => Next::Idle,
        }
    }

    /// The end of the stream: a line still undecided is taken for a row (fail safe).
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        if self.row.pending_from.is_some() {
            self.confirm(ctx, at);
        }
    }
}
