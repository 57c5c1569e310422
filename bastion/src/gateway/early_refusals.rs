//! Refusals the SSH library makes before any of the bastion's handlers runs.
//!
//! russh checks a certificate's validity period itself and rejects an expired (or not yet
//! valid) one without telling the handler: nothing of it reaches [`crate::gateway::connection`], so the
//! bastion could neither audit the refusal nor tell the user why. What russh does leave is its
//! warning, "Certificate is expired or not yet valid", logged (through the `log` crate) inside
//! the connection's task, the same task in which russh later calls the connection's handler
//! (and drops it). A tracing layer ([`Watch`]) recognises that warning and counts it by tokio
//! task; the handler takes its task's count ([`take_expired`]), audits the refusals and can tell
//! the user. The certificate itself stays unknown: the row and the message say what happened,
//! not which certificate.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::task::Id;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// russh's words for the refusal.
const EXPIRED: &str = "Certificate is expired or not yet valid";

/// Refusals counted per task, not yet taken. Bounded: past this many tasks, the oldest counts
/// would be lost rather than the map grow (a task takes its count at every handler call and
/// when its connection ends, so the map holds at most the connections in the middle of
/// authenticating).
const MAX_TASKS: usize = 65_536;

static EXPIRED_BY_TASK: Mutex<Option<HashMap<Id, u32>>> = Mutex::new(None);

/// Certificates the SSH library refused as expired or not yet valid in the current task (the
/// caller's connection) since the last call.
pub fn take_expired() -> u32 {
    let Some(id) = tokio::task::try_id() else {
        return 0;
    };
    let mut map = EXPIRED_BY_TASK.lock().unwrap_or_else(|e| e.into_inner());
    map.as_mut().and_then(|m| m.remove(&id)).unwrap_or(0)
}

fn note_expired() {
    let Some(id) = tokio::task::try_id() else {
        return;
    };
    let mut map = EXPIRED_BY_TASK.lock().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if map.len() >= MAX_TASKS && !map.contains_key(&id) {
        return;
    }
    *map.entry(id).or_insert(0) += 1;
}

/// The tracing layer that recognises the library's refusals.
pub struct Watch;

/// The library's log target.
pub const TARGET: &str = "russh::server";

#[derive(Default)]
struct Message(bool);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && value.contains(EXPIRED) {
            self.0 = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}").contains(EXPIRED) {
            self.0 = true;
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for Watch {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        use tracing_log::NormalizeEvent;
        // Records from `log` arrive with the target "log"; their own is in a field.
        let target = match event.normalized_metadata() {
            Some(m) => m.target().starts_with(TARGET),
            None => event.metadata().target().starts_with(TARGET),
        };
        if !target {
            return;
        }
        let mut m = Message::default();
        event.record(&mut m);
        if m.0 {
            note_expired();
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::{take_expired, Watch};

    #[tokio::test]
    async fn the_librarys_warning_counts_for_the_task_that_logged_it() {
        let subscriber = tracing_subscriber::registry().with(Watch);
        let dispatch = tracing::Dispatch::new(subscriber);
        let d = dispatch.clone();
        let mine = tokio::spawn(async move {
            tracing::dispatcher::with_default(&d, || {
                tracing::warn!(target: "russh::server::encrypted", "Certificate is expired or not yet valid");
                tracing::warn!(target: "russh::server::encrypted", "something else");
                tracing::warn!(target: "elsewhere", "Certificate is expired or not yet valid");
            });
            (take_expired(), take_expired())
        });
        let other = tokio::spawn(async { take_expired() });
        assert_eq!(mine.await.unwrap(), (1, 0));
        assert_eq!(other.await.unwrap(), 0);
        // Outside any task, nothing is counted or taken.
        assert_eq!(take_expired(), 0);
    }
}
