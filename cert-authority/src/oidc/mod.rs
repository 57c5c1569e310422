//! OpenID Connect: people's ID tokens and CI jobs' workload tokens, verified and turned into
//! certificate grants.
//!
//! # Layout
//! - [`provider`]: one provider: discovery, JWKS cached and refetched once for an unknown key,
//!   signature, `iss`, `aud`, `exp`/`iat` with clock skew, nonce. Built on `openidconnect`.
//! - [`mapping`]: claims → key id, principals, TTL, extensions (`[oidc]`, `[[ci]]`, `[[roles]]`).
//! - [`refusal`]: one [`Refusal`] variant per reason a token is refused.
//! - [`flows`]: signing in as the provider's client (device grant; auth code + PKCE), with
//!   `openidconnect`'s typed client.
//! - [`http`]: the HTTP client both use: reqwest, no redirects, bounded answers.
//!
//! [`Identities`] ties them together: it picks the provider by the token's (unverified)
//! issuer, verifies, then maps. Tokens are never logged or put into errors.

pub mod flows;
pub mod http;
pub mod mapping;
pub mod provider;
pub mod refusal;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use config::Config;
use serde_json::Value;

pub use mapping::{person_grant, workload_grant, Grant, Source};
pub use provider::{Provider, ProviderOptions, VerifiedToken, MAX_TOKEN_BYTES};
pub use refusal::Refusal;

/// Every provider the configuration trusts (`[oidc]` and each `[[ci]]` issuer), one per issuer.
#[derive(Debug)]
pub struct Identities {
    config: Arc<Config>,
    providers: HashMap<String, Arc<Provider>>,
}

impl Identities {
    /// Providers for `config` (nothing is fetched until a token arrives).
    ///
    /// # Errors
    /// [`Refusal::ProviderUnavailable`] if an HTTP client cannot be built.
    pub fn new(config: Arc<Config>) -> Result<Identities, Refusal> {
        let skew = config
            .oidc
            .as_ref()
            .map_or(Duration::from_secs(60), |o| o.clock_skew.duration());
        let options = ProviderOptions {
            clock_skew: skew,
            ..ProviderOptions::default()
        };
        Identities::with_options(config, options)
    }

    /// The same with explicit provider options (tests: a shorter cooldown).
    ///
    /// # Errors
    /// As [`Identities::new`].
    pub fn with_options(
        config: Arc<Config>,
        options: ProviderOptions,
    ) -> Result<Identities, Refusal> {
        let mut providers = HashMap::new();
        let issuers = config
            .oidc
            .iter()
            .map(|o| o.issuer.as_str())
            .chain(config.ci.iter().map(|c| c.issuer.as_str()));
        for issuer in issuers {
            let key = issuer.trim_end_matches('/').to_string();
            if let std::collections::hash_map::Entry::Vacant(slot) = providers.entry(key) {
                slot.insert(Arc::new(Provider::new(issuer, options.clone())?));
            }
        }
        Ok(Identities { config, providers })
    }

    /// Providers for `config` that all use `jwks` as their keys and `clock` as the time, and
    /// never fetch anything (see [`Provider::with_fixed_keys`]). For the fuzz checks
    /// (`fuzz-checks`): not part of the API.
    ///
    /// # Errors
    /// As [`Provider::with_fixed_keys`].
    #[doc(hidden)]
    pub fn with_fixed_keys(
        config: Arc<Config>,
        jwks: &str,
        algs: &[openidconnect::core::CoreJwsSigningAlgorithm],
        clock: fn() -> std::time::SystemTime,
    ) -> Result<Identities, Refusal> {
        let mut identities = Identities::with_options(config, ProviderOptions::default())?;
        for provider in identities.providers.values_mut() {
            let fixed = Provider::new(provider.issuer(), ProviderOptions::default())?
                .with_clock(clock)
                .with_fixed_keys(jwks, algs.to_vec())?;
            *provider = Arc::new(fixed);
        }
        Ok(identities)
    }

    /// Whether any issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The provider for `issuer`, if trusted.
    pub fn provider(&self, issuer: &str) -> Option<&Arc<Provider>> {
        self.providers.get(issuer.trim_end_matches('/'))
    }

    /// Verifies a bearer token (a person's ID token or a workload token) and maps it to a grant.
    /// `nonce` is checked when the flow that obtained the token had one.
    ///
    /// # Errors
    /// The [`Refusal`] saying why.
    pub async fn grant(&self, token: &str, nonce: Option<&str>) -> Result<Grant, Refusal> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLarge {
                size: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        // Unverified: only used to pick which provider and rule verify it.
        let (iss, auds) = peek(token)?;
        let iss = iss.trim_end_matches('/');
        let Some(provider) = self.provider(iss) else {
            return Err(Refusal::WrongIssuer(format!(
                "no provider or ci rule trusts {iss:?}"
            )));
        };
        let person = self
            .config
            .oidc
            .as_ref()
            .filter(|o| o.issuer.trim_end_matches('/') == iss);
        let ci_audiences: Vec<&str> = self
            .config
            .ci
            .iter()
            .filter(|c| c.issuer.trim_end_matches('/') == iss)
            .map(|c| c.audience.as_str())
            .collect();
        if let Some(o) = person {
            if auds.contains(&o.client_id) || ci_audiences.is_empty() {
                let verified = provider.verify(token, &o.client_id, nonce).await?;
                return person_grant(&self.config, &verified);
            }
        }
        let audience = ci_audiences
            .iter()
            .find(|a| auds.iter().any(|t| t == *a))
            .or(ci_audiences.first())
            .copied()
            .unwrap_or_default();
        let verified = provider.verify(token, audience, None).await?;
        workload_grant(&self.config, &verified, audience)
    }
}

/// The unverified `iss` and `aud` of a token.
fn peek(token: &str) -> Result<(String, Vec<String>), Refusal> {
    let payload = token.split('.').nth(1).ok_or_else(|| {
        Refusal::Malformed("expected three dot-separated parts (compact JWS)".into())
    })?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refusal::Malformed("claims are not base64url".into()))?;
    let claims: Value = serde_json::from_slice(&bytes)
        .map_err(|_| Refusal::Malformed("claims are not JSON".into()))?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::WrongIssuer("no iss claim".into()))?
        .to_string();
    let auds = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    Ok((iss, auds))
}

#[cfg(test)]
mod fixed_keys_tests;
#[cfg(test)]
mod tests;
