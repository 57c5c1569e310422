//! psql's expanded output (`\x`, `psql -x`): one `name | value` line per column under a
//! `-[ RECORD 1 ]-` line, the value masked when the name is a sensitive field.
//!
//! ```text
//! -[ RECORD 1 ]-----------
//! id         | 1
//! birth_date | 1961-04-02
//! note       | first line +
//!            | second line
//! ```
//!
//! The name is known when its `|` arrives, before any of the value, so nothing is held. A line
//! with an empty name continues the previous value (a multi-line cell). With `\pset border 2`
//! lines are framed (`| name | value |`) and the record line starts with `+`. The records end at
//! a line that is neither a record line nor a field line.

use std::sync::Arc;

use super::ctx::{Ctx, Next, Step};
use super::layout::{draw_at, Draw};
use crate::fields::{trim_name, MAX_NAME};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Framed lines: before the first bar.
    Lead,
    Name,
    Value,
    /// Not a field line.
    Other,
}

#[derive(Debug, Clone)]
pub(super) struct Record {
    framed: bool,
    phase: Phase,
    name: Vec<u8>,
    /// The name was longer than any field's: taken for sensitive.
    long: bool,
    sensitive: bool,
    why: Option<Arc<str>>,
    /// The previous line's value was masked (an empty name continues it).
    last: (bool, Option<Arc<str>>),
    value_from: u64,
    /// A bar was seen on this line: it is a field line.
    field_line: bool,
    cr: bool,
}

/// Whether a line is psql's record separator, `-[ RECORD 12 ]----` (or `+-[ RECORD 12 ]-+`).
pub(super) fn is_record_line(text: &[u8]) -> bool {
    let t = text.trim_ascii_start();
    let t = t.strip_prefix(b"+").unwrap_or(t);
    let Some(rest) = t.strip_prefix(b"-[ RECORD ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest[digits..].starts_with(b" ]")
}

impl Record {
    pub(super) fn new(line: &[u8]) -> Record {
        let framed = line.trim_ascii_start().starts_with(b"+");
        Record {
            framed,
            phase: if framed { Phase::Lead } else { Phase::Name },
            name: Vec::new(),
            long: false,
            sensitive: false,
            why: None,
            last: (false, None),
            value_from: 0,
            field_line: false,
            cr: false,
        }
    }

    fn new_line(&mut self) {
        self.phase = if self.framed {
            Phase::Lead
        } else {
            Phase::Name
        };
        self.name.clear();
        self.long = false;
        self.sensitive = false;
        self.field_line = false;
        self.cr = false;
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>, upto: u64) {
        if self.phase == Phase::Value && self.sensitive {
            ctx.emit(self.value_from, upto, &self.why);
        }
        self.value_from = upto;
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
            if self.cr {
                // The line is drawn over from its start (a pager's prompt, then the line).
                self.flush(ctx, at);
                self.new_line();
            }
            if b == b'\r' {
                self.flush(ctx, at);
                self.cr = true;
                i += 1;
                continue;
            }
            let (len, d) = draw_at(ctx.vis, i);
            match self.phase {
                Phase::Lead => match d {
                    Draw::Space => {}
                    Draw::Vertical => self.phase = Phase::Name,
                    _ => self.phase = Phase::Other,
                },
                Phase::Name if d == Draw::Vertical => {
                    self.field_line = true;
                    let name = trim_name(&self.name);
                    if name.is_empty() {
                        (self.sensitive, self.why) = self.last.clone();
                    } else {
                        let field = ctx.fields().lookup(name);
                        self.sensitive = field.is_some() || self.long;
                        self.why = match field {
                            Some(f) => ctx.why(|| ctx.fields().reason("field", name, f)),
                            None if self.long => ctx.why(|| "field with a very long name".into()),
                            None => None,
                        };
                    }
                    self.phase = Phase::Value;
                    self.value_from = at + len as u64;
                }
                Phase::Name => {
                    if self.name.len() + len <= MAX_NAME {
                        self.name.extend_from_slice(&ctx.vis[i..i + len]);
                    } else {
                        self.long = true;
                    }
                }
                Phase::Value | Phase::Other => {}
            }
            i += len;
        }
        self.flush(ctx, end);
        Step::More(end)
    }

    pub(super) fn line_end(&mut self, ctx: &mut Ctx<'_>, line: Option<(u64, u64)>) -> Next {
        let field_line = self.field_line;
        if field_line {
            self.last = (self.sensitive, self.why.clone());
        }
        self.new_line();
        if field_line {
            return Next::Stay;
        }
        match line {
            Some((s, e)) if is_record_line(ctx.slice(s, e)) => {
                self.last = (false, None);
                Next::Stay
            }
            _ => Next::Idle,
        }
    }
}
