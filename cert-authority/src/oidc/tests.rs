//! Against a real OpenID provider (oidc-provider on Node, started by the test harness): real
//! tokens from real device and auth-code flows; the tokens a provider never issues are built
//! with the `jose` library and signed, where it matters, with the provider's own key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use harness::oidc::PUBLIC_CLIENT;
use harness::OpenIdProvider;
use serde_json::json;

use super::*;

fn provider(op: &OpenIdProvider) -> Provider {
    Provider::new(
        &op.issuer,
        ProviderOptions {
            refetch_cooldown: Duration::ZERO,
            ..ProviderOptions::default()
        },
    )
    .unwrap()
}

fn config(op: &OpenIdProvider, extra: &str) -> Arc<Config> {
    let src = format!(
        r#"
[server]
listen = "127.0.0.1:2222"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
max_ttl = "12h"
[oidc]
issuer = "{issuer}"
client_id = "{PUBLIC_CLIENT}"
username_claim = "preferred_username"
[[roles]]
name = "ops"
principals = ["ops"]
allow = ["shell", "exec"]
[[roles]]
name = "admins"
principals = ["admins"]
allow = ["exec", "port-forward"]
certificate_ttl = "4h"
[[roles]]
name = "deploy"
principals = ["deployer"]
allow = ["shell", "exec"]
{extra}
"#,
        issuer = op.issuer
    );
    Arc::new(Config::parse(&src, "test").unwrap())
}

#[tokio::test]
async fn device_flow_token_verifies_and_maps_to_a_grant() {
    let op = OpenIdProvider::start();
    let token = op.id_token("alice");
    let p = provider(&op);
    let v = p.verify(&token, PUBLIC_CLIENT, None).await.unwrap();
    assert_eq!(v.subject, "alice");
    assert_eq!(v.issuer, op.issuer);
    assert_eq!(v.string_claim("email"), Some("alice@example.test"));

    let ids = Identities::new(config(&op, "")).unwrap();
    let g = ids.grant(&token, None).await.unwrap();
    assert_eq!(g.key_id, "alice@example.test");
    assert_eq!(g.principals, ["ops", "admins"]);
    assert_eq!(g.roles, ["ops", "admins"]);
    // The shortest role TTL wins; extensions are what the roles allow.
    assert_eq!(g.ttl, Duration::from_secs(4 * 3600));
    assert_eq!(
        g.extensions,
        [
            "permit-pty",
            "permit-port-forwarding",
            "default-login@bastion=alice"
        ]
    );
    assert_eq!(g.default_login.as_deref(), Some("alice"));
    assert_eq!(g.source, Source::Oidc);

    // bob's only group (dev) is named by no role.
    let bob = op.id_token("bob");
    assert_eq!(
        ids.grant(&bob, None).await.unwrap_err(),
        Refusal::NoPrincipals(vec!["dev".into()])
    );
}

#[tokio::test]
async fn auth_code_token_checks_the_nonce() {
    let op = OpenIdProvider::start();
    let r = op.auth_code_flow("alice");
    let token = r["id_token"].as_str().unwrap();
    let p = provider(&op);
    let v = p.verify(token, PUBLIC_CLIENT, None).await.unwrap();
    let nonce = v.string_claim("nonce").unwrap().to_string();
    assert!(p.verify(token, PUBLIC_CLIENT, Some(&nonce)).await.is_ok());
    assert_eq!(
        p.verify(token, PUBLIC_CLIENT, Some("another"))
            .await
            .unwrap_err(),
        Refusal::NonceMismatch
    );
    // A device-flow token has no nonce: refused where the flow had one.
    let device = op.id_token("alice");
    assert_eq!(
        p.verify(&device, PUBLIC_CLIENT, Some(&nonce))
            .await
            .unwrap_err(),
        Refusal::NonceMismatch
    );
}

