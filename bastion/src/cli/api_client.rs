//! What the commands that talk to a bastion's API share (`login`, `targets`, `ssh-config`):
//! where the user's key and certificate live, the HTTP client, the bastion's host name, and
//! its host key in the user's known_hosts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde_json::Value;

use super::failure::Failure;

/// `--dir`, else `~/.bastion`: where the key, certificate and known_hosts live.
pub fn state_dir(dir: Option<&Path>) -> Result<PathBuf, Failure> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => Ok(PathBuf::from(
            std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set; use --dir"))?,
        )
        .join(".bastion")),
    }
}

/// A client for the bastion's API (and the OpenID provider): no redirects; `ca_file` trusted
/// besides the public roots.
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, Failure> {
    let mut http = cert_authority::oidc::http::client_builder(Duration::from_secs(30));
    if let Some(file) = ca_file {
        let pem = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{}: not a PEM certificate", file.display()))?
        {
            http = http.add_root_certificate(cert);
        }
    }
    Ok(http.build().context("HTTP client")?)
}

/// The host name in `server` (`https://HOST:PORT/…`).
pub fn server_host(server: &str) -> &str {
    server
        .split("://")
        .nth(1)
        .and_then(|h| h.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("bastion")
}

pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, Failure> {
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

/// Appends the bastion's host key line to `known_hosts` unless it is there already.
pub fn remember_host(path: &Path, line: &str) -> Result<(), Failure> {
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
