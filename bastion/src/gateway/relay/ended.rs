//! The one error of the relay: the channel has ended. A side can no longer be written to, or
//! the user has been told why it ends; either way nothing more crosses it.

/// The channel has ended (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the channel has ended")]
pub struct Ended;
