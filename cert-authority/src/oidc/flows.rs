//! Signing in at the provider, as its client: the device authorization grant (RFC 8628) and the
//! authorization code grant with PKCE and a loopback redirect (RFC 8252).
//!
//! `bastion login` runs them on the user's machine; the SSH gateway runs the device grant for
//! users who arrive with plain `ssh` and no certificate. Both end with an ID token, verified
//! afterwards like any other ([`super::Identities::grant`]). Codes, verifiers and tokens never
//! appear in errors or `Debug` output.

use std::time::Duration;

use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge};
use serde_json::Value;

/// Why a sign-in did not produce an ID token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The provider could not be reached or did not answer in time.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The provider answered something that is not what the protocol says.
    #[error("{url}: {detail}")]
    BadAnswer {
        /// The endpoint.
        url: String,
        /// What was wrong with the answer.
        detail: String,
    },
    /// Discovery names no device authorization endpoint.
    #[error("{issuer} does not offer the device authorization grant")]
    NoDeviceGrant {
        /// The provider.
        issuer: String,
    },
    /// The user (or the provider) refused the sign-in.
    #[error("the sign-in was denied")]
    Denied,
    /// The device code expired before anyone signed in.
    #[error("the code expired before anyone signed in")]
    Expired,
    /// Any other OAuth error, by its code.
    #[error("the provider refused: {0}")]
    Refused(String),
}

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The issuer, without a trailing slash.
    pub issuer: String,
    /// `authorization_endpoint` (auth code grant).
    pub authorization: Option<String>,
    /// `token_endpoint`.
    pub token: String,
    /// `device_authorization_endpoint` (RFC 8628).
    pub device_authorization: Option<String>,
}

impl Endpoints {
    /// Reads `ISSUER/.well-known/openid-configuration`.
    ///
    /// # Errors
    /// [`FlowError::Unreachable`] or [`FlowError::BadAnswer`].
    pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, FlowError> {
        let issuer = issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc = get_json(http, &url).await?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
        Ok(Endpoints {
            issuer: issuer.to_string(),
            authorization: field("authorization_endpoint"),
            token: field("token_endpoint").ok_or_else(|| FlowError::BadAnswer {
                url: url.clone(),
                detail: "no token_endpoint".into(),
            })?,
            device_authorization: field("device_authorization_endpoint"),
        })
    }
}

/// A started device authorization: what to show the user, and what to poll with.
#[derive(Clone)]
pub struct DeviceAuthorization {
    /// The code the user enters at the verification page.
    pub user_code: String,
    /// The page where the user enters it.
    pub verification_uri: String,
    /// The page with the code filled in, when the provider offers one.
    pub verification_uri_complete: Option<String>,
    /// Least time between two polls (raised by `slow_down`).
    pub interval: Duration,
    /// How long the code stays valid.
    pub expires_in: Duration,
    device_code: String,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("interval", &self.interval)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// One poll's outcome when the flow is not over yet, or the ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// Signed in: the ID token.
    Token(String),
    /// Nobody has signed in yet.
    Pending,
    /// Poll less often: the interval has been raised by 5 s (RFC 8628 §3.5).
    SlowDown,
}

/// RFC 8628 §3.1: asks for a device code and a user code.
///
/// # Errors
/// [`FlowError::NoDeviceGrant`] when the provider has no device endpoint; the others as
/// [`Endpoints::discover`].
pub async fn start_device(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    client_id: &str,
    scopes: &[String],
) -> Result<DeviceAuthorization, FlowError> {
    let url =
        endpoints
            .device_authorization
            .as_deref()
            .ok_or_else(|| FlowError::NoDeviceGrant {
                issuer: endpoints.issuer.clone(),
            })?;
    let answer = post_form(
        http,
        url,
        &[("client_id", client_id), ("scope", &scopes.join(" "))],
    )
    .await?;
    device_authorization(url, &answer)
}

/// The device authorization in a provider's answer.
fn device_authorization(url: &str, answer: &Value) -> Result<DeviceAuthorization, FlowError> {
    if let Some(e) = answer.get("error").and_then(Value::as_str) {
        return Err(FlowError::Refused(e.to_string()));
    }
    let text = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_string);
    let missing = |name: &str| FlowError::BadAnswer {
        url: url.to_string(),
        detail: format!("no {name} in the device authorization"),
    };
    // Bounded to a day: the values are added to clock readings, and no sign-in waits longer.
    let secs = |name: &str, default: u64| {
        let n = answer.get(name).and_then(Value::as_u64).unwrap_or(default);
        Duration::from_secs(n.min(MAX_DEVICE_SECS))
    };
    Ok(DeviceAuthorization {
        device_code: text("device_code").ok_or_else(|| missing("device_code"))?,
        user_code: text("user_code").ok_or_else(|| missing("user_code"))?,
        verification_uri: text("verification_uri").ok_or_else(|| missing("verification_uri"))?,
        verification_uri_complete: text("verification_uri_complete"),
        // §3.5: 5 s when the provider does not say.
        interval: secs("interval", 5).max(Duration::from_secs(1)),
        expires_in: secs("expires_in", 600),
    })
}

/// Largest `interval` or `expires_in` taken from a provider, in seconds.
const MAX_DEVICE_SECS: u64 = 24 * 3600;

