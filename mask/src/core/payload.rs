//! String payloads (window titles, hyperlink targets, clipboard writes): held until the string
//! ends, then matched as a text of their own by a second stream, or masked wholesale when too
//! long to be read as text.

use std::sync::Arc;

use super::{push_mask, Core};

/// Longest string payload (window title, hyperlink target) matched as a unit. A longer one
/// (clipboard data, an inline image) has all its letters and digits masked instead: it is
/// not held back without bound, and what it carries is not text for a person to read.
pub const MAX_STRING_SCANNED: usize = 4096;

/// The payload of an OSC/DCS/… string being received, as raw offsets.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenString {
    pub(super) start: u64,
    pub(super) end: u64,
    /// Too long to match as a unit: masked wholesale as it arrives, up to `masked_to`.
    pub(super) wholesale: bool,
    pub(super) masked_to: u64,
}

impl Core {
    /// Masks the payload of a string that ended: matched as text of its own, or wholesale if
    /// it was too long for that.
    pub(super) fn mask_payload(&mut self, s: OpenString) {
        let too_long = s.end - s.start > MAX_STRING_SCANNED as u64;
        if s.wholesale || too_long || s.start < self.raw_base {
            // Part of it is out already (the held-bytes cap): mask the rest, fail closed.
            self.mask_wholesale(s.masked_to.max(s.start), s.end);
            return;
        }
        let (from, to) = (
            (s.start - self.raw_base) as usize,
            (s.end - self.raw_base) as usize,
        );
        let engine = &self.engine;
        let sub = self
            .payloads
            .get_or_insert_with(|| Box::new(Core::new(Arc::clone(engine))));
        if self.hits.is_some() {
            sub.record_hits();
        }
        self.payload_out.clear();
        sub.push(&self.raw[from..to], &mut self.payload_out);
        sub.finish(&mut self.payload_out);
        if let Some(hits) = self.hits.as_mut() {
            hits.extend(sub.take_hits().into_iter().map(|mut h| {
                h.range = h.range.start + s.start as usize..h.range.end + s.start as usize;
                h
            }));
        }
        let payload = &self.raw[from..to];
        if self.payload_out.as_slice() == payload {
            return;
        }
        if self.payload_out.len() != payload.len() {
            // A masked non-ASCII character changed the length: no byte-for-byte map back.
            self.mask_wholesale(s.start, s.end);
            return;
        }
        for (i, (a, b)) in payload.iter().zip(&self.payload_out).enumerate() {
            if a != b {
                push_mask(&mut self.masks, s.start + i as u64, 1, 1);
            }
        }
    }

    /// Masks what arrived of a string too long to match as a unit.
    pub(super) fn mask_open_string_wholesale(&mut self) {
        if let Some(open) = self.string.filter(|o| o.wholesale) {
            self.mask_wholesale(open.masked_to, open.end);
            if let Some(o) = self.string.as_mut() {
                o.masked_to = open.end;
            }
        }
    }

    /// Masks every letter, digit and non-ASCII byte in raw `[from, to)` still held.
    fn mask_wholesale(&mut self, from: u64, to: u64) {
        let from = from.max(self.raw_base);
        for at in from..to {
            let b = self.raw[(at - self.raw_base) as usize];
            if b.is_ascii_alphanumeric() || !b.is_ascii() {
                push_mask(&mut self.masks, at, 1, 1);
            }
        }
    }
}
