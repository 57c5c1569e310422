//! Map from positions in the visible text to positions in the raw stream.
//!
//! Visible text is the raw stream with escape sequences cut out, so the map is piecewise
//! linear: runs of visible bytes that are contiguous in the raw stream. Storing runs instead of
//! one entry per byte keeps the common case (no escapes) at a single entry and no per-byte
//! work.
//!
//! A separator (a line break standing for a cursor move, see `escape.rs`) is a visible byte
//! with no raw byte of its own: a run of one byte, zero bytes wide in the raw stream, at the
//! raw offset just after the sequence it stands for.

use std::collections::VecDeque;

/// A run of visible bytes: absolute stream offsets.
#[derive(Debug, Clone, Copy)]
struct Run {
    vis: u64,
    raw: u64,
    /// A separator: one visible byte that stands for no raw byte.
    separator: bool,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct PosMap {
    /// Invariant: sorted by both offsets (raw ones may repeat around a separator); within a run
    /// that is no separator visible and raw offsets advance together, i.e. visible offset `v`
    /// in run `i` maps to `runs[i].raw + (v - runs[i].vis)`. A separator run holds one visible
    /// byte.
    runs: VecDeque<Run>,
}

impl PosMap {
    /// Records that visible offset `vis` is raw offset `raw` (the start of a visible run).
    pub(crate) fn note(&mut self, vis: u64, raw: u64) {
        if let Some(last) = self.runs.back() {
            if !last.separator
                && vis >= last.vis
                && raw >= last.raw
                && raw - last.raw == vis - last.vis
            {
                return;
            }
        }
        self.runs.push_back(Run {
            vis,
            raw,
            separator: false,
        });
    }

    /// Records that visible offset `vis` is a separator standing just before raw offset `raw`.
    pub(crate) fn note_separator(&mut self, vis: u64, raw: u64) {
        self.runs.push_back(Run {
            vis,
            raw,
            separator: true,
        });
    }

    /// The run holding visible offset `vis`, and the index of the next.
    fn find(&self, vis: u64) -> (Option<&Run>, usize) {
        let i = self.runs.partition_point(|r| r.vis <= vis);
        (i.checked_sub(1).and_then(|i| self.runs.get(i)), i)
    }

    /// Raw offset of visible offset `vis`, which must not be before the first kept run. A
    /// separator's is the raw offset it stands before.
    pub(crate) fn raw(&self, vis: u64) -> u64 {
        match self.find(vis).0 {
            Some(r) if r.separator => r.raw,
            Some(r) => r.raw + (vis - r.vis),
            // Unreachable by the invariant kept in `forget_before`; mapping to the position
            // itself is harmless because callers only map offsets they still hold.
            None => vis,
        }
    }

    /// Whether visible offset `vis` is a separator.
    pub(crate) fn is_separator(&self, vis: u64) -> bool {
        self.find(vis).0.is_some_and(|r| r.separator)
    }

    /// The run holding visible offset `vis`, which must be no separator: its first visible
    /// offset, that offset's raw offset, and the visible offset where the next run starts
    /// (`u64::MAX` for the last).
    pub(crate) fn run_at(&self, vis: u64) -> (u64, u64, u64) {
        let (run, i) = self.find(vis);
        let next = self.runs.get(i).map_or(u64::MAX, |r| r.vis);
        match run {
            Some(r) => (r.vis, r.raw, next),
            // Unreachable by the invariant, as in `raw`.
            None => (vis, vis, vis + 1),
        }
    }

    /// Forgets runs that end before visible offset `vis` (keeps the run containing it).
    pub(crate) fn forget_before(&mut self, vis: u64) {
        while self.runs.len() > 1 && self.runs.get(1).is_some_and(|r| r.vis <= vis) {
            self.runs.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PosMap;

    #[test]
    fn maps_runs_and_merges_contiguous_ones() {
        let mut m = PosMap::default();
        m.note(0, 0);
        m.note(3, 3); // contiguous: merged
        m.note(3, 8); // an escape of 5 bytes
        m.note(10, 20);
        assert_eq!(m.runs.len(), 3);
        assert_eq!(m.raw(2), 2);
        assert_eq!(m.raw(3), 8);
        assert_eq!(m.raw(9), 14);
        assert_eq!(m.raw(12), 22);
        let direct: Vec<u64> = (0..13).map(|v| m.raw(v)).collect();
        let runs: Vec<u64> = (0..13)
            .map(|v| {
                let (v0, r0, next) = m.run_at(v);
                assert!(v0 <= v && v < next, "{v}: {v0}..{next}");
                r0 + (v - v0)
            })
            .collect();
        assert_eq!(runs, direct);
        m.forget_before(9);
        assert_eq!(m.runs.len(), 2);
        assert_eq!(m.raw(9), 14);
    }

    #[test]
    fn a_separator_has_no_raw_byte_and_takes_no_text_into_its_run() {
        // "ab" at raw 0, `ESC [ K` at raw 2..5 (a separator at visible 2), "cd" at raw 6 after
        // one hidden byte: the text after it must not be mapped as if it were the separator's.
        let mut m = PosMap::default();
        m.note(0, 0);
        m.note_separator(2, 5);
        m.note(3, 6);
        assert_eq!(m.runs.len(), 3);
        assert_eq!((m.raw(1), m.raw(2), m.raw(3), m.raw(4)), (1, 5, 6, 7));
        assert!(m.is_separator(2) && !m.is_separator(1) && !m.is_separator(3));
        assert_eq!(m.run_at(3), (3, 6, u64::MAX));
        assert_eq!(m.run_at(1), (0, 0, 2));
    }
}
