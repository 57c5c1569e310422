//! How to play.

use std::path::PathBuf;
use std::time::Duration;

use recorder::VerifyingKey;

/// Playback settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayOptions {
    /// Playback speed factor (2.0 plays twice as fast).
    pub speed: f64,
    /// Longest pause between events; `None` uses the file's `idle_time_limit`, if any.
    pub idle_limit: Option<Duration>,
    /// Start this far into the (idle-limited) recording.
    pub start_at: Duration,
    /// Keys trusted to sign recordings; see [`crate::verify()`].
    pub trusted_keys: Vec<VerifyingKey>,
    /// Sidecar path; `None` means `<cast>.sig`.
    pub sidecar: Option<PathBuf>,
    /// Play even if verification finds tampering.
    pub force: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            idle_limit: None,
            start_at: Duration::ZERO,
            trusted_keys: Vec::new(),
            sidecar: None,
            force: false,
        }
    }
}
