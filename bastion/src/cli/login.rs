//! `bastion login`: get a short-lived certificate from the bastion's API.
//!
//! People sign in with the device authorization grant (RFC 8628): the verification URL and code
//! are printed, the token endpoint is polled politely (`slow_down` honoured); or, with
//! `--browser`, with the authorization code grant, PKCE and a loopback redirect (RFC 8252).
//! CI jobs pass their workload token with `--id-token-file` or `--id-token-env`. The key and certificate go
//! to `~/.bastion/` (and into a running ssh-agent for the certificate's lifetime), the bastion's
//! host key line to `~/.bastion/known_hosts`. `--status` shows the current certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use cert_authority::keyfile::{generate_ed25519, write_new, write_new_key_pair};
use cert_authority::oidc::flows::{self, AuthorizationRequest, DevicePoll, Endpoints};
use serde_json::Value;
use ssh_key::{Certificate, PublicKey};

use super::api_client::{get_json, http_client, remember_host, server_host, state_dir};
use super::failure::Failure;

/// Longest a sign-in waits for the user.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(600);

/// Sign in and get a certificate.
#[derive(Debug, clap::Args)]
pub struct Login {
    /// The bastion's API, e.g. https://bastion.example.com:8443
    #[arg(long, value_name = "URL", required_unless_present = "status")]
    server: Option<String>,
    /// A workload OIDC token in this file (CI).
    #[arg(long, value_name = "FILE", conflicts_with = "id_token_env")]
    id_token_file: Option<PathBuf>,
    /// A workload OIDC token in this environment variable (CI).
    #[arg(long, value_name = "VAR", conflicts_with = "browser")]
    id_token_env: Option<String>,
    /// Sign in in a web browser (authorization code + PKCE, redirect to a loopback port)
    /// instead of entering a code. Opens $BROWSER or xdg-open; the URL is printed too.
    #[arg(long, conflicts_with = "id_token_file")]
    browser: bool,
    /// Use this private key (default: DIR/id_ed25519, created if missing).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Where key, certificate and known_hosts go (default: ~/.bastion).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Trust this PEM certificate (a private CA) for the bastion's HTTPS, besides the
    /// public roots.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Show the current certificate and its remaining time.
    #[arg(long)]
    status: bool,
}

impl Login {
    pub fn run(self) -> Result<(), Failure> {
        let dir = state_dir(self.dir.as_deref())?;
        let key = self.key.clone().unwrap_or_else(|| dir.join("id_ed25519"));
        if self.status {
            return status(&key);
        }
        let server = self.server.clone().unwrap_or_default();
        super::failure::runtime()?.block_on(self.login(server.trim_end_matches('/'), &dir, &key))
    }

