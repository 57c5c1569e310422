//! `bastion ca init|sign|revoke`: create the CA keys, sign a user certificate by hand (the admin
//! and break-glass path), revoke certificates and identities.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cert_authority::keyfile::{generate_ed25519, public_path, write_new, write_new_key_pair};
use cert_authority::{load_private_key, sign_user_certificate, UserCertificateRequest};
use ssh_key::PublicKey;

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// The keys `ca init` creates, as named in the configuration sketch.
pub const KEY_NAMES: [&str; 4] = ["user_ca", "target_ca", "host_ed25519", "recording_ed25519"];

#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// Create the user CA, target CA, host key and recording key in DIR (never overwrites).
    Init {
        /// Directory for the keys (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Sign a user certificate for KEY.pub; writes KEY-cert.pub.
    Sign(Sign),
    /// Revoke a certificate (--serial), a key id (--key-id) or every key id issued to a token
    /// subject (--identity); effective at the next authentication on every bastion sharing the
    /// audit store.
    Revoke(Revoke),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["serial", "key_id", "identity"])))]
pub struct Revoke {
    /// Certificate serial (decimal, as `ssh-keygen -L` and `bastion audit certs` show it).
    #[arg(long)]
    serial: Option<u64>,
    /// Certificate key id (the identity the certificate names).
    #[arg(long)]
    key_id: Option<String>,
    /// Token subject: revokes it as a key id and every key id issued to it.
    #[arg(long)]
    identity: Option<String>,
    /// Why (kept in the audit store).
    #[arg(long, default_value = "revoked by an administrator")]
    reason: String,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, clap::Args)]
pub struct Sign {
    /// Comma-separated principals (groups the roles name).
    #[arg(long, value_delimiter = ',', required = true)]
    principals: Vec<String>,
    /// Identity recorded as the certificate's key id (e-mail or subject).
    #[arg(long)]
    identity: String,
    /// Validity, e.g. 1h, 30m (default: the configuration's default_ttl, else 1h).
    #[arg(long)]
    ttl: Option<String>,
    /// User CA private key (instead of reading it from --config).
    #[arg(long, value_name = "KEY")]
    ca: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
    /// Restrict the certificate to these client addresses (CIDR list).
    #[arg(long)]
    source_address: Option<String>,
    /// Only this command may be run with the certificate.
    #[arg(long)]
    force_command: Option<String>,
    /// Leave out permit-pty.
    #[arg(long)]
    no_pty: bool,
    /// Add permit-port-forwarding (`ssh -L`, for roles with the port-forward capability).
    #[arg(long)]
    port_forwarding: bool,
    /// The public key to certify.
    public_key: PathBuf,
}

impl CaCommand {
    pub fn run(self) -> Result<(), Failure> {
        match self {
            CaCommand::Init { dir } => init(&dir).map_err(Failure::failed),
            CaCommand::Sign(s) => s.run(),
            CaCommand::Revoke(r) => super::failure::runtime()?.block_on(r.run()),
        }
    }
}

/// Creates the four keys in `dir`; refuses if any of them exists.
pub fn init(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for name in KEY_NAMES {
        let p = dir.join(name);
        if p.exists() || public_path(&p).exists() {
            bail!("{} already exists; refusing to overwrite keys", p.display());
        }
    }
    for name in KEY_NAMES {
        let key = generate_ed25519(&format!("bastion {name}"))?;
        write_new_key_pair(&key, &dir.join(name))?;
        super::out::say(format_args!("created {}", dir.join(name).display()));
    }
    Ok(())
}

