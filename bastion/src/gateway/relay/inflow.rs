//! How much a client may send ahead of its targets: the bound on input memory.
//!
//! russh grants SSH window as data arrives, not as it is consumed, and delivers each message
//! into a short per-channel queue; a reader that stops taking messages blocks the connection's
//! event loop, which then sends no output, answers no keepalive and does not notice that the
//! client has gone. So input readers never stop for long, and the bound comes from the window,
//! through russh's one hook for it ([`russh::server::Handler::adjust_window`]).
//!
//! A connection has a budget ([`BUDGET`]) of input that may wait for its targets: each window
//! adjustment grants what is left of it (at most [`CHANNEL_WINDOW`], at least [`TRICKLE`]
//! bytes), so windows shrink as input piles up and grow back as it drains, and a client that
//! honours the window cannot have much more than the budget waiting. At the budget the
//! connection is *throttled*: its channels' readers take one message per [`SLOW_TAKE_EVERY`]
//! (or as soon as the input has drained below it), so the event loop keeps turning a few times
//! a second. The trickle is also what reopens the window: the first adjustment after the input
//! has drained grants room again. A channel whose input passes [`LIMIT`] (a client ignoring
//! the window, or hours of trickle to a target that reads nothing) is ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The SSH window each client channel starts with and is granted back (OpenSSH's default).
pub const CHANNEL_WINDOW: u32 = 2 << 20;

/// Input that may wait for the targets of one connection: windows shrink as it fills; past it
/// the connection is throttled.
pub const BUDGET: usize = 1536 << 10;

/// The window granted while throttled: the least russh can grant and still ask again (a
/// target of 1 would never reopen).
pub const TRICKLE: u32 = 2;

/// How often a throttled reader takes a message while its input does not drain.
pub const SLOW_TAKE_EVERY: Duration = Duration::from_millis(100);

/// Input waiting for one channel's target past which the channel is ended: the mark, the
/// window the client may still have held when it closed, and a margin the trickle takes hours
/// to fill.
pub const LIMIT: usize = BUDGET + CHANNEL_WINDOW as usize + (1 << 20);

/// One connection's input waiting for its targets.
#[derive(Debug, Default)]
pub struct Inflow {
    queued: AtomicUsize,
    /// Told whenever some of it has gone on.
    drained: Notify,
}

impl Inflow {
    /// The window to grant next (called by russh at each window adjustment): what is left of
    /// the budget.
    pub fn window(&self) -> u32 {
        let left = BUDGET.saturating_sub(self.queued.load(Ordering::Relaxed));
        u32::try_from(left)
            .unwrap_or(CHANNEL_WINDOW)
            .clamp(TRICKLE, CHANNEL_WINDOW)
    }

    fn throttled(&self) -> bool {
        self.queued.load(Ordering::Relaxed) >= BUDGET
    }

    /// A counter for one channel's input.
    pub fn channel(self: &Arc<Self>) -> ChannelInflow {
        ChannelInflow {
            queued: AtomicUsize::new(0),
            connection: self.clone(),
        }
    }
}

/// One channel's input waiting (counted in its connection's too). What is still counted when it
/// is dropped leaves the connection's count with it.
#[derive(Debug)]
pub struct ChannelInflow {
    queued: AtomicUsize,
    connection: Arc<Inflow>,
}

impl ChannelInflow {
    /// `n` more bytes wait.
    pub fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::Relaxed);
        self.connection.queued.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` bytes went on (or were dropped).
    pub fn sub(&self, n: usize) {
        // Never below zero, whatever the caller's arithmetic.
        let taken = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(n))
            })
            .map_or(0, |before| before.min(n));
        self.connection.queued.fetch_sub(taken, Ordering::Relaxed);
        self.connection.drained.notify_waiters();
    }

    /// Bytes waiting on this channel.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether `n` more bytes would pass [`LIMIT`].
    pub fn over_limit(&self, n: usize) -> bool {
        self.queued().saturating_add(n) > LIMIT
    }

    /// Returns at once unless the connection is throttled; then once its input has drained
    /// below the mark, or after [`SLOW_TAKE_EVERY`] at the latest.
    pub async fn room(&self, done: &CancellationToken) {
        self.room_within(SLOW_TAKE_EVERY, done).await;
    }

    async fn room_within(&self, wait: Duration, done: &CancellationToken) {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before the check, so a drain in between is not missed.
            let drained = self.connection.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if !self.connection.throttled() {
                return;
            }
            tokio::select! {
                _ = drained => {}
                _ = tokio::time::sleep_until(deadline.into()) => return,
                _ = done.cancelled() => return,
            }
        }
    }
}

impl Drop for ChannelInflow {
    fn drop(&mut self) {
        let left = *self.queued.get_mut();
        self.connection.queued.fetch_sub(left, Ordering::Relaxed);
        self.connection.drained.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;

    #[test]
    fn the_window_shrinks_as_input_waits_and_closes_to_a_trickle_at_the_budget() {
        let conn = Arc::new(Inflow::default());
        let (a, b) = (conn.channel(), conn.channel());
        // Nothing waiting: the whole budget, within a channel's window.
        let whole = u32::try_from(BUDGET).unwrap().min(CHANNEL_WINDOW);
        assert_eq!(conn.window(), whole);
        a.add(BUDGET / 2);
        assert_eq!(conn.window(), u32::try_from(BUDGET / 2).unwrap());
        b.add(BUDGET / 2 - 1);
        assert_eq!(conn.window(), TRICKLE);
        b.add(1);
        assert_eq!(conn.window(), TRICKLE);
        a.sub(BUDGET / 4);
        assert_eq!(conn.window(), u32::try_from(BUDGET / 4).unwrap());
        // A channel that ends takes its share with it.
        drop(b);
        assert_eq!(conn.queued.load(Ordering::Relaxed), BUDGET / 4);
        a.sub(usize::MAX);
        assert_eq!((a.queued(), conn.queued.load(Ordering::Relaxed)), (0, 0));
        assert_eq!(conn.window(), whole);
    }

    #[test]
    fn a_channel_past_its_limit_is_told() {
        let conn = Arc::new(Inflow::default());
        let a = conn.channel();
        a.add(LIMIT - 10);
        assert!(!a.over_limit(10));
        assert!(a.over_limit(11));
    }

    #[tokio::test]
    async fn a_throttled_reader_waits_for_a_drain_or_a_tick() {
        let conn = Arc::new(Inflow::default());
        let (a, b) = (conn.channel(), conn.channel());
        let done = CancellationToken::new();
        let long = Duration::from_secs(30);
        // Not throttled: no wait.
        let t = Instant::now();
        a.room_within(long, &done).await;
        assert!(t.elapsed() < Duration::from_secs(5));
        // Throttled and nothing drains: one tick.
        a.add(BUDGET);
        let t = Instant::now();
        b.room_within(Duration::from_millis(50), &done).await;
        assert!(t.elapsed() >= Duration::from_millis(50));
        // A drain below the mark ends the wait at once.
        let t = Instant::now();
        tokio::join!(b.room_within(long, &done), async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            a.sub(1);
        });
        assert!(t.elapsed() < Duration::from_secs(5));
        // So does the end of the channel.
        a.add(1);
        let t = Instant::now();
        tokio::join!(b.room_within(long, &done), async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            done.cancel();
        });
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
