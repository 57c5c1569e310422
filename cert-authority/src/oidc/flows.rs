//! Signing in at the provider, as its client: the device authorization grant (RFC 8628) and the
//! authorization code grant with PKCE and a loopback redirect (RFC 8252).
//!
//! `bastion login` runs them on the user's machine; the SSH gateway runs the device grant for
//! users who arrive with plain `ssh` and no certificate. Both end with an ID token, verified
//! afterwards like any other ([`super::Identities::grant`]). Codes, verifiers and tokens never
//! appear in errors or `Debug` output.
//!
//! Discovery, the device grant and the code exchange are `openidconnect`'s typed client, over
//! [`super::http`] (no redirects, bounded answers). Two parts are this module's own: the
//! device grant is polled one request at a time (the library's poll loop sleeps on its own; see
//! [`poll_device`]), and the loopback redirect's query is checked here (the library has nothing
//! for a redirect's query).

use std::borrow::Cow;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreDeviceAuthorizationResponse, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::http::StatusCode;
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, AuthorizationCode, ClientId, CsrfToken,
    DeviceAuthorizationUrl, DiscoveryError, EndpointNotSet, EndpointSet, ErrorResponseType,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::http::{Failure, Http, HttpError, MAX_ANSWER_BYTES};

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

/// Discovery's `device_authorization_endpoint` (RFC 8628 §4), which the core metadata lacks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct DeviceEndpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}
impl AdditionalProviderMetadata for DeviceEndpoint {}

type Metadata = ProviderMetadata<
    DeviceEndpoint,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// A client with its authorization and token endpoints set.
type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub struct Endpoints {
    issuer: IssuerUrl,
    authorization: AuthUrl,
    token: TokenUrl,
    device_authorization: Option<DeviceAuthorizationUrl>,
}

impl Endpoints {
    /// Reads `ISSUER/.well-known/openid-configuration` (and the key set it names), checking
    /// that it is the issuer's.
    ///
    /// # Errors
    /// [`FlowError::Unreachable`] or [`FlowError::BadAnswer`].
    pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Endpoints, FlowError> {
        let issuer = issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let issuer_url = IssuerUrl::new(issuer.to_string()).map_err(|_| FlowError::BadAnswer {
            url: issuer.to_string(),
            detail: "the issuer is not a URL".into(),
        })?;
        let doc = Metadata::discover_async(issuer_url.clone(), &Http::new(http))
            .await
            .map_err(|e| discovery_error(&url, e))?;
        Ok(Endpoints {
            issuer: issuer_url,
            authorization: doc.authorization_endpoint().clone(),
            token: doc
                .token_endpoint()
                .cloned()
                .ok_or_else(|| FlowError::BadAnswer {
                    url: url.clone(),
                    detail: "no token_endpoint".into(),
                })?,
            device_authorization: doc
                .additional_metadata()
                .device_authorization_endpoint
                .clone(),
        })
    }

