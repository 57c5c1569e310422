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

fn http_client() -> reqwest::Client {
    http::client_builder(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn scopes() -> Vec<String> {
    ["openid", "email", "profile", "groups"]
        .map(String::from)
        .to_vec()
}

#[tokio::test]
async fn device_grant_against_the_provider() {
    use flows::{DevicePoll, Endpoints, FlowError};
    let op = OpenIdProvider::start();
    let http = http_client();
    let endpoints = Endpoints::discover(&http, &format!("{}/", op.issuer))
        .await
        .unwrap();
    assert_eq!(endpoints.issuer(), op.issuer);
    let mut auth = flows::start_device(&http, &endpoints, PUBLIC_CLIENT, &scopes())
        .await
        .unwrap();
    assert_eq!(auth.verification_uri, format!("{}/device", op.issuer));
    assert!(auth.interval >= Duration::from_secs(1), "{auth:?}");
    let poll = |auth: &mut flows::DeviceAuthorization| {
        let (http, endpoints) = (&http, &endpoints);
        let mut auth = auth.clone();
        async move {
            let r = flows::poll_device(http, endpoints, PUBLIC_CLIENT, &mut auth).await;
            (r, auth)
        }
    };
    let (r, _) = poll(&mut auth).await;
    assert_eq!(r, Ok(DevicePoll::Pending));
    op.confirm_device(&auth.user_code, "alice");
    let (r, _) = poll(&mut auth).await;
    let Ok(DevicePoll::Token(token)) = r else {
        panic!("{r:?}")
    };
    let ids = Identities::new(config(&op, "")).unwrap();
    assert_eq!(
        ids.grant(&token, None).await.unwrap().key_id,
        "alice@example.test"
    );
    // Used once only.
    let (r, _) = poll(&mut auth).await;
    assert!(matches!(r, Err(FlowError::Refused(_))), "{r:?}");

    let mut auth = flows::start_device(&http, &endpoints, PUBLIC_CLIENT, &scopes())
        .await
        .unwrap();
    op.deny_device(&auth.user_code);
    let r = flows::poll_device(&http, &endpoints, PUBLIC_CLIENT, &mut auth).await;
    assert_eq!(r, Err(FlowError::Denied));
    assert_eq!(r.unwrap_err().to_string(), "the sign-in was denied");

    // An unknown client is the provider's refusal, by its code.
    let r = flows::start_device(&http, &endpoints, "nobody", &scopes()).await;
    assert_eq!(r.unwrap_err(), FlowError::Refused("invalid_client".into()));
}

#[tokio::test]
async fn authorization_request_and_its_redirect() {
    use flows::{AuthorizationRequest, Endpoints, FlowError};
    let op = OpenIdProvider::start();
    let http = http_client();
    let endpoints = Endpoints::discover(&http, &op.issuer).await.unwrap();
    let redirect = "http://127.0.0.1:9/callback";
    let request =
        AuthorizationRequest::new(&endpoints, PUBLIC_CLIENT, &scopes(), redirect).unwrap();
    let url = reqwest::Url::parse(&request.url).unwrap();
    assert_eq!(
        url.as_str().split('?').next(),
        Some(&*format!("{}/auth", op.issuer))
    );
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], PUBLIC_CLIENT);
    assert_eq!(query["redirect_uri"], redirect);
    assert_eq!(query["scope"], "openid email profile groups");
    assert_eq!(query["state"], request.state);
    assert_eq!(query["nonce"], request.nonce);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    let finish = |q: String| {
        let (http, endpoints, request) = (&http, &endpoints, &request);
        async move { request.finish(http, endpoints, PUBLIC_CLIENT, &q).await }
    };
    assert_eq!(
        finish("error=access_denied".into()).await,
        Err(FlowError::Denied)
    );
    assert_eq!(
        finish("error=login_required&error_description=not+now".into()).await,
        Err(FlowError::Refused("login_required: not now".into()))
    );
    assert_eq!(
        finish("code=abc&state=other".into()).await,
        Err(FlowError::Refused(
            "the redirect's state does not match the request (not this sign-in)".into()
        ))
    );
    assert_eq!(
        finish(format!("state={}", request.state)).await,
        Err(FlowError::Refused("the redirect carries no code".into()))
    );
    // A code the provider never issued: its OAuth error.
    assert_eq!(
        finish(format!("code=made-up&state={}", request.state)).await,
        Err(FlowError::Refused("invalid_grant".into()))
    );
}

/// A hand-made provider on a loopback port: each request gets the next answer queued for its
/// path, a raw HTTP response (`None`: the connection is closed without one). Returns its URL
/// and the paths asked for.
async fn fake_provider(
    answers: impl FnOnce(&str) -> Vec<(&'static str, Option<String>)>,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use std::collections::{HashMap, VecDeque};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut queues: HashMap<&str, VecDeque<Option<String>>> = HashMap::new();
    for (path, answer) in answers(&base) {
        queues.entry(path).or_default().push_back(answer);
    }
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let head_end = loop {
                let n = conn.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |n| n.trim().parse().unwrap());
            while request.len() < head_end + length {
                let n = conn.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path.clone());
            let answer = queues.get_mut(path.as_str()).and_then(VecDeque::pop_front);
            if let Some(Some(raw)) = answer {
                let _ = conn.write_all(raw.as_bytes()).await;
            }
        }
    });
    (base, asked)
}

