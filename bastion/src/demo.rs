//! The local demo target (`kind = "local-demo"`, dev only): a small SSH server on loopback that
//! runs shells and commands as the bastion's own OS user. It trusts only the target CA, so the
//! bastion reaches it exactly as it reaches a real target, with a per-session certificate.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use config::{Config, TargetKind};
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use ssh_key::{Certificate, HashAlg, PublicKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Why the demo target cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The target CA, the only key the demo target trusts, cannot be read.
    #[error("ca.target_ca ({})", path.display())]
    TargetCa {
        path: PathBuf,
        #[source]
        source: cert_authority::keyfile::KeyError,
    },
    /// No host key could be made for it.
    #[error("demo host key")]
    HostKey(#[source] cert_authority::keyfile::KeyError),
    /// Its host key could not be written as the pinned `host_key` line.
    #[error("demo host key")]
    HostKeyLine(#[source] ssh_key::Error),
    /// No loopback port for it.
    #[error("demo target")]
    Listen(#[source] std::io::Error),
}

/// The demo target, listening but not yet serving: [`Demo::serve`] starts it once the bastion
/// has its shutdown signal (the configuration must be pointed at the demo before the bastion
/// loads it).
pub struct Demo {
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    ca: PublicKey,
}

/// Binds the demo server if a `local-demo` target is configured, and points such targets at it
/// (loopback port, pinned host key).
pub async fn start_if_configured(config: &mut Config) -> Result<Option<Demo>, DemoError> {
    if !config
        .targets
        .iter()
        .any(|t| t.kind == TargetKind::LocalDemo)
    {
        return Ok(None);
    }
    let target_ca = cert_authority::load_private_key(&config.ca.target_ca).map_err(|source| {
        DemoError::TargetCa {
            path: config.ca.target_ca.clone(),
            source,
        }
    })?;
    let host_key =
        cert_authority::generate_ed25519("bastion demo target").map_err(DemoError::HostKey)?;
    let host_line = host_key
        .public_key()
        .to_openssh()
        .map_err(DemoError::HostKeyLine)?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(DemoError::Listen)?;
    let addr = listener.local_addr().map_err(DemoError::Listen)?;
    let server_config = Arc::new(russh::server::Config {
        keys: vec![host_key],
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: std::time::Duration::from_millis(100),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    });
    for t in config
        .targets
        .iter_mut()
        .filter(|t| t.kind == TargetKind::LocalDemo)
    {
        t.host = "127.0.0.1".into();
        t.port = config::Port(addr.port());
        t.host_key = Some(host_line.clone());
        t.known_hosts = None;
        t.host_ca = None;
    }
    warn!(address = %addr, "local demo target running: shells on this host as the bastion's own user (dev only)");
    Ok(Some(Demo {
        listener,
        config: server_config,
        ca: target_ca.public_key().clone(),
    }))
}

impl Demo {
    /// Accepts connections until `shutdown`; connections already open run to their end.
    pub fn serve(self, shutdown: CancellationToken) {
        let Demo {
            listener,
            config,
            ca,
        } = self;
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((tcp, _)) = accepted else {
                    continue;
                };
                let handler = DemoTarget { ca: ca.clone() };
                let cfg = config.clone();
                tokio::spawn(async move {
                    if let Ok(running) = russh::server::run_stream(cfg, tcp, handler).await {
                        let _ = running.await;
                    }
                });
            }
        });
    }
}

struct DemoTarget {
    ca: PublicKey,
}

impl Handler for DemoTarget {
    type Error = russh::Error;

    async fn auth_openssh_certificate(
        &mut self,
        user: &str,
        cert: &Certificate,
    ) -> Result<Auth, Self::Error> {
        let now = cert_authority::unix_now();
        let fp = self.ca.fingerprint(HashAlg::Sha256);
        let ok = cert.validate_at(now, [&fp]).is_ok()
            && cert.valid_principals().iter().any(|p| p == user);
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        tokio::spawn(demo_channel(channel));
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _: &str,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if name == "sftp" && sftp_server().is_some() {
            session.channel_success(channel)
        } else {
            session.channel_failure(channel)
        }
    }
}

fn sftp_server() -> Option<&'static str> {
    [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/sftp-server",
        "/usr/lib/ssh/sftp-server",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
}

fn shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into())
}

