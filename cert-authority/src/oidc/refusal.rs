//! Why a token was refused: one variant per reason, so that logs, audit rows and API answers can
//! tell an expired token from a forged one.

/// A refused token. [`Refusal::code`] is the stable word for logs and the API; the `Display`
/// text adds detail but never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Longer than any real ID token (refused before any parsing).
    #[error("token is {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its length.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a compact JWS with a JSON header and claims of the expected types.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `alg: none`: an unsigned token.
    #[error("unsigned token (alg none)")]
    AlgNone,
    /// An HMAC algorithm (`HS256`…): the "secret" would be the provider's public key, which
    /// anyone has.
    #[error("symmetric signature algorithm {0} is not accepted")]
    SymmetricAlgorithm(String),
    /// An asymmetric algorithm the provider does not advertise.
    #[error("signature algorithm {0} is not accepted")]
    DisallowedAlgorithm(String),
    /// No key of the provider matches the token's `kid`, even after refetching its JWKS.
    #[error("no signing key of the provider matches the token")]
    UnknownKey,
    /// The signature does not verify with the provider's key.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past (beyond the clock skew).
    #[error("token expired")]
    Expired,
    /// `iat` is in the future (beyond the clock skew).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `aud` does not name this bastion.
    #[error("wrong audience: {0}")]
    WrongAudience(String),
    /// `iss` is not the provider (or, for workload tokens, no trust rule names it).
    #[error("wrong issuer: {0}")]
    WrongIssuer(String),
    /// The flow had a nonce and the token's differs (or is missing).
    #[error("nonce mismatch")]
    NonceMismatch,
    /// A claim the mapping needs is absent or not a string.
    #[error("claim {0:?} is missing or not a string")]
    MissingClaim(String),
    /// No role names any of the identity's principals.
    #[error("no role grants any of the principals {0:?}")]
    NoPrincipals(Vec<String>),
    /// A workload token whose subject no `[[ci]]` rule matches.
    #[error("no ci rule matches subject {0:?}")]
    UntrustedSubject(String),
    /// The provider's discovery document or keys cannot be fetched: not the token's fault.
    #[error("identity provider unavailable: {0}")]
    ProviderUnavailable(String),
}

impl Refusal {
    /// A stable one-word reason: `expired`, `wrong_audience`, …
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::TooLarge { .. } => "too_large",
            Refusal::Malformed(_) => "malformed",
            Refusal::AlgNone => "alg_none",
            Refusal::SymmetricAlgorithm(_) => "symmetric_alg",
            Refusal::DisallowedAlgorithm(_) => "disallowed_alg",
            Refusal::UnknownKey => "unknown_key",
            Refusal::BadSignature => "bad_signature",
            Refusal::Expired => "expired",
            Refusal::IssuedInFuture => "issued_in_future",
            Refusal::WrongAudience(_) => "wrong_audience",
            Refusal::WrongIssuer(_) => "wrong_issuer",
            Refusal::NonceMismatch => "nonce_mismatch",
            Refusal::MissingClaim(_) => "missing_claim",
            Refusal::NoPrincipals(_) => "no_principals",
            Refusal::UntrustedSubject(_) => "untrusted_subject",
            Refusal::ProviderUnavailable(_) => "provider_unavailable",
        }
    }

    /// Whether the caller presented a bad token (counts towards the failure rate limit), as
    /// opposed to the provider being down.
    pub fn is_client_fault(&self) -> bool {
        !matches!(self, Refusal::ProviderUnavailable(_))
    }
}
