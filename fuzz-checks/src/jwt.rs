//! Bearer tokens: the unverified peek that picks the provider, the header check, signature and
//! claims verification (`openidconnect`), and the mapping of claims to a certificate grant.
//!
//! The providers hold one fixed Ed25519 key and never fetch anything. Besides raw tokens, the
//! fuzzer may hand over claims (and a header) that the check signs with that key, so that the
//! claims checks and the mapping are reached, not only the signature check in front of them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use cert_authority::oidc::{Grant, Identities, Refusal, Source};
use config::Config;
use openidconnect::core::CoreJwsSigningAlgorithm::{EcdsaP256Sha256, EdDsa, RsaSsaPkcs1V15Sha256};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// The `[oidc]` issuer, which also has a `[[ci]]` rule, and a CI-only issuer.
pub const ISSUER: &str = "https://id.example.test";
/// The client id ID tokens must name.
pub const CLIENT_ID: &str = "bastion";
/// The fixed time: 2025-06-01T00:00:00Z.
pub const NOW: u64 = 1_748_736_000;
/// The nonce checked in nonce mode.
pub const NONCE: &str = "fuzz-nonce";
/// The header of tokens whose claims the fuzzer gives.
pub const HEADER: &str = r#"{"alg":"EdDSA","kid":"fuzz","typ":"JWT"}"#;

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
max_ttl = "12h"
[oidc]
issuer = "https://id.example.test"
client_id = "bastion"
username_claim = "preferred_username"
[[ci]]
issuer = "https://id.example.test"
audience = "bastion-ci"
subject = "repo:acme/*:ref:refs/heads/main"
role = "deploy"
[[ci]]
issuer = "https://ci.example.test/"
audience = "bastion"
subject = "project_path:acme/app:*"
role = "deploy"
[[roles]]
name = "ops"
principals = ["ops"]
allow = ["shell", "exec"]
[[roles]]
name = "admins"
principals = ["admins", "root"]
allow = ["exec", "port-forward"]
certificate_ttl = "4h"
[[roles]]
name = "deploy"
principals = ["deployer"]
allow = ["exec"]
ci_shell = true
"#;

struct Fixture {
    key: Ed25519KeyPair,
    config: Arc<Config>,
    identities: Identities,
    runtime: tokio::runtime::Runtime,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let fail = |what: &str, e: &dyn std::fmt::Display| -> ! { panic!("{what}: {e}") };
        let key = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap_or_else(|e| fail("key", &e));
        let jwks = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "kid": "fuzz", "use": "sig", "alg": "EdDSA",
            "x": B64.encode(key.public_key().as_ref()),
        }]});
        let config = Arc::new(Config::parse(CONFIG, "jwt").unwrap_or_else(|e| fail("config", &e)));
        let identities = Identities::with_fixed_keys(
            config.clone(),
            &jwks.to_string(),
            &[EdDsa, RsaSsaPkcs1V15Sha256, EcdsaP256Sha256],
            || SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
        )
        .unwrap_or_else(|e| fail("providers", &e));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| fail("runtime", &e));
        Fixture {
            key,
            config,
            identities,
            runtime,
        }
    })
}

/// `header.claims.signature` of `header` and `claims` signed with the fixed key.
pub fn sign(header: &[u8], claims: &[u8]) -> String {
    let signed = format!("{}.{}", B64.encode(header), B64.encode(claims));
    let signature = fixture().key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.as_ref()))
}

/// The first byte picks the mode: `& 3` is 0 for a raw token (the rest, as text), 1 for claims
/// (the rest) signed under [`HEADER`], 2 for a header and claims (split at the first NUL)
/// signed; `& 0x80` asks for the [`NONCE`].
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = match mode & 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        2 => match rest.iter().position(|&b| b == 0) {
            Some(i) => sign(&rest[..i], &rest[i + 1..]),
            None => sign(HEADER.as_bytes(), rest),
        },
        _ => sign(HEADER.as_bytes(), rest),
    };
    let nonce = (mode & 0x80 != 0).then_some(NONCE);
    let f = fixture();
    match f.runtime.block_on(f.identities.grant(&token, nonce)) {
        Ok(grant) => granted(f, &token, &grant),
        Err(refusal) => refused(&token, mode & 3 != 0, &refusal),
    }
}

fn granted(f: &Fixture, token: &str, g: &Grant) {
    // Only a token signed with the key verifies, and only with the algorithm the key is for.
    let header = token
        .split('.')
        .next()
        .and_then(|h| B64.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
    let alg = header.as_ref().and_then(|h| h.get("alg")?.as_str());
    assert_eq!(alg, Some("EdDSA"), "granted under header {header:?}");

    assert!(!g.principals.is_empty());
    for p in &g.principals {
        // OpenSSH separates principals with commas: none may smuggle another in.
        assert!(
            !p.is_empty()
                && !p
                    .chars()
                    .any(|c| c == ',' || c.is_whitespace() || c.is_control()),
            "principal {p:?}"
        );
        assert!(f.config.roles.iter().any(|r| r.principals.contains(p)));
    }
    assert!(!g.key_id.is_empty() && !g.key_id.chars().any(char::is_control));
    assert!(g.ttl <= f.config.ca.max_ttl.duration());
    if let Some(login) = &g.default_login {
        assert!(
            login.len() <= 32
                && login
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c)),
            "default login {login:?}"
        );
    }
    if g.source == Source::Ci {
        assert_eq!(g.roles, ["deploy"]);
    }
}

fn refused(token: &str, signed: bool, r: &Refusal) {
    // Tokens are never put into errors (they end up in logs and HTTP answers). A refusal may
    // quote a claim or the algorithm, which the fuzzer controls, but those are decoded from
    // the token and so shorter than it; and no claim can hold the signature made over it.
    let text = r.to_string();
    if token.len() >= 24 {
        assert!(!text.contains(token), "{text:?} quotes the token");
    }
    if let Some(signature) = token.rsplit('.').next().filter(|_| signed) {
        assert!(!text.contains(signature), "{text:?} quotes the signature");
    }
    let _ = r.code();
}
