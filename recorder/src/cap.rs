//! The per-channel cap on recorded output.

use ring::digest::{Context, SHA256};

/// Default cap: 64 MiB of output per channel. A `cat` of a multi-gigabyte dump should not fill
/// the recordings disk, but what was sent must still be accountable: past the cap the bytes are
/// counted and hashed instead of stored.
pub const DEFAULT_OUTPUT_CAP: u64 = 64 * 1024 * 1024;

/// Splits output into a recorded part and an omitted part that is only counted and hashed.
pub(crate) struct OutputCap {
    limit: u64,
    /// Invariant: `recorded <= limit`.
    recorded: u64,
    /// Count and running SHA-256 of every byte refused, in arrival order; `None` until the cap
    /// is first reached.
    omitted: Option<(u64, Context)>,
}

impl OutputCap {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            recorded: 0,
            omitted: None,
        }
    }

    /// Returns the prefix of `bytes` that may still be recorded and absorbs the rest.
    ///
    /// The second value is true when this call is the one that reached the cap.
    pub(crate) fn admit<'a>(&mut self, bytes: &'a [u8]) -> (&'a [u8], bool) {
        let room = self.limit - self.recorded;
        let take = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
        let (kept, rest) = bytes.split_at(take);
        self.recorded += kept.len() as u64;
        let mut reached_now = false;
        if !rest.is_empty() {
            let (count, ctx) = self.omitted.get_or_insert_with(|| {
                reached_now = true;
                (0, Context::new(&SHA256))
            });
            *count += rest.len() as u64;
            ctx.update(rest);
        }
        (kept, reached_now)
    }

    /// Bytes omitted so far.
    pub(crate) fn omitted_bytes(&self) -> u64 {
        self.omitted.as_ref().map_or(0, |(n, _)| *n)
    }

    /// Count and SHA-256 of the omitted bytes, if the cap was ever reached.
    pub(crate) fn finish(&self) -> Option<(u64, [u8; 32])> {
        self.omitted.as_ref().map(|(n, ctx)| {
            let mut h = [0u8; 32];
            h.copy_from_slice(ctx.clone().finish().as_ref());
            (*n, h)
        })
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use ring::digest::digest;

    #[test]
    fn splits_at_the_limit_and_hashes_the_rest() {
        let mut cap = OutputCap::new(5);
        assert_eq!(cap.admit(b"abc"), (&b"abc"[..], false));
        assert_eq!(cap.finish(), None);
        assert_eq!(cap.admit(b"defgh"), (&b"de"[..], true));
        assert_eq!(cap.admit(b"ij"), (&b""[..], false));
        let (n, h) = cap.finish().unwrap();
        assert_eq!(n, 5);
        assert_eq!(cap.omitted_bytes(), 5);
        assert_eq!(h, digest(&SHA256, b"fghij").as_ref());
    }
}
