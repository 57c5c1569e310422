//! What a user sees while a request waits: the time waited and the time left. On a terminal
//! one status line is rewritten in place every second; without one (a command's stderr, often
//! a log) a line is written at each step of a coarser period, so that a long wait does not
//! flood it. The decision that ends the wait is told by the hold itself.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::gateway::client::Client;
use crate::human;

/// How often the status changes on a terminal.
const TERMINAL_EVERY: Duration = Duration::from_secs(1);
/// Bounds of the period of the lines written without a terminal (a tenth of the rule's
/// timeout between them).
const LINES_EVERY_MIN: Duration = Duration::from_secs(5);
const LINES_EVERY_MAX: Duration = Duration::from_secs(60);
/// How long one status write may wait for the client (it never holds up the decision).
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The status of one waiting request.
pub struct Waiting {
    id: i64,
    started: Instant,
    deadline: Instant,
    /// Rewrite one line in place (the channel has a terminal).
    in_place: bool,
    /// A status line is on the terminal now, to be erased at the end.
    shown: bool,
}

impl Waiting {
    /// Request `id`, waited for from now until `deadline`.
    pub fn new(id: i64, deadline: Instant, in_place: bool) -> Waiting {
        Waiting {
            id,
            started: Instant::now(),
            deadline,
            in_place,
            shown: false,
        }
    }

    /// How often the status changes.
    pub fn every(&self) -> Duration {
        if self.in_place {
            TERMINAL_EVERY
        } else {
            (round(self.deadline.saturating_duration_since(self.started)) / 10)
                .clamp(LINES_EVERY_MIN, LINES_EVERY_MAX)
        }
    }

    /// The time waited so far, to the second.
    pub fn waited(&self, now: Instant) -> Duration {
        round(now.saturating_duration_since(self.started))
    }

    /// `bastion: request 42: waiting 15s, 9m 45s left`
    pub fn text(&self, now: Instant) -> String {
        format!(
            "bastion: request {}: waiting {}, {} left",
            self.id,
            human::duration(self.waited(now)),
            human::duration(round(self.deadline.saturating_duration_since(now)))
        )
    }

    /// Shows the status as of `now`.
    pub async fn show(&mut self, client: &Client, now: Instant) {
        let text = self.text(now);
        let write = async {
            if self.in_place {
                client
                    .tx
                    .data_bytes(Bytes::from(format!("\r{text}\x1b[K")))
                    .await
            } else {
                client
                    .tx
                    .extended_data_bytes(1, Bytes::from(format!("{text}\n")))
                    .await
            }
        };
        let _ = tokio::time::timeout(WRITE_TIMEOUT, write).await;
        self.shown = true;
    }

    /// Erases the status line from the terminal, before the decision is told.
    pub async fn clear(&mut self, client: &Client) {
        if self.in_place && self.shown {
            let erase = client.tx.data_bytes(Bytes::from_static(b"\r\x1b[K"));
            let _ = tokio::time::timeout(WRITE_TIMEOUT, erase).await;
            self.shown = false;
        }
    }
}

/// `d` to the nearest second.
fn round(d: Duration) -> Duration {
    Duration::from_secs((d + Duration::from_millis(500)).as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_time_waited_and_left_at_the_pace_of_its_medium() {
        let start = Instant::now();
        let w = Waiting::new(42, start + Duration::from_secs(600), true);
        assert_eq!(w.every(), Duration::from_secs(1));
        assert_eq!(
            w.text(start + Duration::from_millis(15_200)),
            "bastion: request 42: waiting 15s, 9m 45s left"
        );
        let lines = Waiting::new(7, start + Duration::from_secs(600), false);
        assert_eq!(lines.every(), Duration::from_secs(60));
        let short = Waiting::new(7, start + Duration::from_secs(20), false);
        assert_eq!(short.every(), Duration::from_secs(5));
        assert_eq!(
            short.text(start + Duration::from_secs(25)),
            "bastion: request 7: waiting 25s, 0s left"
        );
    }
}
