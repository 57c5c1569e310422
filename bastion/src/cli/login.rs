//! `bastion login`: get a short-lived certificate from the bastion's API.
//!
//! People sign in with the device authorization grant (RFC 8628): the verification URL and code
//! are printed, the token endpoint is polled politely (`slow_down` honoured). CI jobs pass
//! their workload token with `--id-token-file` or `--id-token-env`. The key and certificate go
//! to `~/.bastion/` (and into a running ssh-agent for the certificate's lifetime), the bastion's
//! host key line to `~/.bastion/known_hosts`. `--status` shows the current certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use cert_authority::keyfile::{generate_ed25519, write_new, write_new_key_pair};
use serde_json::Value;
use ssh_key::{Certificate, PublicKey};

use super::Failure;

/// Longest the device flow waits for the user.
const DEVICE_TIMEOUT: Duration = Duration::from_secs(600);

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
    #[arg(long, value_name = "VAR")]
    id_token_env: Option<String>,
    /// Use this private key (default: DIR/id_ed25519, created if missing).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Where key, certificate and known_hosts go (default: ~/.bastion).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Show the current certificate and its remaining time.
    #[arg(long)]
    status: bool,
}

impl Login {
    pub fn run(self) -> Result<(), Failure> {
        let dir = match &self.dir {
            Some(d) => d.clone(),
            None => PathBuf::from(
                std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set; use --dir"))?,
            )
            .join(".bastion"),
        };
        let key = self.key.clone().unwrap_or_else(|| dir.join("id_ed25519"));
        if self.status {
            return status(&key);
        }
        let server = self.server.clone().unwrap_or_default();
        super::runtime()?.block_on(self.login(server.trim_end_matches('/'), &dir, &key))
    }

    async fn login(&self, server: &str, dir: &Path, key: &Path) -> Result<(), Failure> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        let info: Value = get_json(&http, &format!("{server}/v1/login")).await?;
        let token = match (&self.id_token_file, &self.id_token_env) {
            (Some(f), _) => std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?
                .trim()
                .to_string(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| anyhow!("${var} is not set"))?
                .trim()
                .to_string(),
            (None, None) => device_flow(&http, &info).await?,
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
            .json(&serde_json::json!({ "public_key": public.trim() }))
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
        println!(
            "signed in as {} (principals: {})",
            cert.key_id(),
            cert.valid_principals().join(", ")
        );
        println!(
            "certificate {} valid for {}",
            cert_path.display(),
            human(remaining)
        );
        let host = server
            .split("://")
            .nth(1)
            .and_then(|h| h.split(['/', ':']).next())
            .unwrap_or("bastion");
        let port = info["ssh_port"]
            .as_u64()
            .map(|p| format!("-p {p} "))
            .unwrap_or_default();
        let login = body["default_login"]
            .as_str()
            .map(|l| format!("{l}@"))
            .unwrap_or_default();
        println!(
            "connect with: ssh {port}-i {} -o UserKnownHostsFile={} {login}TARGET@{host}",
            key.display(),
            dir.join("known_hosts").display()
        );
        Ok(())
    }
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, Failure> {
    let resp = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !resp.status().is_success() {
        return Err(Failure::failed(anyhow!("{url}: {}", resp.status())));
    }
    Ok(resp
        .json()
        .await
        .with_context(|| format!("{url}: not JSON"))?)
}

/// RFC 8628: device authorization, then poll the token endpoint until the user has signed in.
async fn device_flow(http: &reqwest::Client, info: &Value) -> Result<String, Failure> {
    let issuer = info["issuer"].as_str().ok_or_else(|| {
        anyhow!("the bastion has no OpenID provider configured; CI jobs use --id-token-file")
    })?;
    let client_id = info["client_id"].as_str().unwrap_or("bastion");
    let scopes: Vec<&str> = info["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let discovery = get_json(
        http,
        &format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ),
    )
    .await?;
    let device_endpoint = discovery["device_authorization_endpoint"]
        .as_str()
        .ok_or_else(|| anyhow!("{issuer} does not offer the device authorization grant"))?;
    let token_endpoint = discovery["token_endpoint"]
        .as_str()
        .ok_or_else(|| anyhow!("{issuer}: no token endpoint"))?;
    let auth: Value = http
        .post(device_endpoint)
        .form(&[("client_id", client_id), ("scope", &scopes.join(" "))])
        .send()
        .await
        .context("device authorization")?
        .json()
        .await
        .context("device authorization: not JSON")?;
    let device_code = auth["device_code"]
        .as_str()
        .ok_or_else(|| anyhow!("device authorization refused: {auth}"))?;
    let user_code = auth["user_code"].as_str().unwrap_or("");
    let uri = auth["verification_uri"].as_str().unwrap_or("");
    println!("To sign in, open {uri} and enter the code {user_code}");
    if let Some(complete) = auth["verification_uri_complete"].as_str() {
        println!("(or open {complete})");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // RFC 8628 §3.5: 5 s unless told otherwise, 5 s more on every slow_down.
    let mut interval = Duration::from_secs(auth["interval"].as_u64().unwrap_or(5).max(1));
    let deadline = tokio::time::Instant::now() + DEVICE_TIMEOUT;
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() > deadline {
            return Err(Failure::failed(anyhow!(
                "nobody signed in within {}s",
                DEVICE_TIMEOUT.as_secs()
            )));
        }
        let answer: Value = http
            .post(token_endpoint)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", client_id),
            ])
            .send()
            .await
            .context("token endpoint")?
            .json()
            .await
            .context("token endpoint: not JSON")?;
        if let Some(t) = answer["id_token"].as_str() {
            return Ok(t.to_string());
        }
        match answer["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += Duration::from_secs(5),
            Some("access_denied") => {
                return Err(Failure::failed(anyhow!("the sign-in was denied")))
            }
            Some("expired_token") => {
                return Err(Failure::failed(anyhow!(
                    "the code expired before anyone signed in"
                )))
            }
            other => {
                let why = other.unwrap_or("no id_token in the answer");
                return Err(Failure::failed(anyhow!("the provider refused: {why}")));
            }
        }
    }
}

/// Appends the bastion's host key line to `known_hosts` unless it is there already.
fn remember_host(path: &Path, line: &str) -> Result<(), Failure> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    if existing.lines().any(|l| l.trim() == line.trim()) {
        return Ok(());
    }
    let mut text = existing;
    text.push_str(line.trim());
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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
        println!("added to ssh-agent for {}", human(secs));
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
    println!("identity:   {}", cert.key_id());
    println!("principals: {}", cert.valid_principals().join(", "));
    println!("serial:     {}", cert.serial());
    let now = cert_authority::unix_now();
    if now >= cert.valid_before() {
        println!("expired:    {} ago", human(now - cert.valid_before()));
        return Err(Failure::failed(anyhow!(
            "the certificate has expired; run bastion login"
        )));
    }
    println!("remaining:  {}", human(cert.valid_before() - now));
    if !matches {
        return Err(Failure::failed(anyhow!(
            "the certificate does not belong to {}",
            key.display()
        )));
    }
    Ok(())
}

fn human(secs: u64) -> String {
    match (secs / 3600, (secs % 3600) / 60) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m"),
        (h, m) => format!("{h}h {m}m"),
    }
}
