//! Verification and mapping with fixed keys, no provider running: issuer identifiers exactly
//! as providers write them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use openidconnect::core::CoreJwsSigningAlgorithm;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;

use super::*;

const NOW: u64 = 1_748_736_000;

fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap()
}

fn identities(issuer: &str) -> Identities {
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
[[ci]]
issuer = "{issuer}"
audience = "bastion"
subject = "repo:acme/*"
role = "deploy"
[[roles]]
name = "deploy"
principals = ["deployer"]
allow = ["exec"]
"#
    );
    let jwks = json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA",
        "x": B64.encode(key().public_key().as_ref()),
    }]});
    Identities::with_fixed_keys(
        Arc::new(Config::parse(&config, "test").unwrap()),
        &jwks.to_string(),
        &[CoreJwsSigningAlgorithm::EdDsa],
        || SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
    )
    .unwrap()
}

fn token(iss: &str) -> String {
    let header = B64.encode(r#"{"alg":"EdDSA","kid":"k1"}"#);
    let claims = json!({
        "iss": iss, "aud": "bastion", "sub": "repo:acme/app",
        "iat": NOW, "exp": NOW + 300,
    });
    let signed = format!("{header}.{}", B64.encode(claims.to_string()));
    let signature = key().sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.as_ref()))
}

/// Found while seeding the `jwt` fuzz target (`fuzz/regressions/jwt/`): the issuer lost its trailing slash when the
/// provider was built, so every token of a provider whose identifier ends in one (Azure AD
/// v1, Auth0) was refused as coming from the wrong issuer.
#[tokio::test]
async fn an_issuer_with_a_trailing_slash_verifies_its_own_tokens() {
    let ids = identities("https://ci.example.test/");
    let grant = ids.grant(&token("https://ci.example.test/"), None).await;
    assert_eq!(grant.unwrap().principals, ["deployer"]);
    // `iss` must still be the identifier exactly.
    let refusal = ids.grant(&token("https://ci.example.test"), None).await;
    assert!(
        matches!(refusal, Err(Refusal::WrongIssuer(_))),
        "{refusal:?}"
    );

    let ids = identities("https://ci.example.test");
    assert!(ids
        .grant(&token("https://ci.example.test"), None)
        .await
        .is_ok());
    let refusal = ids.grant(&token("https://ci.example.test/"), None).await;
    assert!(
        matches!(refusal, Err(Refusal::WrongIssuer(_))),
        "{refusal:?}"
    );
}