    /// The issuer, without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    fn client(&self, client_id: &str) -> Client {
        // No keys: this client only fetches tokens; they are verified like any other
        // (`Identities::grant`).
        CoreClient::new(
            ClientId::new(client_id.to_string()),
            self.issuer.clone(),
            CoreJsonWebKeySet::new(Vec::new()),
        )
        .set_auth_uri(self.authorization.clone())
        .set_token_uri(self.token.clone())
        // The configured scopes are sent as they are.
        .disable_openid_scope()
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
    /// The provider's answer, its times bounded (see [`device_authorization`]).
    answer: CoreDeviceAuthorizationResponse,
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
/// [`FlowError::NoDeviceGrant`] when the provider has no device endpoint;
/// [`FlowError::Refused`] with the provider's error code; the others as
/// [`Endpoints::discover`].
pub async fn start_device(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    client_id: &str,
    scopes: &[String],
) -> Result<DeviceAuthorization, FlowError> {
    let url = endpoints
        .device_authorization
        .clone()
        .ok_or_else(|| FlowError::NoDeviceGrant {
            issuer: endpoints.issuer().to_string(),
        })?;
    let answer: CoreDeviceAuthorizationResponse = endpoints
        .client(client_id)
        .set_device_authorization_url(url.clone())
        .exchange_device_code()
        .add_scopes(scopes.iter().cloned().map(Scope::new))
        .request_async(&Http::new(http))
        .await
        .map_err(|e| request_error(url.as_str(), e, "a device authorization"))?;
    device_authorization(url.as_str(), answer)
}

/// The device authorization in a provider's answer, its times bounded to a day: they are added
/// to clock readings, and no sign-in waits longer. The answer kept for polling is bounded too:
/// the library adds 5 s to its interval on `slow_down`, which must not overflow.
fn device_authorization(
    url: &str,
    answer: CoreDeviceAuthorizationResponse,
) -> Result<DeviceAuthorization, FlowError> {
    let max = Duration::from_secs(MAX_DEVICE_SECS);
    let interval = answer.interval().min(max);
    let expires_in = answer.expires_in().min(max);
    // The answer's fields have no setters: bounded through its serialized form.
    let bounded = serde_json::to_value(&answer)
        .ok()
        .and_then(|mut fields| {
            let map = fields.as_object_mut()?;
            map.insert("interval".into(), interval.as_secs().into());
            map.insert("expires_in".into(), expires_in.as_secs().into());
            serde_json::from_value::<CoreDeviceAuthorizationResponse>(fields).ok()
        })
        .ok_or_else(|| FlowError::BadAnswer {
            url: url.to_string(),
            detail: "unusable device authorization".into(),
        })?;
    Ok(DeviceAuthorization {
        user_code: bounded.user_code().secret().clone(),
        verification_uri: bounded.verification_uri().to_string(),
        verification_uri_complete: bounded
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        // §3.5: 5 s when the provider does not say (the library's default).
        interval: interval.max(Duration::from_secs(1)),
        expires_in,
        answer: bounded,
    })
}

/// Largest `interval` or `expires_in` taken from a provider, in seconds.
const MAX_DEVICE_SECS: u64 = 24 * 3600;

/// RFC 8628 §3.4: one poll of the token endpoint. `slow_down` raises `auth.interval`.
///
/// The library's device token request polls in a loop and sleeps between polls with a function
/// it is given; the callers here own the waiting instead (the gateway returns to the SSH client
/// between polls, and a transport error ends the sign-in rather than being retried). So each
/// call is one poll: the sleep function never returns, and being asked to sleep says that the
/// poll was not the last one (pending, `slow_down`, or a transport error, which the library
/// retries and [`Http`] remembers).
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
    let url = endpoints.token.as_str();
    let http = Http::new(http);
    let client = endpoints.client(client_id);
    let polled = {
        let (asked, mut sleeps) = tokio::sync::mpsc::unbounded_channel();
        let sleep = move |next: Duration| {
            let _ = asked.send(next);
            std::future::pending::<()>()
        };
        // The library's own deadline is not the one that counts (see the callers).
        let answer = client
            .exchange_device_access_token(&auth.answer)
            .request_async(&http, sleep, Some(Duration::from_secs(MAX_DEVICE_SECS)));
        tokio::select! {
            biased;
            answer = answer => Ok(answer),
            Some(next) = sleeps.recv() => Err(next),
        }
    };
    let next = match polled {
        Ok(answer) => {
            let answer = answer.map_err(|e| token_error(url, e))?;
            return id_token(url, &answer).map(DevicePoll::Token);
        }
        Err(next) => next,
    };
    if let Some(failure) = http.take_failure() {
        return Err(failure_error(url, failure));
    }
    // The library waits the answer's interval after `authorization_pending`, 5 s more after
    // `slow_down`.
    if next > auth.answer.interval() {
        auth.interval =
            (auth.interval + Duration::from_secs(5)).min(Duration::from_secs(MAX_DEVICE_SECS));
        Ok(DevicePoll::SlowDown)
    } else {
        Ok(DevicePoll::Pending)
    }
}

/// An authorization request with PKCE (S256), state and nonce, for a loopback redirect.
pub struct AuthorizationRequest {
    /// Where to send the user's browser.
    pub url: String,
    /// Must come back unchanged with the code (CSRF).
    pub state: String,
    /// Must be in the ID token; the API checks it.
    pub nonce: String,
    redirect_uri: RedirectUrl,
    verifier: String,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl AuthorizationRequest {
    /// A new request with fresh random state, nonce and PKCE verifier.
    ///
    /// # Errors
    /// [`FlowError::BadAnswer`] when `redirect_uri` is not a URL.
    pub fn new(
        endpoints: &Endpoints,
        client_id: &str,
        scopes: &[String],
        redirect_uri: &str,
    ) -> Result<AuthorizationRequest, FlowError> {
        let redirect_uri =
            RedirectUrl::new(redirect_uri.to_string()).map_err(|_| FlowError::BadAnswer {
                url: redirect_uri.to_string(),
                detail: "the redirect URI is not a URL".into(),
            })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = endpoints
            .client(client_id)
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Borrowed(&redirect_uri))
            .url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            redirect_uri,
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
        let url = endpoints.token.as_str();
        let answer = endpoints
            .client(client_id)
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(self.verifier.clone()))
            .set_redirect_uri(Cow::Borrowed(&self.redirect_uri))
            .request_async(&Http::new(http))
            .await
            .map_err(|e| token_error(url, e))?;
        id_token(url, &answer)
    }
}

/// The `id_token` of a token endpoint answer, as the provider sent it.
fn id_token(url: &str, answer: &CoreTokenResponse) -> Result<String, FlowError> {
    answer
        .id_token()
        .map(ToString::to_string)
        .ok_or_else(|| FlowError::BadAnswer {
            url: url.to_string(),
            detail: "neither id_token nor error in the answer (is `openid` in the scopes?)".into(),
        })
}

/// A token endpoint's error: `access_denied` and `expired_token` have their own variants.
fn token_error<T>(url: &str, e: RequestTokenError<HttpError, StandardErrorResponse<T>>) -> FlowError
where
    T: ErrorResponseType + AsRef<str> + std::fmt::Display + Send + Sync + 'static,
{
    match request_error(url, e, "a token answer") {
        FlowError::Refused(code) if code == "access_denied" => FlowError::Denied,
        FlowError::Refused(code) if code == "expired_token" => FlowError::Expired,
        other => other,
    }
}

