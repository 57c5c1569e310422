//! The local demo target (`kind = "local-demo"`, dev only): a small SSH server on loopback that
//! runs shells and commands as the bastion's own OS user. It trusts only the target CA, so the
//! bastion reaches it exactly as it reaches a real target, with a per-session certificate.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use config::{Config, TargetKind};
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use ssh_key::{Certificate, HashAlg, PublicKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tracing::warn;

use crate::cli::Failure;

/// Starts the demo server if a `local-demo` target is configured, and points such targets at
/// it (loopback port, pinned host key). Returns its address.
pub async fn start_if_configured(config: &mut Config) -> Result<Option<SocketAddr>, Failure> {
    if !config
        .targets
        .iter()
        .any(|t| t.kind == TargetKind::LocalDemo)
    {
        return Ok(None);
    }
    let target_ca = cert_authority::load_private_key(&config.ca.target_ca)
        .with_context(|| format!("ca.target_ca ({})", config.ca.target_ca.display()))?;
    let host_key = cert_authority::generate_ed25519("bastion demo target")?;
    let host_line = host_key
        .public_key()
        .to_openssh()
        .context("demo host key")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("demo target")?;
    let addr = listener.local_addr().context("demo target")?;
    let server_config = Arc::new(russh::server::Config {
        keys: vec![host_key],
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: std::time::Duration::from_millis(100),
        inactivity_timeout: None,
        nodelay: true,
        ..Default::default()
    });
    let ca = target_ca.public_key().clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let handler = DemoTarget { ca: ca.clone() };
            let cfg = server_config.clone();
            tokio::spawn(async move {
                if let Ok(running) = russh::server::run_stream(cfg, tcp, handler).await {
                    let _ = running.await;
                }
            });
        }
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
    Ok(Some(addr))
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
