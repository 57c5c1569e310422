//! Client → target writes, queued to their own task.
//!
//! A write to the target waits for the target's SSH window. If the input pump waited on it, a
//! target that is itself waiting for its output to drain (`cat` of a large stream) would stop
//! the pump, the pump would stop the client connection's event loop (see [`crate::gateway::relay::inflow`]),
//! and that loop is what sends the output: nothing would move again. So input is queued here
//! and written upstream by a separate task; how much may wait is bounded through the client's
//! window ([`crate::gateway::relay::inflow`]), not by making the pump wait.
//!
//! Small writes are joined in the queue: a throttled client sends a few bytes at a time, and a
//! queue entry per message would cost far more memory than the bytes it holds.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use russh::{ChannelWriteHalf, Sig};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use super::ended::Ended;
use crate::gateway::relay::inflow::ChannelInflow;

/// Longest a judged line waits for the target's window to take all of it at once.
const LINE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// Writes shorter than this are joined with the queued write before them.
const JOIN_BELOW: usize = 1024;
/// A joined write grows to at most this.
const JOINED_MAX: usize = 32 << 10;

enum Op {
    Data(Bytes),
    /// A judged line for a program reading its commands from stdin: written whole or not at
    /// all (see [`Upward::line`]).
    Line(Bytes),
    /// Small writes joined together.
    Joined(BytesMut),
    Eof,
    WindowChange(u32, u32, u32, u32),
    Signal(Sig),
}

/// What a queued request (not data) counts against the channel's input bounds.
const REQUEST_COST: usize = crate::gateway::relay::early::MESSAGE_COST;

impl Op {
    /// What the op counts against the channel's input bounds.
    fn cost(&self) -> usize {
        match self {
            Op::Data(d) | Op::Line(d) => d.len(),
            Op::Joined(d) => d.len(),
            Op::Signal(Sig::Custom(name)) => REQUEST_COST + name.len(),
            _ => REQUEST_COST,
        }
    }
}

/// The queue shared by the input pump and the writer.
#[derive(Default)]
struct Queue {
    ops: Mutex<VecDeque<Op>>,
    /// Told when an op is queued (or the queue is closing).
    ready: Notify,
    /// EOF has been queued: the target gets it once.
    eof: std::sync::atomic::AtomicBool,
}

/// The queue's sending side, used by the input pump. Dropping it stops the writer.
pub struct Upward {
    queue: Arc<Queue>,
    inflow: Arc<ChannelInflow>,
    done: CancellationToken,
    _writer: AbortOnDropHandle<()>,
}

impl Upward {
    /// Starts the writer task for `up`; it ends when a write fails or `done` is cancelled.
    /// Queued bytes are counted in `inflow`.
    pub fn start(
        up: Arc<ChannelWriteHalf<russh::client::Msg>>,
        done: CancellationToken,
        inflow: Arc<ChannelInflow>,
    ) -> Upward {
        let queue = Arc::<Queue>::default();
        let writer = tokio::spawn(write_loop(up, queue.clone(), done.clone(), inflow.clone()));
        Upward {
            queue,
            inflow,
            done,
            _writer: AbortOnDropHandle::new(writer),
        }
    }

    /// Whether queueing `len` more bytes would pass [`crate::gateway::relay::inflow::LIMIT`].
    pub fn over_limit(&self, len: usize) -> bool {
        self.inflow.over_limit(len)
    }