/// An OAuth endpoint's error: an OAuth error by its code, or what kept the answer from being
/// read (without its content, which may hold codes or tokens).
fn request_error<T>(
    url: &str,
    e: RequestTokenError<HttpError, StandardErrorResponse<T>>,
    what: &str,
) -> FlowError
where
    T: ErrorResponseType + AsRef<str> + std::fmt::Display + Send + Sync + 'static,
{
    let detail = match e {
        RequestTokenError::ServerResponse(answer) => {
            return FlowError::Refused(answer.error().as_ref().to_string())
        }
        RequestTokenError::Request(e) => return failure_error(url, e.failure()),
        RequestTokenError::Parse(e, _) => unreadable(what, e.inner(), &e.path().to_string()),
        RequestTokenError::Other(why) => why,
    };
    FlowError::BadAnswer {
        url: url.to_string(),
        detail,
    }
}

fn discovery_error(url: &str, e: DiscoveryError<HttpError>) -> FlowError {
    let detail = match e {
        DiscoveryError::Request(e) => return failure_error(url, e.failure()),
        DiscoveryError::Response(status, _, _) if status != StatusCode::OK => status.to_string(),
        DiscoveryError::Response(_, _, why)
        | DiscoveryError::Validation(why)
        | DiscoveryError::Other(why) => why,
        DiscoveryError::Parse(e) => {
            unreadable("a discovery document", e.inner(), &e.path().to_string())
        }
        other => other.to_string(),
    };
    FlowError::BadAnswer {
        url: url.to_string(),
        detail,
    }
}

fn failure_error(url: &str, failure: Failure) -> FlowError {
    match failure {
        Failure::Unreachable(detail) => FlowError::Unreachable {
            url: url.to_string(),
            detail,
        },
        Failure::TooLarge => FlowError::BadAnswer {
            url: url.to_string(),
            detail: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
        },
    }
}

/// Why an answer could not be read, naming at most a field: serde's messages may quote values.
fn unreadable(what: &str, e: &serde_json::Error, path: &str) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let text = e.to_string();
            let text = text.split(" at line").next().unwrap_or(&text);
            if text.starts_with("missing field") {
                format!("not {what}: {text}")
            } else {
                format!("not {what}: unexpected value at {path}")
            }
        }
        Category::Syntax | Category::Eof | Category::Io => "not JSON".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(fields: serde_json::Value) -> CoreDeviceAuthorizationResponse {
        serde_json::from_value(fields).unwrap()
    }

    #[test]
    fn device_times_from_the_provider_are_bounded() {
        let huge = answer(serde_json::json!({
            "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            "interval": u64::MAX, "expires_in": u64::MAX,
        }));
        let auth = device_authorization("https://op/device_authorization", huge).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(MAX_DEVICE_SECS));
        assert_eq!(auth.expires_in, Duration::from_secs(MAX_DEVICE_SECS));
        // Added to a clock reading, as the pollers do: no overflow; nor in the library, which
        // adds 5 s to the answer's interval on `slow_down`.
        let _ = std::time::Instant::now() + auth.interval + auth.expires_in;
        let _ = auth.answer.interval() + Duration::from_secs(5);
        assert_eq!(auth.answer.interval(), Duration::from_secs(MAX_DEVICE_SECS));
        assert_eq!(
            auth.answer.expires_in(),
            Duration::from_secs(MAX_DEVICE_SECS)
        );
        let zero = answer(serde_json::json!({
            "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            "interval": 0, "expires_in": 600,
        }));
        let auth = device_authorization("https://op/device_authorization", zero).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(1));
        assert_eq!(auth.expires_in, Duration::from_secs(600));
        // RFC 8628 §3.2: `expires_in` is required; `interval` defaults to 5 s.
        let unsaid = answer(serde_json::json!({
            "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            "expires_in": 600,
        }));
        let auth = device_authorization("https://op/device_authorization", unsaid).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(5));
        assert!(
            serde_json::from_value::<CoreDeviceAuthorizationResponse>(serde_json::json!({
                "device_code": "d", "user_code": "U", "verification_uri": "https://op/device",
            }))
            .is_err()
        );
    }

    #[test]
    fn unreadable_answers_are_described_without_their_values() {
        let e = serde_json::from_str::<CoreDeviceAuthorizationResponse>("{\"device_code\": 42}")
            .unwrap_err();
        let text = unreadable("a device authorization", &e, "device_code");
        assert_eq!(
            text,
            "not a device authorization: unexpected value at device_code"
        );
        let e = serde_json::from_str::<CoreDeviceAuthorizationResponse>("<html>").unwrap_err();
        assert_eq!(unreadable("a device authorization", &e, "."), "not JSON");
        let e = serde_json::from_str::<CoreDeviceAuthorizationResponse>("{}").unwrap_err();
        assert_eq!(
            unreadable("a device authorization", &e, "."),
            "not a device authorization: missing field `device_code`"
        );
    }
}
