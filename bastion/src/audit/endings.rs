//! [`Endings`]: how sessions and channels ended, written even when the database is away at
//! that moment.
//!
//! A session that started while the database was up has its opening row; when it ends during
//! an outage, its exit status, byte counts and recording hash must still reach the database.
//! An end the database refuses for a transient reason (unreachable, timed out, connection
//! lost) waits in memory and is retried with backoff until it is written; a full queue and a
//! shutdown with ends still waiting are logged as errors with their count. The recordings on
//! disk hold the same facts, sealed and signed, whatever happens here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{AuditError, AuditStore, ChannelEnd, OpenChannel};

/// Ends kept for retry at most; past this the oldest facts are already in the recordings and a
/// bastion that cannot reach its database for so long is refusing every new session anyway.
const QUEUE_LIMIT: usize = 10_000;
/// First retry delay; doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// One end to record.
#[derive(Debug, Clone)]
pub enum Ending {
    /// A connection closed: [`AuditStore::session_closed`].
    Session {
        id: String,
        ended_at_ms: i64,
        reason: String,
    },
    /// A channel closed: [`AuditStore::channel_closed`].
    Channel {
        channel: OpenChannel,
        end: ChannelEnd,
    },
}

/// Writes ends now, or later if the database is away. Cheap to clone.
#[derive(Clone)]
pub struct Endings {
    store: AuditStore,
    tx: mpsc::Sender<Ending>,
    /// The retry task's receiver until the first end has to wait: the task is spawned then, so
    /// that building an [`Endings`] needs no runtime.
    rx: Arc<Mutex<Option<mpsc::Receiver<Ending>>>>,
    waiting: Arc<AtomicUsize>,
    /// Cuts the retry task's backoff short (a stopping bastion tries once more at once).
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Endings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endings")
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl Endings {
    pub fn new(store: AuditStore) -> Endings {
        let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
        Endings {
            store,
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
            waiting: Arc::default(),
            wake: Arc::default(),
        }
    }

    /// Ends not written yet: being written now, or waiting for the database.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Writes `ending`; if the database is away, queues it for retry. Errors that a retry
    /// cannot fix (no such row, a value out of range) are logged and dropped.
    pub async fn record(&self, ending: Ending) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        self.write_or_queue(ending).await;
    }

    /// [`Endings::record`] in a task of its own (from a `Drop`); counted as waiting at once, so
    /// that a stopping bastion waits for it in [`Endings::drain`].
    pub fn spawn(&self, ending: Ending) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let this = self.clone();
        tokio::spawn(async move { this.write_or_queue(ending).await });
    }

    /// Called with `ending` counted in `waiting`; it stays counted while queued.
    async fn write_or_queue(&self, ending: Ending) {
        let e = match write(&self.store, &ending).await {
            Ok(()) => return self.done(),
            Err(e) if transient(&e) => e,
            Err(e) => {
                error!(what = %ending.what(), "audit: cannot record the end: {e}");
                return self.done();
            }
        };
        self.spawn_retries();
        // `waiting` counts this end too, and ends being written by other tasks.
        if self.waiting() > QUEUE_LIMIT {
            let why = format!("{QUEUE_LIMIT} ends already waiting for the database");
            return self.lost(&ending, &why, &e);
        }
        match self.tx.try_send(ending) {
            Ok(()) => warn!("audit: database away ({e}); the end is kept and retried"),
            Err(mpsc::error::TrySendError::Full(ending)) => {
                self.lost(&ending, "the retry queue is full", &e)
            }
            Err(mpsc::error::TrySendError::Closed(ending)) => {
                self.lost(&ending, "the retry task has stopped", &e)
            }
        }
    }

    /// Gives up on `ending`: logged with the reason, no longer counted.
    fn lost(&self, ending: &Ending, why: &str, e: &AuditError) {
        error!(
            what = %ending.what(),
            "audit: {why}; this end is lost (its recording still has it): {e}"
        );
        self.done();
    }

    fn done(&self) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Waits up to `within` for the ends being written or queued. Returns how many are still
    /// waiting.
    pub async fn drain(&self, within: Duration) -> usize {
        self.wake.notify_one();
        let deadline = tokio::time::Instant::now() + within;
        while self.waiting() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.waiting()
    }

    fn spawn_retries(&self) {
        let rx = match self.rx.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(rx) = rx {
            tokio::spawn(retry(
                self.store.clone(),
                rx,
                self.waiting.clone(),
                self.wake.clone(),
            ));
        }
    }
}

