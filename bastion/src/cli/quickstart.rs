//! `bastion quickstart`: a dev directory with keys, a configuration, a certificate for the
//! user's key and a demo target, then serve. Safe to run again: existing files are kept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cert_authority::keyfile::{generate_ed25519, write_new, write_new_key_pair};
use cert_authority::{load_private_key, sign_user_certificate, UserCertificateRequest};
use ssh_key::PublicKey;

use super::ca::{cert_path, init, KEY_NAMES};
use super::failure::Failure;

/// Create a dev directory and serve.
#[derive(Debug, clap::Args)]
pub struct Quickstart {
    /// Dev directory (created if missing; existing files are kept).
    #[arg(long, default_value = "bastion-dev")]
    dir: PathBuf,
    /// Address to serve on (default: the dev directory's bastion.toml, else 127.0.0.1:2222);
    /// the HTTP API (/metrics) listens on the next port.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// Public key to certify (default: ~/.ssh/id_ed25519.pub, else a key generated in DIR).
    #[arg(long, value_name = "KEY.pub")]
    key: Option<PathBuf>,
    /// Set everything up but do not serve.
    #[arg(long)]
    no_serve: bool,
}

/// Where a new dev directory serves.
const DEFAULT_LISTEN: &str = "127.0.0.1:2222";
/// The principal of the reviewer certificate, and the approvers of the demo's rule.
const REVIEWERS: &str = "reviewers";

impl Quickstart {
    pub fn run(self) -> Result<(), Failure> {
        if self.listen.is_some_and(|l| l.port() == 0) {
            return Err(Failure::usage(anyhow::anyhow!(
                "--listen needs a port: the commands printed for you must name it"
            )));
        }
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
            let listen = match self.listen {
                Some(l) => l,
                None => DEFAULT_LISTEN
                    .parse()
                    .map_err(|e| Failure::failed(anyhow::anyhow!("{DEFAULT_LISTEN}: {e}")))?,
            };
            write_new(&config_path, config_text(listen, &login).as_bytes(), 0o644)?;
            super::out::say(format_args!("created {}", config_path.display()));
        }
        let mut config = bastion::settings::load_config(&config_path).map_err(Failure::usage)?;
        if let Some(listen) = self.listen {
            let kept: Option<SocketAddr> = config.server.listen.parse().ok();
            if kept != Some(listen) {
                super::out::say(format_args!(
                    "serving on {listen} (--listen), not on {} as {} says",
                    config.server.listen,
                    config_path.display()
                ));
                config.server.listen = listen.to_string();
                if config.server.api_listen.is_some() {
                    config.server.api_listen = Some(api_address(listen).to_string());
                }
            }
        }
        let listen: SocketAddr = config.server.listen.parse().map_err(|e| {
            Failure::usage(anyhow::anyhow!(
                "{}: server.listen {:?}: {e}",
                config_path.display(),
                config.server.listen
            ))
        })?;
        // Where clients connect: a bastion listening everywhere is reached on loopback.
        let reach = if listen.ip().is_unspecified() {
            SocketAddr::new(api_address(listen).ip(), listen.port())
        } else {
            listen
        };
        // The API goes on the port after SSH's; when something else holds it, on a free port
        // this time rather than not at all.
        if let Some(api) = config.server.api_listen.clone() {
            if let Some(moved) = free_instead(&api) {
                super::out::say(format_args!(
                    "{api} is taken: the API serves on {moved} this time"
                ));
                config.server.api_listen = Some(moved.to_string());
            }
        }
        let ca = load_private_key(&config.ca.user_ca)?;

        let public = self.user_key(dir)?;
        // In the quickstart directory, not beside the key: `~/.ssh/id_ed25519-cert.pub` may be
        // a certificate the user needs elsewhere, and ssh offers that file on its own.
        let cert = dir.join("user-cert.pub");
        certify(
            &ca,
            &public,
            &cert,
            &format!("{login}@quickstart"),
            "dev",
            vec!["permit-pty".into(), "permit-port-forwarding".into()],
        )?;
        super::out::say(format_args!(
            "signed {} (1 hour, principal dev)",
            cert.display()
        ));
        // A second person, who may approve what the rule holds (nobody approves their own).
        let reviewer = config
            .roles
            .iter()
            .any(|r| r.principals.iter().any(|p| p == REVIEWERS))
            .then(|| self.reviewer(dir, &ca))
            .transpose()?;

        // The bastion's host key, trusted by the printed commands only: nothing goes into
        // ~/.ssh/known_hosts, so a dev directory made again later does not break ssh there.
        let known_hosts = dir.join("known_hosts");
        let host_key = load_private_key(&config.server.host_key)?;
        std::fs::write(
            &known_hosts,
            format!(
                "{}\n",
                bastion::server::known_hosts_line(reach, host_key.public_key())
            ),
        )
        .with_context(|| format!("cannot write {}", known_hosts.display()))?;

