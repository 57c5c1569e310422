//! `bastion targets --server URL`: the targets and logins the signed-in user may use, as the
//! bastion lists them (`ssh bastion list`), with the key and certificate `bastion login` wrote.

use std::path::PathBuf;

use anyhow::{anyhow, Context};

use super::api_client::{get_json, http_client, remember_host, server_host, state_dir};
use super::failure::Failure;

/// List the targets you may reach.
#[derive(Debug, clap::Args)]
pub struct Targets {
    /// The bastion's API, e.g. https://bastion.example.com:8443
    #[arg(long, value_name = "URL")]
    server: String,
    /// One JSON object per target instead of a table.
    #[arg(long)]
    json: bool,
    /// The private key whose certificate to use (default: DIR/id_ed25519).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Where `bastion login` put the key, certificate and known_hosts (default: ~/.bastion).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Trust this PEM certificate (a private CA) for the bastion's HTTPS.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

impl Targets {
    pub fn run(self) -> Result<(), Failure> {
        let dir = state_dir(self.dir.as_deref())?;
        let key = self.key.clone().unwrap_or_else(|| dir.join("id_ed25519"));
        let cert = super::ca::cert_path(&cert_authority::keyfile::public_path(&key));
        if !cert.exists() {
            return Err(Failure::failed(anyhow!(
                "no certificate at {}; run bastion login --server {}",
                cert.display(),
                self.server
            )));
        }
        let server = self.server.trim_end_matches('/');
        let info = super::failure::runtime()?.block_on(async {
            let http = http_client(self.ca_file.as_deref())?;
            get_json(&http, &format!("{server}/v1/login")).await
        })?;
        let known_hosts = dir.join("known_hosts");
        if let Some(line) = info["host_key_line"].as_str().filter(|l| !l.is_empty()) {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            remember_host(&known_hosts, line)?;
        }
        let port = info["ssh_port"].as_u64().unwrap_or(22);
        let mut ssh = std::process::Command::new("ssh");
        ssh.args(["-p", &port.to_string(), "-i"])
            .arg(&key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "LogLevel=ERROR", "-T"])
            .arg(server_host(server))
            .arg(if self.json { "list --json" } else { "list" });
        let status = ssh.status().context("cannot run ssh")?;
        match status.code() {
            Some(0) => Ok(()),
            code => Err(Failure::failed(anyhow!(
                "ssh to the bastion failed (exit {})",
                code.map_or("by a signal".to_string(), |c| c.to_string())
            ))),
        }
    }
}
