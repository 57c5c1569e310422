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

/// Two targets, a role reaching only `t1` with two logins; alice holds it.
fn two_targets(server: &str) -> (tests::Bastion, tests::Sshd, tests::Sshd, tests::User) {
    let b = BastionBuilder::new();
    let t1 = b.sshd("t1");
    let t2 = b.sshd("t2");
    let bastion = b
        .server(server)
        .target("t1", &t1, "")
        .target("t2", &t2, "")
        .role("name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"t1\"]\nlogins = [\"root\", \"bastion-e2e\"]\nallow = [\"shell\", \"exec\"]")
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    (bastion, t1, t2, alice)
}

/// Issue 19, item 5: `ssh bastion list` (no target named) prints the targets and logins the
/// caller may use, as a table or JSON lines; a target of that name still runs `list` itself.
#[test]
fn ssh_list_shows_the_permitted_targets_and_logins() {
    let (bastion, _t1, _t2, alice) = two_targets("");
    let o = run(&mut alice.ssh("127.0.0.1", &["list"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "TARGET  LOGINS            DEFAULT  ALLOW\n\
         t1      root,bastion-e2e  root     shell,exec\n"
    );
    let o = run(&mut alice.ssh("127.0.0.1", &["list --json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{}", stdout(&o));
    assert_eq!(rows[0]["target"], "t1");
    assert_eq!(rows[0]["default_login"], "root");
    assert_eq!(
        rows[0]["logins"],
        serde_json::json!(["root", "bastion-e2e"])
    );
    assert_eq!(rows[0]["allow"], serde_json::json!(["shell", "exec"]));
    bastion.wait_log("targets listed");
    // Named, the target runs the command (here, a program of that name that does not exist).
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["list"]));
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
}

/// Issue 19, item 5: `bastion targets --server URL` lists them with the key and certificate
/// `bastion login` left in its directory, trusting the bastion through the API's host key.
#[test]
fn bastion_targets_lists_them_through_the_api() {
    let (bastion, _t1, _t2, alice) = two_targets("api_listen = \"127.0.0.1:0\"");
    let api = bastion.api().trim_start_matches("http://").to_string();
    let dir = bastion.dir.path().join("dot-bastion");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&alice.key, dir.join("id_ed25519")).unwrap();
    std::fs::copy(alice.key.with_extension("pub"), dir.join("id_ed25519.pub")).unwrap();
    std::fs::copy(&alice.cert, dir.join("id_ed25519-cert.pub")).unwrap();
    let targets = |extra: &[&str]| {
        run(std::process::Command::new(tests::bastion_bin())
            .args(["targets", "--server", &format!("http://{api}"), "--dir"])
            .arg(&dir)
            .args(extra)
            .env("SSH_AUTH_SOCK", "/nonexistent"))
    };
    let o = targets(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("t1      root,bastion-e2e  root     shell,exec"),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("t2"), "{}", stdout(&o));
    let o = targets(&["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"target\":\"t1\""), "{}", stdout(&o));
    let known = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
    assert!(known.contains("ssh-ed25519 "), "{known}");
    // Without a certificate it says what to do.
    std::fs::remove_file(dir.join("id_ed25519-cert.pub")).unwrap();
    let o = targets(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("run bastion login --server"),
        "{}",
        stderr(&o)
    );
}
