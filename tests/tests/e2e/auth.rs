//! Authentication by certificate, and each refusal with its own reason (issue 2, item 4).

use std::path::Path;
use std::process::Command;

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
