//! One scan, two views: the exact masking a recording needs and the latency-bounded masking a
//! screen needs, from the same matcher.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::Core;
use crate::engine::Engine;

/// Masks one output stream for both the recording and the user's screen.
///
/// The recording view is exactly the [`RecordingMasker`](super::RecordingMasker)'s: bytes that
/// could still be part of an identifier wait until they are decided. The screen sees the same
/// masked bytes, except that nothing waits longer than the hold: when it expires, the held
/// bytes go to the screen masked as they would be if the stream ended there (output that
/// pauses after an identifier shows it masked; a prefix that is no identifier yet goes as it
/// is), and whatever later bytes decide about them only reaches the recording, so the screen
/// may show more masking than the recording, never less. When the caller knows the held bytes
/// are the echo of what the user just typed, they go to the screen as they are (see
/// [`show_held`](DualMasker::show_held)). Scanning once serves both views.
#[derive(Debug)]
pub struct DualMasker {
    core: Core,
    hold: Duration,
    /// Arrival time of each chunk with bytes still held from the screen: `(raw end offset,
    /// time)`. Invariant: sorted; the front entry's chunk holds the oldest such byte.
    arrivals: VecDeque<(u64, Instant)>,
    /// Raw offset before which the screen has been served (at or past what the recording got).
    shown: u64,
    recording: Vec<u8>,
    screen: Vec<u8>,
}

/// What one call released. The screen gets `recording[screen_from..]` followed by
/// `screen_extra`: usually the same bytes as the recording, so callers can share them.
#[derive(Debug)]
pub struct Masked<'a> {
    /// For the recording (exact).
    pub recording: &'a [u8],
    /// Where the screen's part of `recording` begins.
    pub screen_from: usize,
    /// Held bytes released to the screen only because the hold expired, masked as if the
    /// stream ended there.
    pub screen_extra: &'a [u8],
}

impl Masked<'_> {
    /// The screen's bytes in one piece.
    pub fn screen(&self) -> Vec<u8> {
        let mut v = self.recording[self.screen_from..].to_vec();
        v.extend_from_slice(self.screen_extra);
        v
    }
}

impl DualMasker {
    pub(crate) fn new(engine: Arc<Engine>, hold: Duration) -> Self {
        DualMasker {
            core: Core::new(engine),
            hold,
            arrivals: VecDeque::new(),
            shown: 0,
            recording: Vec::new(),
            screen: Vec::new(),
        }
    }

    /// Takes the next chunk, received at `now`.
    pub fn push(&mut self, chunk: &[u8], now: Instant) -> Masked<'_> {
        self.recording.clear();
        self.screen.clear();
        let start = self.core.raw_released();
        if self.shown > start {
            self.core.set_mark(self.shown);
        }
        self.core.push(chunk, &mut self.recording);
        let screen_from = self.screen_from(start);
        if self.core.raw_end() > self.shown {
            self.arrivals.push_back((self.core.raw_end(), now));
        }
        self.expire(now);
        Masked {
            recording: &self.recording,
            screen_from,
            screen_extra: &self.screen,
        }
    }

    /// Shows every held byte now, as it is (the held bytes are the echo of the user's own
    /// typing). Returns them.
    pub fn show_held(&mut self) -> &[u8] {
        self.screen.clear();
        let from = self.shown.max(self.core.raw_released());
        self.screen.extend_from_slice(self.core.held_from(from));
        self.shown_all();
        &self.screen
    }

    /// Shows every held byte now, masked as if the stream ended here: what an expired hold
    /// shows. Returns them. For output that must reach the screen before what comes next is
    /// shown as it is (the echo of typing).
    pub fn show_settled(&mut self) -> &[u8] {
        self.screen.clear();
        self.release_settled();
        &self.screen
    }

    /// Returns held bytes whose hold has expired at `now`, for the screen (empty if none),
    /// masked as if the stream ended at `now`.
    pub fn poll(&mut self, now: Instant) -> &[u8] {
        self.screen.clear();
        self.expire(now);
        &self.screen
    }

    /// When [`poll`](DualMasker::poll) should next be called, if anything is held.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.arrivals.front().map(|&(_, t)| t + self.hold)
    }

    /// Ends the stream: everything still held, masked as far as it can be.
    pub fn finish(&mut self) -> Masked<'_> {
        self.recording.clear();
        self.screen.clear();
        let start = self.core.raw_released();
        if self.shown > start {
            self.core.set_mark(self.shown);
        }
        self.core.finish(&mut self.recording);
        let screen_from = self.screen_from(start);
        // The core starts over at offset 0.
        self.shown = 0;
        self.arrivals.clear();
        Masked {
            recording: &self.recording,
            screen_from,
            screen_extra: &self.screen,
        }
    }

    /// Bytes received but not yet in the recording.
    pub fn held(&self) -> usize {
        self.core.held()
    }

    /// Where the screen's part of what was just released starts; moves `shown` past it.
    fn screen_from(&mut self, start: u64) -> usize {
        let released = self.core.raw_released();
        let from = if self.shown <= start {
            0
        } else {
            // Marked when the mark was released; otherwise the screen is ahead of everything
            // released in this call.
            self.core.marked().unwrap_or(self.recording.len())
        };
        self.shown = self.shown.max(released);
        from
    }

    fn expire(&mut self, now: Instant) {
        let served = self.shown.max(self.core.raw_released());
        while self.arrivals.front().is_some_and(|&(end, _)| end <= served) {
            self.arrivals.pop_front();
        }
        if self.next_deadline().is_some_and(|d| now >= d) {
            self.release_settled();
        }
    }

    /// The held bytes not shown yet go to the screen as the end-of-stream decision would
    /// mask them: a complete identifier must not reach the screen just because output
    /// paused, whatever later bytes would make of it.
    fn release_settled(&mut self) {
        let from = self.shown.max(self.core.raw_released());
        self.core.settled_from(from, &mut self.screen);
        self.shown_all();
    }

    fn shown_all(&mut self) {
        self.shown = self.core.raw_end();
        self.arrivals.clear();
    }
}
