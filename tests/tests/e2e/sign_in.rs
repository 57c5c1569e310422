//! Signing in without a certificate: device login from plain `ssh` (keyboard-interactive shows
//! the provider's URL and code), and `bastion login --browser` (auth code + PKCE, loopback
//! redirect), each against the real OpenID provider.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use tests::{audit_json, run, stderr, stdout, OpenIdProvider, User};

use crate::identity::world_with;

/// `ssh` as a user who has no key at all: only keyboard-interactive is left.
fn plain_ssh(port: u16, dest: &str, command: &str, err: &Path) -> Child {
    Command::new("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "IdentityAgent=none",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-p",
        ])
        .arg(port.to_string())
        .arg(dest)
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(err).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn plain_ssh_user_signs_in_through_the_device_prompt() {
    crate::fixture::ensure_test_login();
    let w = world_with("");
    let err = w.bastion.dir.path().join("ssh.err");
    let child = plain_ssh(
        w.bastion.port,
        "t1@127.0.0.1",
        "echo via-device $(whoami)",
        &err,
    );
    let code = tests::oidc::shown_user_code(&err);
    let shown = std::fs::read_to_string(&err).unwrap();
    assert!(
        shown.contains(&format!("To sign in, open {}/device", w.op.issuer)),
        "{shown}"
    );
    // The username claim is the holder's own login, which the ops role allows.
    let claims = serde_json::json!({ "groups": ["ops"] });
    w.op.confirm_device_as(&code, "bastion-e2e", &claims);
    let out = child.wait_with_output().unwrap();
    let err_text = std::fs::read_to_string(&err).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err_text}");
    assert_eq!(stdout(&out), "via-device bastion-e2e\n", "{err_text}");
    // The sign-in is an issuance row like a certificate's, and the session names it.
    let config = &w.bastion.config;
    let certs = audit_json(config, "certs", &[]);
    let row = certs
        .iter()
        .find(|c| c["source"] == "ssh-device")
        .unwrap_or_else(|| panic!("no ssh-device row: {certs:?}"));
    assert_eq!(row["key_id"], "bastion-e2e@example.test", "{row}");
    let sessions = audit_json(config, "sessions", &[]);
    assert!(
        sessions
            .iter()
            .any(|s| s["identity"] == "bastion-e2e@example.test" && s["serial"] == row["serial"]),
        "{sessions:?}"
    );

    // Revoked: the next device login is refused with the reason.
    let o = run(Command::new(tests::bastion_bin())
        .args([
            "ca",
            "revoke",
            "--key-id",
            "bastion-e2e@example.test",
            "--config",
        ])
        .arg(config));
    assert!(o.status.success(), "{}", stderr(&o));
    let child = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo no", &err);
    let code = tests::oidc::shown_user_code(&err);
    w.op.confirm_device_as(&code, "bastion-e2e", &claims);
    let out = child.wait_with_output().unwrap();
    let err_text = std::fs::read_to_string(&err).unwrap();
    assert_eq!(out.status.code(), Some(255), "{err_text}");
    assert!(stdout(&out).is_empty());
    assert!(
        err_text.contains("bastion: access revoked for \"bastion-e2e@example.test\""),
        "{err_text}"
    );
}

#[test]
fn device_prompt_denied_or_timed_out_says_so() {
    let w = world_with("device_login_timeout = \"4s\"");
    let err = w.bastion.dir.path().join("ssh.err");
    let child = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo no", &err);
    let code = tests::oidc::shown_user_code(&err);
    w.op.deny_device(&code);
    let out = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(&err).unwrap();
    assert_eq!(out.status.code(), Some(255), "{text}");
    assert!(text.contains("bastion: the sign-in was denied"), "{text}");
    // No second code: the client is not offered keyboard-interactive again.
    assert_eq!(text.matches("enter the code").count(), 1, "{text}");

    let child = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo no", &err);
    tests::oidc::shown_user_code(&err);
    let out = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(&err).unwrap();
    assert_eq!(out.status.code(), Some(255), "{text}");
    assert!(
        text.contains("bastion: nobody signed in within 4s"),
        "{text}"
    );
    // Refused authentications are written in the background.
    let reasons = ["device-denied", "device-timeout"];
    let auth = tests::wait_for(std::time::Duration::from_secs(20), || {
        let a = audit_json(&w.bastion.config, "auth", &[]);
        reasons
            .iter()
            .all(|reason| a.iter().any(|r| r["reason"] == *reason))
            .then_some(a)
    })
    .unwrap_or_else(|| audit_json(&w.bastion.config, "auth", &[]));
    for reason in reasons {
        assert!(
            auth.iter()
                .any(|a| a["reason"] == reason && a["accepted"] == false),
            "{reason}: {auth:?}"
        );
    }
}

