//! Target selection through the user name, and the upstream login (issue 2, items 5 and 6).

use tests::{run, stderr, stdout, BastionBuilder};

use crate::fixture::{world, OPS_ROLE};

#[test]
fn login_and_target_in_the_user_name() {
    crate::fixture::ensure_test_login();
    let w = world();
    for (dest, extra, want) in [
        ("root@t1@127.0.0.1", vec![], "root"),
        ("bastion-e2e@t1@127.0.0.1", vec![], "bastion-e2e"),
        ("127.0.0.1", vec!["-l", "bastion-e2e@t1"], "bastion-e2e"),
        ("t1@127.0.0.1", vec![], "root"),
    ] {
        let mut args = extra.clone();
        args.push("id -un");
        let o = run(&mut w.alice.ssh(dest, &args));
        assert!(o.status.success(), "{dest}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), want, "{dest}");
    }
}

#[test]
fn unknown_or_forbidden_target_gets_one_line_and_nonzero_exit() {
    let w = world();
    let o = run(&mut w.alice.ssh("root@nope@127.0.0.1", &["true"]));
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("bastion: target \"nope\" is unknown or not permitted for you"),
        "{}",
        stderr(&o)
    );
    let o = run(&mut w.alice.ssh("daemon@t1@127.0.0.1", &["true"]));
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("login \"daemon\" on \"t1\" is not permitted for you"),
        "{}",
        stderr(&o)
    );
    let log = w.bastion.log();
    assert!(
        log.contains("reason=unknown-target") && log.contains("reason=login-not-allowed"),
        "{log}"
    );
}

#[test]
fn exec_without_target_explains_how_to_name_one() {
    let w = world();
    let o = run(&mut w.alice.ssh("127.0.0.1", &["true"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bastion: target \"root\" is unknown or not permitted for you; use ssh LOGIN@TARGET@bastion"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn upstream_login_uses_a_short_lived_target_ca_certificate_naming_the_session() {
    let w = world();
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["true"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let log = w.sshd.log();
    // sshd logs the certificate it accepted: key id, serial, CA.
    let line = log
        .lines()
        .find(|l| l.contains("Accepted certificate ID"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("for alice@example.test"), "{line}");
    assert!(line.contains("bastion session"), "{line}");
    let ca = std::fs::read_to_string(w.bastion.dir.path().join("keys/target_ca.pub")).unwrap();
    let fp = tests::stdout(&run(std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(w.bastion.dir.path().join("keys/target_ca.pub"))));
    assert!(
        line.contains(fp.split_whitespace().nth(1).unwrap()),
        "{line}\n{ca}"
    );
}

#[test]
fn host_key_mismatch_refuses_the_session() {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let other = b.sshd("t2");
    // t1 is configured with t2's host key.
    let text = format!(
        "name = \"t1\"\nhost = \"127.0.0.1\"\nport = {}\nhost_key = \"{}\"\ndefault_login = \"root\"\n",
        sshd.port,
        other.host_key()
    );
    let bastion = b.section("targets", &text).role(OPS_ROLE).start();
    let alice = bastion.user("alice@example.test", "ops");
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo SHOULD-NOT-RUN"]));
    assert_eq!(o.status.code(), Some(255));
    assert!(!stdout(&o).contains("SHOULD-NOT-RUN"));
    assert!(
        stderr(&o).contains("host key of 127.0.0.1"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("does not match the configuration"),
        "{}",
        stderr(&o)
    );
    assert!(
        !sshd.log().contains("Accepted certificate"),
        "{}",
        sshd.log()
    );
    // The channel's audit row gets its end (exit status, reason, seal) from the refusal; the
    // connection closing may mark it ended first, without those.
    let row = tests::wait_for(std::time::Duration::from_secs(10), || {
        tests::audit_json(&bastion.config, "channels", &[])
            .into_iter()
            .find(|c| !c["exit_status"].is_null())
    })
    .expect("the channel row got its end");
    assert_eq!(row["exit_status"], 255, "{row}");
    assert_eq!(row["close_reason"], "target unreachable", "{row}");
    assert!(row["final_hash"].is_string(), "{row}");
}

#[test]
fn known_hosts_and_host_ca_checks() {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    // known_hosts file listing the target.
    let kh = b.path("known_hosts");
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_key()),
    )
    .unwrap();
    // A host CA that signs t1's host key; sshd presents the certificate.
    let host_ca = b.path("host_ca");
    tests::keygen(&host_ca);
    let o = run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&host_ca)
        .args(["-I", "t1", "-h", "-n", "127.0.0.1", "-V", "-5m:+1h"])
        .arg(sshd.dir.join("host_ed25519.pub")));
    assert!(o.status.success(), "{}", stderr(&o));
    drop(sshd);
    let sshd = tests::Sshd::start_with(
        &b.path("t1"),
        &b.target_ca_pub(),
        &format!(
            "HostCertificate {}",
            b.path("t1/host_ed25519-cert.pub").display()
        ),
    );
    std::fs::write(
        &kh,
        format!("[127.0.0.1]:{} {}\n", sshd.port, sshd.host_key()),
    )
    .unwrap();
    let ca_line = std::fs::read_to_string(host_ca.with_extension("pub")).unwrap();
    let common = |name: &str| {
        format!(
            "name = \"{name}\"\nhost = \"127.0.0.1\"\nport = {}\ndefault_login = \"root\"\n",
            sshd.port
        )
    };
    let bastion = b
        .section(
            "targets",
            &format!("{}known_hosts = \"{}\"", common("kh"), kh.display()),
        )
        .section(
            "targets",
            &format!("{}host_ca = \"{}\"", common("ca"), ca_line.trim()),
        )
        .role(OPS_ROLE)
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    for t in ["kh", "ca"] {
        let o = run(&mut alice.ssh(&format!("{t}@127.0.0.1"), &["echo ok"]));
        assert!(o.status.success(), "{t}: {}", stderr(&o));
        assert_eq!(stdout(&o), "ok\n");
    }
}
