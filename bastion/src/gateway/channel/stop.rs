//! How a channel's stages stop short, and how long a channel may outlive its client.

use std::time::Duration;

use crate::gateway::refusal::Refusal;

/// Why a stage did not hand the channel on.
#[derive(Debug)]
pub enum Stop {
    /// The client closed the channel, or its connection went away: nobody to tell.
    Gone,
    /// The user left the menu without a choice.
    Quit,
    /// Refused: the user is told, the channel ends with the refusal's status.
    Refused(Refusal),
}

/// How long a channel may go on once its client's connection is gone: time for the command's
/// last output and exit status to reach the recording.
pub const GONE_GRACE: Duration = Duration::from_secs(5);

/// How long any channel task may go on once its client's connection is gone: past the
/// relay's own bound, time to seal its recording and close its row.
pub const LONG_GONE: Duration = Duration::from_secs(20);