    fn push(&self, op: Op) -> Result<(), Ended> {
        if self.done.is_cancelled() {
            return Err(Ended);
        }
        let Ok(mut ops) = self.queue.ops.lock() else {
            return Err(Ended);
        };
        // Only the latest of several window changes waiting matters; a second EOF is none.
        if let (Op::WindowChange(..), Some(last @ Op::WindowChange(..))) = (&op, ops.back_mut()) {
            *last = op;
            return Ok(());
        }
        if matches!(op, Op::Eof) && self.queue.eof.swap(true, Ordering::Relaxed) {
            return Ok(());
        }
        if !matches!(op, Op::Data(_)) {
            self.inflow.add(op.cost());
        }
        match (op, ops.back_mut()) {
            (Op::Data(d), Some(Op::Joined(last)))
                if d.len() < JOIN_BELOW && last.len() + d.len() <= JOINED_MAX =>
            {
                last.extend_from_slice(&d);
            }
            (Op::Data(d), _) if d.len() < JOIN_BELOW => {
                ops.push_back(Op::Joined(BytesMut::from(&d[..])));
            }
            (op, _) => ops.push_back(op),
        }
        drop(ops);
        self.queue.ready.notify_one();
        Ok(())
    }

    /// Queues data for the target.
    pub fn data(&self, d: Bytes) -> Result<(), Ended> {
        self.inflow.add(d.len());
        self.push(Op::Data(d))
    }

    /// Queues a judged line (at most one packet long): it is written only once the target's
    /// window takes all of it, so that a channel ending part-way never leaves the program a
    /// truncated line to run at its end of input.
    pub fn line(&self, d: Bytes) -> Result<(), Ended> {
        self.inflow.add(d.len());
        if self.done.is_cancelled() {
            return Err(Ended);
        }
        let Ok(mut ops) = self.queue.ops.lock() else {
            return Err(Ended);
        };
        ops.push_back(Op::Line(d));
        drop(ops);
        self.queue.ready.notify_one();
        Ok(())
    }

    /// Queues EOF.
    pub fn eof(&self) -> Result<(), Ended> {
        self.push(Op::Eof)
    }

    /// Queues a window change.
    pub fn window_change(&self, c: u32, r: u32, pw: u32, ph: u32) -> Result<(), Ended> {
        self.push(Op::WindowChange(c, r, pw, ph))
    }

    /// Queues a signal.
    pub fn signal(&self, s: Sig) -> Result<(), Ended> {
        self.push(Op::Signal(s))
    }
}

/// Writes queued ops to the target in order until a write fails or `done` is cancelled.
async fn write_loop(
    up: Arc<ChannelWriteHalf<russh::client::Msg>>,
    queue: Arc<Queue>,
    done: CancellationToken,
    inflow: Arc<ChannelInflow>,
) {
    loop {
        let next = queue.ops.lock().ok().and_then(|mut q| q.pop_front());
        let Some(op) = next else {
            tokio::select! {
                _ = queue.ready.notified() => continue,
                _ = done.cancelled() => return,
            }
        };
        let cost = op.cost();
        let write = async {
            match op {
                Op::Data(d) => send(&up, d, &inflow).await,
                Op::Line(d) => {
                    // Nothing is sent until all of it fits: cancelled while waiting, the
                    // target got none of it. (A target whose packets are smaller than the line
                    // gets it in pieces after a while, rather than never.)
                    let patience = tokio::time::Instant::now() + LINE_PATIENCE;
                    while up.writable_packet_size().await < d.len()
                        && tokio::time::Instant::now() < patience
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    send(&up, d, &inflow).await
                }
                Op::Joined(d) => send(&up, d.freeze(), &inflow).await,
                Op::Eof => up.eof().await.map(|()| inflow.sub(cost)),
                Op::WindowChange(c, r, pw, ph) => up
                    .window_change(c, r, pw, ph)
                    .await
                    .map(|()| inflow.sub(cost)),
                Op::Signal(s) => up.signal(s).await.map(|()| inflow.sub(cost)),
            }
        };
        // Every write waits on the target's connection: never longer than the channel.
        let r = tokio::select! {
            r = write => r,
            _ = done.cancelled() => return,
        };
        if r.is_err() {
            done.cancel();
            return;
        }
    }
}

async fn send(
    up: &ChannelWriteHalf<russh::client::Msg>,
    data: Bytes,
    inflow: &ChannelInflow,
) -> Result<(), russh::Error> {
    let n = data.len();
    let r = up.data_bytes(data).await;
    inflow.sub(n);
    r
}
