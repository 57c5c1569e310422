//! What a client sends before its channel's command runs (while the audit row is written, the
//! target connected, a reviewer asked): kept in order for the input pump, which takes it like
//! later input (recorded, lines judged), and counted in the channel's input bounds.
//!
//! The channel's reader must keep being read meanwhile: the connection's event loop waits on a
//! full reader, and that loop also carries every other channel's window adjustments; a reader
//! left alone while the target's own connection is busy can wedge both for good. So every slow
//! step before the pumps runs while [`Early::draining`] takes what arrives.

use std::future::Future;

use russh::{ChannelMsg, ChannelReadHalf};

use crate::gateway::relay::inflow::ChannelInflow;

/// What one kept message counts at least: an empty or one-byte message costs far more memory
/// than its payload, and a client may send them by the thousand without using any window.
pub const MESSAGE_COST: usize = 64;

/// What keeping `m` counts against the channel's input bounds.
pub fn cost(m: &ChannelMsg) -> usize {
    match m {
        ChannelMsg::Data { data } => data.len().max(MESSAGE_COST),
        _ => MESSAGE_COST,
    }
}

/// The client sent more than the channel's bound before its command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMuch;

/// Messages kept for the input pump.
#[derive(Debug, Default)]
pub struct Early {
    msgs: Vec<ChannelMsg>,
    /// The client closed the channel (or its connection went away): nothing more will come.
    closed: bool,
}

impl Early {
    /// Keeps `m` (input, EOF, window changes and signals; nothing else matters before the
    /// command runs). `Err` past the channel's bound: the client ignores its window.
    pub fn keep(&mut self, m: Option<ChannelMsg>, inflow: &ChannelInflow) -> Result<(), TooMuch> {
        let m = match m {
            Some(ChannelMsg::Data { data }) if data.is_empty() => return Ok(()),
            Some(
                m @ (ChannelMsg::Data { .. }
                | ChannelMsg::Eof
                | ChannelMsg::WindowChange { .. }
                | ChannelMsg::Signal { .. }),
            ) => m,
            Some(ChannelMsg::Close) | None => {
                self.closed = true;
                ChannelMsg::Close
            }
            Some(_) => return Ok(()),
        };
        let c = cost(&m);
        if inflow.over_limit(c) {
            return Err(TooMuch);
        }
        inflow.add(c);
        self.msgs.push(m);
        Ok(())
    }

    /// The messages, in order.
    pub fn into_messages(self) -> Vec<ChannelMsg> {
        self.msgs
    }

    /// Runs `work` while keeping what the client sends meanwhile (taken at the pace the
    /// channel's bounds allow, see [`crate::gateway::relay::inflow`]).
    pub async fn draining<T>(
        &mut self,
        rx: &mut ChannelReadHalf,
        inflow: &ChannelInflow,
        done: &tokio_util::sync::CancellationToken,
        work: impl Future<Output = T>,
    ) -> Result<T, TooMuch> {
        tokio::pin!(work);
        loop {
            let next = async {
                inflow.room(done).await;
                rx.wait().await
            };
            tokio::select! {
                r = &mut work => return Ok(r),
                m = next, if !self.closed => self.keep(m, inflow)?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use russh::ChannelMsg;

    use super::{cost, Early, TooMuch, MESSAGE_COST};
    use crate::gateway::relay::inflow::{Inflow, LIMIT};

    #[test]
    fn tiny_messages_cost_at_least_their_overhead_and_empty_ones_nothing() {
        let conn = Arc::new(Inflow::default());
        let inflow = conn.channel();
        let mut early = Early::default();
        let data = |n: usize| ChannelMsg::Data {
            data: Bytes::from(vec![b'x'; n]),
        };
        early.keep(Some(data(0)), &inflow).unwrap();
        assert_eq!(inflow.queued(), 0);
        early.keep(Some(data(1)), &inflow).unwrap();
        assert_eq!(inflow.queued(), MESSAGE_COST);
        assert_eq!(cost(&data(100)), 100);
        // A flood of one-byte messages reaches the bound long before memory does.
        let mut kept = 1;
        while early.keep(Some(data(1)), &inflow).is_ok() {
            kept += 1;
        }
        assert_eq!(kept, LIMIT / MESSAGE_COST);
        assert_eq!(early.keep(Some(data(1)), &inflow), Err(TooMuch));
        early.keep(None, &inflow).unwrap_or(());
    }

    #[test]
    fn a_close_ends_what_is_kept() {
        let conn = Arc::new(Inflow::default());
        let inflow = conn.channel();
        let mut early = Early::default();
        early.keep(Some(ChannelMsg::Eof), &inflow).unwrap();
        early.keep(Some(ChannelMsg::Close), &inflow).unwrap();
        assert!(early.closed);
        assert_eq!(early.into_messages().len(), 2);
    }
}
