//! `bastion quickstart`: a dev directory with keys, a configuration, a certificate for the
//! user's key and a demo target, then serve. Safe to run again: existing files are kept.

use std::path::{Path, PathBuf};

use anyhow::Context;
use cert_authority::keyfile::{generate_ed25519, write_new, write_new_key_pair};
use cert_authority::{load_private_key, sign_user_certificate, UserCertificateRequest};
use ssh_key::PublicKey;

use super::ca::{init, KEY_NAMES};
use super::failure::Failure;

/// Create a dev directory and serve.
#[derive(Debug, clap::Args)]
pub struct Quickstart {
    /// Dev directory (created if missing; existing files are kept).
    #[arg(long, default_value = "bastion-dev")]
    dir: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:2222")]
    listen: String,
    /// Public key to certify (default: ~/.ssh/id_ed25519.pub, else a key generated in DIR).
    #[arg(long, value_name = "KEY.pub")]
    key: Option<PathBuf>,
    /// Set everything up but do not serve.
    #[arg(long)]
    no_serve: bool,
}

impl Quickstart {
    pub fn run(self) -> Result<(), Failure> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let keys = dir.join("keys");
        if !KEY_NAMES.iter().all(|k| keys.join(k).exists()) {
            init(&keys)?;
        }
        let login = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".into());
        let config_path = dir.join("bastion.toml");
        if !config_path.exists() {
            write_new(
                &config_path,
                config_text(&self.listen, &login).as_bytes(),
                0o644,
            )?;
            println!("created {}", config_path.display());
        }
        let config = bastion::settings::load_config(&config_path).map_err(Failure::usage)?;

        let public = self.user_key(dir)?;
        // In the quickstart directory, not beside the key: `~/.ssh/id_ed25519-cert.pub` may be
        // a certificate the user needs elsewhere, and ssh offers that file on its own.
        let cert = dir.join("user-cert.pub");
        let text = std::fs::read_to_string(&public)
            .with_context(|| format!("cannot read {}", public.display()))?;
        let public_key = PublicKey::from_openssh(text.trim())
            .with_context(|| format!("{} is not a public key", public.display()))?;
        let ca = load_private_key(&config.ca.user_ca)?;
        let signed = sign_user_certificate(
            &ca,
            &UserCertificateRequest {
                public_key,
                key_id: format!("{login}@quickstart"),
                principals: vec!["dev".into()],
                ttl: std::time::Duration::from_secs(3600),
                extensions: vec!["permit-pty".into(), "permit-port-forwarding".into()],
                source_address: None,
                force_command: None,
            },
        )?;
        if cert.exists() {
            std::fs::remove_file(&cert)
                .with_context(|| format!("cannot replace {}", cert.display()))?;
        }
        write_new(
            &cert,
            format!("{}\n", signed.to_openssh().context("certificate")?).as_bytes(),
            0o644,
        )?;
        let private = public.with_extension("");
        // Where the configuration (kept from an earlier run) really listens.
        let listen = &config.server.listen;
        let port = listen.rsplit(':').next().unwrap_or("2222");
        let host = listen
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1");
        println!("signed {} (1 hour, principal dev)", cert.display());
        println!();
        println!("Try it:");
        println!(
            "  ssh -p {port} -i {} -o CertificateFile={} -o StrictHostKeyChecking=accept-new {login}@demo@{host}",
            private.display(),
            cert.display()
        );
        println!();
        if self.no_serve {
            return Ok(());
        }
        super::failure::runtime()?.block_on(async {
            let running = bastion::server::start(config)
                .await
                .map_err(Failure::failed)?;
            super::serve::stop_on_signal(&running);
            running.wait().await;
            Ok(())
        })
    }

    /// The public key to certify: `--key`, `~/.ssh/id_ed25519.pub`, or one generated in `dir`.
    fn user_key(&self, dir: &Path) -> Result<PathBuf, Failure> {
        if let Some(k) = &self.key {
            return Ok(k.clone());
        }
        if let Some(home) = std::env::var_os("HOME") {
            let p = PathBuf::from(home).join(".ssh/id_ed25519.pub");
            if p.exists() {
                return Ok(p);
            }
        }
        let private = dir.join("user_ed25519");
        if !private.exists() {
            write_new_key_pair(&generate_ed25519("bastion quickstart user")?, &private)?;
            println!("created {} (no ~/.ssh/id_ed25519 found)", private.display());
        }
        Ok(dir.join("user_ed25519.pub"))
    }
}

fn config_text(listen: &str, login: &str) -> String {
    format!(
        r#"# bastion quickstart configuration (dev only): a demo target that is a shell on this host.
[server]
listen = "{listen}"
host_key = "keys/host_ed25519"

[ca]
user_ca = "keys/user_ca"
target_ca = "keys/target_ca"

[recording]
dir = "recordings"
signing_key = "keys/recording_ed25519"

[audit]
database = "sqlite://bastion.db"

[dev]
allow_local_demo = true

[[targets]]
name = "demo"
kind = "local-demo"
default_login = "{login}"
labels = {{ env = "dev" }}

[[roles]]
name = "developer"
principals = ["dev"]
targets = ["*"]
logins = ["{login}"]
allow = ["shell", "exec", "sftp", "port-forward"]
idle_timeout = "15m"
"#
    )
}
