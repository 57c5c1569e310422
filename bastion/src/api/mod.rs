//! The HTTP API: certificates for OIDC ID tokens and CI workload tokens.
//!
//! - `GET /healthz`: 200 when the audit store answers (no store, no issuance).
//! - `GET /metrics`: counters and gauges in the Prometheus text format (no identities).
//! - `GET /v1/login`: issuer, client id, scopes, and the bastion's host key for known_hosts.
//! - `GET /v1/live/{SESSION-CHANNEL}`: a live channel's screen for another bastion's reviewer
//!   ([`live`]), with a one-use ticket from the shared database.
//! - `POST /v1/certificates`: `Authorization: Bearer TOKEN`, JSON `{"public_key": "ssh-ed25519 …",
//!   "nonce": optional}` → the certificate as JSON. Every issuance is an audit row first: if the
//!   row cannot be written, no certificate is returned.
//!
//! HTTP/1.1 on hyper; TLS with rustls when `[server] api_tls_cert`/`api_tls_key` are set
//! (validation allows plain HTTP only on loopback). Bodies are capped at [`MAX_BODY`]; a source
//! with too many refused requests gets 429 for a while ([`limit`]). Tokens are never logged.

mod limit;
pub mod live;
mod tls;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use cert_authority::oidc::Refusal;
use cert_authority::{load_private_key, sign_user_certificate};
use serde::{Deserialize, Serialize};
use ssh_key::{HashAlg, PrivateKey, PublicKey};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::audit::{now_ms, CertificateIssued};
use crate::gateway::places::Full;
use crate::services::Services;

/// Largest request body: a public key and a nonce fit many times over.
pub const MAX_BODY: usize = 64 * 1024;
/// Time a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at accept. Every request is answered at once
/// (only authenticated live feeds last), so this only bounds idle or trickling clients.
const MAX_CONNECTIONS: usize = 256;
/// Connections served at once from one address (an IPv6 /64): one address cannot hold them all.
const MAX_CONNECTIONS_PER_SOURCE: usize = 32;
/// Longest life of one connection, body and keep-alive included: a client trickling its body
/// a byte at a time holds a descriptor this long at most.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Binds `[server] api_listen` if set, logs `api listening address=…`, and serves until
/// `shutdown`. Returns the bound address and the accept loop's task (it ends soon after
/// `shutdown`), or `None` when no API is configured.
///
/// # Errors
/// When the address cannot be bound, the TLS files or the user CA cannot be loaded.
/// `ssh` is where the SSH server really listens (its configured port may be 0).
pub async fn start(
    services: Arc<Services>,
    shutdown: CancellationToken,
    ssh: SocketAddr,
) -> anyhow::Result<Option<(SocketAddr, tokio::task::JoinHandle<()>)>> {
    let Some(addr) = services.config.server.api_listen.clone() else {
        return Ok(None);
    };
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("server.api_listen: cannot listen on {addr}"))?;
    let api = Api::load(services, Some(ssh.port()))?;
    let local = listener.local_addr().context("API listener address")?;
    info!(address = %local, tls = api.tls.is_some(), "api listening");
    Ok(Some((local, tokio::spawn(api.serve(listener, shutdown)))))
}

/// Serves the API on `listener` until `shutdown` (tests bind their own port).
#[cfg(test)]
pub async fn serve_api(
    services: Arc<Services>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    Api::load(services, None)?.serve(listener, shutdown).await;
    Ok(())
}

/// Everything the handlers share.
struct Api {
    services: Arc<Services>,
    user_ca: PrivateKey,
    host_key: String,
    limiter: limit::FailureLimiter,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The SSH server's bound port, when known (else the configured one).
    ssh_port: Option<u16>,
}

