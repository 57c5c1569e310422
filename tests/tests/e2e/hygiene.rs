//! Idle logoff, keepalives, limits on unauthenticated connections and auth attempts, login
//! grace time, shutdown (issue 2, item 8); the ciphers offered.

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{keygen, run, stderr, stdout, Tmux};

use crate::fixture::world_with;

#[test]
fn idle_session_is_told_then_logged_off() {
    let w = world_with("idle_timeout = \"3s\"", "");
    let t = Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 100, 30);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    let screen = t.wait_for("SSH-EXIT=", Duration::from_secs(20));
    assert!(
        screen.contains("bastion: no activity for 3s; you are being logged off (idle timeout)."),
        "{screen}"
    );
    assert!(!screen.contains("SSH-EXIT=0"), "{screen}");
    w.bastion.wait_log("idle timeout: logging off");

    // A command without a terminal that stays quiet longer than the timeout is not idle.
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["sleep 7; echo quiet-done"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "quiet-done\n");
}

fn banner(port: u16) -> (TcpStream, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn unauthenticated_connections_are_limited_and_timed_out() {
    let w = world_with(
        "",
        // No random early drop: this test counts places, and the default would drop the
        // second connection at random (from half the total on).
        "max_unauthenticated = 2\nmax_unauthenticated_per_source = 2\nearly_drop_from = 2\n\
         login_grace_time = \"3s\"",
    );
    let (mut a, ba) = banner(w.bastion.port);
    let (_b, bb) = banner(w.bastion.port);
    assert!(
        ba.starts_with("SSH-2.0-bastion") && bb.starts_with("SSH-2.0-bastion"),
        "{ba} {bb}"
    );
    let (_c, bc) = banner(w.bastion.port);
    assert_eq!(bc, "", "a third unauthenticated connection is dropped");
    w.bastion.wait_log("too many unauthenticated connections");

    // The silent connections are closed after the grace time.
    let started = Instant::now();
    let mut rest = Vec::new();
    a.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = a.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
    w.bastion.wait_log("login grace time");
    // With the slots free again, a real user gets in.
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["echo in"]));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn sessions_per_identity_are_limited() {
    use std::io::BufRead;
    use std::process::Stdio;
    let w = world_with("", "max_sessions_per_identity = 1");
    let mut first = w
        .alice
        .ssh("t1@127.0.0.1", &["echo first-in; sleep 60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "first-in\n");
    // A second connection of the same identity is told why, and no session starts.
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["echo second"]));
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains(
            "bastion: 1 session of yours is already open on this bastion (the most one identity \
             may have)"
        ),
        "{}",
        stderr(&o)
    );
    // Another identity has its own allowance.
    let bob = w.bastion.user("bob@example.test", "ops");
    let o = run(&mut bob.ssh("t1@127.0.0.1", &["echo bob-in"]));
    assert_eq!(stdout(&o), "bob-in\n", "{}", stderr(&o));
    // Once the first session ends, its place is free again.
    let _ = first.kill();
    let _ = first.wait();
    let again = tests::wait_for(Duration::from_secs(15), || {
        let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["echo again"]));
        (stdout(&o) == "again\n").then_some(())
    });
    assert!(again.is_some(), "the place was not given back");
    let auth = tests::audit_json(&w.bastion.config, "auth", &[]);
    assert!(
        auth.iter().any(|a| a["reason"] == "too-many-sessions"
            && a["accepted"] == false
            && a["identity"] == "alice@example.test"),
        "{auth:?}"
    );
}

#[test]
fn auth_attempts_per_connection_are_limited() {
    let w = world_with("", "max_auth_attempts = 2");
    let dir = w.bastion.dir.path();
    let mut c = Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "BatchMode=yes",
    ])
    .args([
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
    ]);
    for i in 0..4 {
        let k = dir.join(format!("plain{i}"));
        keygen(&k);
        c.arg("-i").arg(k);
    }
    let o = run(c.args(["-p", &w.bastion.port.to_string(), "t1@127.0.0.1", "echo in"]));
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Too many authentication attempts"),
        "{}",
        stderr(&o)
    );
    // Two keys were tried and refused, the third attempt ended the connection.
    let log = w.bastion.wait_log("reason=plain-key");
    assert_eq!(log.matches("reason=plain-key").count(), 2, "{log}");
}

#[test]
fn sigterm_tells_live_users_and_exits() {
    let mut w = world_with("", "");
    let t = Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 100, 30);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    assert!(
        w.bastion.terminate(),
        "bastion did not exit cleanly:\n{}",
        w.bastion.log()
    );
    let screen = t.wait_for("SSH-EXIT=", Duration::from_secs(15));
    assert!(screen.contains("bastion is shutting down"), "{screen}");
    // The live session's recording was sealed before the process exited.
    let casts = crate::recording::casts(&w.bastion.dir.path().join("recordings"));
    assert_eq!(casts.len(), 1, "{casts:?}");
    let o = run(Command::new(tests::bastion_bin())
        .arg("verify")
        .arg(&casts[0])
        .arg("--config")
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", tests::stdout(&o));
    assert!(
        tests::stdout(&o).contains("sealed"),
        "{}",
        tests::stdout(&o)
    );
    // And its audit rows were closed by the bastion itself, not left for crash recovery.
    let sessions = tests::audit_json(&w.bastion.config, "sessions", &[]);
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(
        sessions[0]["close_reason"], "connection closed",
        "{sessions:?}"
    );
    let channels = tests::audit_json(&w.bastion.config, "channels", &[]);
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert!(channels[0]["final_hash"].is_string(), "{channels:?}");
}

/// The cipher `ssh -v` reports for a session through the bastion.
fn negotiated_cipher(w: &crate::fixture::World) -> String {
    let options: Vec<String> = w
        .alice
        .ssh_options()
        .into_iter()
        .map(|o| {
            if o.starts_with("LogLevel") {
                "LogLevel=DEBUG1".into()
            } else {
                o
            }
        })
        .collect();
    let o = run(Command::new("ssh")
        .args(&options)
        .arg("-p")
        .arg(w.bastion.port.to_string())
        .args(["t1@127.0.0.1", "true"]));
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
        .lines()
        .find_map(|l| l.split("kex: server->client cipher: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no cipher in {}", stderr(&o)))
        .to_string()
}

#[test]
fn ciphers_follow_the_cpu_or_the_configuration() {
    // With AES instructions, only AES-GCM is offered: stock OpenSSH would pick ChaCha20.
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hardware_aes = flags
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))
        .is_some_and(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.contains(&"aes") && (f.contains(&"pclmulqdq") || f.contains(&"pmull"))
        });
    let w = world_with("", "");
    let expected = if hardware_aes {
        "aes128-gcm@openssh.com"
    } else {
        "chacha20-poly1305@openssh.com"
    };
    assert_eq!(negotiated_cipher(&w), expected);
    let w = world_with("", "ciphers = [\"chacha20-poly1305@openssh.com\"]");
    assert_eq!(negotiated_cipher(&w), "chacha20-poly1305@openssh.com");
    // An unknown name is a configuration error, named.
    let text = std::fs::read_to_string(&w.bastion.config)
        .unwrap()
        .replace("chacha20-poly1305@openssh.com", "rot13");
    let bad = w.bastion.dir.path().join("bad.toml");
    std::fs::write(&bad, text).unwrap();
    let o = run(Command::new(tests::bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&bad));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("server.ciphers: unknown cipher \"rot13\""),
        "{}",
        stderr(&o)
    );
}
