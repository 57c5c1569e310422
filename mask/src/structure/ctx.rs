//! What the modes read with and report: the visible text and grammar, spans to mask, and
//! how far a mode got.

use std::sync::Arc;

use crate::fields::FieldSet;

use super::grammar::Grammar;

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
    pub(super) vis: &'a [u8],
    pub(super) base: u64,
    pub(super) g: &'a Grammar,
    /// Build reasons (for `mask-test`).
    pub(super) record: bool,
    pub(super) out: &'a mut Vec<Span>,
}

impl<'a> Ctx<'a> {
    pub(super) fn fields(&self) -> &'a FieldSet {
        &self.g.fields
    }

    pub(super) fn idx(&self, abs: u64) -> usize {
        usize::try_from(abs.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    /// Visible bytes `[from, to)`, empty if not kept.
    pub(super) fn slice(&self, from: u64, to: u64) -> &'a [u8] {
        if from < self.base {
            return &[];
        }
        self.vis
            .get(self.idx(from)..self.idx(to))
            .unwrap_or_default()
    }

    /// Queues `[start, end)` for masking; joins it to the previous span when they touch.
    pub(super) fn emit(&mut self, start: u64, end: u64, why: &Option<Arc<str>>) {
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
    pub(super) fn why(&self, make: impl FnOnce() -> String) -> Option<Arc<str>> {
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
pub(super) enum Step {
    /// Consumed everything up to here (the end of what is available): needs more.
    More(u64),
    /// The line ends at this offset (a `\n`, not consumed).
    Line(u64),
    /// The mode changed at this offset; go on from there with the new mode.
    Switch(u64),
}

/// What happens after a line ends.
pub(super) enum Next {
    Stay,
    Idle,
}
