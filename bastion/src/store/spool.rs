//! The spool: the recording directory, emptied into the store.
//!
//! [`Uploader::run`] looks at the spool every second. A recording that grows goes up in parts,
//! each ending at a signed checkpoint, at least every `upload_every` or `upload_bytes`; a
//! sealed one goes up whole with its sidecar, its audit row is told where, and only then are
//! its files removed. Up to four recordings go up at once, so a large sealed one does not hold
//! back the parts of the others. A failed upload is retried with a growing pause (up to a
//! minute) while everything else goes on; nothing leaves the spool before the store has acknowledged it.
//! Progress per recording is kept beside it (`<file>.cast.uploaded`) so that a restarted
//! bastion goes on from the last part instead of starting over.
//!
//! The spool's size is watched ([`SpoolStats`]): once it holds `spool_limit` bytes, new
//! channels are refused (fail closed), while running ones go on.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{Store, StoreError};
use crate::audit::AuditStore;

/// How often the spool is looked at.
const TICK: Duration = Duration::from_secs(1);
/// Recordings uploaded at once: a large sealed one does not hold back the parts of the others.
const IN_FLIGHT: usize = 4;
/// Longest pause between two tries of a failing upload.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Suffix of the progress file beside a recording.
const PROGRESS: &str = ".uploaded";

/// Figures of the spool, for admission and `/metrics` (which registers them).
#[derive(Debug, Default)]
pub struct SpoolStats {
    /// Bytes in the spool now (recordings, sidecars, progress files).
    pub bytes: Gauge,
    /// Recordings in the spool not yet wholly in the store.
    pub pending: Gauge,
    /// Objects written to the store (parts, recordings, sidecars).
    pub objects: Counter,
    /// Bytes written to the store.
    pub uploaded_bytes: Counter,
    /// Uploads that failed (each is retried).
    pub failures: Counter,
}

impl SpoolStats {
    /// Bytes in the spool at the last look.
    pub fn bytes(&self) -> u64 {
        u64::try_from(self.bytes.get()).unwrap_or(0)
    }
}

/// What has gone up of one recording.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct Progress {
    /// Parts written.
    parts: u64,
    /// Cast bytes the parts cover.
    cast_bytes: u64,
    /// Sidecar bytes the parts carry.
    sig_bytes: u64,
}

/// A recording's place in the spool, and what the uploader knows of it between looks.
#[derive(Default)]
struct Tracked {
    /// Since when bytes wait for a part (the first look, or the last part).
    since: Option<Instant>,
    /// Failures in a row, and when to try again.
    failing: Option<(u32, Instant)>,
}

/// Empties the spool into the store.
pub struct Uploader {
    work: Arc<Work>,
    tracked: HashMap<PathBuf, Tracked>,
    /// Recordings being uploaded now, at most [`IN_FLIGHT`].
    in_flight: JoinSet<(PathBuf, Result<Step, StoreError>)>,
    busy: HashSet<PathBuf>,
}

/// What an upload needs, shared by the uploads in flight.
struct Work {
    store: Store,
    dir: PathBuf,
    audit: AuditStore,
    stats: Arc<SpoolStats>,
    every: Duration,
    bytes: u64,
}

impl Uploader {
    /// An uploader of the spool `dir` (`[recording] dir`) into `store`.
    pub fn new(
        store: Store,
        config: &config::Recording,
        audit: AuditStore,
        stats: Arc<SpoolStats>,
    ) -> Uploader {
        Uploader {
            work: Arc::new(Work {
                store,
                dir: config.dir.clone(),
                audit,
                stats,
                every: config.upload_every.duration(),
                bytes: config.upload_bytes,
            }),
            tracked: HashMap::new(),
            in_flight: JoinSet::new(),
            busy: HashSet::new(),
        }
    }