async fn demo_channel(channel: Channel<Msg>) {
    let (mut rx, tx) = channel.split();
    let mut pty: Option<(String, u16, u16)> = None;
    let mut env: Vec<(String, String)> = Vec::new();
    let command: Option<Vec<String>> = loop {
        match rx.wait().await {
            Some(ChannelMsg::RequestPty {
                term,
                col_width,
                row_height,
                ..
            }) => {
                pty = Some((
                    term,
                    col_width.min(u16::MAX as u32) as u16,
                    row_height.min(u16::MAX as u32) as u16,
                ));
            }
            Some(ChannelMsg::SetEnv {
                variable_name,
                variable_value,
                ..
            }) => env.push((variable_name, variable_value)),
            Some(ChannelMsg::RequestShell { .. }) => break None,
            Some(ChannelMsg::Exec { command, .. }) => {
                break Some(vec![
                    "-c".into(),
                    String::from_utf8_lossy(&command).into_owned(),
                ])
            }
            Some(ChannelMsg::RequestSubsystem { .. }) => match sftp_server() {
                Some(p) => break Some(vec![String::new(), p.to_string()]),
                None => return,
            },
            Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    };
    let status = match pty {
        Some((term, cols, rows)) => run_pty(&mut rx, &tx, command, env, &term, cols, rows).await,
        None => run_pipes(&mut rx, &tx, command, env).await,
    };
    match status {
        Ok(code) => {
            let _ = tx.exit_status(code).await;
        }
        Err(e) => warn!("demo target: {e:#}"),
    }
    let _ = tx.eof().await;
    let _ = tx.close().await;
}

fn program(command: &Option<Vec<String>>) -> (String, Vec<String>) {
    match command {
        // A subsystem: run its server directly.
        Some(args) if args.first().is_some_and(String::is_empty) => (args[1].clone(), vec![]),
        Some(args) => (shell(), args.clone()),
        None => (shell(), vec!["-l".into()]),
    }
}

async fn run_pty(
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    command: Option<Vec<String>>,
    env: Vec<(String, String)>,
    term: &str,
    cols: u16,
    rows: u16,
) -> anyhow::Result<u32> {
    let (pty, pts) = pty_process::open().context("openpty")?;
    pty.resize(pty_process::Size::new(rows, cols))
        .context("pty size")?;
    let (prog, args) = program(&command);
    let mut child = pty_process::Command::new(&prog)
        .args(&args)
        .envs(env)
        .env("TERM", term)
        .kill_on_drop(true)
        .spawn(pts)
        .with_context(|| format!("cannot start {prog}"))?;
    let (mut read, mut write) = pty.into_split();
    let out = pump_out(&mut read, tx, None);
    tokio::pin!(out);
    let mut out_done = false;
    loop {
        tokio::select! {
            _ = &mut out, if !out_done => out_done = true,
            status = child.wait(), if out_done => return Ok(exit_code(status?)),
            msg = rx.wait() => match msg {
                Some(ChannelMsg::Data { data }) => { let _ = write.write_all(&data).await; }
                Some(ChannelMsg::WindowChange { col_width, row_height, .. }) => {
                    let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
                    let _ = write.resize(pty_process::Size::new(clamp(row_height), clamp(col_width)));
                }
                Some(ChannelMsg::Close) | None => { let _ = child.start_kill(); return Ok(129); }
                _ => {}
            }
        }
    }
}

async fn run_pipes(
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    command: Option<Vec<String>>,
    env: Vec<(String, String)>,
) -> anyhow::Result<u32> {
    let (prog, args) = program(&command);
    let mut child = tokio::process::Command::new(&prog)
        .args(&args)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {prog}"))?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = pump_out(&mut stdout, tx, None);
    let err = pump_out(&mut stderr, tx, Some(1));
    tokio::pin!(out, err);
    let (mut out_done, mut err_done) = (false, false);
    loop {
        tokio::select! {
            _ = &mut out, if !out_done => out_done = true,
            _ = &mut err, if !err_done => err_done = true,
            status = child.wait(), if out_done && err_done => return Ok(exit_code(status?)),
            msg = rx.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    if let Some(s) = stdin.as_mut() {
                        if s.write_all(&data).await.is_err() { stdin = None; }
                    }
                }
                Some(ChannelMsg::Eof) => stdin = None,
                Some(ChannelMsg::Close) | None => { let _ = child.start_kill(); return Ok(129); }
                _ => {}
            }
        }
    }
}

async fn pump_out<R: AsyncRead + Unpin>(r: &mut R, tx: &ChannelWriteHalf<Msg>, ext: Option<u32>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let data = Bytes::copy_from_slice(&buf[..n]);
                let sent = match ext {
                    Some(e) => tx.extended_data_bytes(e, data).await,
                    None => tx.data_bytes(data).await,
                };
                if sent.is_err() {
                    return;
                }
            }
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> u32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u32,
        (None, Some(s)) => 128 + s as u32,
        _ => 255,
    }
}
