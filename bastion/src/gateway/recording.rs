//! One channel's recording: a bounded queue from the pumps to a writer task that owns the
//! asciicast file. Output is masked exactly before it is written: by the pumps when they mask
//! the screen too (one scan for both), else by the writer.
//!
//! The relay never blocks on the disk for long: a full queue makes the pump wait at most
//! [`SEND_TIMEOUT`], after which the recording counts as failed. A failed recording ends the
//! channel (fail closed): the user is told, nothing more crosses the channel.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use recorder::mask::{Masker, RecordingMasker};
use recorder::{BastionMeta, ChannelKind, Header, Recorder, RecorderOptions, Seal, Term};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bridge::PtyRequest;
use super::session::SessionCtx;
use super::target::Access;

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

/// What the channel is, for the header.
pub struct ChannelInfo<'a> {
    /// SSH channel number.
    pub channel: u32,
    /// shell / exec / subsystem.
    pub kind: ChannelKind,
    /// The pty, if any.
    pub pty: Option<&'a PtyRequest>,
    /// The exec command or subsystem name.
    pub command: Option<String>,
    /// Environment passed on.
    pub env: &'a [(String, String)],
    /// Where it goes.
    pub access: &'a Access,
    /// A file transfer (sftp, legacy scp): counted and hashed, not recorded as content.
    pub transfer: bool,
    /// The masking rules in effect for this channel.
    pub masker: &'a Masker,
    /// Output arrives masked already (the pumps mask once for screen and recording).
    pub premasked: bool,
}

/// A channel's recording in progress.
pub struct ChannelRecording {
    tx: mpsc::Sender<RecEvent>,
    /// Cancelled when writing failed.
    pub failed: CancellationToken,
    task: JoinHandle<Result<Seal, String>>,
    /// The asciicast file.
    pub path: PathBuf,
    /// Whether the pumps send the input: recorded (`record_input`, never for transfers), or
    /// counted and hashed (transfers: an upload is accountable like a download).
    pub records_input: bool,
}

impl ChannelRecording {
    /// Creates the file and starts the writer. Errors are shown to the user as is.
    pub fn start(ctx: &SessionCtx, info: ChannelInfo<'_>) -> Result<ChannelRecording, String> {
        let shared = &ctx.shared;
        let path = recorder::recording_path(
            &shared.config.recording.dir,
            &ctx.id,
            info.channel,
            SystemTime::now(),
        )
        .map_err(|e| e.to_string())?;
        let header = Header {
            term: Term {
                cols: info.pty.map(|p| clamp(p.cols)).unwrap_or(80),
                rows: info.pty.map(|p| clamp(p.rows)).unwrap_or(24),
                term_type: info.pty.map(|p| mask_text(info.masker, &p.term)),
            },
            timestamp: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            command: info.command.as_ref().map(|c| mask_text(info.masker, c)),
            title: Some(format!(
                "{}@{} ({})",
                info.access.login, info.access.target.name, ctx.user.key_id
            )),
            // Values are whatever the client sent: masked like any text that is stored.
            env: info
                .env
                .iter()
                .map(|(k, v)| (mask_text(info.masker, k), mask_text(info.masker, v)))
                .collect(),
            bastion: BastionMeta {
                session: ctx.id.clone(),
                channel: info.channel,
                user: ctx.user.key_id.clone(),
                cert_serial: Some(ctx.user.serial),
                source: ctx.peer.ip().to_string(),
                target: info.access.target.name.clone(),
                login: info.access.login.clone(),
                kind: info.kind,
            },
        };
        // Transfers are not content: a subsystem's bytes are counted and hashed, not kept.
        let transfer = info.transfer;
        let options = RecorderOptions {
            output_cap: if transfer {
                0
            } else {
                shared.config.recording.max_channel_bytes
            },
            record_input: shared.config.recording.record_input && !transfer,
            input_digest: transfer,
            checkpoint_interval: CHECKPOINT_EVERY,
        };
        let records_input = options.record_input || options.input_digest;
        let rec = Recorder::create(&path, &header, shared.recording_key.clone(), options)
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let failed = CancellationToken::new();
        // The stderr masker is made on first stderr (terminal sessions have none).
        let maskers = (!transfer && !info.premasked).then(|| (info.masker.recording(), None));
        let masker = info.masker.clone();
        let task = tokio::spawn(write_loop(rec, rx, failed.clone(), maskers, masker));
        Ok(ChannelRecording {
            tx,
            failed,
            task,
            path,
            records_input,
        })
    }

