//! Live masking of what the user sees: one live masker per output stream. A possible
//! identifier is held back at most the configured hold (15 ms by default) so typing stays
//! smooth; recordings use the exact masker instead (see [`super::recording`]).

use std::time::{Duration, Instant};

use bytes::Bytes;
use recorder::mask::{LiveMasker, Masker};

/// The two output streams of a channel.
pub struct LiveMasks {
    out: LiveMasker,
    err: LiveMasker,
}

/// Bytes to send now, per stream.
#[derive(Default)]
pub struct Released {
    /// For stdout (or the terminal).
    pub out: Option<Bytes>,
    /// For stderr.
    pub err: Option<Bytes>,
}

fn bytes(b: &[u8]) -> Option<Bytes> {
    (!b.is_empty()).then(|| Bytes::copy_from_slice(b))
}

impl LiveMasks {
    /// Fresh maskers for one channel.
    pub fn new(masker: &Masker, hold: Duration) -> LiveMasks {
        LiveMasks {
            out: masker.live(hold),
            err: masker.live(hold),
        }
    }

    /// Masks a chunk of stdout; returns what may be shown now.
    pub fn out(&mut self, data: &[u8]) -> Option<Bytes> {
        bytes(self.out.push(data, Instant::now()))
    }

    /// Masks a chunk of stderr; returns what may be shown now.
    pub fn err(&mut self, data: &[u8]) -> Option<Bytes> {
        bytes(self.err.push(data, Instant::now()))
    }

    /// When held bytes must be released.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.out.next_deadline(), self.err.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases what is due.
    pub fn poll(&mut self) -> Released {
        let now = Instant::now();
        Released {
            out: bytes(self.out.poll(now)),
            err: bytes(self.err.poll(now)),
        }
    }

    /// The streams ended: releases everything, masked as far as it can be.
    pub fn finish(&mut self) -> Released {
        Released {
            out: bytes(self.out.finish()),
            err: bytes(self.err.finish()),
        }
    }
}
