//! Map from positions in the visible text to positions in the raw stream.
//!
//! Visible text is the raw stream with escape sequences cut out, so the map is piecewise
//! linear: runs of visible bytes that are contiguous in the raw stream. Storing runs instead of
//! one entry per byte keeps the common case (no escapes) at a single entry and no per-byte
//! work.
//!
//! A separator (a line break standing for a cursor move, see the `escape` crate) has no raw
//! byte of its own; it maps to the last byte of the sequence it stands for, which no other
//! visible byte maps to, so runs need no mark for it: the text after the sequence simply
//! continues its run.

use std::collections::VecDeque;

/// Runs of `(visible offset, raw offset)`; both are absolute stream offsets.
#[derive(Debug, Default, Clone)]
pub(crate) struct PosMap {
    /// Invariant: sorted by both fields, and within a run visible and raw offsets advance
    /// together, i.e. visible offset `v` in run `i` maps to `runs[i].1 + (v - runs[i].0)`.
    runs: VecDeque<(u64, u64)>,
}

impl PosMap {
    /// Records that visible offset `vis` is raw offset `raw` (the start of a visible run).
    pub(crate) fn note(&mut self, vis: u64, raw: u64) {
        if let Some(&(v0, r0)) = self.runs.back() {
            if vis >= v0 && raw >= r0 && raw - r0 == vis - v0 {
                return;
            }
        }
        self.runs.push_back((vis, raw));
    }

    /// Raw offset of visible offset `vis`, which must not be before the first kept run.
    pub(crate) fn raw(&self, vis: u64) -> u64 {
        let i = self.runs.partition_point(|&(v, _)| v <= vis);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some(&(v, r)) => r + (vis - v),
            // Unreachable by the invariant kept in `forget_before`; mapping to the position
            // itself is harmless because callers only map offsets they still hold.
            None => vis,
        }
    }

    /// The run holding visible offset `vis`: its first visible offset, that offset's raw
    /// offset, and the visible offset where the next run starts (`u64::MAX` for the last).
    pub(crate) fn run_at(&self, vis: u64) -> (u64, u64, u64) {
        let i = self.runs.partition_point(|&(v, _)| v <= vis);
        let next = self.runs.get(i).map_or(u64::MAX, |&(v, _)| v);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some(&(v, r)) => (v, r, next),
            // Unreachable by the invariant, as in `raw`.
            None => (vis, vis, vis + 1),
        }
    }

    /// Forgets runs that end before visible offset `vis` (keeps the run containing it).
    pub(crate) fn forget_before(&mut self, vis: u64) {
        while self.runs.len() > 1 && self.runs.get(1).is_some_and(|&(v, _)| v <= vis) {
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
}
