//! The approval webhook: a JSON POST for each new request and each decision. Delivery runs in
//! the background with retries; a failing webhook is logged and never delays a decision.

use std::time::Duration;

use serde::Serialize;

/// Attempts per event.
const ATTEMPTS: u32 = 4;
/// Time allowed for one attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// `requested` or `decided`.
    pub event: &'static str,
    /// Request number.
    pub request: i64,
    /// Rule.
    pub rule: String,
    /// Who asked.
    pub requester: String,
    /// Target.
    pub target: String,
    /// Login.
    pub login: String,
    /// The command, masked.
    pub command: String,
    /// pending, approved, denied, timed_out, cancelled.
    pub state: String,
    /// Reviewers who decided.
    pub decided_by: Vec<String>,
    /// Their reason, for a denial.
    pub reason: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// Posts events to the configured URL.
pub struct Notifier {
    url: String,
    client: reqwest::Client,
}

impl Notifier {
    /// A notifier for `[approval] webhook`, if set.
    pub fn new(url: Option<&str>) -> anyhow::Result<Option<Notifier>> {
        let Some(url) = url else { return Ok(None) };
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Some(Notifier {
            url: url.to_string(),
            client,
        }))
    }

    /// Sends `event` in the background.
    pub fn send(&self, event: Event) {
        let (url, client) = (self.url.clone(), self.client.clone());
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(500);
            for attempt in 1..=ATTEMPTS {
                let sent = client.post(&url).json(&event).send().await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::warn!(request = event.request, attempt, status = %r.status(), "approval webhook refused the event")
                    }
                    // Without the URL: for many webhook services the URL is the secret.
                    Err(e) => tracing::warn!(
                        request = event.request,
                        attempt,
                        "approval webhook unreachable: {}",
                        e.without_url()
                    ),
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
            tracing::error!(
                request = event.request,
                "approval webhook: event dropped after {ATTEMPTS} attempts"
            );
        });
    }
}
