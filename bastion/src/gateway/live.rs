//! Live masking of what the user sees: one live masker per output stream. A possible
//! identifier is held back at most the configured hold (15 ms by default) so typing stays
//! smooth; recordings use the exact masker instead (see [`super::recording`]).

use std::time::{Duration, Instant};

use bytes::Bytes;
use recorder::mask::{LiveMasker, Masker};

/// The two output streams of a channel. The stderr masker is made on first use: terminal
/// sessions have no stderr, and each masker carries its own match caches.
pub struct LiveMasks {
    masker: Masker,
    hold: Duration,
    out: LiveMasker,
    err: Option<LiveMasker>,
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
            masker: masker.clone(),
            hold,
            out: masker.live(hold),
            err: None,
        }
    }

    /// Masks a chunk of stdout; returns what may be shown now.
    pub fn out(&mut self, data: &[u8]) -> Option<Bytes> {
        bytes(self.out.push(data, Instant::now()))
    }

    /// Masks a chunk of stderr; returns what may be shown now.
    pub fn err(&mut self, data: &[u8]) -> Option<Bytes> {
        let (masker, hold) = (&self.masker, self.hold);
        let err = self.err.get_or_insert_with(|| masker.live(hold));
        bytes(err.push(data, Instant::now()))
    }

    /// When held bytes must be released.
    pub fn deadline(&self) -> Option<Instant> {
        match (
            self.out.next_deadline(),
            self.err.as_ref().and_then(LiveMasker::next_deadline),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases what is due.
    pub fn poll(&mut self) -> Released {
        let now = Instant::now();
        Released {
            out: bytes(self.out.poll(now)),
            err: self.err.as_mut().and_then(|e| bytes(e.poll(now))),
        }
    }

    /// The streams ended: releases everything, masked as far as it can be.
    pub fn finish(&mut self) -> Released {
        Released {
            out: bytes(self.out.finish()),
            err: self.err.as_mut().and_then(|e| bytes(e.finish())),
        }
    }
}