    async fn login(&self, server: &str, dir: &Path, key: &Path) -> Result<(), Failure> {
        let http = http_client(self.ca_file.as_deref())?;
        let info: Value = get_json(&http, &format!("{server}/v1/login")).await?;
        let mut nonce = None;
        let token = match (&self.id_token_file, &self.id_token_env) {
            (Some(f), _) => std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .trim()
                .to_string(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| anyhow!("${var} is not set"))?
                .trim()
                .to_string(),
            (None, None) => {
                let provider = Provider::from_info(&http, &info).await?;
                if self.browser {
                    let (token, n) = provider.browser_flow(&http).await?;
                    nonce = Some(n);
                    token
                } else {
                    provider.device_flow(&http).await?
                }
            }
        };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if !key.exists() {
            write_new_key_pair(&generate_ed25519("bastion login")?, key)?;
        }
        let public = std::fs::read_to_string(cert_authority::keyfile::public_path(key))
            .with_context(|| format!("cannot read {}.pub", key.display()))?;
        let resp = http
            .post(format!("{server}/v1/certificates"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "public_key": public.trim(), "nonce": nonce }))
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let code = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !code.is_success() {
            let why = body["message"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("refused");
            return Err(Failure::failed(anyhow!(
                "the bastion refused to issue a certificate ({code}): {why}"
            )));
        }
        let cert_line = body["certificate"]
            .as_str()
            .ok_or_else(|| anyhow!("no certificate in the answer"))?;
        let cert = Certificate::from_openssh(cert_line)
            .context("the answer's certificate is unreadable")?;
        let cert_path = super::ca::cert_path(&cert_authority::keyfile::public_path(key));
        if cert_path.exists() {
            std::fs::remove_file(&cert_path)
                .with_context(|| format!("cannot replace {}", cert_path.display()))?;
        }
        write_new(&cert_path, format!("{cert_line}\n").as_bytes(), 0o644)?;
        if let Some(line) = body["host_key_line"].as_str().filter(|l| !l.is_empty()) {
            remember_host(&dir.join("known_hosts"), line)?;
        }
        let remaining = cert
            .valid_before()
            .saturating_sub(cert_authority::unix_now());
        add_to_agent(key, remaining);
        super::out::say(format_args!(
            "signed in as {} (principals: {})",
            cert.key_id(),
            cert.valid_principals().join(", ")
        ));
        super::out::say(format_args!(
            "certificate {} valid for {}",
            cert_path.display(),
            bastion::human::secs(remaining)
        ));
        let host = server_host(server);
        let port = info["ssh_port"]
            .as_u64()
            .map(|p| format!("-p {p} "))
            .unwrap_or_default();
        let login = body["default_login"]
            .as_str()
            .map(|l| format!("{l}@"))
            .unwrap_or_default();
        super::out::say(format_args!(
            "connect with: ssh {port}-i {} -o UserKnownHostsFile={} {login}TARGET@{host}",
            key.display(),
            dir.join("known_hosts").display()
        ));
        // `ssh TARGET.bastion` with no options: an ssh_config for the targets permitted now,
        // included from ~/.ssh/config unless another --dir was asked for.
        let config = super::ssh_config::Bastion {
            server,
            dir,
            key,
            info: &info,
            suffix: super::ssh_config::SUFFIX,
        };
        match config.write(self.dir.is_none()) {
            Ok(said) => said
                .iter()
                .for_each(|l| super::out::say(format_args!("{l}"))),
            Err(f) => super::out::say(format_args!(
                "no ssh_config written: {}",
                super::failure::describe(f.error())
            )),
        }
        Ok(())
    }
}

/// The bastion's OpenID provider, as `GET /v1/login` names it.
struct Provider {
    endpoints: Endpoints,
    client_id: String,
    scopes: Vec<String>,
}

