//! The latency-bounded masker used for what the user sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::dual::DualMasker;
use crate::engine::Engine;

/// Default longest time a byte is held back from the user's screen.
pub const DEFAULT_LIVE_HOLD: Duration = Duration::from_millis(15);

/// Masks one output stream with bounded added latency: the screen view of a [`DualMasker`].
///
/// Works like the [`RecordingMasker`](super::RecordingMasker), but no byte is held longer than
/// the configured hold: when it expires, held bytes go out masked as they would be if the
/// stream ended there, so output that stops after an identifier (a prompt, an editor waiting
/// for a key) shows it masked. The caller drives time:
/// pass `now` to [`push`](LiveMasker::push), and call [`poll`](LiveMasker::poll) at
/// [`next_deadline`](LiveMasker::next_deadline).
///
/// # Trade-off
///
/// An identifier whose bytes arrive more than the hold apart (a slow pipe, a user typing it)
/// may be shown partly unmasked: a part released on expiry while it was no identifier yet is
/// shown as it came, the part still held when the match completes is masked. Conversely text
/// masked on expiry stays masked on the screen even if later bytes make it no identifier
/// (`123-45-6789` followed by `0`). Recordings always use the exact masker.
#[derive(Debug)]
pub struct LiveMasker {
    dual: DualMasker,
    out: Vec<u8>,
}

impl LiveMasker {
    pub(crate) fn new(engine: Arc<Engine>, hold: Duration) -> Self {
        LiveMasker {
            dual: DualMasker::new(engine, hold),
            out: Vec::new(),
        }
    }

    /// Takes the next chunk received at `now`; returns the bytes to show now.
    pub fn push(&mut self, chunk: &[u8], now: Instant) -> &[u8] {
        let m = self.dual.push(chunk, now);
        self.out.clear();
        self.out.extend_from_slice(&m.recording[m.screen_from..]);
        self.out.extend_from_slice(m.screen_extra);
        &self.out
    }

    /// Returns held bytes whose hold has expired at `now` (empty if none), masked as if the
    /// stream ended at `now`.
    pub fn poll(&mut self, now: Instant) -> &[u8] {
        self.dual.poll(now)
    }

    /// When [`poll`](LiveMasker::poll) should next be called, if anything is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.dual.next_deadline()
    }

    /// Ends the stream and returns the held bytes, masked.
    pub fn finish(&mut self) -> &[u8] {
        let m = self.dual.finish();
        self.out.clear();
        self.out.extend_from_slice(&m.recording[m.screen_from..]);
        self.out.extend_from_slice(m.screen_extra);
        &self.out
    }

    /// Bytes received but not yet shown.
    pub fn held(&self) -> usize {
        self.dual.held()
    }
}
