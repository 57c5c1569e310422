//! When an unauthenticated connection is dropped.
//!
//! Every connection must authenticate within the login grace time. A device login waiting for
//! a person at a browser gets its own time on top. Once a sign-in is over without success the
//! connection holds neither an unauthenticated-connection place nor a device-login place (see
//! [`crate::gateway::device_login`]), so it keeps only a moment to show the reason, whatever is left of
//! the grace time.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a connection whose sign-in is over stays open: the client reads the reason and
/// answers the last round.
const OVER_LINGER: Duration = Duration::from_secs(10);

/// How often a waiting connection looks whether its phase changed.
const CHECK: Duration = Duration::from_secs(1);

/// One connection's login deadline.
#[derive(Debug)]
pub struct LoginClock {
    started: Instant,
    grace: Duration,
    device_time: Duration,
    phase: Mutex<Phase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No device login: the grace time.
    Plain,
    /// A device login waits for its user: the grace time plus the device-login time.
    Waiting,
    /// The device login ended without success at this instant.
    Over(Instant),
}

impl LoginClock {
    /// A clock started now.
    pub fn new(grace: Duration, device_time: Duration) -> LoginClock {
        LoginClock {
            started: Instant::now(),
            grace,
            device_time,
            phase: Mutex::new(Phase::Plain),
        }
    }

    /// A device login is waiting for its user.
    pub fn sign_in_waiting(&self) {
        *self.lock() = Phase::Waiting;
    }

    /// The device login ended without success (first call counts).
    pub fn sign_in_over(&self) {
        let mut phase = self.lock();
        if !matches!(*phase, Phase::Over(_)) {
            *phase = Phase::Over(Instant::now());
        }
    }

    /// Returns once the connection should have authenticated.
    pub async fn expired(&self) {
        loop {
            let due = self.deadline();
            let now = Instant::now();
            if now >= due {
                return;
            }
            tokio::time::sleep((due - now).min(CHECK)).await;
        }
    }

    /// Why an unauthenticated connection is dropped, for the user and the log.
    pub fn reason(&self) -> String {
        match *self.lock() {
            Phase::Over(_) => "the device sign-in is over without success".into(),
            Phase::Plain | Phase::Waiting => {
                format!("login grace time ({}s) exceeded", self.grace.as_secs())
            }
        }
    }

    fn deadline(&self) -> Instant {
        match *self.lock() {
            Phase::Plain => self.started + self.grace,
            Phase::Waiting => self.started + self.grace + self.device_time,
            Phase::Over(at) => at + OVER_LINGER,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // Each update is one assignment: a poisoned lock still holds a consistent phase.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_logins_extend_the_grace_time_until_they_are_over() {
        let clock = LoginClock::new(Duration::from_secs(60), Duration::from_secs(300));
        let t0 = clock.started;
        assert_eq!(clock.deadline(), t0 + Duration::from_secs(60));
        clock.sign_in_waiting();
        assert_eq!(clock.deadline(), t0 + Duration::from_secs(360));
        assert_eq!(clock.reason(), "login grace time (60s) exceeded");
        // Over early: a moment to show the reason, not the rest of the grace time.
        clock.sign_in_over();
        let over = clock.deadline();
        assert!(over <= Instant::now() + OVER_LINGER && over < t0 + Duration::from_secs(60));
        assert_eq!(clock.reason(), "the device sign-in is over without success");
        clock.sign_in_over();
        assert_eq!(clock.deadline(), over);
    }
}
