//! One OpenID provider: discovery, its signing keys (cached, refetched on rotation), and the
//! verification of the tokens it issues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IdTokenVerifier, IssuerUrl,
    JsonWebKeySetUrl, JwsSigningAlgorithm, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http::Http;
use super::Refusal;

/// Longest token accepted. Real ID tokens are 1-4 KiB; a large group list may double that.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Claims beyond the standard ones (groups, CI repository names…), kept as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtraClaims {
    #[serde(flatten)]
    rest: Map<String, Value>,
}
impl AdditionalClaims for ExtraClaims {}

type Token = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A token whose signature and claims checked out.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `exp`, unix seconds.
    pub expires_at: i64,
    /// Every claim, standard and extra, as JSON.
    pub claims: Map<String, Value>,
}

impl VerifiedToken {
    /// A string claim.
    pub fn string_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Tunables; the defaults suit production.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Clock difference tolerated on `exp` and `iat`.
    pub clock_skew: Duration,
    /// Least time between two JWKS fetches caused by unknown key ids: a flood of tokens with
    /// random `kid`s must not become a flood of requests to the provider.
    pub refetch_cooldown: Duration,
    /// Keys older than this are refetched before use, so that removed keys stop working.
    pub max_key_age: Duration,
    /// Timeout of each request to the provider.
    pub http_timeout: Duration,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            clock_skew: Duration::from_secs(60),
            refetch_cooldown: Duration::from_secs(10),
            max_key_age: Duration::from_secs(3600),
            http_timeout: Duration::from_secs(10),
        }
    }
}

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// An OpenID provider, discovered on first use. Cheap to share (`Arc`), safe to use from many
/// tasks: concurrent refetches are serialized.
pub struct Provider {
    /// Exactly as configured: discovery and `iss` must match it exactly (OpenID Connect
    /// Discovery 1.0, 4.3), and some providers' identifiers end in a slash.
    issuer: String,
    http: reqwest::Client,
    options: ProviderOptions,
    state: tokio::sync::Mutex<State>,
    fetches: AtomicU64,
    clock: Clock,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .finish()
    }
}

#[derive(Default)]
struct State {
    keys: Option<Arc<Keys>>,
    /// When the last fetch (discovery or JWKS) was attempted, successful or not.
    last_fetch: Option<Instant>,
}

struct Keys {
    jwks_uri: JsonWebKeySetUrl,
    algs: Vec<CoreJwsSigningAlgorithm>,
    jwks: CoreJsonWebKeySet,
    fetched: Instant,
}

impl Provider {
    /// A provider at `issuer`, the provider's issuer identifier exactly as it writes it, a
    /// trailing slash included (nothing is fetched yet).
    ///
    /// # Errors
    /// [`Refusal::ProviderUnavailable`] if the HTTP client cannot be built.
    pub fn new(issuer: &str, options: ProviderOptions) -> Result<Provider, Refusal> {
        // Discovery must not be redirected elsewhere (SSRF, issuer confusion).
        let http = super::http::client_builder(options.http_timeout)
            // Fetches are rare (discovery, rotations): a pooled connection would mostly be a
            // stale one, closed by a provider that restarted meanwhile.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| Refusal::ProviderUnavailable(format!("HTTP client: {e}")))?;
        Ok(Provider {
            issuer: issuer.to_string(),
            http,
            options,
            state: tokio::sync::Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
            clock: Arc::new(SystemTime::now),
        })
    }

