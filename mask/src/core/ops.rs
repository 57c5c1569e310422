//! The replacements queued for held raw bytes, applied when they are released.

/// One replacement applied when raw bytes are released: `len` consecutive raw bytes, each
/// written as `stars` `*`. Consecutive bytes alike share one op, so an identifier with no
/// escape inside costs one op, not one per character.
#[derive(Debug, Clone, Copy)]
pub(super) struct MaskOp {
    /// Absolute raw offset of the first byte to replace.
    pub(super) raw: u64,
    pub(super) len: u32,
    /// Number of `*` per byte (0 drops the byte: a UTF-8 continuation byte).
    pub(super) stars: u8,
}

/// Queues `len` masked raw bytes from `raw` on, extending the last op when it ends just
/// before and is masked alike. Ops are kept sorted and apart: a match found across a string
/// can come after the string's own masks, and the structure tracker masks cells that a rule
/// may have masked already. Bytes already queued keep their op (a byte is masked the same way
/// whoever masks it).
pub(super) fn push_mask(masks: &mut Vec<MaskOp>, raw: u64, len: u32, stars: u8) {
    let end = raw + u64::from(len);
    match masks.last_mut() {
        None => {
            masks.push(MaskOp { raw, len, stars });
            return;
        }
        Some(last) => {
            let last_end = last.raw + u64::from(last.len);
            if raw >= last_end {
                if last.stars == stars && last_end == raw {
                    if let Some(total) = last.len.checked_add(len) {
                        last.len = total;
                        return;
                    }
                }
                masks.push(MaskOp { raw, len, stars });
                return;
            }
        }
    }
    // Among or before queued ops: queue only the parts not covered yet.
    let mut i = masks.partition_point(|m| m.raw + u64::from(m.len) <= raw);
    let mut at = raw;
    while at < end {
        match masks.get(i) {
            Some(m) if m.raw <= at => {
                at = at.max(m.raw + u64::from(m.len));
                i += 1;
            }
            next => {
                let stop = next.map_or(end, |m| m.raw.min(end));
                let n = u32::try_from(stop - at).unwrap_or(u32::MAX);
                masks.insert(
                    i,
                    MaskOp {
                        raw: at,
                        len: n,
                        stars,
                    },
                );
                i += 1;
                at = stop;
            }
        }
    }
}