#[test]
fn waiting_device_logins_are_limited_per_source_and_hold_no_unauthenticated_place() {
    let w = crate::identity::world_with_server(
        "device_login_max_per_source = 1",
        "max_unauthenticated = 1",
    );
    let err_a = w.bastion.dir.path().join("a.err");
    let a = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo a", &err_a);
    let code_a = tests::oidc::shown_user_code(&err_a);
    // A second sign-in from the same address while the first waits: refused at once, before
    // the provider is asked for a code.
    let err_b = w.bastion.dir.path().join("b.err");
    let out = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo b", &err_b)
        .wait_with_output()
        .unwrap();
    let text = std::fs::read_to_string(&err_b).unwrap();
    assert_eq!(out.status.code(), Some(255), "{text}");
    assert!(
        text.contains(
            "bastion: sign-in refused: 1 sign-in is already waiting from your address; finish \
             it first"
        ),
        "{text}"
    );
    assert!(!text.contains("enter the code"), "{text}");
    // The waiting sign-in does not hold the only unauthenticated place: a certificate holder
    // still gets in.
    let alice = w.bastion.user("alice@example.test", "ops");
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo cert-in"]));
    assert_eq!(stdout(&o), "cert-in\n", "{}", stderr(&o));
    // Once the first sign-in is over, the address may start another.
    w.op.deny_device(&code_a);
    let out = a.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err_c = w.bastion.dir.path().join("c.err");
    let mut c = plain_ssh(w.bastion.port, "t1@127.0.0.1", "echo c", &err_c);
    tests::oidc::shown_user_code(&err_c);
    let _ = c.kill();
    let _ = c.wait();
    let busy = tests::wait_for(std::time::Duration::from_secs(20), || {
        audit_json(&w.bastion.config, "auth", &[])
            .into_iter()
            .find(|r| r["reason"] == "device-busy")
    });
    assert!(
        busy.is_some_and(|r| r["accepted"] == false),
        "{:?}",
        audit_json(&w.bastion.config, "auth", &[])
    );
}

#[test]
fn bastion_login_in_a_browser_with_pkce() {
    let w = world_with("");
    let dir = w.bastion.dir.path().join("browser");
    let login = |deny: bool| {
        let mut c = Command::new(tests::bastion_bin());
        c.args(["login", "--browser", "--server", &w.api, "--dir"])
            .arg(&dir)
            .env("BROWSER", OpenIdProvider::browser())
            .env("OIDC_SUB", "alice")
            .env_remove("SSH_AUTH_SOCK");
        if deny {
            c.env("OIDC_DENY", "1");
        }
        run(&mut c)
    };
    let o = login(false);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("{}/auth?", w.op.issuer))
            && stdout(&o).contains("signed in as alice@example.test"),
        "{}",
        stdout(&o)
    );
    let user = User {
        key: dir.join("id_ed25519"),
        cert: dir.join("id_ed25519-cert.pub"),
        port: w.bastion.port,
    };
    let o = run(&mut user.ssh("t1@127.0.0.1", &["echo via-browser"]));
    assert_eq!(stdout(&o), "via-browser\n", "{}", stderr(&o));
    // Declined at the provider: a clear error, nothing issued.
    let before = audit_json(&w.bastion.config, "certs", &[]).len();
    let o = login(true);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("the sign-in was denied"),
        "{}",
        stderr(&o)
    );
    assert_eq!(audit_json(&w.bastion.config, "certs", &[]).len(), before);
}
