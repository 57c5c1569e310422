//! What the relay and the holds inside it share of one channel: the client's end, the
//! recording, the byte counts, and when the channel is done.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mask::RecordingMasker;
use tokio_util::sync::CancellationToken;

use crate::gateway::client::Client;
use crate::gateway::recording::{ChannelRecording, RecEvent};
use crate::gateway::session::SessionCtx;

/// One relayed channel's shared state.
pub struct ChannelIo {
    /// The session the channel belongs to.
    pub ctx: Arc<SessionCtx>,
    /// The client's end.
    pub client: Client,
    /// Cancelled when either direction ends for good, or the connection closes.
    pub done: CancellationToken,
    /// The client closed its side of the channel (nothing more can be told to it).
    pub client_left: AtomicBool,
    /// The channel's recording (none for port forwards).
    recording: Option<Arc<ChannelRecording>>,
    /// Masks typed input exactly before it is recorded (see [`super::redactor`]); `None` when
    /// input is not recorded, or recorded as it is (a transfer's upload is hashed, not kept).
    input_masker: Option<Mutex<RecordingMasker>>,
    /// Bytes relayed each way.
    relayed: Arc<Relayed>,
}

/// How a channel's command ended.
#[derive(Debug, Default)]
pub struct ExitInfo {
    /// Its exit status, if the target sent one.
    pub status: Option<u32>,
    /// The signal that ended it, if the target said so.
    pub signal: Option<String>,
}

/// Bytes relayed by a channel, for its audit row. Kept by the channel's task, which outlives
/// the relay when a client leaves for good.
#[derive(Debug, Default)]
pub struct Relayed {
    input: AtomicU64,
    output: AtomicU64,
}

impl Relayed {
    /// Bytes from the client to the target, and back (both output streams).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.input.load(Ordering::Relaxed),
            self.output.load(Ordering::Relaxed),
        )
    }

    /// Counts output relayed to the client.
    pub fn output(&self, n: usize) {
        self.output.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl ChannelIo {
    /// A channel's state at the start of its relay.
    pub fn new(
        ctx: Arc<SessionCtx>,
        client: Client,
        recording: Option<Arc<ChannelRecording>>,
        input_masker: Option<RecordingMasker>,
        relayed: Arc<Relayed>,
    ) -> ChannelIo {
        ChannelIo {
            done: ctx.closed.child_token(),
            ctx,
            client,
            client_left: AtomicBool::new(false),
            recording,
            input_masker: input_masker.map(Mutex::new),
            relayed,
        }
    }

    /// Byte counts.
    pub fn relayed(&self) -> &Relayed {
        &self.relayed
    }

    /// Queues an event for the recording; false once the recording has failed.
    pub async fn record(&self, ev: RecEvent) -> bool {
        match &self.recording {
            Some(rec) => rec.send(ev).await.is_ok(),
            None => true,
        }
    }

    /// Resolves when the recording has failed (never for unrecorded channels).
    pub async fn recording_failed(&self) {
        match &self.recording {
            Some(rec) => rec.failed.cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// Whether the recording has failed.
    pub fn unrecorded(&self) -> bool {
        self.recording
            .as_ref()
            .is_some_and(|r| r.failed.is_cancelled())
    }

    /// Input from the client: counted, and recorded (masked) when the channel records input.
    /// False once the recording has failed.
    pub async fn input(&self, data: &Bytes) -> bool {
        self.relayed
            .input
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        match &self.recording {
            Some(rec) if rec.records_input => {
                let masked = match &self.input_masker {
                    Some(m) => match m.lock() {
                        Ok(mut m) => Bytes::copy_from_slice(m.push(data)),
                        // A poisoned masker masks nothing more: record nothing rather than
                        // unmasked keys.
                        Err(_) => Bytes::new(),
                    },
                    None => data.clone(),
                };
                masked.is_empty() || self.record(RecEvent::Input(masked)).await
            }
            _ => true,
        }
    }

    /// Records what the input masker still holds (the input has ended).
    pub async fn input_ended(&self) {
        let rest = match &self.input_masker {
            Some(m) => match m.lock() {
                Ok(mut m) => Bytes::copy_from_slice(m.finish()),
                Err(_) => Bytes::new(),
            },
            None => Bytes::new(),
        };
        if !rest.is_empty() {
            self.record(RecEvent::Input(rest)).await;
        }
    }
}
