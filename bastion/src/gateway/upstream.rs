//! The bastion's own SSH connection to a target: host key checked against the configuration
//! (never trust on first use), login with a fresh key and a certificate from the target CA that
//! lives about two minutes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cert_authority::mint_upstream_certificate;
use config::{HostKeyCheck, Target};
use russh::client;
use russh::keys::{Certificate, HashAlg, PublicKey};
use ssh_key::certificate::CertType;

/// Why the target could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TCP connection failed or timed out.
    #[error("cannot reach {addr}: {reason}")]
    Connect {
        /// host:port
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The target's host key is not the configured one.
    #[error("host key of {addr} does not match the configuration ({reason}); refusing to connect")]
    HostKey {
        /// host:port
        addr: String,
        /// What did not match.
        reason: String,
    },
    /// The target refused the bastion's certificate.
    #[error("{addr} refused the bastion's certificate for login \"{login}\" (does its sshd trust the target CA and know this login?)")]
    Refused {
        /// host:port
        addr: String,
        /// The login.
        login: String,
    },
    /// Anything else in the SSH layer.
    #[error("SSH error talking to {addr}: {reason}")]
    Ssh {
        /// host:port
        addr: String,
        /// What failed.
        reason: String,
    },
}

/// An authenticated connection to one target.
pub struct Upstream {
    /// The russh client handle; channels are opened on it.
    pub handle: client::Handle<TargetHost>,
}

/// Checks the target's host key; remembers why it refused so the user can be told.
pub struct TargetHost {
    host: String,
    port: u16,
    check: OwnedHostKeyCheck,
    refusal: Arc<Mutex<Option<String>>>,
}

enum OwnedHostKeyCheck {
    Pinned(PublicKey),
    KnownHosts(std::path::PathBuf),
    HostCa(PublicKey),
}

impl TargetHost {
    fn verdict(&self, key: &PublicKey, cert: Option<&Certificate>) -> Result<(), String> {
        match &self.check {
            OwnedHostKeyCheck::Pinned(pinned) => {
                if pinned.key_data() == key.key_data() {
                    Ok(())
                } else {
                    Err(format!(
                        "presented {}, configured {}",
                        key.fingerprint(HashAlg::Sha256),
                        pinned.fingerprint(HashAlg::Sha256)
                    ))
                }
            }
            OwnedHostKeyCheck::KnownHosts(path) => {
                let known =
                    russh::keys::known_hosts::known_host_keys_path(&self.host, self.port, path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if known.is_empty() {
                    return Err(format!("no entry for {} in {}", self.host, path.display()));
                }
                if known.iter().any(|(_, k)| k.key_data() == key.key_data()) {
                    Ok(())
                } else {
                    Err(format!(
                        "presented {}, not the key listed in {}",
                        key.fingerprint(HashAlg::Sha256),
                        path.display()
                    ))
                }
            }
            OwnedHostKeyCheck::HostCa(ca) => {
                let Some(cert) = cert else {
                    return Err("a host certificate is required, a plain key was presented".into());
                };
                let now = cert_authority::unix_now();
                let fp = ca.fingerprint(HashAlg::Sha256);
                cert.validate_at(now, [&fp])
                    .map_err(|e| format!("host certificate not valid from host CA {fp}: {e}"))?;
                if cert.cert_type() != CertType::Host {
                    return Err("a user certificate was presented as host certificate".into());
                }
                // Stricter than OpenSSH's client, which takes a certificate naming no host as
                // valid for every host: here it must name this one.
                let names = cert.valid_principals();
                if names.is_empty() {
                    return Err(format!(
                        "host certificate names no host; it must name {}",
                        self.host
                    ));
                }
                if !names.iter().any(|n| n == &self.host) {
                    return Err(format!(
                        "host certificate is for {names:?}, not {}",
                        self.host
                    ));
                }
                Ok(())
            }
        }
    }
}

impl client::Handler for TargetHost {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let result = match server_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => self.verdict(key, None),
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => {
                let key = PublicKey::new(cert.public_key().clone(), "");
                self.verdict(&key, Some(cert))
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(reason) => {
                if let Ok(mut r) = self.refusal.lock() {
                    *r = Some(reason);
                }
                Ok(false)
            }
        }
    }
}

/// Messages russh queues per channel for its reader (each at most a packet, 32 KiB). Towards
/// the client the pumps always read; from a target the queue is what waits while the client is
/// slow, so it bounds a channel's memory (russh's default, 100, is 3 MiB).
pub const CHANNEL_QUEUE: usize = 8;

