//! Channels relayed as OpenSSH would relay them (issue 2, item 7).

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{free_port, run, stderr, stdout, wait_for};

use crate::fixture::{direct_ssh, world};

#[test]
fn exit_status_and_stderr_match_plain_openssh() {
    let w = world();
    for cmd in [
        "echo out; echo err >&2; exit 7",
        "exit 0",
        "kill -TERM $$",
        "kill -KILL $$",
    ] {
        let via = run(&mut w.alice.ssh("t1@127.0.0.1", &[cmd]));
        let direct = run(&mut direct_ssh(&w, &[cmd]));
        assert_eq!(
            via.status.code(),
            direct.status.code(),
            "{cmd}: {} / {}",
            stderr(&via),
            stderr(&direct)
        );
        assert_eq!(stdout(&via), stdout(&direct), "{cmd}");
        assert_eq!(stderr(&via), stderr(&direct), "{cmd}");
    }
    let o = run(&mut w
        .alice
        .ssh("t1@127.0.0.1", &["echo out; echo err >&2; exit 7"]));
    assert_eq!(
        (stdout(&o).as_str(), stderr(&o).as_str(), o.status.code()),
        ("out\n", "err\n", Some(7))
    );
    w.bastion.wait_log("exit=\"signal KILL\"");
}