/// RFC 8628 §3.4: one poll of the token endpoint. `slow_down` raises `auth.interval`.
///
/// # Errors
/// [`FlowError::Denied`], [`FlowError::Expired`], [`FlowError::Refused`] for the other OAuth
/// errors, or the transport errors.
pub async fn poll_device(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    client_id: &str,
    auth: &mut DeviceAuthorization,
) -> Result<DevicePoll, FlowError> {
    let answer = post_form(
        http,
        &endpoints.token,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", &auth.device_code),
            ("client_id", client_id),
        ],
    )
    .await?;
    token_or_error(&endpoints.token, &answer)
        .map(DevicePoll::Token)
        .or_else(|e| match e {
            FlowError::Refused(code) if code == "authorization_pending" => Ok(DevicePoll::Pending),
            FlowError::Refused(code) if code == "slow_down" => {
                auth.interval = (auth.interval + Duration::from_secs(5))
                    .min(Duration::from_secs(MAX_DEVICE_SECS));
                Ok(DevicePoll::SlowDown)
            }
            other => Err(other),
        })
}

/// An authorization request with PKCE (S256), state and nonce, for a loopback redirect.
pub struct AuthorizationRequest {
    /// Where to send the user's browser.
    pub url: String,
    /// Must come back unchanged with the code (CSRF).
    pub state: String,
    /// Must be in the ID token; the API checks it.
    pub nonce: String,
    redirect_uri: String,
    verifier: String,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl AuthorizationRequest {
    /// A new request with fresh random state, nonce and PKCE verifier.
    ///
    /// # Errors
    /// [`FlowError::BadAnswer`] when discovery named no (valid) authorization endpoint.
    pub fn new(
        endpoints: &Endpoints,
        client_id: &str,
        scopes: &[String],
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, FlowError> {
        let bad = |detail: &str| FlowError::BadAnswer {
            url: endpoints.issuer.clone(),
            detail: detail.to_string(),
        };
        let base = endpoints
            .authorization
            .as_deref()
            .ok_or_else(|| bad("no authorization_endpoint in discovery"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random().secret().clone();
        let nonce = Nonce::new_random().secret().clone();
        let url = reqwest::Url::parse_with_params(
            base,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("scope", &scopes.join(" ")),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", challenge.method().as_str()),
            ],
        )
        .map_err(|_| bad("the authorization endpoint is not a URL"))?;
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state,
            nonce,
            redirect_uri: redirect_uri.to_string(),
            verifier: verifier.secret().clone(),
        })
    }

    /// The redirect's query (`code=…&state=…` or `error=…`) checked against this request, then
    /// the code exchanged for the ID token with the PKCE verifier.
    ///
    /// # Errors
    /// [`FlowError::Refused`] for an `error` redirect or a state mismatch; the token
    /// endpoint's errors.
    pub async fn finish(
        &self,
        http: &reqwest::Client,
        endpoints: &Endpoints,
        client_id: &str,
        query: &str,
    ) -> Result<String, FlowError> {
        let params: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{query}"))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some(e) = get("error") {
            return Err(match e {
                "access_denied" => FlowError::Denied,
                other => FlowError::Refused(match get("error_description") {
                    Some(d) => format!("{other}: {d}"),
                    None => other.to_string(),
                }),
            });
        }
        if get("state") != Some(self.state.as_str()) {
            return Err(FlowError::Refused(
                "the redirect's state does not match the request (not this sign-in)".into(),
            ));
        }
        let code =
            get("code").ok_or_else(|| FlowError::Refused("the redirect carries no code".into()))?;
        let answer = post_form(
            http,
            &endpoints.token,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("client_id", client_id),
                ("code_verifier", &self.verifier),
            ],
        )
        .await?;
        token_or_error(&endpoints.token, &answer)
    }
}

/// The `id_token` of a token endpoint answer, or its OAuth error.
fn token_or_error(url: &str, answer: &Value) -> Result<String, FlowError> {
    if let Some(t) = answer.get("id_token").and_then(Value::as_str) {
        return Ok(t.to_string());
    }
    match answer.get("error").and_then(Value::as_str) {
        Some("access_denied") => Err(FlowError::Denied),
        Some("expired_token") => Err(FlowError::Expired),
        Some(other) => Err(FlowError::Refused(other.to_string())),
        None => Err(FlowError::BadAnswer {
            url: url.to_string(),
            detail: "neither id_token nor error in the answer (is `openid` in the scopes?)".into(),
        }),
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, FlowError> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    if !resp.status().is_success() {
        return Err(FlowError::BadAnswer {
            url: url.to_string(),
            detail: resp.status().to_string(),
        });
    }
    json(url, resp).await
}

/// Token endpoints answer errors with 400 and a JSON body: the body is what counts.
async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Value, FlowError> {
    let resp = http
        .post(url)
        .form(form)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    json(url, resp).await
}

async fn json(url: &str, resp: reqwest::Response) -> Result<Value, FlowError> {
    let status = resp.status();
    resp.json().await.map_err(|_| FlowError::BadAnswer {
        url: url.to_string(),
        detail: format!("{status}, not JSON"),
    })
}

fn unreachable(url: &str, e: &reqwest::Error) -> FlowError {
    FlowError::Unreachable {
        url: url.to_string(),
        detail: if e.is_timeout() {
            "timed out".into()
        } else {
            e.to_string()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_times_from_the_provider_are_bounded() {
        let answer = serde_json::json!({
            "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            "interval": u64::MAX, "expires_in": u64::MAX,
        });
        let auth = device_authorization("https://op/device_authorization", &answer).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(MAX_DEVICE_SECS));
        assert_eq!(auth.expires_in, Duration::from_secs(MAX_DEVICE_SECS));
        // Added to a clock reading, as the pollers do: no overflow.
        let _ = std::time::Instant::now() + auth.interval + auth.expires_in;
        let zero = serde_json::json!({
            "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            "interval": 0,
        });
        let auth = device_authorization("https://op/device_authorization", &zero).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(1));
        assert_eq!(auth.expires_in, Duration::from_secs(600));
    }
}