fn json_answer(status: &str, body: &str) -> Option<String> {
    Some(format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn discovery_document(base: &str) -> Option<String> {
    json_answer(
        "200 OK",
        &json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/auth"),
            "token_endpoint": format!("{base}/token"),
            "device_authorization_endpoint": format!("{base}/device/auth"),
            "jwks_uri": format!("{base}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })
        .to_string(),
    )
}

#[tokio::test]
async fn a_provider_is_not_followed_elsewhere_nor_read_without_end() {
    use flows::{Endpoints, FlowError};
    let http = http_client();
    // Discovery redirected: not followed.
    let (base, asked) = fake_provider(|base| {
        vec![(
            "/.well-known/openid-configuration",
            Some(format!(
                "HTTP/1.1 302 Found\r\nlocation: {base}/internal\r\ncontent-length: 0\r\n\
                 connection: close\r\n\r\n"
            )),
        )]
    })
    .await;
    let r = Endpoints::discover(&http, &base).await;
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("{base}/.well-known/openid-configuration: 302 Found")
    );
    assert_eq!(
        *asked.lock().unwrap(),
        ["/.well-known/openid-configuration"]
    );
    // Nor is a provider's own check skipped: the document must be the issuer's.
    let (base, _) = fake_provider(|_| {
        vec![(
            "/.well-known/openid-configuration",
            discovery_document("http://elsewhere.test"),
        )]
    })
    .await;
    let r = Endpoints::discover(&http, &base).await.unwrap_err();
    assert!(r.to_string().contains("unexpected issuer URI"), "{r}");

    // Answers longer than the bound, announced or not, are not read to their end.
    let endless = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{{\"x\": \"{}\"}}",
        "a".repeat(2 * http::MAX_ANSWER_BYTES)
    );
    let announced = json_answer("200 OK", &"a".repeat(2 * http::MAX_ANSWER_BYTES));
    let (base, _) = fake_provider(|base| {
        vec![
            (
                "/.well-known/openid-configuration",
                discovery_document(base),
            ),
            ("/jwks", json_answer("200 OK", "{\"keys\": []}")),
            ("/device/auth", Some(endless)),
            ("/device/auth", announced),
        ]
    })
    .await;
    let endpoints = Endpoints::discover(&http, &base).await.unwrap();
    for _ in 0..2 {
        let r = flows::start_device(&http, &endpoints, "c", &scopes()).await;
        assert_eq!(
            r.unwrap_err(),
            FlowError::BadAnswer {
                url: format!("{base}/device/auth"),
                detail: format!("the answer is larger than {} bytes", http::MAX_ANSWER_BYTES),
            }
        );
    }
}

#[tokio::test]
async fn each_device_poll_is_one_request_and_says_how_it_went() {
    use flows::{DevicePoll, Endpoints, FlowError};
    let error = |code: &str| json_answer("400 Bad Request", &json!({ "error": code }).to_string());
    let (base, asked) = fake_provider(|base| {
        vec![
            ("/.well-known/openid-configuration", discovery_document(base)),
            ("/jwks", json_answer("200 OK", "{\"keys\": []}")),
            (
                "/device/auth",
                json_answer(
                    "200 OK",
                    &json!({
                        "device_code": "d", "user_code": "U", "verification_uri": format!("{base}/device"),
                        "verification_uri_complete": format!("{base}/device?user_code=U"),
                        "interval": u64::MAX, "expires_in": u64::MAX,
                    })
                    .to_string(),
                ),
            ),
            ("/token", error("authorization_pending")),
            ("/token", error("slow_down")),
            ("/token", error("access_denied")),
            ("/token", error("expired_token")),
            ("/token", error("unsupported_grant_type")),
            (
                "/token",
                json_answer(
                    "200 OK",
                    "{\"access_token\": \"a\", \"token_type\": \"Bearer\"}",
                ),
            ),
            ("/token", json_answer("200 OK", "{\"access_token\": 7}")),
            ("/token", json_answer("500 Internal Server Error", "<html>")),
            ("/token", None),
        ]
    })
    .await;
    let http = http_client();
    let endpoints = Endpoints::discover(&http, &base).await.unwrap();
    let mut auth = flows::start_device(&http, &endpoints, "c", &scopes())
        .await
        .unwrap();
    assert_eq!(auth.user_code, "U");
    assert_eq!(auth.verification_uri, format!("{base}/device"));
    assert_eq!(
        auth.verification_uri_complete,
        Some(format!("{base}/device?user_code=U"))
    );
    let day = Duration::from_secs(24 * 3600);
    assert_eq!((auth.interval, auth.expires_in), (day, day));
    let mut poll = async || flows::poll_device(&http, &endpoints, "c", &mut auth).await;
    assert_eq!(poll().await, Ok(DevicePoll::Pending));
    // Raised by 5 s, but no further than a day.
    assert_eq!(poll().await, Ok(DevicePoll::SlowDown));
    assert_eq!(poll().await, Err(FlowError::Denied));
    assert_eq!(poll().await, Err(FlowError::Expired));
    assert_eq!(
        poll().await,
        Err(FlowError::Refused("unsupported_grant_type".into()))
    );
    let token = format!("{base}/token");
    let bad = |detail: &str| {
        Err(FlowError::BadAnswer {
            url: token.clone(),
            detail: detail.into(),
        })
    };
    assert_eq!(
        poll().await,
        bad("neither id_token nor error in the answer (is `openid` in the scopes?)")
    );
    assert_eq!(
        poll().await,
        bad("not a token answer: unexpected value at access_token")
    );
    assert_eq!(poll().await, bad("not JSON"));
    let r = poll().await;
    assert!(
        matches!(&r, Err(FlowError::Unreachable { url, .. }) if *url == token),
        "{r:?}"
    );
    assert_eq!(auth.interval, day);
    assert_eq!(
        asked
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/token")
            .count(),
        9
    );
}
