//! Authentication by certificate, and each refusal with its own reason (issue 2, item 4).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tests::{keygen, run, stderr, stdout, User};

use crate::fixture::world;

/// A user whose certificate is made by ssh-keygen with `ca` and these extra arguments.
fn keygen_user(
    dir: &Path,
    name: &str,
    ca: &Path,
    principals: &str,
    validity: &str,
    port: u16,
) -> User {
    let key = dir.join(name);
    keygen(&key);
    let o = run(Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(ca)
        .args([
            "-I",
            &format!("{name}@example.test"),
            "-n",
            principals,
            "-V",
            validity,
        ])
        .arg(key.with_extension("pub")));
    assert!(o.status.success(), "{}", stderr(&o));
    User {
        cert: dir.join(format!("{name}-cert.pub")),
        key,
        port,
    }
}

#[test]
fn certificate_from_the_user_ca_gets_in() {
    let w = world();
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["id -un"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "root\n");
    let log = w.bastion.wait_log("authenticated");
    assert!(log.contains("identity=alice@example.test"), "{log}");
}

#[test]
fn refusals_each_have_a_distinct_reason_in_the_log() {
    let w = world();
    let dir = w.bastion.dir.path();
    let user_ca = dir.join("keys/user_ca");
    let other_ca = dir.join("other_ca");
    keygen(&other_ca);
    let port = w.bastion.port;

    let cases: Vec<(User, &str)> = vec![
        (
            keygen_user(dir, "wrongca", &other_ca, "ops", "-5m:+1h", port),
            "reason=wrong-ca",
        ),
        (
            keygen_user(dir, "nobody", &user_ca, "strangers", "-5m:+1h", port),
            "reason=unknown-principal",
        ),
        // russh checks validity times before the handler sees the certificate; its own
        // message names both cases.
        (
            keygen_user(dir, "expired", &user_ca, "ops", "-2h:-1h", port),
            "Certificate is expired or not yet valid",
        ),
        (
            keygen_user(dir, "future", &user_ca, "ops", "+1h:+2h", port),
            "Certificate is expired or not yet valid",
        ),
        (
            w.bastion.user_with(
                "remote@example.test",
                "ops",
                &["--source-address", "10.9.0.0/16"],
            ),
            "reason=source-address",
        ),
    ];
    for (user, reason) in cases {
        let before = w.bastion.log().matches(reason).count();
        let o = run(&mut user.ssh("t1@127.0.0.1", &["true"]));
        assert_eq!(o.status.code(), Some(255), "{reason}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("Permission denied"),
            "{reason}: {}",
            stderr(&o)
        );
        let log = w.bastion.wait_log(reason);
        assert!(log.matches(reason).count() > before, "{reason}\n{log}");
    }
    // A certificate from another CA names whom it likes: its key id is not taken as the
    // identity of the refused attempt.
    let rows = tests::wait_for(Duration::from_secs(10), || {
        let rows = tests::audit_json(&w.bastion.config, "auth", &[]);
        let written = |reason: &str| rows.iter().any(|r| r["reason"] == reason);
        (written("wrong-ca") && written("unknown-principal")).then_some(rows)
    })
    .expect("the refusals' rows");
    for r in rows.iter().filter(|r| r["reason"] == "wrong-ca") {
        assert!(r["identity"].is_null(), "{r}");
    }
    assert!(
        rows.iter()
            .any(|r| r["reason"] == "unknown-principal" && r["identity"] == "nobody@example.test"),
        "{rows:?}"
    );

    // A plain key (no certificate) is refused too.
    let plain = dir.join("plain");
    keygen(&plain);
    let o = run(Command::new("ssh")
        .args([
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
            "-i",
        ])
        .arg(&plain)
        .args(["-p", &port.to_string(), "t1@127.0.0.1", "true"]));
    assert_eq!(o.status.code(), Some(255));
    w.bastion.wait_log("reason=plain-key");
    assert!(!w.bastion.log().contains("panicked"));
}