    /// Looks at the spool every second until `shutdown`, then once more within `drain` (the
    /// bastion's channels are sealed by then) so that a clean stop leaves nothing behind when
    /// the store is there.
    pub async fn run(mut self, shutdown: CancellationToken, drain: Duration) {
        'looking: loop {
            self.pass(false).await;
            // Until the next look, uploads that end are taken at once (metrics, retries).
            let tick = tokio::time::sleep(TICK);
            tokio::pin!(tick);
            loop {
                tokio::select! {
                    _ = &mut tick => break,
                    Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                        self.finished(done);
                    }
                    _ = shutdown.cancelled() => break 'looking,
                }
            }
        }
        let last = async {
            self.settle().await;
            self.pass(true).await;
            self.settle().await;
        };
        let _ = tokio::time::timeout(drain, last).await;
    }

    /// Waits for the uploads in flight.
    async fn settle(&mut self) {
        while let Some(done) = self.in_flight.join_next().await {
            self.finished(done);
        }
    }

    /// One look at the spool: measures it, then starts what is due for each recording not
    /// being uploaded already, up to [`IN_FLIGHT`] at once. Uploads run beside the looks, so
    /// admission learns the spool's size every second however slow the store is; a spool that
    /// cannot be measured counts as full (admission fails closed). With `last`, every part is
    /// due (the bastion is stopping).
    async fn pass(&mut self, last: bool) {
        let dir = self.work.dir.clone();
        let listing = tokio::task::spawn_blocking(move || walk(&dir)).await;
        let casts = match listing {
            Ok(Ok((casts, bytes))) => {
                let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
                self.work.stats.bytes.set(bytes);
                casts
            }
            Ok(Err(e)) => {
                tracing::error!(dir = %self.work.dir.display(), "cannot measure the recording spool, refusing new sessions: {e}");
                self.work.stats.bytes.set(i64::MAX);
                return;
            }
            Err(_) => {
                self.work.stats.bytes.set(i64::MAX);
                return;
            }
        };
        let present: HashSet<&PathBuf> = casts.iter().collect();
        self.tracked
            .retain(|p, _| present.contains(p) || self.busy.contains(p));
        self.work
            .stats
            .pending
            .set(i64::try_from(casts.len()).unwrap_or(i64::MAX));
        for cast in casts {
            if self.busy.contains(&cast) || self.in_flight.len() >= IN_FLIGHT {
                continue;
            }
            let now = Instant::now();
            let t = self.tracked.entry(cast.clone()).or_default();
            if t.failing.is_some_and(|(_, at)| now < at) {
                continue;
            }
            let since = *t.since.get_or_insert(now);
            let work = self.work.clone();
            self.busy.insert(cast.clone());
            self.in_flight.spawn(async move {
                let step = work.step(&cast, since, last).await;
                (cast, step)
            });
        }
    }

    /// Takes the outcome of one recording's upload.
    fn finished(
        &mut self,
        done: Result<(PathBuf, Result<Step, StoreError>), tokio::task::JoinError>,
    ) {
        let Ok((cast, step)) = done else {
            // A panicked upload: its recording is tried again at the next look.
            return;
        };
        self.busy.remove(&cast);
        match step {
            Ok(Step::Stored) => {
                self.tracked.remove(&cast);
                // One fewer until the next look counts them again.
                if self.work.stats.pending.get() > 0 {
                    self.work.stats.pending.dec();
                }
            }
            Ok(step) => {
                let t = self.tracked.entry(cast).or_default();
                t.failing = None;
                if step == Step::Part {
                    t.since = Some(Instant::now());
                }
            }
            Err(e) => {
                self.work.stats.failures.inc();
                let t = self.tracked.entry(cast.clone()).or_default();
                let n = t.failing.map_or(0, |(n, _)| n).saturating_add(1);
                let pause = Duration::from_secs(1 << n.min(6)).min(MAX_BACKOFF);
                t.failing = Some((n, Instant::now() + pause));
                tracing::warn!(
                    recording = %cast.display(),
                    failures = n,
                    retry_in = ?pause,
                    "recording upload failed, will retry: {e}"
                );
            }
        }
    }
}