    /// Replaces the clock (tests: pretend it is later).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Takes `jwks` (a JSON Web Key Set, JSON) as the provider's keys for good, accepting
    /// `algs`: nothing is ever fetched, so tokens can be verified with no provider running.
    /// For the fuzz checks (`fuzz-checks`): not part of the API.
    ///
    /// # Errors
    /// [`Refusal::ProviderUnavailable`] when `jwks` is not a key set or the issuer not a URL.
    #[doc(hidden)]
    pub fn with_fixed_keys(
        mut self,
        jwks: &str,
        algs: Vec<CoreJwsSigningAlgorithm>,
    ) -> Result<Self, Refusal> {
        let bad = |e: &dyn std::fmt::Display| Refusal::ProviderUnavailable(format!("keys: {e}"));
        let jwks: CoreJsonWebKeySet = serde_json::from_str(jwks).map_err(|e| bad(&e))?;
        let jwks_uri = JsonWebKeySetUrl::new(format!("{}/jwks", self.issuer.trim_end_matches('/')))
            .map_err(|e| bad(&e))?;
        // Keys that never age and a refetch that never cools down: `keys` returns these.
        self.options.max_key_age = Duration::MAX;
        self.options.refetch_cooldown = Duration::MAX;
        let state = self.state.get_mut();
        state.keys = Some(Arc::new(Keys {
            jwks_uri,
            algs,
            jwks,
            fetched: Instant::now(),
        }));
        state.last_fetch = Some(Instant::now());
        Ok(self)
    }

    /// The issuer URL.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times discovery or the JWKS were fetched (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Verifies `token` for `audience`: size, form, algorithm, signature (refetching the keys
    /// once if its key is unknown), issuer, audience, `exp`/`iat` with the clock skew, and the
    /// nonce when the flow had one.
    ///
    /// # Errors
    /// The [`Refusal`] saying why.
    pub async fn verify(
        &self,
        token: &str,
        audience: &str,
        nonce: Option<&str>,
    ) -> Result<VerifiedToken, Refusal> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLarge {
                size: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        check_header(token)?;
        let parsed: Token = token
            .parse()
            .map_err(|e: serde_json::Error| Refusal::Malformed(claims_error(&e)))?;
        let keys = self.keys(false).await?;
        match self.check(&parsed, &keys, audience, nonce) {
            Err(Refusal::UnknownKey) => {
                // The provider may have rotated its keys since we fetched them.
                let fresh = self.keys(true).await?;
                if Arc::ptr_eq(&fresh, &keys) {
                    return Err(Refusal::UnknownKey);
                }
                self.check(&parsed, &fresh, audience, nonce)
            }
            other => other,
        }
    }