/// Makes the bastion's connections to targets: the target CA that signs each session's
/// certificate, and the SSH client settings.
pub struct Connector {
    /// Signs the per-session upstream certificates.
    target_ca: russh::keys::PrivateKey,
    /// Client settings for targets with pinned or known_hosts keys.
    plain: Arc<client::Config>,
    /// The same, also asking for host certificates (targets checked by host CA).
    host_ca: Arc<client::Config>,
    /// Longest a connection, its handshake or its login may take.
    timeout: std::time::Duration,
    /// How long a session's certificate is valid.
    cert_ttl: std::time::Duration,
}

impl Connector {
    /// A connector signing with `target_ca`, as `config` says.
    pub fn new(config: &config::Config, target_ca: russh::keys::PrivateKey) -> Connector {
        Connector {
            target_ca,
            plain: Arc::new(client_config(false)),
            host_ca: Arc::new(client_config(true)),
            timeout: config.server.connect_timeout.duration(),
            cert_ttl: config.ca.upstream_ttl.duration(),
        }
    }

    /// Connects to `target`, checks its host key and logs in as `login` with a freshly
    /// minted certificate whose key id is `key_id`.
    pub async fn connect(
        &self,
        target: &Target,
        login: &str,
        key_id: &str,
    ) -> Result<Upstream, UpstreamError> {
        connect(self, target, login, key_id).await
    }
}

async fn connect(
    connector: &Connector,
    target: &Target,
    login: &str,
    key_id: &str,
) -> Result<Upstream, UpstreamError> {
    let addr = format!("{}:{}", target.host, target.port.0);
    let check = match target.host_key_check() {
        Some(HostKeyCheck::Pinned(k)) => OwnedHostKeyCheck::Pinned(parse_key(&addr, k)?),
        Some(HostKeyCheck::KnownHosts(p)) => OwnedHostKeyCheck::KnownHosts(p.to_path_buf()),
        Some(HostKeyCheck::HostCa(k)) => OwnedHostKeyCheck::HostCa(parse_key(&addr, k)?),
        None => {
            return Err(UpstreamError::HostKey {
                addr,
                reason: "no host key check configured".into(),
            })
        }
    };
    let wants_cert = matches!(check, OwnedHostKeyCheck::HostCa(_));
    let refusal = Arc::new(Mutex::new(None));
    let handler = TargetHost {
        host: target.host.clone(),
        port: target.port.0,
        check,
        refusal: refusal.clone(),
    };
    let config = if wants_cert {
        connector.host_ca.clone()
    } else {
        connector.plain.clone()
    };
    let timeout = connector.timeout;
    let ssh_err = |e: russh::Error| UpstreamError::Ssh {
        addr: addr.clone(),
        reason: e.to_string(),
    };

    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| UpstreamError::Connect {
            addr: addr.clone(),
            reason: format!("timed out after {}s", timeout.as_secs()),
        })?
        .map_err(|e| UpstreamError::Connect {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
    let _ = tcp.set_nodelay(true);
    let connected =
        tokio::time::timeout(timeout, client::connect_stream(config, tcp, handler)).await;
    let mut handle = match connected {
        Err(_) => {
            return Err(UpstreamError::Connect {
                addr,
                reason: "SSH handshake timed out".into(),
            })
        }
        Ok(Err(e)) => {
            let refused = refusal.lock().ok().and_then(|mut r| r.take());
            return Err(match refused {
                Some(reason) => UpstreamError::HostKey { addr, reason },
                None => ssh_err(e),
            });
        }
        Ok(Ok(h)) => h,
    };

    let (key, cert) =
        mint_upstream_certificate(&connector.target_ca, login, key_id, connector.cert_ttl)
            .map_err(|e| UpstreamError::Ssh {
                addr: addr.clone(),
                reason: format!("cannot mint upstream certificate: {e}"),
            })?;
    let auth = tokio::time::timeout(
        timeout,
        handle.authenticate_openssh_cert(login, Arc::new(key), cert),
    )
    .await
    .map_err(|_| UpstreamError::Connect {
        addr: addr.clone(),
        reason: "login timed out".into(),
    })?
    .map_err(ssh_err)?;
    if !auth.success() {
        return Err(UpstreamError::Refused {
            addr,
            login: login.to_string(),
        });
    }
    Ok(Upstream { handle })
}

fn parse_key(addr: &str, line: &str) -> Result<PublicKey, UpstreamError> {
    PublicKey::from_openssh(line.trim()).map_err(|e| UpstreamError::HostKey {
        addr: addr.to_string(),
        reason: format!("configured key is unreadable: {e}"),
    })
}

/// Client settings for targets: keepalives so a dead target is noticed, no inactivity cut-off
/// (the bastion's idle timeout applies to the user's side).
pub fn client_config(host_certificates: bool) -> client::Config {
    let mut preferred = crate::algorithms::upstream_preferred(crate::ciphers::upstream());
    if host_certificates {
        preferred.host_key_certificates = preferred.key.clone();
    }
    client::Config {
        preferred,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        channel_buffer_size: CHANNEL_QUEUE,
        ..Default::default()
    }
}