        let host = reach.ip();
        let port = reach.port();
        let ssh = |key: &Path, cert: &Path| {
            format!(
                "ssh -p {port} -i {} -o CertificateFile={} -o UserKnownHostsFile={}",
                key.display(),
                cert.display(),
                known_hosts.display()
            )
        };
        let user_ssh = ssh(&public.with_extension(""), &cert);
        super::out::say(format_args!(""));
        super::out::say(format_args!("Try it:"));
        super::out::say(format_args!("  {user_ssh} {login}@demo@{host}"));
        if let Some(reviewer) = &reviewer {
            let review_ssh = ssh(reviewer, &cert_path(&reviewer.with_extension("pub")));
            super::out::say(format_args!(""));
            super::out::say(format_args!(
                "Try an approval: the rule \"demo-deploy\" holds commands that say deploy until a reviewer decides."
            ));
            super::out::say(format_args!(
                "  {user_ssh} {login}@demo@{host} 'echo deploy finished'"
            ));
            super::out::say(format_args!("then, in another terminal, as the reviewer:"));
            super::out::say(format_args!("  {review_ssh} review@{host} list"));
            super::out::say(format_args!(
                "  {review_ssh} review@{host} approve 1 --reason 'looks fine'   # 1: the number list shows"
            ));
        }
        if let Some(api) = &config.server.api_listen {
            super::out::say(format_args!(""));
            super::out::say(format_args!("Metrics: curl http://{api}/metrics"));
        }
        super::out::say(format_args!(""));
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

    /// The reviewer's key (generated in `dir` once) and a fresh certificate beside it; returns
    /// the private key's path.
    fn reviewer(&self, dir: &Path, ca: &ssh_key::PrivateKey) -> Result<PathBuf, Failure> {
        let private = dir.join("reviewer_ed25519");
        if !private.exists() {
            write_new_key_pair(&generate_ed25519("bastion quickstart reviewer")?, &private)?;
        }
        let public = private.with_extension("pub");
        let cert = cert_path(&public);
        certify(
            ca,
            &public,
            &cert,
            "reviewer@quickstart",
            REVIEWERS,
            Vec::new(),
        )?;
        super::out::say(format_args!(
            "signed {} (1 hour, principal {REVIEWERS})",
            cert.display()
        ));
        Ok(private)
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
            super::out::say(format_args!(
                "created {} (no ~/.ssh/id_ed25519 found)",
                private.display()
            ));
        }
        Ok(dir.join("user_ed25519.pub"))
    }
}

/// Signs a one-hour certificate for the key at `public` and writes it to `cert` (replacing it).
fn certify(
    ca: &ssh_key::PrivateKey,
    public: &Path,
    cert: &Path,
    key_id: &str,
    principal: &str,
    extensions: Vec<String>,
) -> Result<(), Failure> {
    let text = std::fs::read_to_string(public)
        .with_context(|| format!("cannot read {}", public.display()))?;
    let public_key = PublicKey::from_openssh(text.trim())
        .with_context(|| format!("{} is not a public key", public.display()))?;
    let signed = sign_user_certificate(
        ca,
        &UserCertificateRequest {
            public_key,
            key_id: key_id.into(),
            principals: vec![principal.into()],
            ttl: std::time::Duration::from_secs(3600),
            extensions,
            source_address: None,
            force_command: None,
        },
    )?;
    if cert.exists() {
        std::fs::remove_file(cert).with_context(|| format!("cannot replace {}", cert.display()))?;
    }
    write_new(
        cert,
        format!("{}\n", signed.to_openssh().context("certificate")?).as_bytes(),
        0o644,
    )?;
    Ok(())
}

/// The HTTP API's address beside `listen`: the next port, on loopback (it serves plain HTTP).
/// A free port on the same address when `api` is taken; `None` when it is free (or not an
/// address: the bastion then says so itself).
fn free_instead(api: &str) -> Option<SocketAddr> {
    let addr: SocketAddr = api.parse().ok()?;
    if std::net::TcpListener::bind(addr).is_ok() {
        return None;
    }
    let free = std::net::TcpListener::bind(SocketAddr::new(addr.ip(), 0)).ok()?;
    free.local_addr().ok()
}

fn api_address(listen: SocketAddr) -> SocketAddr {
    let ip: std::net::IpAddr = if listen.is_ipv4() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        std::net::Ipv6Addr::LOCALHOST.into()
    };
    SocketAddr::new(ip, listen.port().wrapping_add(1).max(1))
}

fn config_text(listen: SocketAddr, login: &str) -> String {
    let api = api_address(listen);
    format!(
        r#"# bastion quickstart configuration (dev only): a demo target that is a shell on this host.
[server]
listen = "{listen}"
# /metrics and /healthz (plain HTTP, allowed on loopback only)
api_listen = "{api}"
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

# Decides what the rule below holds (bastion-dev/reviewer_ed25519).
[[roles]]
name = "reviewer"
principals = ["{REVIEWERS}"]
targets = ["*"]
allow = ["review"]

[[approval.rules]]
name = "demo-deploy"
command = '\bdeploy\b'
targets = ["demo"]
approvers = ["{REVIEWERS}"]
timeout = "10m"
"#
    )
}
