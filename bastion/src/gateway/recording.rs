//! One channel's recording: a bounded queue from the pumps to a writer task that owns the
//! asciicast file. What arrives is already masked (by the channel's redactor, see
//! [`crate::gateway::relay::redactor`]): the recorder never masks.
//!
//! The relay never blocks on the disk for long: a full queue makes the pump wait at most
//! [`SEND_TIMEOUT`], after which the recording counts as failed. A failed recording ends the
//! channel (fail closed): the user is told, nothing more crosses the channel.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::gateway::relay::ended::Ended;
use bytes::Bytes;
use recorder::{BastionMeta, ChannelKind, Header, Recorder, RecorderOptions, Seal, Term};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Events queued per channel before the pumps wait for the writer. At most 32 × 32 KiB of
/// output reaches the user ahead of the disk, which bounds what a failing disk lets through.
const QUEUE: usize = 32;
/// Longest a pump waits for room in the queue before the recording counts as failed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Checkpoint cadence while data flows. The promise (threat model) is at most 1 s between
/// checkpoints and from a line to its checkpoint; the timer fires a little after its deadline
/// (tokio rounds up to the next millisecond, and a loaded machine wakes the task late), so the
/// recorder aims 50 ms short of it.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(950);

/// Why a recording could not start or be sealed.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file or its sidecar could not be made or written.
    #[error(transparent)]
    Recorder(#[from] recorder::RecorderError),
    /// The recording volume has less free space than `[recording] min_free`.
    #[error("the recording volume has {free} bytes free, less than min_free ({min_free})")]
    LowSpace {
        /// Bytes available to the bastion on the volume.
        free: u64,
        /// `[recording] min_free`.
        min_free: u64,
    },
    /// The spool holds `spool_limit` bytes that wait for the object store.
    #[error("the recording spool holds {bytes} bytes waiting for the store, the limit is {limit}")]
    SpoolFull {
        /// Bytes in the spool.
        bytes: u64,
        /// `[recording] spool_limit`.
        limit: u64,
    },
    /// The free space of the recording volume could not be read.
    #[error("cannot read the free space of the recording volume {}: {source}", path.display())]
    Space {
        /// The directory asked about.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The writer task stopped without an answer.
    #[error("the recording's writer stopped: {0}")]
    Writer(#[from] tokio::task::JoinError),
}

/// What the pumps report.
#[derive(Debug)]
pub enum RecEvent {
    /// Target output (stdout, or the terminal).
    Output(Bytes),
    /// Target stderr.
    Stderr(Bytes),
    /// What the user typed.
    Input(Bytes),
    /// Terminal resized.
    Resize(u32, u32),
    /// A marker (`exec started`, `signal TERM`, …).
    Marker(String),
    /// Exit status or signal.
    Exit(String),
    /// Write a checkpoint now (so the file holds everything so far), then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Where channel recordings go, and how they are kept.
pub struct RecordingSink {
    /// The recording directory.
    pub dir: PathBuf,
    /// Signs checkpoints.
    pub key: Arc<recorder::SigningKey>,
    /// Largest cast file per channel, in bytes.
    pub max_channel_bytes: u64,
    /// Free bytes the recording volume must have for a channel to start.
    pub min_free: u64,
    /// Whether what users type is recorded.
    pub record_input: bool,
    /// With an object store: the spool's figures, and its limit.
    pub spool: Option<(Arc<crate::store::spool::SpoolStats>, u64)>,
}

impl RecordingSink {
    /// The sink `config` describes, signing with `key`.
    pub fn new(
        config: &config::Recording,
        key: Arc<recorder::SigningKey>,
        spool: Option<Arc<crate::store::spool::SpoolStats>>,
    ) -> RecordingSink {
        RecordingSink {
            spool: spool.map(|s| (s, config.spool_limit)),
            dir: config.dir.clone(),
            key,
            max_channel_bytes: config.max_channel_bytes,
            min_free: config.min_free,
            record_input: config.record_input,
        }
    }
}

impl RecordingSink {
    /// Refuses when the recording volume has less than `min_free` bytes available, so that a
    /// session is refused at its start rather than ended when the disk fills; and when the
    /// spool waiting for the object store is full.
    pub fn check_space(&self) -> Result<(), RecordingError> {
        if let Some((stats, limit)) = &self.spool {
            let bytes = stats.bytes();
            if bytes >= *limit {
                return Err(RecordingError::SpoolFull {
                    bytes,
                    limit: *limit,
                });
            }
        }
        if self.min_free == 0 {
            return Ok(());
        }
        let free = free_space(&self.dir)?;
        if free < self.min_free {
            return Err(RecordingError::LowSpace {
                free,
                min_free: self.min_free,
            });
        }
        Ok(())
    }
}

/// Bytes available to unprivileged writers on the volume of `dir`, or of its nearest existing
/// ancestor (the directory is created with the first recording).
fn free_space(dir: &std::path::Path) -> Result<u64, RecordingError> {
    let mut at = dir;
    loop {
        match rustix::fs::statvfs(at) {
            Ok(st) => return Ok(st.f_bavail.saturating_mul(st.f_frsize)),
            Err(rustix::io::Errno::NOENT) => match at.parent() {
                Some(p) if !p.as_os_str().is_empty() => at = p,
                _ if at != std::path::Path::new(".") => at = std::path::Path::new("."),
                _ => {
                    return Err(RecordingError::Space {
                        path: dir.to_path_buf(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
                }
            },
            Err(e) => {
                return Err(RecordingError::Space {
                    path: dir.to_path_buf(),
                    source: e.into(),
                })
            }
        }
    }
}

/// What the channel is, for the header. Text a client chose (the command, the terminal type,
/// the environment) arrives masked: the recorder never masks.
pub struct ChannelInfo {
    /// The session's id.
    pub session: String,
    /// Who: the certificate's key id.
    pub user: String,
    /// The certificate's serial.
    pub cert_serial: u64,
    /// The client's address.
    pub source: String,
    /// SSH channel number.
    pub channel: u32,
    /// shell / exec / subsystem.
    pub kind: ChannelKind,
    /// The terminal's size, if it has one.
    pub size: Option<(u32, u32)>,
    /// The terminal type (masked).
    pub term: Option<String>,
    /// The exec command or subsystem name (masked).
    pub command: Option<String>,
    /// Environment passed on (masked).
    pub env: Vec<(String, String)>,
    /// The recording's title.
    pub title: String,
    /// The target's name.
    pub target: String,
    /// The login on it.
    pub login: String,
    /// A file transfer (sftp, legacy scp): counted and hashed, not recorded as content.
    pub transfer: bool,
}

/// A channel's recording in progress.
pub struct ChannelRecording {
    tx: mpsc::Sender<RecEvent>,
    /// Cancelled when writing failed.
    pub failed: CancellationToken,
    task: JoinHandle<Result<Seal, RecordingError>>,
    /// The asciicast file.
    pub path: PathBuf,
    /// Whether the pumps send the input: recorded (`record_input`, never for transfers), or
    /// counted and hashed (transfers: an upload is accountable like a download).
    pub records_input: bool,
}

impl ChannelRecording {
    /// Creates the file and starts the writer. Errors are shown to the user as is.
    pub fn start(
        sink: &RecordingSink,
        info: ChannelInfo,
    ) -> Result<ChannelRecording, RecordingError> {
        sink.check_space()?;
        let path =
            recorder::recording_path(&sink.dir, &info.session, info.channel, SystemTime::now())?;
        let header = Header {
            term: Term {
                cols: info.size.map(|(c, _)| clamp(c)).unwrap_or(80),
                rows: info.size.map(|(_, r)| clamp(r)).unwrap_or(24),
                term_type: info.term,
            },
            timestamp: Some(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            ),
            command: info.command,
            title: Some(info.title),
            env: info.env.into_iter().collect(),
            ..Header::default()
        };
        let meta = BastionMeta {
            session: info.session,
            channel: info.channel,
            user: info.user,
            cert_serial: Some(info.cert_serial),
            source: info.source,
            target: info.target,
            login: info.login,
            kind: info.kind,
        };
        // Transfers are not content: a subsystem's bytes are counted and hashed, not kept.
        let transfer = info.transfer;
        let options = RecorderOptions {
            output_cap: if transfer { 0 } else { sink.max_channel_bytes },
            record_input: sink.record_input && !transfer,
            input_digest: transfer,
            checkpoint_interval: CHECKPOINT_EVERY,
        };
        let records_input = options.record_input || options.input_digest;
        let rec = Recorder::create(&path, &header, &meta, sink.key.clone(), options)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let failed = CancellationToken::new();
        let task = tokio::spawn(write_loop(rec, rx, failed.clone()));
        Ok(ChannelRecording {
            tx,
            failed,
            task,
            path,
            records_input,
        })
    }

    /// Queues an event; `Err` when the recording has failed or the queue stayed full too long.
    pub async fn send(&self, ev: RecEvent) -> Result<(), Ended> {
        if self.failed.is_cancelled() {
            return Err(Ended);
        }
        match tokio::time::timeout(SEND_TIMEOUT, self.tx.send(ev)).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.failed.cancel();
                Err(Ended)
            }
        }
    }

    /// A handle that asks for a checkpoint now, without keeping the recording open.
    pub fn flusher(&self) -> Flusher {
        Flusher(self.tx.downgrade())
    }

    /// Closes the queue and waits for the final, sealed checkpoint.
    pub async fn finish(self) -> Result<Seal, RecordingError> {
        drop(self.tx);
        self.task.await?
    }
}

/// Asks a channel's recording to write out everything so far (see
/// [`ChannelRecording::flusher`]).
#[derive(Clone)]
pub struct Flusher(mpsc::WeakSender<RecEvent>);

impl Flusher {
    /// Waits, at most `within`, until the recording file holds everything recorded so far.
    /// False if the channel has ended or the writer did not answer in time.
    pub async fn flush(&self, within: Duration) -> bool {
        let Some(tx) = self.0.upgrade() else {
            return false;
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        let asked = async { tx.send(RecEvent::Flush(done)).await.is_ok() && answer.await.is_ok() };
        tokio::time::timeout(within, asked).await.unwrap_or(false)
    }
}

fn clamp(v: u32) -> u16 {
    v.clamp(1, u16::MAX as u32) as u16
}

async fn write_loop(
    mut rec: Recorder,
    mut rx: mpsc::Receiver<RecEvent>,
    failed: CancellationToken,
) -> Result<Seal, RecordingError> {
    let started = Instant::now();
    let started_at = tokio::time::Instant::from_std(started);
    // Armed only while written lines wait for a checkpoint: idle channels cost no wakeups.
    let mut due: Option<tokio::time::Instant> = None;
    let fail = |e: recorder::RecorderError| {
        failed.cancel();
        tracing::error!("recording failed: {e}");
        RecordingError::from(e)
    };
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                let now = started.elapsed();
                let r = match ev {
                    RecEvent::Output(b) => rec.output(now, &b),
                    RecEvent::Stderr(b) => rec.stderr(now, &b),
                    RecEvent::Input(b) => rec.input(now, &b),
                    RecEvent::Resize(c, r) => rec.resize(now, clamp(c), clamp(r)),
                    RecEvent::Marker(m) => rec.marker(now, &m),
                    RecEvent::Exit(s) => rec.exit(now, &s),
                    RecEvent::Flush(done) => {
                        let r = rec.checkpoint_now(now).map(|_| ());
                        let _ = done.send(());
                        r
                    }
                };
                if let Err(e) = r.and_then(|_| rec.checkpoint_if_due(now).map(|_| ())) {
                    return Err(fail(e));
                }
                // Re-armed after every event: the deadline always is the recorder's own, never
                // one left over from before a checkpoint this event wrote.
                due = rec.checkpoint_due().map(|d| started_at + d);
            }
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                if let Err(e) = rec.checkpoint_if_due(started.elapsed()) {
                    return Err(fail(e));
                }
                due = rec.checkpoint_due().map(|d| started_at + d);
            }
        }
    }
    rec.seal(started.elapsed()).map_err(fail)
}

/// Crash recovery at start: seals, as "recovered", the recording of each of this instance's
/// channel rows that has no final hash (see [`crate::audit::AuditStore::unsealed_recordings`])
/// and whose sidecar lacks a seal, and stores the seal in the row. Returns how many were
/// sealed; problems are logged per file and do not stop the others.
///
/// Only these files: sealing signs the file with the recording key, so a file this instance
/// was not writing (another bastion's live recording in a shared directory, or one planted by
/// someone who can write to the directory) must never be sealed here. Run it before accepting
/// connections: a channel of this instance that is live has no final hash either.
///
/// # Errors
/// [`crate::audit::AuditError`] when the rows cannot be read.
pub async fn recover_unsealed(
    key: &recorder::SigningKey,
    audit: &crate::audit::AuditStore,
) -> Result<usize, crate::audit::AuditError> {
    let unsealed = audit.unsealed_recordings().await?;
    let mut sealed = 0;
    for (row, path) in &unsealed {
        let path = std::path::Path::new(path);
        // `recover` reads the sidecar itself and leaves a sealed recording as it is.
        match recorder::recover(path, key, SystemTime::now()) {
            Ok(recorder::RecoverOutcome::Recovered(r)) => {
                sealed += 1;
                tracing::warn!(
                    path = %path.display(),
                    lines = r.checkpoint.lines,
                    unsigned_lines = r.unsigned_lines,
                    dropped_bytes = r.dropped_cast_bytes,
                    "recording sealed as recovered after an unclean stop"
                );
                if let Err(e) = audit
                    .channel_recovered(*row, &r.checkpoint.hash, &r.checkpoint.sig)
                    .await
                {
                    tracing::error!(path = %path.display(), "recovered seal not stored in the audit row: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(path = %path.display(), "recording could not be recovered: {e}")
            }
        }
    }
    Ok(sealed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests;