#[tokio::test]
async fn each_bad_token_has_its_own_reason() {
    let op = OpenIdProvider::start();
    let p = provider(&op);
    let real = op.id_token("alice");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = op.claims(PUBLIC_CLIENT);
    let with = |extra: serde_json::Value| {
        let mut c = claims.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };

    let oversized = format!("{real}{}", "A".repeat(MAX_TOKEN_BYTES));
    type Case = (&'static str, String, fn(&Refusal) -> bool);
    let cases: Vec<Case> = vec![
        ("oversized", oversized, |r| {
            matches!(r, Refusal::TooLarge { .. })
        }),
        ("malformed", "not.a-token".into(), |r| {
            matches!(r, Refusal::Malformed(_))
        }),
        ("garbage header", "e30.e30.".into(), |r| {
            matches!(r, Refusal::Malformed(_))
        }),
        ("alg none", op.mint("none", &claims), |r| {
            *r == Refusal::AlgNone
        }),
        (
            "hs256 with the public key",
            op.mint("hs256-pubkey", &claims),
            |r| matches!(r, Refusal::SymmetricAlgorithm(a) if a == "HS256"),
        ),
        ("wrong key, right kid", op.mint("wrong-key", &claims), |r| {
            *r == Refusal::BadSignature
        }),
        (
            "expired (signed by the provider)",
            op.mint(
                "signed",
                &with(json!({"iat": now - 7200, "exp": now - 3600})),
            ),
            |r| *r == Refusal::Expired,
        ),
        (
            "issued in the future",
            op.mint(
                "signed",
                &with(json!({"iat": now + 3600, "exp": now + 7200})),
            ),
            |r| *r == Refusal::IssuedInFuture,
        ),
        (
            "wrong issuer (signed by the provider)",
            op.mint("signed", &with(json!({"iss": "http://127.0.0.1:1"}))),
            |r| matches!(r, Refusal::WrongIssuer(_)),
        ),
        (
            "wrong audience (signed by the provider)",
            op.mint("signed", &with(json!({"aud": "someone-else"}))),
            |r| matches!(r, Refusal::WrongAudience(_)),
        ),
    ];
    let mut codes = std::collections::HashSet::new();
    for (name, token, ok) in cases {
        let r = p.verify(&token, PUBLIC_CLIENT, None).await.unwrap_err();
        assert!(ok(&r), "{name}: refused as {r:?}");
        // No refusal text ever echoes the token.
        assert!(
            !r.to_string().contains(&token[..20.min(token.len())]),
            "{name}: {r}"
        );
        codes.insert(r.code());
    }
    assert_eq!(codes.len(), 9, "{codes:?}"); // two malformed cases share one reason

    // The signed-by-provider mint itself is accepted (so the cases above differ only in
    // what they name).
    assert!(p
        .verify(&op.mint("signed", &claims), PUBLIC_CLIENT, None)
        .await
        .is_ok());
    // A real token for another client.
    assert!(matches!(
        p.verify(&real, "another-client", None).await.unwrap_err(),
        Refusal::WrongAudience(_)
    ));
    // A real token, an hour later (beyond the skew).
    let later = provider(&op).with_clock(|| SystemTime::now() + Duration::from_secs(3600));
    assert_eq!(
        later.verify(&real, PUBLIC_CLIENT, None).await.unwrap_err(),
        Refusal::Expired
    );
    // Within the skew: a token that expired 30 s ago still passes with 60 s of skew.
    let skewed = op.mint("signed", &with(json!({"iat": now - 600, "exp": now - 30})));
    assert!(p.verify(&skewed, PUBLIC_CLIENT, None).await.is_ok());
}

#[tokio::test]
async fn rotated_keys_are_refetched_once() {
    let mut op = OpenIdProvider::start();
    let p = provider(&op);
    p.verify(&op.id_token("alice"), PUBLIC_CLIENT, None)
        .await
        .unwrap();
    assert_eq!(p.fetches(), 1, "discovery with its JWKS");

    op.rotate_key();
    let rotated = op.id_token("alice");
    p.verify(&rotated, PUBLIC_CLIENT, None).await.unwrap();
    assert_eq!(p.fetches(), 2, "one JWKS refetch for the new kid");
    p.verify(&rotated, PUBLIC_CLIENT, None).await.unwrap();
    assert_eq!(p.fetches(), 2, "cached");

    let unknown = op.mint("unknown-kid", &op.claims(PUBLIC_CLIENT));
    assert_eq!(
        p.verify(&unknown, PUBLIC_CLIENT, None).await.unwrap_err(),
        Refusal::UnknownKey
    );
    assert_eq!(p.fetches(), 3, "exactly one refetch for an unknown kid");

    // With a cooldown, a flood of unknown kids does not become a flood of fetches.
    let slow = Provider::new(&op.issuer, ProviderOptions::default()).unwrap();
    slow.verify(&rotated, PUBLIC_CLIENT, None).await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            slow.verify(&unknown, PUBLIC_CLIENT, None)
                .await
                .unwrap_err(),
            Refusal::UnknownKey
        );
    }
    assert_eq!(slow.fetches(), 1);
}

