//! Client → target writes, queued to their own task.
//!
//! A write to the target waits for the target's SSH window. If the input pump waited on it, a
//! target that is itself waiting for its output to drain (`cat` of a large stream) would stop
//! the pump, the pump would stop the client connection's event loop (see [`super::inflow`]),
//! and the loop is what sends that output: nothing would move again. So input is queued here
//! and written upstream by a separate task; how much may wait is bounded through the client's
//! window ([`super::inflow`]), not by making the pump wait.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use russh::{ChannelWriteHalf, Sig};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::inflow::{ChannelInflow, SLOW_TAKE_EVERY};

enum Op {
    Data(Bytes),
    Eof,
    WindowChange(u32, u32, u32, u32),
    Signal(Sig),
}

/// The queue's sending side, used by the input pump. Dropping it stops the writer.
pub struct Upward {
    tx: mpsc::UnboundedSender<Op>,
    inflow: Arc<ChannelInflow>,
    /// Told by the writer each time it has passed data on.
    drained: Arc<Notify>,
    _writer: AbortOnDropHandle<()>,
}

impl Upward {
    /// Starts the writer task for `up`; it ends when the queue is dropped, a write fails, or
    /// `done` is cancelled. Queued bytes are counted in `inflow`.
    pub fn start(
        up: Arc<ChannelWriteHalf<russh::client::Msg>>,
        done: CancellationToken,
        inflow: Arc<ChannelInflow>,
    ) -> Upward {
        let (tx, mut rx) = mpsc::unbounded_channel::<Op>();
        let drained = Arc::new(Notify::new());
        let (q, told) = (inflow.clone(), drained.clone());
        let writer = tokio::spawn(async move {
            loop {
                let op = tokio::select! {
                    op = rx.recv() => op,
                    _ = done.cancelled() => None,
                };
                let Some(op) = op else { break };
                let write = async {
                    match op {
                        Op::Data(d) => {
                            let n = d.len();
                            let r = up.data_bytes(d).await;
                            q.sub(n);
                            told.notify_one();
                            r
                        }
                        Op::Eof => up.eof().await,
                        Op::WindowChange(c, r, pw, ph) => up.window_change(c, r, pw, ph).await,
                        Op::Signal(s) => up.signal(s).await,
                    }
                };
                // Every write waits on the target's connection: never longer than the channel.
                let r = tokio::select! {
                    r = write => r,
                    _ = done.cancelled() => break,
                };
                if r.is_err() {
                    done.cancel();
                    break;
                }
            }
        });
        Upward {
            tx,
            inflow,
            drained,
            _writer: AbortOnDropHandle::new(writer),
        }
    }

    /// Returns at once unless this channel's input is past [`super::inflow::SLOW_AT`]; then
    /// when enough of it has gone on, or [`SLOW_TAKE_EVERY`] at the latest.
    pub async fn room(&self, done: &CancellationToken) {
        let deadline = Instant::now() + SLOW_TAKE_EVERY;
        while self.inflow.slowed() {
            tokio::select! {
                _ = self.drained.notified() => {}
                _ = tokio::time::sleep_until(deadline.into()) => return,
                _ = done.cancelled() => return,
            }
        }
    }

    /// Whether queueing `len` more bytes would pass [`super::inflow::LIMIT`].
    pub fn over_limit(&self, len: usize) -> bool {
        self.inflow.over_limit(len)
    }

    fn push(&self, op: Op) -> Result<(), ()> {
        self.tx.send(op).map_err(|_| ())
    }

    /// Queues data for the target.
    pub fn data(&self, d: Bytes) -> Result<(), ()> {
        self.inflow.add(d.len());
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
