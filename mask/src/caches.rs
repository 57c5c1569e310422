//! The mutable search state of a compiled rule set's automata, and the pool streams take it
//! from.

use regex_automata::hybrid::dfa::Cache as DfaCache;
use regex_automata::hybrid::LazyStateID;
use regex_automata::meta;
use regex_automata::util::captures::Captures;

/// The mutable search state of the automata: lazy-DFA caches grow with the states visited
/// (tens to hundreds of KiB). A stream takes a set from its engine's pool for each chunk and
/// gives it back afterwards, so idle streams hold none and a busy bastion needs about one set
/// per core.
#[derive(Debug)]
pub(crate) struct Caches {
    /// Lazy DFA state IDs are only meaningful with the cache that made them.
    pub(crate) id: u64,
    pub(crate) cache: regex_automata::hybrid::regex::Cache,
    pub(crate) dfa: DfaCache,
    /// Per rule with a capture group: cache and captures of its own regex (see
    /// `CompiledRule::captures`), indexed by pattern ID.
    pub(crate) groups: Vec<Option<(meta::Cache, Captures)>>,
    /// Recent answers of `settled` (a walk over every byte class), for the lazy DFA's
    /// clear count they were found under: the same few match states come back all the time.
    pub(crate) settled: Settled,
}

/// A few `(state, settled)` answers, valid while the lazy DFA's cache is not cleared.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    pub(crate) clears: usize,
    pub(crate) next: usize,
    pub(crate) known: [Option<(LazyStateID, bool)>; 8],
}

/// Idle [`Caches`] of one engine.
#[derive(Debug, Default)]
pub(crate) struct CachePool {
    // Boxed because streams hold them boxed: taking and giving back moves a pointer, with no
    // allocation per chunk.
    #[allow(clippy::vec_box)]
    idle: std::sync::Mutex<Vec<Box<Caches>>>,
    made: std::sync::atomic::AtomicU64,
}

/// Idle cache sets kept per engine; more are dropped when given back.
const POOL_MAX: usize = 16;

impl CachePool {
    /// An idle set, or a new one made by `make` from its id.
    pub(crate) fn take(&self, make: impl FnOnce(u64) -> Caches) -> Box<Caches> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return c;
        }
        Box::new(make(
            self.made.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ))
    }

    /// Keeps `c` for the next taker (up to a few idle sets).
    pub(crate) fn give_back(&self, c: Box<Caches>) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < POOL_MAX {
                idle.push(c);
            }
        }
    }
}
