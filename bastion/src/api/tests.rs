//! The API in-process against a real OpenID provider: a real device-flow token in, a
//! certificate from the user CA out, an audit row written; refusals and the rate limit.

use std::sync::Arc;

use cert_authority::keyfile::{generate_ed25519, write_new_key_pair};
use harness::oidc::PUBLIC_CLIENT;
use harness::OpenIdProvider;
use serde_json::{json, Value};
use ssh_key::Certificate;

use super::*;
use crate::audit::{AuditStore, Filter};

struct Running {
    url: String,
    services: Arc<Services>,
    _dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

async fn start_api(op: &OpenIdProvider) -> Running {
    let dir = tempfile::tempdir().unwrap();
    for name in ["user_ca", "target_ca", "host_ed25519", "recording_ed25519"] {
        write_new_key_pair(&generate_ed25519(name).unwrap(), &dir.path().join(name)).unwrap();
    }
    let src = format!(
        r#"
[server]
listen = "127.0.0.1:2222"
host_key = "host_ed25519"
api_listen = "127.0.0.1:0"
[ca]
user_ca = "user_ca"
target_ca = "target_ca"
[recording]
signing_key = "recording_ed25519"
[audit]
database = "sqlite://audit.db"
[oidc]
issuer = "{}"
client_id = "{PUBLIC_CLIENT}"
username_claim = "preferred_username"
[[roles]]
name = "ops"
principals = ["ops"]
allow = ["shell", "exec"]
"#,
        op.issuer
    );
    let path = dir.path().join("bastion.toml");
    std::fs::write(&path, src).unwrap();
    let config = config::Config::load(&path).unwrap();
    let audit = AuditStore::connect(&config.audit.database).await.unwrap();
    let settings = crate::settings::Settings::load(config, audit).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    tokio::spawn(serve_api(
        settings.services.clone(),
        listener,
        shutdown.clone(),
    ));
    Running {
        url,
        services: settings.services,
        _dir: dir,
        shutdown,
    }
}

async fn post(url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/v1/certificates"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn public_key() -> String {
    generate_ed25519("alice")
        .unwrap()
        .public_key()
        .to_openssh()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_token_gets_a_certificate_and_an_audit_row() {
    let op = OpenIdProvider::start();
    let api = start_api(&op).await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let login: Value = client
        .get(format!("{}/v1/login", api.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["issuer"], json!(op.issuer));
    assert_eq!(login["client_id"], json!(PUBLIC_CLIENT));
    assert!(login["host_key_line"]
        .as_str()
        .unwrap()
        .starts_with("[127.0.0.1]:2222 ssh-ed25519 "));

    let token = op.id_token("alice");
    let key = public_key();
    let (status, body) = post(&api.url, Some(&token), json!({ "public_key": key })).await;
    assert_eq!(status, 200, "{body}");
    let cert = Certificate::from_openssh(body["certificate"].as_str().unwrap()).unwrap();
    assert_eq!(cert.key_id(), "alice@example.test");
    assert_eq!(cert.valid_principals(), ["ops"]);
    assert_eq!(body["serial"], json!(cert.serial().to_string()));
    assert_eq!(body["default_login"], json!("alice"));
    assert!(cert.extensions().contains_key("permit-pty"));
    let ttl = cert.valid_before() - cert.valid_after();
    assert!((8 * 3600..=8 * 3600 + 120).contains(&ttl), "{ttl}");
    // Signed by the user CA the gateway trusts.
    assert!(cert
        .validate_at(
            cert.valid_after() + 120,
            [&api.services.user_cas[0].fingerprint(Default::default())]
        )
        .is_ok());

    let rows = api
        .services
        .audit
        .certificates(&Filter::default())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].serial, cert.serial().to_string());
    assert_eq!(rows[0].source, "oidc");
    assert_eq!(rows[0].requester.as_deref(), Some("alice"));
    assert!(!rows[0].revoked);

    // Revocation by serial, then by key id: the check, the listing, and no new certificate.
    let audit = &api.services.audit;
    assert!(!audit
        .is_revoked(cert.serial(), "alice@example.test")
        .await
        .unwrap());
    audit
        .revoke(&crate::audit::Revocation {
            serial: Some(cert.serial()),
            revoked_at_ms: crate::audit::now_ms(),
            revoked_by: "test".into(),
            reason: "lost laptop".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit
        .is_revoked(cert.serial(), "someone-else")
        .await
        .unwrap());
    assert!(!audit
        .is_revoked(cert.serial() ^ 1, "someone-else")
        .await
        .unwrap());
    assert!(audit.certificates(&Filter::default()).await.unwrap()[0].revoked);
    audit
        .revoke(&crate::audit::Revocation {
            key_id: Some("alice@example.test".into()),
            revoked_at_ms: crate::audit::now_ms(),
            revoked_by: "test".into(),
            reason: "left".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.is_revoked(1, "alice@example.test").await.unwrap());
    let (status, body) = post(&api.url, Some(&token), json!({ "public_key": key })).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], json!("revoked"));
    api.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_codes_and_repeated_failures_are_rate_limited() {
    let op = OpenIdProvider::start();
    let api = start_api(&op).await;
    let key = public_key();
    let (status, body) = post(&api.url, None, json!({ "public_key": key })).await;
    assert_eq!((status, body["error"].clone()), (401, json!("no_token")));
    let none = op.mint("none", &op.claims(PUBLIC_CLIENT));
    let (status, body) = post(&api.url, Some(&none), json!({ "public_key": key })).await;
    assert_eq!((status, body["error"].clone()), (401, json!("alg_none")));
    assert!(
        !body.to_string().contains(&none),
        "the token is never echoed"
    );
    let real = op.id_token("alice");
    let (status, body) = post(
        &api.url,
        Some(&real),
        json!({ "public_key": "ssh-rsa nope" }),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("bad_public_key"))
    );
    // An oversized body is cut off before it is parsed.
    let big = "x".repeat(MAX_BODY + 1);
    let (status, _) = post(&api.url, Some(&real), json!({ "public_key": big })).await;
    assert_eq!(status, 413);

    for _ in 0..limit::MAX_FAILURES {
        post(&api.url, Some("a.b.c"), json!({ "public_key": key })).await;
    }
    // Blocked now, even with a good token.
    let (status, body) = post(&api.url, Some(&real), json!({ "public_key": key })).await;
    assert_eq!(
        (status, body["error"].clone()),
        (429, json!("rate_limited"))
    );
    api.shutdown.cancel();
}
