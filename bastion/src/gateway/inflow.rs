//! How much a client may send ahead of its targets: the bound on input memory.
//!
//! russh grants SSH window as data arrives, not as it is consumed, and delivers each message
//! into a bounded per-channel queue; a channel reader that stops taking messages blocks the
//! whole connection's event loop, which then neither sends output nor notices that the client
//! has gone. So the input pumps always keep taking what arrives, and the bound comes from the
//! window instead, through russh's one hook ([`russh::server::Handler::adjust_window`]): while
//! more than [`THROTTLE_AT`] of a connection's input waits for its targets, each window
//! adjustment grants a token [`TRICKLE`] bytes instead of [`CHANNEL_WINDOW`]. A client that
//! honours the window can then send at most what it was granted before, plus the trickle.
//!
//! The trickle is also what reopens the window: the next adjustment after the queue has drained
//! grants the full window again. Past [`SLOW_AT`] (a client still sending, slowly) a channel's
//! reader takes one message per [`SLOW_TAKE_EVERY`] only, which keeps the connection turning
//! (keepalives, window adjustments for the output, the client's disconnect) at a few bytes a
//! second; past [`LIMIT`] (a client that ignores the window) the channel is ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The SSH window each client channel starts with and is granted back (OpenSSH's default).
pub const CHANNEL_WINDOW: u32 = 2 << 20;

/// Input waiting for the targets of one connection before its window closes to a trickle.
pub const THROTTLE_AT: usize = 512 << 10;

/// The window granted while throttled: the least russh can grant and still ask again (a
/// target of 1 would never reopen).
pub const TRICKLE: u32 = 2;

/// Input waiting for one channel's target past which its reader slows down: what was queued
/// when the window closed, the window the client still held then, and some trickle.
pub const SLOW_AT: usize = THROTTLE_AT + CHANNEL_WINDOW as usize + (64 << 10);

/// How often a slowed reader takes one message.
pub const SLOW_TAKE_EVERY: Duration = Duration::from_millis(100);

/// Input waiting for one channel's target past which the channel is ended: at the trickle's
/// pace, hours of sending to a target that reads nothing, or a client ignoring the window.
pub const LIMIT: usize = SLOW_AT + (1 << 20);

/// One connection's input waiting for its targets.
#[derive(Debug, Default)]
pub struct Inflow {
    queued: AtomicUsize,
}

impl Inflow {
    /// The window to grant next (called by russh at each window adjustment).
    pub fn window(&self) -> u32 {
        if self.queued.load(Ordering::Relaxed) >= THROTTLE_AT {
            TRICKLE
        } else {
            CHANNEL_WINDOW
        }
    }

    /// Bytes waiting, all channels together.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// A counter for one channel's input.
    pub fn channel(self: &Arc<Self>) -> ChannelInflow {
        ChannelInflow {
            queued: AtomicUsize::new(0),
            connection: self.clone(),
        }
    }
}

/// One channel's input waiting for its target (counted in its connection's too). What is still
/// counted when it is dropped leaves the connection's count with it.
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
    }

    /// Bytes waiting on this channel.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether the reader should take messages slowly.
    pub fn slowed(&self) -> bool {
        self.queued() >= SLOW_AT
    }

    /// Whether `n` more bytes would pass [`LIMIT`].
    pub fn over_limit(&self, n: usize) -> bool {
        self.queued().saturating_add(n) > LIMIT
    }
}

impl Drop for ChannelInflow {
    fn drop(&mut self) {
        let left = *self.queued.get_mut();
        self.connection.queued.fetch_sub(left, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn the_window_closes_to_a_trickle_while_a_connection_has_much_waiting() {
        let conn = Arc::new(Inflow::default());
        let (a, b) = (conn.channel(), conn.channel());
        assert_eq!(conn.window(), CHANNEL_WINDOW);
        a.add(THROTTLE_AT / 2);
        b.add(THROTTLE_AT / 2 - 1);
        assert_eq!(conn.window(), CHANNEL_WINDOW);
        b.add(1);
        assert_eq!(conn.window(), TRICKLE);
        a.sub(1);
        assert_eq!(conn.window(), CHANNEL_WINDOW);
        // A channel that ends takes its share with it.
        drop(b);
        assert_eq!(conn.queued(), THROTTLE_AT / 2 - 1);
        a.sub(usize::MAX);
        assert_eq!((a.queued(), conn.queued()), (0, 0));
    }

    #[test]
    fn a_channel_slows_then_ends_past_its_bounds() {
        let conn = Arc::new(Inflow::default());
        let a = conn.channel();
        a.add(SLOW_AT - 1);
        assert!(!a.slowed());
        a.add(1);
        assert!(a.slowed());
        assert!(!a.over_limit(LIMIT - SLOW_AT));
        assert!(a.over_limit(LIMIT - SLOW_AT + 1));
    }
}
