//! [`Masker`]: a compiled rule set, and the streams masked with it.

use std::sync::Arc;
use std::time::Duration;

use crate::dual::DualMasker;
use crate::engine::Engine;
use crate::live::LiveMasker;
use crate::recording::RecordingMasker;

/// A compiled rule set, shared by every stream masked with it. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Masker {
    engine: Arc<Engine>,
}

impl Masker {
    pub(crate) fn new(engine: Arc<Engine>) -> Masker {
        Masker { engine }
    }

    /// What every stream of this rule set shares.
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A new exact masker for one stream (recordings).
    pub fn recording(&self) -> RecordingMasker {
        RecordingMasker::new(self.engine.clone())
    }

    /// A masker serving both a recording and a screen from one scan (see [`DualMasker`]).
    pub fn dual(&self, hold: Duration) -> DualMasker {
        DualMasker::new(self.engine.clone(), hold)
    }

    /// A new live masker for one stream, holding bytes at most `hold`
    /// ([`DEFAULT_LIVE_HOLD`](crate::DEFAULT_LIVE_HOLD) is the default).
    pub fn live(&self, hold: Duration) -> LiveMasker {
        LiveMasker::new(self.engine.clone(), hold)
    }
}
