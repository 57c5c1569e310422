//! Why a channel does not go on: the words for the user, the exit status their client gets and
//! the code that log lines and audit rows carry.

/// Exit statuses the bastion gives a channel it ends itself, as sshd and ssh use them.
pub mod status {
    /// Quit on purpose (the menu left without a choice, the review console closed).
    pub const OK: u32 = 0;
    /// Refused by policy (a capability, the recording or audit store, a forced command).
    pub const REFUSED: u32 = 1;
    /// Not understood (no target named for a command).
    pub const USAGE: u32 = 2;
    /// Held and not run (denied, timed out, cancelled), as a shell reports a command it could
    /// not run.
    pub const NOT_RUN: u32 = 126;
    /// The connection to the target failed or was lost, or the client broke the channel's
    /// bounds, as ssh reports its own connection failing.
    pub const LOST: u32 = 255;
}

/// A channel that is refused, with everything needed to tell, log and audit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// For the user, without the `bastion: ` every message starts with.
    pub message: String,
    /// The channel's exit status.
    pub status: u32,
    /// For log lines and audit rows.
    pub code: &'static str,
}

impl Refusal {
    pub fn new(code: &'static str, status: u32, message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            status,
            code,
        }
    }
}