/// Runs `cmd` in the background, stdout and stderr to files; returns the child and the path
/// of its stderr.
fn spawn_logged(
    cmd: &mut Command,
    dir: &Path,
    name: &str,
) -> (std::process::Child, std::path::PathBuf) {
    let err = dir.join(format!("{name}.stderr"));
    let child = cmd
        .stdout(std::fs::File::create(dir.join(format!("{name}.stdout"))).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    (child, err)
}

/// Waits for `child` to end on its own; panics after `limit`.
fn ended_within(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let status = tests::wait_for(limit, || child.try_wait().unwrap());
    match status {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!("still connected after {limit:?}");
        }
    }
}

#[test]
fn an_open_connection_ends_when_its_certificate_expires() {
    let w = world();
    let dir = w.bastion.dir.path();
    let user_ca = dir.join("keys/user_ca");
    let short = keygen_user(dir, "short", &user_ca, "ops", "-1m:+6s", w.bastion.port);
    // Without the expiry this command would hold the connection for a minute.
    let (mut child, err) = spawn_logged(
        &mut short.ssh("t1@127.0.0.1", &["sleep 60; echo finished"]),
        dir,
        "short",
    );
    let status = ended_within(&mut child, Duration::from_secs(40));
    assert!(!status.success());
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("certificate has expired"), "{said}");
    let out = std::fs::read_to_string(dir.join("short.stdout")).unwrap();
    assert!(!out.contains("finished"), "{out}");
    let log = w.bastion.wait_log("reason=\"certificate expired\"");
    assert!(log.contains("identity=short@example.test"), "{log}");
}

#[test]
fn revocation_logs_off_an_open_connection() {
    let w = crate::fixture::world_with("", "revocation_check_interval = \"1s\"");
    let dir = w.bastion.dir.path();
    // A running command: logged off within the check interval, told why.
    let (mut child, err) = spawn_logged(
        &mut w
            .alice
            .ssh("t1@127.0.0.1", &["echo started; sleep 60; echo finished"]),
        dir,
        "alice",
    );
    let started = tests::wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(dir.join("alice.stdout"))
            .ok()
            .filter(|s| s.contains("started"))
    });
    assert!(started.is_some(), "the command never started");
    let o = run(Command::new(tests::bastion_bin())
        .args([
            "ca",
            "revoke",
            "--key-id",
            "alice@example.test",
            "--reason",
            "offboarded",
        ])
        .arg("--config")
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let status = ended_within(&mut child, Duration::from_secs(30));
    assert!(!status.success());
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("access has been revoked"), "{said}");
    let log = w.bastion.wait_log("the certificate no longer holds");
    assert!(log.contains("reason=\"access revoked\""), "{log}");
}

