//! Cryptography towards users (issue 15, item 6): no SHA-1 signatures, post-quantum key
//! exchange first, no finite-field groups or encrypt-and-MAC unless configured, and ssh-audit
//! finds nothing but the documented exceptions.

use std::path::Path;
use std::process::Command;

use tests::{run, stderr, stdout, BastionBuilder, User};

use crate::fixture::{world, world_with};

/// Logs in through `tests/clients/login.py` (asyncssh) and runs `echo ok`; its output.
fn asyncssh_login(user: &User, dest: &str, extra: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/login.py");
    let o = run(Command::new("python3")
        .arg(script)
        .arg(user.port.to_string())
        .arg(dest)
        .arg(&user.key)
        .arg(&user.cert)
        .args(extra));
    assert!(o.status.success(), "login.py: {}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// A user with an RSA key and a certificate from `bastion ca sign`.
fn rsa_user(w: &crate::fixture::World) -> User {
    let key = w.bastion.dir.path().join("rsa_user");
    let o = run(Command::new("ssh-keygen")
        .args([
            "-q", "-t", "rsa", "-b", "3072", "-N", "", "-C", "test", "-f",
        ])
        .arg(&key));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new(tests::bastion_bin())
        .args(["ca", "sign", "--config"])
        .arg(&w.bastion.config)
        .args(["--principals", "ops", "--identity", "rsa@example.test"])
        .arg(key.with_extension("pub")));
    assert!(o.status.success(), "ca sign: {}", stderr(&o));
    User {
        cert: w.bastion.dir.path().join("rsa_user-cert.pub"),
        key,
        port: w.bastion.port,
    }
}

/// `ssh -v` with the user's key and otherwise default settings: (status, stderr).
fn ssh_verbose(user: &User, extra: &[&str], dest: &str) -> (Option<i32>, String) {
    let o = run(Command::new("ssh")
        .args(user.ssh_options())
        // After the options' LogLevel=ERROR, which -v overrides.
        .arg("-v")
        .args(extra)
        .args(["-p", &user.port.to_string(), dest, "echo ok"]));
    (o.status.code(), stderr(&o))
}

/// The value ssh -v printed after `prefix`, up to the end of its line.
fn debug_value<'a>(log: &'a str, prefix: &str) -> Option<&'a str> {
    log.lines()
        .find_map(|l| l.split_once(prefix).map(|(_, v)| v.trim()))
}

#[test]
fn rsa_sha1_signatures_are_refused_and_sha2_ones_get_in() {
    let w = world();
    let user = rsa_user(&w);
    let refused = asyncssh_login(&user, "t1", &["--signature", "ssh-rsa"]);
    assert!(refused.starts_with("refused:"), "{refused}");
    let log = w.bastion.wait_log("reason=sha1-signature");
    assert!(
        log.contains("authentication refused: ssh-rsa signatures use SHA-1, which is refused"),
        "{log}"
    );
    assert!(!log.contains("identity=rsa@example.test"), "{log}");
    let rows = tests::wait_for(std::time::Duration::from_secs(10), || {
        let rows = tests::audit_json(&w.bastion.config, "auth", &[]);
        rows.iter()
            .any(|r| r["reason"] == "sha1-signature")
            .then_some(rows)
    })
    .expect("an audit row for the refusal");
    assert!(
        !rows.iter().any(|r| r["accepted"] == true),
        "an ssh-rsa signature got in: {rows:?}"
    );

    for sha2 in ["rsa-sha2-256", "rsa-sha2-512"] {
        assert_eq!(
            asyncssh_login(&user, "t1", &["--signature", sha2]),
            "ok",
            "{sha2}"
        );
    }
    // Without a choice, asyncssh follows server-sig-algs and gets in too.
    assert_eq!(asyncssh_login(&user, "t1", &[]), "ok");
}