impl Work {
    /// Does what is due for one recording.
    async fn step(&self, cast: &Path, since: Instant, last: bool) -> Result<Step, StoreError> {
        let sig_path = recorder::sidecar_path(cast);
        let raw = match tokio::fs::read(&sig_path).await {
            Ok(raw) => raw,
            // Being created: the sidecar follows the file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Step::Nothing),
            Err(e) => return Err(StoreError::io(&sig_path)(e)),
        };
        // Complete lines only: a checkpoint being written is for the next look.
        let complete = raw.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let sidecar = recorder::parse_sidecar(&raw[..complete], &sig_path)
            .map_err(|e| StoreError::io(&sig_path)(std::io::Error::other(e.to_string())))?;
        let Some(cp) = sidecar.checkpoints.last() else {
            return Ok(Step::Nothing);
        };
        let key = self.key_of(cast)?;
        if cp.sealed {
            let len = tokio::fs::metadata(cast)
                .await
                .map_err(StoreError::io(cast))?
                .len();
            self.store.put_file(&key, cast, 0..len).await?;
            let sig = Bytes::copy_from_slice(&raw[..complete]);
            self.store.put(&format!("{key}.sig"), sig).await?;
            self.count(2, len + complete as u64);
            let url = self.store.url().object(&key);
            let path = cast.to_string_lossy();
            match self
                .audit
                .recording_stored(&path, &url, &cp.hash, &cp.sig)
                .await
            {
                Ok(true) => {}
                // Its session was refused when its row could not be written; the object is
                // kept, and this line is the only record of where.
                Ok(false) => tracing::error!(
                    recording = %cast.display(),
                    object = %url,
                    "stored a recording no audit row of this bastion names"
                ),
                Err(e) => {
                    return Err(StoreError::io(cast)(std::io::Error::other(format!(
                        "stored as {url}, but the audit row was not updated: {e}"
                    ))))
                }
            }
            tracing::info!(recording = %cast.display(), object = %url, bytes = len, "recording stored");
            // The recording last: a progress file or sidecar left by a crash here is only
            // clutter, while a recording without its sidecar would never go up.
            remove(&progress_path(cast)).await?;
            remove(&progress_path(cast).with_extension("uploaded-tmp")).await?;
            remove(&sig_path).await?;
            remove(cast).await?;
            return Ok(Step::Stored);
        }
        // Progress matters for parts only: a sealed recording goes up whole whatever it says.
        let progress = read_progress(cast).await?;
        let waiting = cp.bytes.saturating_sub(progress.cast_bytes);
        let due = last || since.elapsed() >= self.every || waiting >= self.bytes;
        if waiting == 0 || !due {
            return Ok(Step::Nothing);
        }
        let n = progress.parts + 1;
        let part = format!("{key}.parts/{n:06}");
        self.store
            .put_file(&format!("{part}.cast"), cast, progress.cast_bytes..cp.bytes)
            .await?;
        let Some(new_lines) = usize::try_from(progress.sig_bytes)
            .ok()
            .and_then(|from| raw.get(from..complete))
        else {
            return Err(StoreError::io(&progress_path(cast))(std::io::Error::other(
                "the upload progress disagrees with the sidecar; the recording goes up whole when sealed",
            )));
        };
        self.store
            .put(&format!("{part}.sig"), Bytes::copy_from_slice(new_lines))
            .await?;
        self.count(2, waiting + new_lines.len() as u64);
        write_progress(
            cast,
            Progress {
                parts: n,
                cast_bytes: cp.bytes,
                sig_bytes: complete as u64,
            },
        )
        .await?;
        tracing::debug!(recording = %cast.display(), part = n, bytes = waiting, "recording part stored");
        Ok(Step::Part)
    }

    fn count(&self, objects: u64, bytes: u64) {
        self.stats.objects.inc_by(objects);
        self.stats.uploaded_bytes.inc_by(bytes);
    }

    /// The object key of a recording in the spool: its path below the spool, `/`-separated.
    fn key_of(&self, cast: &Path) -> Result<String, StoreError> {
        let rel = cast
            .strip_prefix(&self.dir)
            .map_err(|_| StoreError::Config(format!("{} is outside the spool", cast.display())))?;
        let parts: Vec<&str> = rel
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::Config(format!("{} is not UTF-8", cast.display())))?;
        Ok(self.store.url().key(&parts.join("/")))
    }
}

/// What a look did for a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing due.
    Nothing,
    /// A part went up.
    Part,
    /// The sealed recording went up and left the spool.
    Stored,
}

/// The recordings in `dir` (recursively) and the bytes of every file there.
fn walk(dir: &Path) -> std::io::Result<(Vec<PathBuf>, u64)> {
    let mut casts = Vec::new();
    let mut bytes = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() {
                bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                if path.extension().is_some_and(|e| e == "cast") {
                    casts.push(path);
                }
            }
        }
    }
    casts.sort();
    Ok((casts, bytes))
}

fn progress_path(cast: &Path) -> PathBuf {
    let mut p = cast.as_os_str().to_owned();
    p.push(PROGRESS);
    PathBuf::from(p)
}

async fn read_progress(cast: &Path) -> Result<Progress, StoreError> {
    let path = progress_path(cast);
    match tokio::fs::read(&path).await {
        Ok(raw) => serde_json::from_slice(&raw)
            .map_err(|e| StoreError::io(&path)(std::io::Error::other(e.to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
        Err(e) => Err(StoreError::io(&path)(e)),
    }
}

/// Written whole, synced, then renamed: a crash (or a power cut) leaves the old progress or
/// the new, never half.
async fn write_progress(cast: &Path, p: Progress) -> Result<(), StoreError> {
    use tokio::io::AsyncWriteExt;
    let path = progress_path(cast);
    let tmp = path.with_extension("uploaded-tmp");
    let json = serde_json::to_vec(&p).map_err(|e| StoreError::io(&path)(e.into()))?;
    let mut f = tokio::fs::File::create(&tmp)
        .await
        .map_err(StoreError::io(&tmp))?;
    f.write_all(&json).await.map_err(StoreError::io(&tmp))?;
    f.sync_all().await.map_err(StoreError::io(&tmp))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(StoreError::io(&path))
}

async fn remove(path: &Path) -> Result<(), StoreError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path)(e)),
    }
}