    /// Queues an event; `Err` when the recording has failed or the queue stayed full too long.
    pub async fn send(&self, ev: RecEvent) -> Result<(), ()> {
        if self.failed.is_cancelled() {
            return Err(());
        }
        match tokio::time::timeout(SEND_TIMEOUT, self.tx.send(ev)).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.failed.cancel();
                Err(())
            }
        }
    }

    /// A handle that asks for a checkpoint now, without keeping the recording open.
    pub fn flusher(&self) -> Flusher {
        Flusher(self.tx.downgrade())
    }

    /// Closes the queue and waits for the final, sealed checkpoint.
    pub async fn finish(self) -> Result<Seal, String> {
        drop(self.tx);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(format!("recording task failed: {e}")),
        }
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

/// Masks a short text (a command line) in one go.
pub fn mask_text(masker: &Masker, text: &str) -> String {
    String::from_utf8_lossy(&masker.mask(text.as_bytes())).into_owned()
}

async fn write_loop(
    mut rec: Recorder,
    mut rx: mpsc::Receiver<RecEvent>,
    failed: CancellationToken,
    mut maskers: Option<(RecordingMasker, Option<RecordingMasker>)>,
    masker: Masker,
) -> Result<Seal, String> {
    let started = Instant::now();
    let started_at = tokio::time::Instant::from_std(started);
    // Armed only while written lines wait for a checkpoint: idle channels cost no wakeups.
    let mut due: Option<tokio::time::Instant> = None;
    let mut input: Option<RecordingMasker> = None;
    let fail = |e: recorder::RecorderError| {
        failed.cancel();
        tracing::error!("recording failed: {e}");
        e.to_string()
    };
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                let now = started.elapsed();
                let r = match ev {
                    RecEvent::Output(b) => match &mut maskers {
                        Some((out, _)) => { let m = out.push(&b).to_vec(); rec.output(now, &m) }
                        None => rec.output(now, &b),
                    },
                    RecEvent::Stderr(b) => match &mut maskers {
                        Some((_, err)) => {
                            let m = err.get_or_insert_with(|| masker.recording()).push(&b).to_vec();
                            rec.stderr(now, &m)
                        }
                        None => rec.stderr(now, &b),
                    },
                    // Typed identifiers are masked too (`record_input`); keystrokes arrive one
                    // at a time, so the exact masker holds them until decided.
                    RecEvent::Input(b) => {
                        let m = input.get_or_insert_with(|| masker.recording()).push(&b).to_vec();
                        if m.is_empty() { Ok(()) } else { rec.input(now, &m) }
                    }
                    RecEvent::Resize(c, r) => rec.resize(now, clamp(c), clamp(r)),
                    RecEvent::Marker(m) => rec.marker(now, &m),
                    RecEvent::Exit(s) => {
                        flush_maskers(&mut rec, &mut maskers, now).and_then(|_| rec.exit(now, &s))
                    }
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
    let now = started.elapsed();
    flush_maskers(&mut rec, &mut maskers, now).map_err(fail)?;
    if let Some(m) = input.as_mut() {
        let rest = m.finish().to_vec();
        if !rest.is_empty() {
            rec.input(now, &rest).map_err(fail)?;
        }
    }
    rec.seal(now).map_err(fail)
}

/// Writes what the maskers still hold (the stream has ended, so no match can grow further).
fn flush_maskers(
    rec: &mut Recorder,
    maskers: &mut Option<(RecordingMasker, Option<RecordingMasker>)>,
    now: Duration,
) -> Result<(), recorder::RecorderError> {
    if let Some((out, err)) = maskers {
        let o = out.finish().to_vec();
        if !o.is_empty() {
            rec.output(now, &o)?;
        }
        if let Some(err) = err {
            let e = err.finish().to_vec();
            if !e.is_empty() {
                rec.stderr(now, &e)?;
            }
        }
    }
    Ok(())
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