impl Sign {
    fn run(self) -> Result<(), Failure> {
        let (ca_path, default_ttl, max_ttl, database) = match &self.ca {
            Some(p) => (p.clone(), std::time::Duration::from_secs(3600), None, None),
            None => {
                let config = self.config.load()?;
                for w in unused_principals(&self.principals, &config.roles) {
                    eprintln!("warning: {w}");
                }
                (
                    config.ca.user_ca.clone(),
                    config.ca.default_ttl.duration(),
                    Some(config.ca.max_ttl.duration()),
                    Some(config.audit.database.clone()),
                )
            }
        };
        let ttl = match &self.ttl {
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| Failure::usage(anyhow::anyhow!("--ttl {t:?}: {e}")))?,
            None => default_ttl,
        };
        if let Some(max) = max_ttl {
            if ttl > max {
                return Err(Failure::usage(anyhow::anyhow!(
                    "--ttl {} exceeds ca.max_ttl ({})",
                    humantime::format_duration(ttl),
                    humantime::format_duration(max)
                )));
            }
        }
        let ca =
            load_private_key(&ca_path).with_context(|| format!("user CA {}", ca_path.display()))?;
        let text = std::fs::read_to_string(&self.public_key)
            .with_context(|| format!("cannot read {}", self.public_key.display()))?;
        let public_key = PublicKey::from_openssh(text.trim()).with_context(|| {
            format!("{} is not an OpenSSH public key", self.public_key.display())
        })?;
        let mut extensions = Vec::new();
        if self.port_forwarding {
            extensions.push("permit-port-forwarding".to_string());
        }
        if !self.no_pty {
            extensions.push("permit-pty".into());
        }
        let req = UserCertificateRequest {
            public_key,
            key_id: self.identity.clone(),
            principals: self.principals.clone(),
            ttl,
            extensions,
            source_address: self.source_address.clone(),
            force_command: self.force_command.clone(),
        };
        let cert = sign_user_certificate(&ca, &req)?;
        // With a configuration, the issuance is an audit row, written before the file: a
        // certificate nobody recorded must not exist. (`--ca` alone is the offline path.)
        if let Some(url) = database {
            let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
            let row = bastion::audit::CertificateIssued {
                serial: cert.serial(),
                key_id: self.identity.clone(),
                principals: self.principals.clone(),
                public_key: req
                    .public_key
                    .fingerprint(ssh_key::HashAlg::Sha256)
                    .to_string(),
                valid_after_ms: ms(cert.valid_after()),
                valid_before_ms: ms(cert.valid_before()),
                source: "cli".into(),
                requester: std::env::var("USER").ok(),
                issued_at_ms: bastion::audit::now_ms(),
            };
            super::failure::runtime()?.block_on(async {
                let (store, created) = super::database::open_or_create(&url).await?;
                let written = store.certificate_issued(&row).await;
                drop(store);
                created.settle();
                written.map_err(Failure::failed)
            })?;
        }
        let out = cert_path(&self.public_key);
        let line = cert.to_openssh().context("cannot encode certificate")?;
        if out.exists() {
            std::fs::remove_file(&out)
                .with_context(|| format!("cannot replace {}", out.display()))?;
        }
        write_new(&out, format!("{line}\n").as_bytes(), 0o644)?;
        super::out::say(format_args!(
            "signed {} for {} (principals {}, serial {}, valid {})",
            out.display(),
            self.identity,
            self.principals.join(","),
            cert.serial(),
            humantime::format_duration(ttl)
        ));
        Ok(())
    }
}

/// A warning for each principal no role names: the certificate would open nothing through it
/// (the bastion matches principals to roles, `[[roles]] principals`).
fn unused_principals(principals: &[String], roles: &[config::Role]) -> Vec<String> {
    let used: std::collections::BTreeSet<&str> = roles
        .iter()
        .flat_map(|r| r.principals.iter().map(String::as_str))
        .collect();
    principals
        .iter()
        .filter(|p| !used.contains(p.as_str()))
        .map(|p| {
            let known = if used.is_empty() {
                "no role names any principal".to_string()
            } else {
                format!(
                    "the roles name {}",
                    used.iter().copied().collect::<Vec<_>>().join(", ")
                )
            };
            format!(
                "principal {p:?} is not in any role's principals, so it grants nothing ({known})"
            )
        })
        .collect()
}

/// `id_ed25519.pub` → `id_ed25519-cert.pub`, as ssh looks for it.
pub fn cert_path(public_key: &Path) -> PathBuf {
    let s = public_key.to_string_lossy();
    let base = s.strip_suffix(".pub").unwrap_or(&s);
    PathBuf::from(format!("{base}-cert.pub"))
}

impl Revoke {
    async fn run(self) -> Result<(), Failure> {
        let config = self.config.load()?;
        let (store, created) = super::database::open_or_create(&config.audit.database).await?;
        let revoked = self.revoke(&store).await;
        drop(store);
        created.settle();
        revoked
    }

    async fn revoke(&self, store: &bastion::audit::AuditStore) -> Result<(), Failure> {
        let by = std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".into());
        let mut revocations = Vec::new();
        let base = bastion::audit::Revocation {
            revoked_at_ms: bastion::audit::now_ms(),
            revoked_by: by,
            reason: self.reason.clone(),
            ..Default::default()
        };
        if let Some(serial) = self.serial {
            revocations.push(bastion::audit::Revocation {
                serial: Some(serial),
                ..base.clone()
            });
        }
        let mut key_ids: Vec<String> = self.key_id.iter().cloned().collect();
        if let Some(subject) = &self.identity {
            key_ids.push(subject.clone());
            key_ids.extend(store.key_ids_of_subject(subject).await?);
        }
        key_ids.sort();
        key_ids.dedup();
        for key_id in key_ids {
            revocations.push(bastion::audit::Revocation {
                key_id: Some(key_id),
                ..base.clone()
            });
        }
        for r in &revocations {
            store.revoke(r).await?;
            match (&r.serial, &r.key_id) {
                (Some(s), _) => super::out::say(format_args!("revoked serial {s}")),
                (_, Some(k)) => super::out::say(format_args!("revoked key id {k:?}")),
                _ => {}
            }
        }
        Ok(())
    }
}
