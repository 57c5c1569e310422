//! The HTTP client behind `openidconnect` (discovery, JWKS, device and code flows): the
//! project's reqwest client as the library's [`AsyncHttpClient`], with the protections against
//! a provider (or whatever a configured URL points at) that misbehaves: redirects are never
//! followed ([`client_builder`]) and answers are bounded ([`MAX_ANSWER_BYTES`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Largest answer read from a provider. Discovery documents, key sets and token answers are a
/// few KiB; a provider streaming more is not waited for.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A reqwest client builder for talking to OpenID providers: no redirects (SSRF, issuer
/// confusion), every request bounded by `timeout`.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
}

/// Why a request got no usable answer, without the underlying error (cheap to keep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Not reached, or no answer in time: what went wrong.
    Unreachable(String),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
}

/// A request that got no usable answer.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// Not sent, or no (complete) answer.
    Transport(reqwest::Error),
    /// The answer was larger than [`MAX_ANSWER_BYTES`].
    TooLarge,
}

impl HttpError {
    pub(crate) fn failure(&self) -> Failure {
        match self {
            HttpError::Transport(e) if e.is_timeout() => Failure::Unreachable("timed out".into()),
            HttpError::Transport(e) => Failure::Unreachable(e.to_string()),
            HttpError::TooLarge => Failure::TooLarge,
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.failure() {
            Failure::Unreachable(detail) => f.write_str(&detail),
            Failure::TooLarge => write!(f, "the answer is larger than {MAX_ANSWER_BYTES} bytes"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The reqwest error's own message is this one's: its causes come next.
            HttpError::Transport(e) => std::error::Error::source(e),
            HttpError::TooLarge => None,
        }
    }
}

/// A borrowed reqwest client as `openidconnect`'s HTTP client. It remembers the last failure:
/// the device grant's poll loop retries after one instead of returning it (see
/// `flows::poll_device`).
pub(crate) struct Http<'a> {
    client: &'a reqwest::Client,
    failure: Mutex<Option<Failure>>,
}

impl<'a> Http<'a> {
    pub(crate) fn new(client: &'a reqwest::Client) -> Http<'a> {
        Http {
            client,
            failure: Mutex::new(None),
        }
    }

    /// The last failure, if any, forgotten.
    pub(crate) fn take_failure(&self) -> Option<Failure> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let answer = self.exchange(request).await;
        if let Err(e) = &answer {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.failure());
        }
        answer
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Transport)?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(HttpError::Transport)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(HttpError::TooLarge);
        }
        let status = response.status();
        let version = response.version();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::Transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(HttpError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let mut answer = HttpResponse::new(body);
        *answer.status_mut() = status;
        *answer.version_mut() = version;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

impl<'c> AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