impl Provider {
    async fn from_info(http: &reqwest::Client, info: &Value) -> Result<Provider, Failure> {
        let issuer = info["issuer"].as_str().ok_or_else(|| {
            anyhow!("the bastion has no OpenID provider configured; CI jobs use --id-token-file")
        })?;
        Ok(Provider {
            endpoints: Endpoints::discover(http, issuer).await?,
            client_id: info["client_id"].as_str().unwrap_or("bastion").to_string(),
            scopes: info["scopes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// RFC 8628: print the URL and code, then poll until the user has signed in.
    async fn device_flow(&self, http: &reqwest::Client) -> Result<String, Failure> {
        let mut auth =
            flows::start_device(http, &self.endpoints, &self.client_id, &self.scopes).await?;
        super::out::say(format_args!(
            "To sign in, open {} and enter the code {}",
            auth.verification_uri, auth.user_code
        ));
        if let Some(complete) = &auth.verification_uri_complete {
            super::out::say(format_args!("(or open {complete})"));
        }
        flush();
        let deadline = tokio::time::Instant::now() + SIGN_IN_TIMEOUT.min(auth.expires_in);
        loop {
            tokio::time::sleep(auth.interval).await;
            if tokio::time::Instant::now() > deadline {
                return Err(Failure::failed(anyhow!("nobody signed in in time")));
            }
            match flows::poll_device(http, &self.endpoints, &self.client_id, &mut auth).await? {
                DevicePoll::Token(t) => return Ok(t),
                DevicePoll::Pending | DevicePoll::SlowDown => {}
            }
        }
    }

    /// RFC 8252: a browser signs in and is redirected to a one-shot server on a loopback port;
    /// the code is exchanged with the PKCE verifier. Returns the ID token and its nonce.
    async fn browser_flow(&self, http: &reqwest::Client) -> Result<(String, String), Failure> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on a loopback port for the browser's redirect")?;
        let port = listener.local_addr().context("loopback port")?.port();
        let request = AuthorizationRequest::new(
            &self.endpoints,
            &self.client_id,
            &self.scopes,
            &format!("http://127.0.0.1:{port}/callback"),
        )?;
        super::out::say(format_args!(
            "To sign in, open this page in your browser:\n  {}",
            request.url
        ));
        flush();
        open_browser(&request.url);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1);
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |q: axum::extract::RawQuery| async move {
                let _ = tx.try_send(q.0.unwrap_or_default());
                "Signed in to the bastion: you can close this page and go back to the terminal.\n"
            }),
        );
        let done = tokio_util::sync::CancellationToken::new();
        let stop = done.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        let query = tokio::time::timeout(SIGN_IN_TIMEOUT, rx.recv()).await;
        done.cancel();
        let _ = server.await;
        let query = query
            .ok()
            .flatten()
            .ok_or_else(|| anyhow!("nobody signed in within {}s", SIGN_IN_TIMEOUT.as_secs()))?;
        let token = request
            .finish(http, &self.endpoints, &self.client_id, &query)
            .await?;
        Ok((token, request.nonce.clone()))
    }
}

/// `$BROWSER URL`, else `xdg-open URL`; the URL is printed either way, so failing is fine.
fn open_browser(url: &str) {
    let program = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "xdg-open".into());
    let child = std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut child) = child {
        // Reaped in the background: the browser may outlive the sign-in.
        std::thread::spawn(move || child.wait());
    }
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// Adds the key (with its certificate) to a running agent, for no longer than the certificate.
fn add_to_agent(key: &Path, secs: u64) {
    if std::env::var_os("SSH_AUTH_SOCK").is_none() || secs == 0 {
        return;
    }
    let added = std::process::Command::new("ssh-add")
        .arg("-t")
        .arg(secs.to_string())
        .arg(key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if added.is_ok_and(|s| s.success()) {
        super::out::say(format_args!(
            "added to ssh-agent for {}",
            bastion::human::secs(secs)
        ));
    }
}

fn status(key: &Path) -> Result<(), Failure> {
    let path = super::ca::cert_path(&cert_authority::keyfile::public_path(key));
    let text = std::fs::read_to_string(&path).map_err(|_| {
        Failure::failed(anyhow!(
            "no certificate at {}; run bastion login",
            path.display()
        ))
    })?;
    let cert = Certificate::from_openssh(text.trim())
        .with_context(|| format!("{} is unreadable", path.display()))?;
    let key_text =
        std::fs::read_to_string(cert_authority::keyfile::public_path(key)).unwrap_or_default();
    let matches =
        PublicKey::from_openssh(key_text.trim()).is_ok_and(|k| k.key_data() == cert.public_key());
    super::out::say(format_args!("identity:   {}", cert.key_id()));
    super::out::say(format_args!(
        "principals: {}",
        cert.valid_principals().join(", ")
    ));
    super::out::say(format_args!("serial:     {}", cert.serial()));
    let now = cert_authority::unix_now();
    if now >= cert.valid_before() {
        super::out::say(format_args!(
            "expired:    {} ago",
            bastion::human::secs(now - cert.valid_before())
        ));
        return Err(Failure::failed(anyhow!(
            "the certificate has expired; run bastion login"
        )));
    }
    super::out::say(format_args!(
        "remaining:  {}",
        bastion::human::secs(cert.valid_before() - now)
    ));
    if !matches {
        return Err(Failure::failed(anyhow!(
            "the certificate does not belong to {}",
            key.display()
        )));
    }
    Ok(())
}
