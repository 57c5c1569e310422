//! String payloads (window titles, hyperlink targets, clipboard writes): held until the string
//! ends, then matched as a text of their own by a second stream, or masked wholesale when too
//! long to be read as text.

use super::ops::{push_mask, MaskOp};

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

/// Queues a mask for every letter, digit and non-ASCII byte of raw `[from, to)` still held
/// (`raw[0]` is raw offset `raw_base`).
pub(super) fn mask_wholesale(
    masks: &mut Vec<MaskOp>,
    raw: &[u8],
    raw_base: u64,
    from: u64,
    to: u64,
) {
    let from = from.max(raw_base);
    for at in from..to {
        let b = raw[(at - raw_base) as usize];
        if b.is_ascii_alphanumeric() || !b.is_ascii() {
            push_mask(masks, at, 1, 1);
        }
    }
}

/// Queues a mask for each byte of `payload` (from raw offset `start` on) that its masked copy
/// `masked`, of the same length, changed.
pub(super) fn mask_changed(masks: &mut Vec<MaskOp>, start: u64, payload: &[u8], masked: &[u8]) {
    for (i, (a, b)) in payload.iter().zip(masked).enumerate() {
        if a != b {
            push_mask(masks, start + i as u64, 1, 1);
        }
    }
}
