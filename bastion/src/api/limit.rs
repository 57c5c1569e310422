//! Per-source limit on refused requests: a source that keeps presenting bad tokens is told to
//! wait, so that the API is no oracle for token guessing and no amplifier towards the IdP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Refusals allowed per source and window.
pub const MAX_FAILURES: u32 = 10;
/// The window; a blocked source is free again when it ends.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Sources tracked at most: beyond, expired entries are dropped, then the oldest.
const MAX_SOURCES: usize = 10_000;

/// Failures per source in the current window.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    sources: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl FailureLimiter {
    /// Whether `ip` has used up its failures in the current window.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        sources
            .get(&ip)
            .is_some_and(|(n, start)| *n >= MAX_FAILURES && start.elapsed() < WINDOW)
    }

    /// Counts a refused request from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if sources.len() >= MAX_SOURCES {
            sources.retain(|_, (_, start)| start.elapsed() < WINDOW);
            if sources.len() >= MAX_SOURCES {
                if let Some(oldest) = sources.iter().min_by_key(|(_, (_, s))| *s).map(|(k, _)| *k) {
                    sources.remove(&oldest);
                }
            }
        }
        let entry = sources.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 = entry.0.saturating_add(1);
    }
}