#[tokio::test]
async fn workload_tokens_follow_ci_rules() {
    let op = OpenIdProvider::start();
    let ci = format!(
        "[[ci]]\nissuer = \"{}\"\naudience = \"bastion-ci\"\nsubject = \"repo:org/app:ref:refs/heads/*\"\nrole = \"deploy\"\n",
        op.issuer
    );
    let ids = Identities::new(config(&op, &ci)).unwrap();
    let claims = |sub: &str, aud: &str| json!({"iss": op.issuer, "aud": aud, "sub": sub});
    let main = op.mint(
        "signed",
        &claims("repo:org/app:ref:refs/heads/main", "bastion-ci"),
    );
    let g = ids.grant(&main, None).await.unwrap();
    assert_eq!(g.source, Source::Ci);
    assert_eq!(g.key_id, "repo:org/app:ref:refs/heads/main");
    assert_eq!(g.principals, ["deployer"]);
    assert_eq!(g.ttl, Duration::from_secs(600));
    assert!(g.extensions.is_empty(), "exec only: {:?}", g.extensions);

    let other = op.mint(
        "signed",
        &claims("repo:evil/app:ref:refs/heads/main", "bastion-ci"),
    );
    assert!(matches!(
        ids.grant(&other, None).await.unwrap_err(),
        Refusal::UntrustedSubject(_)
    ));
    let wrong_aud = op.mint(
        "signed",
        &claims("repo:org/app:ref:refs/heads/main", "nobody"),
    );
    assert!(matches!(
        ids.grant(&wrong_aud, None).await.unwrap_err(),
        Refusal::WrongAudience(_)
    ));
    let stranger = json!({"iss": "https://ci.example.com", "aud": "bastion-ci", "sub": "x"});
    assert!(matches!(
        ids.grant(&op.mint("signed", &stranger), None)
            .await
            .unwrap_err(),
        Refusal::WrongIssuer(_)
    ));

    // With ci_shell the role's own extensions apply.
    let shell = config(&op, &ci.replace("role = \"deploy\"", "role = \"ops\""));
    let ids = Identities::new(shell.clone()).unwrap();
    assert!(ids.grant(&main, None).await.unwrap().extensions.is_empty());
    let mut c = (*shell).clone();
    c.roles[0].ci_shell = true;
    let ids = Identities::new(Arc::new(c)).unwrap();
    assert_eq!(
        ids.grant(&main, None).await.unwrap().extensions,
        ["permit-pty"]
    );
}

#[tokio::test]
async fn provider_down_is_not_the_tokens_fault() {
    let op = OpenIdProvider::start();
    let token = op.mint("signed", &op.claims(PUBLIC_CLIENT));
    let down = Provider::new("http://127.0.0.1:1", ProviderOptions::default()).unwrap();
    let mut claims = op.claims(PUBLIC_CLIENT);
    claims["iss"] = json!("http://127.0.0.1:1");
    let r = down
        .verify(&op.mint("signed", &claims), PUBLIC_CLIENT, None)
        .await
        .unwrap_err();
    assert!(matches!(r, Refusal::ProviderUnavailable(_)), "{r:?}");
    assert!(!r.is_client_fault());
    drop(token);
}
