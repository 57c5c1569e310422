//! Live sessions that reviewers may watch, read only: each interactive channel on this bastion
//! publishes what its user sees (masked) to whoever watches. A viewer first has the recording
//! write out everything so far, rebuilds the screen from it, then follows the live output.
//!
//! Channels are also listed in the shared database ([`LiveSessions::attach`]), so that a
//! reviewer on another bastion sees them; that bastion's viewer then follows the screen over
//! this one's API (`crate::api::live`, [`Viewer::remote`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::broadcast;

/// Asks a channel's recording to write out everything so far, waiting at most the time given;
/// false if it did not (the channel has ended, or the writer did not answer in time).
pub type Flusher = Arc<
    dyn Fn(std::time::Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
        + Send
        + Sync,
>;

/// Output chunks a slow viewer may fall behind by before it skips ahead.
const LAG: usize = 256;
/// How long a new viewer waits for the recording to be written out before reading it anyway.
const FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The output feed of one channel, made when its first viewer arrives: most channels are never
/// watched, and a feed's buffer is `LAG` slots.
type Feed = Arc<std::sync::OnceLock<broadcast::Sender<Bytes>>>;

/// One watchable channel.
#[derive(Clone)]
pub struct Watched {
    /// `SESSION-CHANNEL`.
    pub id: String,
    /// Who is working.
    pub user: String,
    /// Where.
    pub target: String,
    /// As whom.
    pub login: String,
    /// Its recording, to rebuild the screen from.
    pub recording: PathBuf,
    flusher: Flusher,
    feed: Feed,
}

/// The watchable channels of this bastion.
#[derive(Default)]
pub struct LiveSessions {
    map: Mutex<BTreeMap<String, Watched>>,
    /// Changes for the shared database, written in order by [`LiveSessions::attach`]'s task.
    fleet: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Change>>,
}

/// A channel listed or unlisted in the shared database.
enum Change {
    Started {
        id: String,
        user: String,
        target: String,
        login: String,
    },
    Ended(String),
}

/// Publishes a channel's output while it lives; unregisters on drop.
pub struct Publisher {
    registry: Arc<LiveSessions>,
    id: String,
    feed: Feed,
}

impl Publisher {
    /// Sends output to the viewers, if any (never waits).
    pub fn send(&self, data: &Bytes) {
        if let Some(tx) = self.feed.get() {
            if tx.receiver_count() > 0 {
                let _ = tx.send(data.clone());
            }
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if let Ok(mut m) = self.registry.map.lock() {
            m.remove(&self.id);
        }
        self.registry.tell(Change::Ended(self.id.clone()));
    }
}

impl LiveSessions {
    /// Lists this bastion's channels in the shared database from now on (and unlists those a
    /// previous run left), so that reviewers on the other bastions see them. The writes are
    /// made in order by a task of their own: a channel never waits for the database, and a
    /// failed write is logged (the channel is then missing from the others' lists).
    pub fn attach(&self, audit: crate::audit::AuditStore) -> tokio::task::JoinHandle<()> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = self.fleet.set(tx);
        tokio::spawn(async move {
            if let Err(e) = audit.live_cleared().await {
                tracing::warn!("cannot unlist the live channels of a previous run: {e}");
            }
            while let Some(change) = rx.recv().await {
                let written = match &change {
                    Change::Started {
                        id,
                        user,
                        target,
                        login,
                    } => audit.live_started(id, user, target, login).await,
                    Change::Ended(id) => audit.live_ended(id).await,
                };
                if let Err(e) = written {
                    tracing::warn!("live channel not listed for the other bastions: {e}");
                }
            }
        })
    }

    fn tell(&self, change: Change) {
        if let Some(tx) = self.fleet.get() {
            let _ = tx.send(change);
        }
    }

    /// Registers a channel.
    pub fn publish(
        self: &Arc<Self>,
        id: String,
        user: String,
        target: String,
        login: String,
        recording: PathBuf,
        flusher: Flusher,
    ) -> Publisher {
        let feed = Feed::default();
        self.tell(Change::Started {
            id: id.clone(),
            user: user.clone(),
            target: target.clone(),
            login: login.clone(),
        });
        let w = Watched {
            id: id.clone(),
            user,
            target,
            login,
            recording,
            flusher,
            feed: feed.clone(),
        };
        if let Ok(mut m) = self.map.lock() {
            m.insert(id.clone(), w);
        }
        Publisher {
            registry: self.clone(),
            id,
            feed,
        }
    }

    /// Whether channel `id` runs here and can be watched.
    pub fn contains(&self, id: &str) -> bool {
        self.map.lock().map(|m| m.contains_key(id)).unwrap_or(false)
    }

    /// The channels that can be watched now.
    pub fn list(&self) -> Vec<Watched> {
        self.map
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts watching `id`: its recording path, written out up to now, and the live output
    /// from then on. Output in the instant between the two is missed (a redraw restores it);
    /// subscribing first would show it twice, which garbles the screen.
    pub async fn watch(&self, id: &str) -> Option<(PathBuf, broadcast::Receiver<Bytes>)> {
        let w = self.map.lock().ok()?.get(id)?.clone();
        (w.flusher)(FLUSH_WAIT).await;
        let rx = w.feed.get_or_init(|| broadcast::channel(LAG).0).subscribe();
        Some((w.recording, rx))
    }
}

/// A viewer's screen.
pub struct Viewer {
    parser: vt100::Parser,
    source: Source,
}

/// The start of a feed for another bastion's viewer.
pub struct FeedStart {
    /// The screen so far, as the escape sequences that draw it.
    pub screen: Vec<u8>,
    /// Its size: rows, columns.
    pub size: (u16, u16),
    /// The live output from here on.
    pub output: broadcast::Receiver<Bytes>,
}

/// Where a viewer's output comes from.
enum Source {
    /// A channel of this bastion.
    Local(broadcast::Receiver<Bytes>),
    /// A channel of another bastion, over its API: the screen so far, then the output.
    Remote(reqwest::Response),
}

impl Viewer {
    /// Rebuilds the screen from the recording so far (already masked), then follows `rx`.
    pub fn new(recording: &std::path::Path, rx: broadcast::Receiver<Bytes>) -> Viewer {
        let (rows, cols) = recorder::emulated_size(24, 80);
        let mut parser = vt100::Parser::new(rows, cols, 0);
        if let Ok(rec) = player::cast::open(recording) {
            let (rows, cols) = size(rec.header.term.rows, rec.header.term.cols);
            parser.set_size(rows, cols);
            for e in &rec.events {
                match &e.data {
                    player::EventData::Output(s) => parser.process(s.as_bytes()),
                    player::EventData::Binary {
                        bytes,
                        stderr: false,
                    } => parser.process(bytes),
                    player::EventData::Resize { cols, rows } => {
                        let (rows, cols) = size(*rows, *cols);
                        parser.set_size(rows, cols)
                    }
                    _ => {}
                }
            }
        }
        Viewer {
            parser,
            source: Source::Local(rx),
        }
    }

    /// Follows a channel of another bastion: `answer` is its API's feed, `rows`×`cols` the
    /// channel's screen.
    pub fn remote(rows: u16, cols: u16, answer: reqwest::Response) -> Viewer {
        let (rows, cols) = size(rows, cols);
        Viewer {
            parser: vt100::Parser::new(rows, cols, 0),
            source: Source::Remote(answer),
        }
    }

    /// Waits for more output; false when the channel has ended (or, for another bastion's,
    /// its feed stopped).
    pub async fn next(&mut self) -> bool {
        match &mut self.source {
            Source::Local(rx) => match rx.recv().await {
                Ok(b) => {
                    self.parser.process(&b);
                    true
                }
                Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => false,
            },
            Source::Remote(answer) => match answer.chunk().await {
                Ok(Some(b)) => {
                    self.parser.process(&b);
                    true
                }
                Ok(None) | Err(_) => false,
            },
        }
    }

    /// What a viewer on another bastion starts from (local viewers only: `None` else).
    pub fn into_feed(self) -> Option<FeedStart> {
        match self.source {
            Source::Local(output) => {
                let screen = self.parser.screen();
                let (rows, cols) = screen.size();
                Some(FeedStart {
                    screen: screen.contents_formatted().into_bytes(),
                    size: (rows.get(), cols.get()),
                    output,
                })
            }
            Source::Remote(_) => None,
        }
    }

    /// The screen as text lines.
    pub fn lines(&self) -> Vec<String> {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        screen.rows(0, cols.get()).collect()
    }
}

fn size(rows: u16, cols: u16) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    recorder::emulated_size(rows.into(), cols.into())
}
