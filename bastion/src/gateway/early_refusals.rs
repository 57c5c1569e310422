//! Refusals the SSH library makes before any of the bastion's handlers runs.
//!
//! russh checks a certificate's validity period itself and rejects an expired (or not yet
//! valid) one without telling the handler: nothing of it reaches [`super::connection`], so the
//! bastion could neither audit the refusal nor tell the user why. What russh does leave is its
//! warning, "Certificate is expired or not yet valid", logged (through the `log` crate) inside
//! the connection's task. A tracing layer ([`Watch`]) recognises that warning and counts it for
//! the connection whose task logged it (a task-local set by [`scope`]); the connection then
//! audits it and can tell the user. The certificate itself stays unknown: the row and the
//! message say what happened, not which certificate.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;

/// russh's words for the refusal.
const EXPIRED: &str = "Certificate is expired or not yet valid";

tokio::task_local! {
    static CONNECTION: Arc<EarlyRefusals>;
}

/// One connection's refusals by the SSH library.
#[derive(Debug, Default)]
pub struct EarlyRefusals {
    expired: AtomicU32,
}

impl EarlyRefusals {
    /// Certificates refused as expired or not yet valid since the last call.
    pub fn take_expired(&self) -> u32 {
        self.expired.swap(0, Ordering::Relaxed)
    }
}

/// Runs `f` (a connection's task) with its refusals counted in `refusals`.
pub fn scope<F: Future>(refusals: Arc<EarlyRefusals>, f: F) -> impl Future<Output = F::Output> {
    CONNECTION.scope(refusals, f)
}

/// The tracing layer that recognises the library's refusals.
pub struct Watch;

/// The library's log target, for the layer's filter.
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
        if !event.metadata().target().starts_with(TARGET) {
            return;
        }
        let mut m = Message::default();
        event.record(&mut m);
        if m.0 {
            let _ = CONNECTION.try_with(|c| c.expired.fetch_add(1, Ordering::Relaxed));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tracing_subscriber::layer::SubscriberExt;

    use super::{scope, EarlyRefusals, Watch};

    #[tokio::test]
    async fn the_librarys_warning_counts_for_the_connection_that_logged_it() {
        let subscriber = tracing_subscriber::registry().with(Watch);
        let _guard = tracing::subscriber::set_default(subscriber);
        let mine = Arc::new(EarlyRefusals::default());
        let other = Arc::new(EarlyRefusals::default());
        scope(mine.clone(), async {
            tracing::warn!(target: "russh::server::encrypted", "Certificate is expired or not yet valid");
            tracing::warn!(target: "russh::server::encrypted", "something else");
            tracing::warn!(target: "elsewhere", "Certificate is expired or not yet valid");
        })
        .await;
        scope(other.clone(), async {}).await;
        assert_eq!((mine.take_expired(), mine.take_expired()), (1, 0));
        assert_eq!(other.take_expired(), 0);
    }
}
