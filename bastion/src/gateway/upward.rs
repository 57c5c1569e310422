//! Client → target writes, queued to their own task.
//!
//! russh grants SSH window as data arrives, not as it is consumed, so the only backpressure on
//! a client is its connection's event loop waiting for us to take a message. That same loop
//! sends the output to the client. If the input side waited on a target that is itself waiting
//! for its output to drain (`cat` of a large stream), loop → input → target → output → loop
//! would deadlock. So input is queued here and written upstream by a separate task; the reader
//! stops taking input once [`INPUT_CAP`] bytes are queued, unless the output side is waiting to
//! reach the client (then the loop must keep turning, and the queue may briefly exceed the cap,
//! up to [`INPUT_HARD_CAP`], where the channel is ended).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::{ChannelWriteHalf, Sig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Input queued for the target before the reader waits.
pub const INPUT_CAP: usize = 1 << 20;

/// Input queued for the target, at most, even while the output side waits: past this the
/// target is not keeping up with what the client keeps sending, and the channel is ended
/// rather than let one client grow the bastion's memory without bound. Generous, because a
/// two-way stream (`… | ssh host cat | …`) legitimately queues while both sides drain.
pub const INPUT_HARD_CAP: usize = 128 << 20;

enum Op {
    Data(Bytes),
    Eof,
    WindowChange(u32, u32, u32, u32),
    Signal(Sig),
}

/// The queue's sending side, used by the input pump.
pub struct Upward {
    tx: mpsc::UnboundedSender<Op>,
    queued: Arc<AtomicUsize>,
    /// Set by the output pump while it waits to write to the client.
    pub output_waiting: Arc<AtomicBool>,
}

impl Upward {
    /// Starts the writer task for `up`; it ends when the queue is dropped, a write fails, or
    /// `done` is cancelled.
    pub fn start(up: Arc<ChannelWriteHalf<russh::client::Msg>>, done: CancellationToken) -> Upward {
        let (tx, mut rx) = mpsc::unbounded_channel::<Op>();
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        tokio::spawn(async move {
            loop {
                let op = tokio::select! {
                    op = rx.recv() => op,
                    _ = done.cancelled() => None,
                };
                let Some(op) = op else { break };
                let r = match op {
                    Op::Data(d) => {
                        let n = d.len();
                        let r = tokio::select! {
                            r = up.data_bytes(d) => r,
                            _ = done.cancelled() => break,
                        };
                        q.fetch_sub(n, Ordering::Relaxed);
                        r
                    }
                    Op::Eof => up.eof().await,
                    Op::WindowChange(c, r, pw, ph) => up.window_change(c, r, pw, ph).await,
                    Op::Signal(s) => up.signal(s).await,
                };
                if r.is_err() {
                    done.cancel();
                    break;
                }
            }
        });
        Upward {
            tx,
            queued,
            output_waiting: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Waits while the queue is full, unless the output side needs the event loop.
    pub async fn room(&self, done: &CancellationToken) {
        while self.queued.load(Ordering::Relaxed) >= INPUT_CAP
            && !self.output_waiting.load(Ordering::Relaxed)
        {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                _ = done.cancelled() => return,
            }
        }
    }

    /// Whether queueing `len` more bytes would pass [`INPUT_HARD_CAP`].
    pub fn overfull(&self, len: usize) -> bool {
        self.queued.load(Ordering::Relaxed).saturating_add(len) > INPUT_HARD_CAP
    }

    fn push(&self, op: Op) -> Result<(), ()> {
        self.tx.send(op).map_err(|_| ())
    }

    /// Queues data for the target.
    pub fn data(&self, d: Bytes) -> Result<(), ()> {
        self.queued.fetch_add(d.len(), Ordering::Relaxed);
        self.push(Op::Data(d))
    }

    /// Queues EOF.
    pub fn eof(&self) -> Result<(), ()> {
        self.push(Op::Eof)
    }

    /// Queues a window change.
    pub fn window_change(&self, c: u32, r: u32, pw: u32, ph: u32) -> Result<(), ()> {
        self.push(Op::WindowChange(c, r, pw, ph))
    }

    /// Queues a signal.
    pub fn signal(&self, s: Sig) -> Result<(), ()> {
        self.push(Op::Signal(s))
    }
}