#[test]
fn stdin_flows_and_eof_reaches_the_command() {
    let w = world();
    let mut child = w
        .alice
        .ssh("t1@127.0.0.1", &["cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a\nb\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "a\nb\ndone\n");
}

#[test]
fn env_is_filtered_by_the_allowlist() {
    let w = world();
    let o = run(w
        .alice
        .ssh(
            "t1@127.0.0.1",
            &[
                "-o",
                "SendEnv=LANG FOO LC_TIME",
                "echo \"[$LANG|$FOO|$LC_TIME]\"",
            ],
        )
        .env("LANG", "C.UTF-8")
        .env("FOO", "secret")
        .env("LC_TIME", "C"));
    assert!(o.status.success(), "{}", stderr(&o));
    // sshd accepts FOO, but the bastion's allowlist (LANG, LC_*, TZ) drops it.
    assert_eq!(stdout(&o), "[C.UTF-8||C]\n");
}

#[test]
fn pty_carries_term() {
    let w = world();
    let o = run(w
        .alice
        .ssh("t1@127.0.0.1", &["-tt", "tty; echo TERM=$TERM"])
        .env("TERM", "xterm-256color"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("TERM=xterm-256color"), "{out}");
}

#[test]
fn multiplexed_channels_share_one_connection() {
    let w = world();
    let master = w
        .alice
        .control_master("t1@127.0.0.1", &w.bastion.dir.path().join("cm.sock"));
    // More channels than the per-connection limit (16): the limit is on channels open at once.
    // Each exit status must come through, even though the ControlMaster closes right after EOF.
    for i in 0..20 {
        let o = run(&mut master.ssh(&format!("echo chan-{i}; exit {}", i % 4)));
        assert_eq!(stdout(&o), format!("chan-{i}\n"), "{}", stderr(&o));
        assert_eq!(o.status.code(), Some(i % 4), "channel {i}: {}", stderr(&o));
    }
    drop(master);
    let log = w.bastion.log();
    assert_eq!(log.matches("authenticated").count(), 1, "{log}");
    assert_eq!(log.matches("upstream connected").count(), 1, "{log}");
}

fn random_file(path: &std::path::Path, len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

#[test]
fn scp_and_sftp_transfer_files_intact() {
    let w = world();
    let dir = w.bastion.dir.path();
    let data = random_file(&dir.join("up.bin"), 3 * 1024 * 1024 + 17);
    let opts = w.alice.ssh_options();
    let port = w.bastion.port.to_string();
    // scp over sftp (the default), then legacy scp (-O: exec "scp -t").
    for (i, legacy) in [false, true].into_iter().enumerate() {
        let mut c = Command::new("scp");
        c.args(&opts).args(["-P", &port]);
        if legacy {
            c.arg("-O");
        }
        let o = run(c
            .arg(dir.join("up.bin"))
            .arg(format!("t1@127.0.0.1:/tmp/bastion-scp-{i}.bin")));
        assert!(o.status.success(), "scp up: {}", stderr(&o));
        let back = dir.join(format!("down-{i}.bin"));
        let mut c = Command::new("scp");
        c.args(&opts).args(["-P", &port]);
        if legacy {
            c.arg("-O");
        }
        let o = run(c
            .arg(format!("t1@127.0.0.1:/tmp/bastion-scp-{i}.bin"))
            .arg(&back));
        assert!(o.status.success(), "scp down: {}", stderr(&o));
        assert!(
            std::fs::read(&back).unwrap() == data,
            "scp round trip differs (legacy={legacy})"
        );
    }
    let batch = dir.join("batch");
    std::fs::write(
        &batch,
        format!("put {} /tmp/bastion-sftp.bin\nget /tmp/bastion-sftp.bin {}\nls /tmp/bastion-sftp.bin\n", dir.join("up.bin").display(), dir.join("sftp-back.bin").display()),
    )
    .unwrap();
    let o = run(Command::new("sftp")
        .args(&opts)
        .args(["-P", &port, "-b"])
        .arg(&batch)
        .arg("t1@127.0.0.1"));
    assert!(o.status.success(), "sftp: {}", stderr(&o));
    assert!(std::fs::read(dir.join("sftp-back.bin")).unwrap() == data);
}

/// Starts `ssh -N -L` and returns what a TCP client reads from the local end.
/// Forwards a local port to `to_port` on the target's host through the bastion, connects, and
/// returns what was read and what ssh said on stderr.
fn forward_and_read(w: &crate::fixture::World, to_port: u16) -> (String, String) {
    let lport = free_port();
    let child = w
        .alice
        .ssh(
            "t1@127.0.0.1",
            &[
                // "open failed" is logged at INFO; -v overrides the quiet LogLevel of the tests.
                "-v",
                "-N",
                "-L",
                &format!("127.0.0.1:{lport}:127.0.0.1:{to_port}"),
            ],
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stream = wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", lport)).ok()
    });
    let mut got = String::new();
    if let Some(mut s) = stream {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        if let Ok(n) = s.read(&mut buf) {
            got = String::from_utf8_lossy(&buf[..n]).into_owned();
        }
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let out = child.wait_with_output().unwrap();
    (got, stderr(&out))
}

#[test]
fn port_forwarding_is_refused_unless_a_role_allows_it() {
    let w = world();
    let (got, said) = forward_and_read(&w, w.sshd.port);
    assert_eq!(got, "");
    assert!(said.contains("administratively prohibited"), "{said}");
    w.bastion.wait_log("port forwarding refused");

    let w = world_with_forwarding();
    let (got, _) = forward_and_read(&w, w.sshd.port);
    assert!(got.starts_with("SSH-2.0-OpenSSH"), "{got}");
    // The forward's row counts what crossed it (its bytes are not recorded).
    let row = tests::wait_for(Duration::from_secs(15), || {
        tests::audit_json(&w.bastion.config, "channels", &[])
            .into_iter()
            // The session's end may close the row first; the channel's own end then fills in
            // its byte counts.
            .find(|c| c["kind"] == "forward" && !c["bytes_out"].is_null())
    })
    .unwrap_or_else(|| {
        panic!(
            "{:?}",
            tests::audit_json(&w.bastion.config, "channels", &[])
        )
    });
    assert!(
        row["bytes_out"].as_u64().unwrap_or(0) >= got.len() as u64,
        "{row}"
    );
    // Nothing listens there: the client hears "connect failed", as with a direct connection.
    let (got, said) = forward_and_read(&w, free_port());
    assert_eq!(got, "");
    assert!(said.contains("open failed: connect failed"), "{said}");

    // A certificate signed without --port-forwarding does not permit it, whatever the role.
    let w = crate::fixture::World {
        alice: w.bastion.user("bob@example.test", "ops"),
        ..w
    };
    let (got, said) = forward_and_read(&w, w.sshd.port);
    assert_eq!(got, "");
    assert!(said.contains("administratively prohibited"), "{said}");
}

fn world_with_forwarding() -> crate::fixture::World {
    let b = tests::BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role("name = \"fwd\"\nprincipals = [\"ops\"]\ntargets = [\"t1\"]\nlogins = [\"root\"]\nallow = [\"shell\", \"exec\", \"port-forward\"]")
        .start();
    let alice = bastion.user_with("alice@example.test", "ops", &["--port-forwarding"]);
    crate::fixture::World {
        bastion,
        sshd,
        alice,
    }
}

#[test]
fn agent_forwarding_is_refused() {
    let w = world();
    let sock = w.bastion.dir.path().join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(5), || sock.exists().then_some(()));
    // The usual options say IdentityAgent=none; this client must see the agent to forward it.
    let opts: Vec<String> = w
        .alice
        .ssh_options()
        .chunks(2)
        .filter(|pair| pair[1] != "IdentityAgent=none")
        .flatten()
        .cloned()
        .collect();
    let o = run(Command::new("ssh")
        .args(&opts)
        .args([
            "-o",
            "ForwardAgent=yes",
            "-p",
            &w.bastion.port.to_string(),
            "t1@127.0.0.1",
            "echo \"[$SSH_AUTH_SOCK]\"",
        ])
        .env("SSH_AUTH_SOCK", &sock));
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(stdout(&o), "[]\n", "{}", stderr(&o));
    w.bastion.wait_log("agent forwarding refused");
}

#[test]
fn capabilities_are_enforced_with_a_reason() {
    let b = tests::BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role("name = \"shell-only\"\nprincipals = [\"ops\"]\ntargets = [\"t1\"]\nlogins = [\"root\"]\nallow = [\"shell\"]")
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo SHOULD-NOT-RUN"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .contains("bastion: exec is not permitted for you on \"t1\" (your roles allow: shell)"),
        "{}",
        stderr(&o)
    );
    let o = run(Command::new("sftp").args(alice.ssh_options()).args([
        "-P",
        &bastion.port.to_string(),
        "-b",
        "/dev/null",
        "t1@127.0.0.1",
    ]));
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("sftp is not permitted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn signals_reach_the_command() {
    // asyncssh can send the "signal" channel request; stock OpenSSH clients never do. sshd
    // honours signal requests only for unprivileged logins.
    crate::fixture::ensure_test_login();
    let w = world();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/send_signal.py");
    let o = run(Command::new("python3")
        .arg(script)
        .arg(w.bastion.port.to_string())
        .arg("bastion-e2e@t1")
        .arg(&w.alice.key)
        .arg(&w.alice.cert)
        .arg("TERM"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("started\n"), "{out}");
    assert!(out.contains("exit_signal=TERM"), "{out}");
    assert!(!out.contains("not-killed"), "{out}");
    w.bastion.wait_log("signal");
}

#[test]
fn x11_forwarding_is_refused() {
    let w = world();
    let o = run(w
        .alice
        .ssh(
            "t1@127.0.0.1",
            &[
                "-o",
                "ForwardX11=yes",
                "-o",
                "ForwardX11Trusted=yes",
                "echo \"[$DISPLAY]\"",
            ],
        )
        .env("DISPLAY", "127.0.0.1:99"));
    assert_eq!(stdout(&o), "[]\n", "{}", stderr(&o));
    assert!(
        stderr(&o).contains("X11 forwarding request failed"),
        "{}",
        stderr(&o)
    );
    w.bastion.wait_log("X11 forwarding refused");
}

#[test]
fn force_command_replaces_shells_commands_and_sftp() {
    let _ = std::fs::remove_file("/tmp/forced-sftp-upload");
    let w = world();
    let bound = w.bastion.user_with(
        "deploy@example.test",
        "ops",
        &["--force-command", "echo forced-command-ran"],
    );
    let o = run(&mut bound.ssh("t1@127.0.0.1", &["echo asked-for-this"]));
    assert_eq!(stdout(&o), "forced-command-ran\n", "{}", stderr(&o));
    // sftp gets the forced command too, never an sftp server: the transfer fails.
    let batch = w.bastion.dir.path().join("batch");
    std::fs::write(&batch, "put /etc/hostname /tmp/forced-sftp-upload\n").unwrap();
    let o = run(Command::new("sftp")
        .args(bound.ssh_options())
        .args(["-P", &w.bastion.port.to_string(), "-b"])
        .arg(&batch)
        .arg("t1@127.0.0.1"));
    assert_ne!(o.status.code(), Some(0), "sftp ran: {}", stdout(&o));
    assert!(!std::path::Path::new("/tmp/forced-sftp-upload").exists());
    let kinds = wait_for(Duration::from_secs(10), || {
        let rows = tests::audit::audit_json(
            &w.bastion.config,
            "channels",
            &["--user", "deploy@example.test"],
        );
        (rows.len() == 2).then_some(rows)
    })
    .expect("two channel rows");
    for row in kinds {
        assert_eq!(row["kind"], "exec", "{row}");
    }
}

#[test]
fn losing_the_target_mid_command_is_told_and_the_next_channel_reconnects() {
    let w = world();
    let dir = w.bastion.dir.path();
    let master = w.alice.control_master("t1@127.0.0.1", &dir.join("cm.sock"));
    let (out, err) = (dir.join("lost.out"), dir.join("lost.err"));
    let mut child = master
        .ssh("echo started; sleep 30; echo finished")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&out)
            .ok()
            .filter(|s| s.contains("started"))
    });
    assert!(started.is_some(), "the command never started");
    // The target's side of the connection dies, as in a reboot.
    w.sshd.kill_connections();
    let status = wait_for(Duration::from_secs(20), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        panic!("ssh still waiting after the target connection was lost");
    };
    assert_ne!(status.code(), Some(0));
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(
        said.contains("the connection to target \"t1\" was lost"),
        "{said}"
    );
    assert!(!std::fs::read_to_string(&out).unwrap().contains("finished"));
    // The same ControlMaster connection opens its next channel on a new target connection.
    let o = run(&mut master.ssh("echo again"));
    assert_eq!(stdout(&o), "again\n", "{}", stderr(&o));
    let log = w.bastion.log();
    assert_eq!(log.matches("upstream connected").count(), 2, "{log}");
}