impl Api {
    fn load(services: Arc<Services>, ssh_port: Option<u16>) -> anyhow::Result<Arc<Api>> {
        let c = &services.config;
        let user_ca = load_private_key(&c.ca.user_ca)
            .with_context(|| format!("ca.user_ca ({})", c.ca.user_ca.display()))?;
        let host_key = load_private_key(&c.server.host_key)
            .with_context(|| format!("server.host_key ({})", c.server.host_key.display()))?
            .public_key()
            .to_openssh()
            .context("host key")?;
        let tls = match (&c.server.api_tls_cert, &c.server.api_tls_key) {
            (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
            _ => None,
        };
        Ok(Arc::new(Api {
            user_ca,
            host_key,
            limiter: limit::FailureLimiter::default(),
            tls,
            ssh_port,
            services,
        }))
    }

    async fn serve(self: Arc<Api>, listener: TcpListener, shutdown: CancellationToken) {
        let router = Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .route("/v1/login", get(login))
            .route("/v1/certificates", post(certificates))
            .route("/v1/live/{id}", get(live_feed))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone());
        let slots =
            crate::gateway::places::Places::new(MAX_CONNECTIONS_PER_SOURCE, MAX_CONNECTIONS);
        // Refusals are logged at most once a second: under a flood they are every connection.
        let quiet = crate::gateway::places::Quiet::default();
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and the like: back off instead of spinning.
                        warn!(error = %e, "api accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            // Unauthenticated clients must not take every descriptor of the process (the SSH
            // side and the recordings need them): past the cap, new connections are closed.
            let source = crate::gateway::places::source_of(peer.ip());
            let slot = match slots.take(source) {
                Ok(slot) => slot,
                Err(full) => {
                    if quiet.ready() {
                        match full {
                            Full::Key(n) => {
                                warn!(%peer, "api connection refused: {n} connections open from one address")
                            }
                            Full::All(n) => {
                                warn!(%peer, "api connection refused: {n} connections open")
                            }
                        }
                    }
                    drop(stream);
                    continue;
                }
            };
            let router = router.clone();
            let tls = self.tls.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let long = LongLived::default();
                let router = router.layer(Extension(long.clone()));
                let served = async {
                    match tls {
                        Some(acceptor) => {
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => serve_connection(s, peer, router, shutdown).await,
                                Ok(Err(e)) => info!(%peer, error = %e, "api TLS handshake failed"),
                                Err(_) => info!(%peer, "api TLS handshake timed out"),
                            }
                        }
                        None => serve_connection(stream, peer, router, shutdown).await,
                    }
                };
                tokio::pin!(served);
                if tokio::time::timeout(CONNECTION_LIFETIME, &mut served)
                    .await
                    .is_err()
                {
                    if long.0.load(std::sync::atomic::Ordering::Relaxed) {
                        served.await;
                    } else {
                        info!(%peer, "api connection closed after {CONNECTION_LIFETIME:?}");
                    }
                }
            });
        }
        info!("api stopped");
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let router = router.layer(Extension(Peer(peer)));
    let service = hyper::service::service_fn(move |req| {
        let mut r = router.clone();
        tower_service::Service::call(&mut r, req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .header_read_timeout(Duration::from_secs(10))
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => if let Err(e) = r {
            tracing::debug!(%peer, error = %e, "api connection ended");
        },
        _ = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
    }
}

/// The client's address.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// `GET /v1/live/{id}` ([`live`]).
async fn live_feed(
    State(api): State<Arc<Api>>,
    Extension(long): Extension<LongLived>,
    Extension(Peer(peer)): Extension<Peer>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let ip = peer.ip();
    if api.limiter.is_blocked(ip) {
        return (StatusCode::TOO_MANY_REQUESTS, "too many refused requests\n").into_response();
    }
    let answer = live::serve(&api.services, &long.0, &id, &headers).await;
    if answer.status().is_client_error() {
        api.limiter.failed(ip);
    }
    answer
}

/// Set by a handler whose answer may outlive [`CONNECTION_LIFETIME`] (an authenticated live
/// feed): the connection then lasts as long as the answer.
#[derive(Debug, Clone, Default)]
struct LongLived(Arc<std::sync::atomic::AtomicBool>);

async fn healthz(State(api): State<Arc<Api>>) -> Response {
    match api.services.audit.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            warn!(error = %e, "healthz: audit store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "audit store unreachable\n").into_response()
        }
    }
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        api.services.metrics.render(api.services.endings.waiting()),
    )
        .into_response()
}

/// `GET /v1/login`
#[derive(Debug, Serialize, Deserialize)]
pub struct LoginInfo {
    /// `null` when no `[oidc]` provider is configured (CI rules only).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    /// The bastion's SSH host key, `ssh-ed25519 AAAA…`.
    pub host_key: String,
    /// A known_hosts line for it, named after the host this request was sent to.
    pub host_key_line: String,
    /// The port of the bastion's SSH server, for the command `bastion login` prints.
    #[serde(default)]
    pub ssh_port: Option<u16>,
}

async fn login(State(api): State<Arc<Api>>, headers: HeaderMap) -> Json<LoginInfo> {
    let oidc = api.services.config.oidc.as_ref();
    Json(LoginInfo {
        issuer: oidc.map(|o| o.issuer.clone()),
        client_id: oidc.map(|o| o.client_id.clone()),
        scopes: oidc.map(|o| o.scopes.clone()).unwrap_or_default(),
        host_key_line: api.known_hosts_line(&headers),
        host_key: api.host_key.clone(),
        ssh_port: api
            .ssh_port
            .or_else(|| {
                api.services
                    .config
                    .server
                    .listen
                    .parse::<std::net::SocketAddr>()
                    .ok()
                    .map(|a| a.port())
            })
            .filter(|p| *p != 0),
    })
}