/// Writes queued ends in order, waiting longer after each failure.
async fn retry(
    store: AuditStore,
    mut rx: mpsc::Receiver<Ending>,
    waiting: Arc<AtomicUsize>,
    wake: Arc<tokio::sync::Notify>,
) {
    let pause = |delay| {
        let wake = wake.clone();
        async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = wake.notified() => {}
            }
        }
    };
    let mut queue = VecDeque::new();
    let mut delay = RETRY_FIRST;
    loop {
        if queue.is_empty() {
            delay = RETRY_FIRST;
            match rx.recv().await {
                Some(e) => queue.push_back(e),
                None => return,
            }
            // Fresh failures were just seen by the writer: give the database a moment.
            pause(delay).await;
        }
        while queue.len() < QUEUE_LIMIT {
            match rx.try_recv() {
                Ok(e) => queue.push_back(e),
                Err(_) => break,
            }
        }
        let Some(head) = queue.front() else { continue };
        match write(&store, head).await {
            Err(e) if transient(&e) => {
                pause(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
                continue;
            }
            Err(e) => error!(what = %head.what(), "audit: cannot record the end: {e}"),
            Ok(()) => {}
        }
        queue.pop_front();
        waiting.fetch_sub(1, Ordering::Relaxed);
        if queue.is_empty() {
            info!("audit: database back; every waiting end is settled");
        }
    }
}

async fn write(store: &AuditStore, ending: &Ending) -> Result<(), AuditError> {
    match ending {
        Ending::Session {
            id,
            ended_at_ms,
            reason,
        } => store.session_closed(id, *ended_at_ms, reason).await,
        Ending::Channel { channel, end } => store.channel_closed(channel, end).await,
    }
}

/// Whether waiting may help: the database was away or the connection broke. A query the
/// database understood and refused (constraint, unknown row) fails the same way every time.
fn transient(e: &AuditError) -> bool {
    match e {
        AuditError::Unreachable { .. } | AuditError::TimedOut { .. } => true,
        AuditError::Query { source, .. } => match source {
            sqlx::Error::Database(db) => {
                // PostgreSQL class 08 (connection exception) and 57P0x (server shutting down or
                // restarting), SQLite busy, locked, I/O error and full disk: outages, not
                // mistakes in the query.
                // SQLite reports extended codes (SQLITE_IOERR_WRITE is 778), at most four
                // digits, where PostgreSQL's SQLSTATE has five characters: the primary code is
                // the low byte. BUSY, LOCKED, IOERR, FULL, CANTOPEN.
                let code = db.code();
                let code = code.as_deref().unwrap_or("");
                let sqlite = code
                    .parse::<u32>()
                    .ok()
                    .filter(|_| code.len() < 5)
                    .map(|c| c & 0xff);
                code.starts_with("08")
                    || code.starts_with("57P")
                    || matches!(sqlite, Some(5 | 6 | 10 | 13 | 14))
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            _ => false,
        },
        _ => false,
    }
}

impl Ending {
    /// Names the row for a log line (no content: ids only).
    fn what(&self) -> String {
        match self {
            Ending::Session { id, .. } => format!("session {id}"),
            Ending::Channel { channel, .. } => {
                format!("session {} channel {}", channel.session_id, channel.channel)
            }
        }
    }
}