#[test]
fn a_revoked_identity_opens_no_new_channel_on_a_control_master() {
    // The default check interval (30 s) is far longer than this test: the refusal comes from
    // the check every new channel makes.
    let w = world();
    let dir = w.bastion.dir.path();
    let master = w.alice.control_master("t1@127.0.0.1", &dir.join("cm.sock"));
    let o = run(&mut master.ssh("echo before"));
    assert_eq!(stdout(&o), "before\n", "{}", stderr(&o));
    let o = run(Command::new(tests::bastion_bin())
        .args(["ca", "revoke", "--key-id", "alice@example.test", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&mut master.ssh("echo after"));
    assert!(!o.status.success(), "a revoked identity opened a channel");
    assert!(!stdout(&o).contains("after"));
    let log = w.bastion.wait_log("channel refused and connection closed");
    assert!(log.contains("reason=\"access revoked\""), "{log}");
}

/// `ssh` as a person runs it (default log level, interactive methods allowed, no terminal),
/// with `key` and its certificate if there is one.
fn ssh_as_a_person(key: &Path, cert: Option<&Path>, port: u16) -> std::process::Output {
    let mut c = Command::new("ssh");
    c.args([
        "-F",
        "/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-i",
    ])
    .arg(key);
    if let Some(cert) = cert {
        c.arg("-o")
            .arg(format!("CertificateFile={}", cert.display()));
    }
    c.args(["-p", &port.to_string(), "t1@127.0.0.1", "true"])
        .stdin(std::process::Stdio::null());
    run(&mut c)
}

#[test]
fn refused_users_are_told_why_and_each_refusal_is_a_row() {
    let w = world();
    let dir = w.bastion.dir.path();
    let port = w.bastion.port;
    let user_ca = dir.join("keys/user_ca");
    let other_ca = dir.join("other_ca");
    keygen(&other_ca);
    let revoked = w.bastion.user("revoked@example.test", "ops");
    let o = run(Command::new(tests::bastion_bin())
        .args([
            "ca",
            "revoke",
            "--key-id",
            "revoked@example.test",
            "--config",
        ])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = dir.join("plain");
    keygen(&plain);
    let expired = keygen_user(dir, "expired", &user_ca, "ops", "-2h:-1h", port);
    let wrong = keygen_user(dir, "wrongca", &other_ca, "ops", "-5m:+1h", port);
    let cases: [(&Path, Option<&Path>, &str, &str); 4] = [
        (
            &expired.key,
            Some(&expired.cert),
            "has expired or is not yet valid: run `bastion login`",
            "certificate-expired",
        ),
        (
            &revoked.key,
            Some(&revoked.cert),
            "this certificate was revoked",
            "revoked",
        ),
        (
            &wrong.key,
            Some(&wrong.cert),
            "this certificate is not from this bastion's CA",
            "wrong-ca",
        ),
        (
            &plain,
            None,
            "this bastion accepts only certificates from its CA",
            "plain-key",
        ),
    ];
    for (key, cert, words, _) in cases {
        let o = ssh_as_a_person(key, cert, port);
        assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
        let said = stderr(&o);
        assert!(
            said.contains(words) && said.contains("Permission denied"),
            "{words}: {said}"
        );
    }
    // Every refusal is a row, with what the certificate offered.
    let rows = tests::wait_for(Duration::from_secs(15), || {
        let rows = tests::audit_json(&w.bastion.config, "auth", &["--refused"]);
        cases
            .iter()
            .all(|(_, _, _, code)| rows.iter().any(|r| r["reason"] == *code))
            .then_some(rows)
    })
    .unwrap_or_else(|| panic!("{:?}", tests::audit_json(&w.bastion.config, "auth", &[])));
    assert!(rows.iter().all(|r| r["accepted"] == false), "{rows:?}");
    let row = |code: &str| rows.iter().find(|r| r["reason"] == code).unwrap();
    let r = row("revoked");
    assert_eq!(r["identity"], "revoked@example.test", "{r}");
    assert_eq!(r["principals"], serde_json::json!(["ops"]), "{r}");
    assert!(r["serial"].is_string(), "{r}");
    let r = row("wrong-ca");
    assert!(r["identity"].is_null(), "{r}");
    // What it claims is kept apart, masked like anything a client wrote (an e-mail address
    // here).
    let offered = r["offered"].as_str().unwrap();
    assert!(
        offered.contains("principals [\"ops\"]") && !offered.contains("wrongca@example.test"),
        "{r}"
    );
    assert!(row("certificate-expired")["peer"].is_string());
    // A refused destination is a row too.
    let o = run(&mut w.alice.ssh("root@nowhere@127.0.0.1", &["true"]));
    assert_ne!(o.status.code(), Some(0));
    tests::wait_for(Duration::from_secs(15), || {
        tests::audit_json(&w.bastion.config, "auth", &["--refused"])
            .iter()
            .any(|r| r["reason"] == "unknown-target" && r["identity"] == "alice@example.test")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{:?}", tests::audit_json(&w.bastion.config, "auth", &[])));
}