#[test]
fn openssh_with_default_settings_connects_without_sha1_and_with_the_best_kex() {
    let w = world();
    let (status, log) = ssh_verbose(&w.alice, &[], "t1@127.0.0.1");
    assert_eq!(status, Some(0), "{log}");
    let sig_algs: Vec<&str> = debug_value(&log, "server-sig-algs=")
        .expect("server-sig-algs in the ext-info")
        .trim_matches(['<', '>'])
        .split(',')
        .collect();
    assert!(!sig_algs.contains(&"ssh-rsa"), "{sig_algs:?}");
    assert!(!sig_algs.contains(&"ssh-dss"), "{sig_algs:?}");
    assert!(sig_algs.contains(&"rsa-sha2-512"), "{sig_algs:?}");
    assert!(sig_algs.contains(&"ssh-ed25519"), "{sig_algs:?}");

    // The client's first choice among what the bastion offers: the post-quantum hybrid from
    // OpenSSH 9.9 on; before that (9.0–9.8 offer only sntrup761x25519, which russh lacks)
    // Curve25519.
    let g = run(Command::new("ssh").args(["-G", "-F", "/dev/null", "x@127.0.0.1"]));
    let client_kex = stdout(&g)
        .lines()
        .find_map(|l| l.strip_prefix("kexalgorithms "))
        .expect("ssh -G prints kexalgorithms")
        .to_string();
    let expected = client_kex
        .split(',')
        .find(|k| ["mlkem768x25519-sha256", "curve25519-sha256"].contains(k))
        .expect("a key exchange in common");
    assert_eq!(
        debug_value(&log, "kex: algorithm: "),
        Some(expected),
        "{log}"
    );

    // A client that has the hybrid gets it (asyncssh does).
    assert_eq!(
        asyncssh_login(&w.alice, "t1", &["--kex", "mlkem768x25519-sha256"]),
        "ok"
    );
}