    fn check(
        &self,
        token: &Token,
        keys: &Keys,
        audience: &str,
        nonce: Option<&str>,
    ) -> Result<VerifiedToken, Refusal> {
        let skew = chrono::Duration::from_std(self.options.clock_skew).unwrap_or_default();
        let clock = self.clock.clone();
        let now = move || DateTime::<Utc>::from(clock());
        let now_iat = now.clone();
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| Refusal::ProviderUnavailable(format!("issuer URL: {e}")))?;
        let verifier: IdTokenVerifier<CoreJsonWebKey> = IdTokenVerifier::new_public_client(
            ClientId::new(audience.to_string()),
            issuer,
            keys.jwks.clone(),
        )
        .set_allowed_algs(keys.algs.iter().cloned())
        // exp is checked against a clock that runs `skew` behind: tolerance both ways.
        .set_time_fn(move || now() - skew)
        .set_issue_time_verifier_fn(move |iat| {
            if iat > now_iat() + skew {
                Err(IAT_IN_FUTURE.to_string())
            } else {
                Ok(())
            }
        });
        let expected = nonce.map(|n| Nonce::new(n.to_string()));
        let nonce_check = |found: Option<&Nonce>| match (&expected, found) {
            (None, _) => Ok(()),
            (Some(want), Some(got)) if want.secret() == got.secret() => Ok(()),
            _ => Err("nonce".to_string()),
        };
        let claims = token.claims(&verifier, nonce_check).map_err(classify)?;
        let value =
            serde_json::to_value(claims).map_err(|e| Refusal::Malformed(format!("claims: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Refusal::Malformed("claims are not an object".into()));
        };
        Ok(VerifiedToken {
            issuer: claims.issuer().to_string(),
            subject: claims.subject().to_string(),
            expires_at: claims.expiration().timestamp(),
            claims: map,
        })
    }

    /// The provider's keys: cached ones unless missing, too old, or `refresh` is asked for
    /// (and the cooldown has passed). Returns the same `Arc` when nothing new was fetched.
    async fn keys(&self, refresh: bool) -> Result<Arc<Keys>, Refusal> {
        let mut state = self.state.lock().await;
        let cooled = state
            .last_fetch
            .is_none_or(|t| t.elapsed() >= self.options.refetch_cooldown);
        match &state.keys {
            Some(k) if !refresh && k.fetched.elapsed() < self.options.max_key_age => {
                return Ok(k.clone())
            }
            Some(k) if !cooled => return Ok(k.clone()),
            None if !cooled => {
                return Err(Refusal::ProviderUnavailable(
                    "discovery failed moments ago; retrying shortly".into(),
                ))
            }
            _ => {}
        }
        state.last_fetch = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = match &state.keys {
            Some(k) => {
                let jwks = CoreJsonWebKeySet::fetch_async(&k.jwks_uri, &Http::new(&self.http))
                    .await
                    .map_err(|e| unavailable("JWKS", &e))?;
                Keys {
                    jwks_uri: k.jwks_uri.clone(),
                    algs: k.algs.clone(),
                    jwks,
                    fetched: Instant::now(),
                }
            }
            None => self.discover().await?,
        };
        let keys = Arc::new(keys);
        state.keys = Some(keys.clone());
        Ok(keys)
    }

    async fn discover(&self) -> Result<Keys, Refusal> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| Refusal::ProviderUnavailable(format!("issuer URL: {e}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &Http::new(&self.http))
            .await
            .map_err(|e| unavailable("discovery", &e))?;
        // Only asymmetric algorithms: an HMAC "key" would be public.
        let mut algs: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|a| !a.uses_shared_secret() && **a != CoreJwsSigningAlgorithm::None)
            .cloned()
            .collect();
        if algs.is_empty() {
            algs.push(CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
        }
        Ok(Keys {
            jwks_uri: metadata.jwks_uri().clone(),
            algs,
            jwks: metadata.jwks().clone(),
            fetched: Instant::now(),
        })
    }
}

const IAT_IN_FUTURE: &str = "iat in the future";

fn unavailable(what: &str, e: &dyn std::error::Error) -> Refusal {
    let mut text = format!("{what}: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    Refusal::ProviderUnavailable(text)
}

/// Looks at the header before the library does, so that `none` and HMAC algorithms get their
/// own reasons (the library reports both as "disallowed").
fn check_header(token: &str) -> Result<(), Refusal> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed(
            "expected three dot-separated parts (compact JWS)".into(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| Refusal::Malformed("header is not base64url".into()))?;
    let header: Value = serde_json::from_slice(&bytes)
        .map_err(|_| Refusal::Malformed("header is not JSON".into()))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Malformed("header has no alg".into()))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(Refusal::AlgNone);
    }
    if alg.starts_with("HS") {
        return Err(Refusal::SymmetricAlgorithm(alg.to_string()));
    }
    Ok(())
}

/// A parse error, without echoing token content.
fn claims_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde's messages name fields ("missing field `exp`") but may quote values; keep the
    // start only.
    text.split(" at line")
        .next()
        .unwrap_or(&text)
        .chars()
        .take(120)
        .collect()
}

fn classify(e: ClaimsVerificationError) -> Refusal {
    match e {
        ClaimsVerificationError::Expired(m) if m == IAT_IN_FUTURE => Refusal::IssuedInFuture,
        ClaimsVerificationError::Expired(_) => Refusal::Expired,
        ClaimsVerificationError::InvalidAudience(m) => Refusal::WrongAudience(m),
        ClaimsVerificationError::InvalidIssuer(m) => Refusal::WrongIssuer(m),
        ClaimsVerificationError::InvalidNonce(_) => Refusal::NonceMismatch,
        ClaimsVerificationError::SignatureVerification(s) => match s {
            SignatureVerificationError::NoMatchingKey => Refusal::UnknownKey,
            SignatureVerificationError::NoSignature => Refusal::AlgNone,
            SignatureVerificationError::DisallowedAlg(m)
            | SignatureVerificationError::UnsupportedAlg(m) => Refusal::DisallowedAlgorithm(m),
            SignatureVerificationError::CryptoError(_)
            | SignatureVerificationError::InvalidKey(_) => Refusal::BadSignature,
            other => Refusal::Malformed(other.to_string()),
        },
        other => Refusal::Malformed(other.to_string()),
    }
}
