//! The hash chain over the lines of a cast file.
//!
//! ```text
//! h0 = SHA-256(CHAIN_DOMAIN ‖ header line)
//! hᵢ = SHA-256(hᵢ₋₁ ‖ line i)          i = 1, 2, … over every line after the header
//! ```
//! Lines are hashed as written, without their terminating `\n` (lines never contain a raw
//! newline: JSON escapes it). `hᵢ₋₁` enters as its 32 raw bytes. Comment lines (`# stderr`) are
//! lines like any other, so they cannot be added or removed unnoticed.

use ring::digest::{Context, SHA256};

/// Domain separation tag for `h0`, so no other SHA-256 use can produce a valid chain start.
pub const CHAIN_DOMAIN: &[u8] = b"bastion-recording-chain-v1\0";

/// A running hash chain.
#[derive(Debug, Clone)]
pub struct HashChain {
    header: [u8; 32],
    /// Invariant: `hash` is `h_lines`, the hash after the first `lines` event lines.
    hash: [u8; 32],
    lines: u64,
}

impl HashChain {
    /// Starts a chain at `h0` from the header line (without newline).
    pub fn new(header_line: &[u8]) -> Self {
        let mut ctx = Context::new(&SHA256);
        ctx.update(CHAIN_DOMAIN);
        ctx.update(header_line);
        let h0 = digest_bytes(ctx);
        Self {
            header: h0,
            hash: h0,
            lines: 0,
        }
    }

    /// Extends the chain by one event line (without newline).
    pub fn push(&mut self, line: &[u8]) {
        let mut ctx = Context::new(&SHA256);
        ctx.update(&self.hash);
        ctx.update(line);
        self.hash = digest_bytes(ctx);
        self.lines += 1;
    }

    /// `h0`, the hash of the header alone.
    pub fn header_hash(&self) -> [u8; 32] {
        self.header
    }

    /// The current hash `h_lines`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Event lines pushed so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }
}

fn digest_bytes(ctx: Context) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;
    use ring::digest::digest;

    #[test]
    fn follows_the_documented_formula() {
        let mut chain = HashChain::new(b"{\"version\":3}");
        let h0 = digest(&SHA256, b"bastion-recording-chain-v1\0{\"version\":3}");
        assert_eq!(chain.hash(), h0.as_ref());
        chain.push(b"[0.0, \"o\", \"a\"]");
        let mut input = h0.as_ref().to_vec();
        input.extend_from_slice(b"[0.0, \"o\", \"a\"]");
        assert_eq!(chain.hash(), digest(&SHA256, &input).as_ref());
        assert_eq!(chain.lines(), 1);
        assert_eq!(chain.header_hash(), h0.as_ref());
    }

    #[test]
    fn order_matters() {
        let mut a = HashChain::new(b"h");
        a.push(b"1");
        a.push(b"2");
        let mut b = HashChain::new(b"h");
        b.push(b"2");
        b.push(b"1");
        assert_ne!(a.hash(), b.hash());
    }
}
