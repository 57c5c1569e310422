//! The latency-bounded masker used for what the user sees.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::compile::Engine;
use super::core::Core;

/// Default longest time a byte is held back from the user's screen.
pub const DEFAULT_LIVE_HOLD: Duration = Duration::from_millis(15);

/// Masks one output stream with bounded added latency.
///
/// Works like the [`RecordingMasker`](super::RecordingMasker), but no byte is held longer than
/// the configured hold: when it expires, held bytes go out as they are. The caller drives time:
/// pass `now` to [`push`](LiveMasker::push), and call [`poll`](LiveMasker::poll) at
/// [`next_deadline`](LiveMasker::next_deadline).
///
/// # Trade-off
///
/// An identifier whose bytes arrive more than the hold apart (a slow pipe, a user typing it)
/// may be shown partly unmasked: the part released on expiry is shown as typed, the part still
/// held when the match completes is masked. Recordings always use the exact masker.
#[derive(Debug)]
pub struct LiveMasker {
    core: Core,
    hold: Duration,
    /// Arrival time of each chunk with bytes still held: `(raw end offset, time)`.
    /// Invariant: sorted; the front entry's chunk holds the oldest held byte.
    arrivals: VecDeque<(u64, Instant)>,
    out: Vec<u8>,
}

impl LiveMasker {
    pub(crate) fn new(engine: Arc<Engine>, hold: Duration) -> Self {
        LiveMasker {
            core: Core::new(engine),
            hold,
            arrivals: VecDeque::new(),
            out: Vec::new(),
        }
    }

    /// Takes the next chunk received at `now`; returns the bytes to show now.
    pub fn push(&mut self, chunk: &[u8], now: Instant) -> &[u8] {
        self.out.clear();
        self.core.push(chunk, &mut self.out);
        if self.core.held() > 0 {
            self.arrivals.push_back((self.core.raw_end(), now));
        }
        self.expire(now);
        &self.out
    }

    /// Returns held bytes whose hold has expired at `now` (empty if none).
    pub fn poll(&mut self, now: Instant) -> &[u8] {
        self.out.clear();
        self.expire(now);
        &self.out
    }

    /// When [`poll`](LiveMasker::poll) should next be called, if anything is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.arrivals.front().map(|&(_, t)| t + self.hold)
    }

    /// Ends the stream and returns the held bytes, masked.
    pub fn finish(&mut self) -> &[u8] {
        self.out.clear();
        self.core.finish(&mut self.out);
        self.arrivals.clear();
        &self.out
    }

    /// Bytes received but not yet shown.
    pub fn held(&self) -> usize {
        self.core.held()
    }

    fn expire(&mut self, now: Instant) {
        let released = self.core.raw_released();
        while self
            .arrivals
            .front()
            .is_some_and(|&(end, _)| end <= released)
        {
            self.arrivals.pop_front();
        }
        if self.next_deadline().is_some_and(|d| now >= d) {
            self.core.force_release(false, &mut self.out);
            self.arrivals.clear();
        }
    }
}