/// Every warning and failure ssh-audit reports against `port`, as "section algorithm: level:
/// note", and its additional notes.
fn ssh_audit(port: u16) -> (Vec<String>, Vec<String>) {
    let o = run(Command::new("python3").args([
        "-m",
        "ssh_audit",
        "-j",
        "-p",
        &port.to_string(),
        "127.0.0.1",
    ]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("ssh-audit JSON: {e}\n{}\n{}", stdout(&o), stderr(&o)));
    let mut findings = Vec::new();
    for section in ["kex", "key", "enc", "mac"] {
        for alg in report[section].as_array().into_iter().flatten() {
            for level in ["warn", "fail"] {
                for note in alg["notes"][level].as_array().into_iter().flatten() {
                    findings.push(format!("{section} {}: {level}: {note}", alg["algorithm"]));
                }
            }
        }
    }
    for cve in report["cves"].as_array().into_iter().flatten() {
        findings.push(format!("cve: {cve}"));
    }
    let notes = report["additional_notes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| n.as_str().unwrap_or_default().to_string())
        .collect();
    (findings, notes)
}

#[test]
fn ssh_audit_finds_nothing_but_the_documented_exceptions() {
    let b = BastionBuilder::new().start();
    let (findings, notes) = ssh_audit(b.port);
    // Documented in docs/threat-model.md: Curve25519 stays for OpenSSH 9.0–9.8, whose hybrid
    // (sntrup761x25519) russh cannot offer.
    assert_eq!(
        findings,
        ["kex \"curve25519-sha256\": warn: \"does not provide protection against post-quantum attacks\""],
        "{findings:#?}"
    );
    // The DHEat probe (connections per second from one source) finds the per-source rate
    // limit of `[server] connection_rate_per_source` in the way.
    assert!(notes.is_empty(), "{notes:#?}");

    // Post-quantum only: nothing at all, and no DHEat probe.
    let b = BastionBuilder::new()
        .server("kex = [\"mlkem768x25519-sha256\"]")
        .start();
    let (findings, notes) = ssh_audit(b.port);
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(notes.is_empty(), "{notes:#?}");
}

#[test]
fn old_algorithms_only_when_configured_and_config_check_warns() {
    const OLD_CLIENT: &[&str] = &[
        "-o",
        "KexAlgorithms=diffie-hellman-group14-sha256",
        "-c",
        "aes128-ctr",
        "-m",
        "hmac-sha2-256",
    ];
    let w = world_with("", "ciphers = [\"aes128-gcm@openssh.com\", \"aes128-ctr\"]");
    let (status, log) = ssh_verbose(&w.alice, OLD_CLIENT, "t1@127.0.0.1");
    assert_eq!(status, Some(255), "{log}");
    assert!(
        log.contains("no matching key exchange method found"),
        "{log}"
    );
    let (status, log) = ssh_verbose(
        &w.alice,
        &["-c", "aes128-ctr", "-m", "hmac-sha2-256"],
        "t1@127.0.0.1",
    );
    assert_eq!(status, Some(255), "{log}");
    assert!(log.contains("no matching MAC found"), "{log}");

    let w = world_with(
        "",
        "ciphers = [\"aes128-gcm@openssh.com\", \"aes128-ctr\"]\nkex = [\"mlkem768x25519-sha256\", \"curve25519-sha256\", \"diffie-hellman-group14-sha256\"]\nmacs = [\"hmac-sha2-256-etm@openssh.com\", \"hmac-sha2-256\"]",
    );
    let (status, log) = ssh_verbose(&w.alice, OLD_CLIENT, "t1@127.0.0.1");
    assert_eq!(status, Some(0), "{log}");
    assert_eq!(
        debug_value(&log, "kex: algorithm: "),
        Some("diffie-hellman-group14-sha256")
    );

    let o = run(Command::new(tests::bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let config = std::fs::read_to_string(&w.bastion.config).unwrap();
    let line = |needle: &str| config.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let kex_warning = out
        .lines()
        .find(|l| {
            l.starts_with("warning: server.kex[2]: diffie-hellman-group14-sha256 is a 2048-bit")
        })
        .unwrap_or_else(|| panic!("no group14 warning:\n{out}"));
    assert!(
        kex_warning.ends_with(&format!(
            "at {}:{}",
            w.bastion.config.display(),
            line("kex")
        )),
        "{kex_warning}"
    );
    assert!(
        out.contains("warning: server.macs[1]: hmac-sha2-256 is encrypt-and-MAC"),
        "{out}"
    );
    assert_eq!(out.matches("warning:").count(), 2, "{out}");
    w.bastion
        .wait_log("configuration: server.kex[2]: diffie-hellman-group14-sha256");
}

/// An sshd whose only host key is RSA, with these extra sshd_config lines.
fn rsa_target(b: &BastionBuilder, name: &str, extra: &str) -> (tests::Sshd, String) {
    let dir = b.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("host_rsa");
    let o = run(Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "3072", "-N", "", "-f"])
        .arg(&key));
    assert!(o.status.success(), "{}", stderr(&o));
    let sshd = tests::Sshd::start_with(
        &dir,
        &b.target_ca_pub(),
        &format!("HostKey {}\n{extra}", key.display()),
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (sshd, public.trim().to_string())
}

#[test]
fn old_fashioned_targets_are_reached_but_not_with_sha1_host_keys() {
    let b = BastionBuilder::new();
    // What an OpenSSH 7.x server would offer: RSA host key only, finite-field Diffie-Hellman,
    // CTR and encrypt-and-MAC.
    let (old, old_key) = rsa_target(
        &b,
        "old",
        "HostKeyAlgorithms rsa-sha2-512,rsa-sha2-256\nKexAlgorithms diffie-hellman-group16-sha512\n\
         Ciphers aes128-ctr\nMACs hmac-sha2-256",
    );
    let (sha1, sha1_key) = rsa_target(&b, "sha1", "HostKeyAlgorithms ssh-rsa");
    let target = |name: &str, sshd: &tests::Sshd, key: &str| {
        format!(
            "name = \"{name}\"\nhost = \"127.0.0.1\"\nport = {}\nhost_key = \"{key}\"\ndefault_login = \"root\"",
            sshd.port
        )
    };
    let bastion = b
        .section("targets", &target("old", &old, &old_key))
        .section("targets", &target("sha1", &sha1, &sha1_key))
        .role(crate::fixture::OPS_ROLE)
        .start();
    let alice = bastion.user("alice@example.test", "ops");

    let o = run(&mut alice.ssh("old@127.0.0.1", &["echo ok"]));
    assert!(o.status.success(), "{}\n{}", stderr(&o), bastion.log());
    assert_eq!(stdout(&o), "ok\n");

    let o = run(&mut alice.ssh("sha1@127.0.0.1", &["echo ok"]));
    assert!(
        !o.status.success(),
        "a target signing with ssh-rsa was used"
    );
    assert!(!stdout(&o).contains("ok"), "{}", stdout(&o));
    // The user is told why: no host key algorithm in common, the target offering ssh-rsa.
    assert!(
        stderr(&o).contains("target \"sha1\"") && stderr(&o).contains("\"ssh-rsa\""),
        "{}",
        stderr(&o)
    );
}
