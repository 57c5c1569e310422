//! The last stage: a channel's recording sealed and its audit row closed, however the channel
//! ended (its command ran, it was refused after its recording started, or its client vanished
//! and the channel was dropped).

use std::sync::Arc;

use tracing::{info, warn};

use crate::audit::{ChannelEnd, Ending, OpenChannel};
use crate::gateway::recording::{ChannelRecording, RecEvent};
use crate::gateway::refusal::Refusal;
use crate::gateway::relay::io::ExitInfo;
use crate::gateway::relay::io::Relayed;
use crate::gateway::session::SessionCtx;

/// How a channel's relay ended.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran; how it ended.
    Ran(ExitInfo),
    /// It never ran (refused by a reviewer, the target unreachable): why, and the status the
    /// user got.
    NotRun(Refusal),
}

/// What is closed at a channel's end.
pub struct Closing {
    recording: Arc<ChannelRecording>,
    /// The audit row, once written.
    pub row: Option<OpenChannel>,
    /// Bytes relayed each way.
    pub relayed: Arc<Relayed>,
}

impl Closing {
    /// The end of a channel whose recording has started.
    pub fn new(recording: Arc<ChannelRecording>) -> Closing {
        Closing {
            recording,
            row: None,
            relayed: Arc::default(),
        }
    }

    /// The command did not run: the recording ends with the status the user got.
    pub async fn not_run(&self, refusal: Refusal) -> Outcome {
        let _ = self
            .recording
            .send(RecEvent::Exit(refusal.status.to_string()))
            .await;
        Outcome::NotRun(refusal)
    }

    /// Seals the recording and closes the audit row. `None`: the channel was dropped because
    /// its client had gone.
    pub async fn close(self, ctx: &SessionCtx, outcome: Option<Outcome>) {
        let Closing {
            recording,
            row,
            relayed,
        } = self;
        let sealed = Box::pin(seal(recording)).await;
        let Some(row) = row else {
            // Refused before its audit row existed: nothing to close.
            return;
        };
        let (exit_status, exit_signal, close_reason) = match outcome {
            Some(Outcome::Ran(exit)) => (exit.status, exit.signal, "closed"),
            Some(Outcome::NotRun(r)) => (Some(r.status), None, r.code),
            None => {
                warn!(
                    "the client's connection is gone and the channel did not end by itself: closed"
                );
                (None, None, "client gone")
            }
        };
        let close_reason = if sealed.is_some() {
            close_reason.to_string()
        } else {
            format!("{close_reason}; recording not sealed")
        };
        // What the pumps relayed each way, whatever the recording keeps of it.
        let (bytes_in, bytes_out) = relayed.counts();
        let end = ChannelEnd {
            ended_at_ms: crate::audit::now_ms(),
            exit_status,
            exit_signal,
            bytes_in,
            bytes_out,
            final_hash: sealed.as_ref().map(|s| s.checkpoint.hash.clone()),
            signature: sealed.as_ref().map(|s| s.checkpoint.sig.clone()),
            close_reason,
        };
        ctx.services
            .endings
            .record(Ending::Channel { channel: row, end })
            .await;
    }
}

/// Closes the recording and logs its final hash.
async fn seal(recording: Arc<ChannelRecording>) -> Option<recorder::Seal> {
    let Ok(recording) = Arc::try_unwrap(recording) else {
        tracing::error!("recording still in use at channel end; not sealed");
        return None;
    };
    let path = recording.path.clone();
    match recording.finish().await {
        Ok(seal) => {
            info!(
                path = %path.display(),
                lines = seal.checkpoint.lines,
                hash = %seal.checkpoint.hash,
                bytes_out = seal.counters.output_bytes + seal.counters.stderr_bytes,
                bytes_in = seal.counters.input_bytes,
                "recording sealed"
            );
            Some(seal)
        }
        Err(e) => {
            tracing::error!(path = %path.display(), "recording could not be sealed: {e}");
            None
        }
    }
}