impl Api {
    /// `[HOST]:PORT KEY` (plain `HOST KEY` on port 22), HOST from the request's Host header.
    fn known_hosts_line(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| match h.rsplit_once(':') {
                Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
                _ => h,
            })
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-[]:".contains(c))
            })
            .unwrap_or("*");
        let port = self
            .services
            .config
            .server
            .listen
            .parse::<SocketAddr>()
            .map(|a| a.port())
            .unwrap_or(22);
        if port == 22 || port == 0 {
            format!("{host} {}", self.host_key)
        } else {
            format!(
                "[{}]:{port} {}",
                host.trim_matches(['[', ']']),
                self.host_key
            )
        }
    }
}

/// `POST /v1/certificates` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// OpenSSH public key line.
    pub public_key: String,
    /// The nonce of the authorization request, when the flow had one (auth code).
    #[serde(default)]
    pub nonce: Option<String>,
}

/// `POST /v1/certificates` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct CertificateResponse {
    /// `ssh-ed25519-cert-v01@openssh.com AAAA…`, to save as `KEY-cert.pub`.
    pub certificate: String,
    /// Decimal string: 64-bit serials do not survive JSON numbers in most clients.
    pub serial: String,
    pub key_id: String,
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    pub valid_before: u64,
    pub default_login: Option<String>,
    pub host_key_line: String,
}

/// A refusal as JSON: `{"error": CODE, "message": TEXT}`.
fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": code, "message": message })),
    )
        .into_response()
}

async fn certificates(
    State(api): State<Arc<Api>>,
    Extension(Peer(peer)): Extension<Peer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let ip = peer.ip();
    if api.limiter.is_blocked(ip) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many refused requests from this address; try again later",
        );
    }
    match api.issue(ip, &headers, &body).await {
        Ok(r) => (StatusCode::OK, Json(r)).into_response(),
        Err((status, code, message)) => {
            if status.is_client_error() {
                api.limiter.failed(ip);
            }
            warn!(%peer, reason = code, detail = %message, "api: certificate refused");
            refuse(status, code, &message)
        }
    }
}

type Refused = (StatusCode, &'static str, String);

impl Api {
    async fn issue(
        &self,
        ip: IpAddr,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<CertificateResponse, Refused> {
        let bad = |code, m: String| (StatusCode::BAD_REQUEST, code, m);
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or((
                StatusCode::UNAUTHORIZED,
                "no_token",
                "send Authorization: Bearer <ID token or workload token>".to_string(),
            ))?;
        let req: CertificateRequest = serde_json::from_slice(body).map_err(|e| {
            bad(
                "bad_request",
                format!("expected JSON {{\"public_key\": …}}: {e}"),
            )
        })?;
        let public_key = PublicKey::from_openssh(req.public_key.trim())
            .map_err(|e| bad("bad_public_key", format!("not an OpenSSH public key: {e}")))?;
        let grant = self
            .services
            .identities
            .grant(token, req.nonce.as_deref())
            .await
            .map_err(|r: Refusal| {
                let status = if r.is_client_fault() {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (status, r.code(), r.to_string())
            })?;
        let audit = &self.services.audit;
        let unavailable = |e: crate::audit::AuditError| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                e.to_string(),
            )
        };
        // `ca revoke --identity` records the provider's subject; a person's key id is their
        // e-mail, so both are checked.
        if audit
            .is_identity_revoked(&grant.key_id, &grant.subject)
            .await
            .map_err(unavailable)?
        {
            return Err((
                StatusCode::FORBIDDEN,
                "revoked",
                format!("identity {:?} is revoked", grant.key_id),
            ));
        }
        let fingerprint = public_key.fingerprint(HashAlg::Sha256).to_string();
        let cert =
            sign_user_certificate(&self.user_ca, &grant.request(public_key)).map_err(|e| {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "signing_failed",
                    e.to_string(),
                )
            })?;
        let line = cert.to_openssh().map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "signing_failed",
                e.to_string(),
            )
        })?;
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        // Audit first: a certificate nobody recorded must not leave the bastion.
        audit
            .certificate_issued(&CertificateIssued {
                serial: cert.serial(),
                key_id: grant.key_id.clone(),
                principals: grant.principals.clone(),
                public_key: fingerprint,
                valid_after_ms: ms(cert.valid_after()),
                valid_before_ms: ms(cert.valid_before()),
                source: grant.source.as_str().to_string(),
                requester: Some(grant.subject.clone()),
                issued_at_ms: now_ms(),
            })
            .await
            .map_err(unavailable)?;
        self.services.metrics.certificates_issued.inc();
        info!(
            peer = %ip,
            identity = %grant.key_id,
            serial = cert.serial(),
            principals = %grant.principals.join(","),
            source = grant.source.as_str(),
            ttl_s = grant.ttl.as_secs(),
            "api: certificate issued"
        );
        Ok(CertificateResponse {
            certificate: line,
            serial: cert.serial().to_string(),
            key_id: grant.key_id,
            principals: grant.principals,
            valid_after: cert.valid_after(),
            valid_before: cert.valid_before(),
            default_login: grant.default_login,
            host_key_line: self.known_hosts_line(headers),
        })
    }
}
