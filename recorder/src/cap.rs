//! The per-channel cap on recorded output.

use ring::digest::{Context, SHA256};

/// Default cap: a cast file of 64 MiB per channel. A `cat` of a multi-gigabyte dump should not
/// fill the recordings disk, but what was sent must still be accountable: once output would
/// take the file past the cap, the bytes are counted and hashed instead of stored.
pub const DEFAULT_OUTPUT_CAP: u64 = 64 * 1024 * 1024;

/// The output that was not recorded: counted and hashed. The writer decides where the cap
/// falls (it knows the file's size); this keeps the account of what followed.
pub(crate) struct OutputCap {
    /// Largest cast file, in bytes.
    limit: u64,
    /// Count and running SHA-256 of every byte refused, in arrival order; `None` until the cap
    /// is first reached.
    omitted: Option<(u64, Context)>,
}

impl OutputCap {
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            omitted: None,
        }
    }

    /// Whether output is no longer recorded.
    pub(crate) fn reached(&self) -> bool {
        self.omitted.is_some()
    }

    /// Counts and hashes `bytes`, which are not recorded; from the first call on the cap is
    /// reached (even for no bytes).
    pub(crate) fn omit(&mut self, bytes: &[u8]) {
        let (count, ctx) = self
            .omitted
            .get_or_insert_with(|| (0, Context::new(&SHA256)));
        *count += bytes.len() as u64;
        ctx.update(bytes);
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
    fn counts_and_hashes_what_it_is_given() {
        let mut cap = OutputCap::new(5);
        assert!(!cap.reached());
        assert_eq!(cap.finish(), None);
        cap.omit(b"fgh");
        cap.omit(b"ij");
        assert!(cap.reached());
        let (n, h) = cap.finish().unwrap();
        assert_eq!(n, 5);
        assert_eq!(cap.omitted_bytes(), 5);
        assert_eq!(h, digest(&SHA256, b"fghij").as_ref());
    }
}
