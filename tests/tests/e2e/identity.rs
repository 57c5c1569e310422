//! Identity (issue 4): a real OpenID provider's token → the HTTP API → a certificate that real
//! `ssh` uses through the bastion; a revoked serial is refused at authentication.
//!
//! Needs `serve` to start the API (`api::start`) and the gateway to call
//! `AuditStore::is_revoked`.

use std::process::Command;

use tests::{keygen, run, stderr, stdout, Bastion, BastionBuilder, OpenIdProvider, Sshd, User};

use crate::fixture::OPS_ROLE;

struct World {
    bastion: Bastion,
    _sshd: Sshd,
    op: OpenIdProvider,
    api: String,
}

fn world() -> World {
    let op = OpenIdProvider::start();
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .server("api_listen = \"127.0.0.1:0\"")
        .section_table(
            "oidc",
            &format!(
                "issuer = \"{}\"\nclient_id = \"{}\"\nusername_claim = \"preferred_username\"",
                op.issuer,
                tests::oidc::PUBLIC_CLIENT
            ),
        )
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .start();
    let log = bastion.wait_log("api listening");
    let addr = log
        .lines()
        .find(|l| l.contains("api listening"))
        .and_then(|l| l.split("address=").nth(1))
        .and_then(|a| a.split_whitespace().next())
        .unwrap()
        .to_string();
    World {
        bastion,
        _sshd: sshd,
        op,
        api: format!("http://{addr}"),
    }
}

/// A fresh key, certified by the API for `token`; returns the user and the API's answer.
fn certify(w: &World, name: &str, token: &str) -> (User, serde_json::Value) {
    let key = w.bastion.dir.path().join(name);
    keygen(&key);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let body = serde_json::json!({ "public_key": public.trim() }).to_string();
    let o = run(Command::new("curl")
        .args(["-sS", "-X", "POST", "-H", "Content-Type: application/json"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg("--data-binary")
        .arg(&body)
        .arg(format!("{}/v1/certificates", w.api)));
    assert!(o.status.success(), "curl: {}", stderr(&o));
    let answer: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let cert = w.bastion.dir.path().join(format!("{name}-cert.pub"));
    if let Some(c) = answer["certificate"].as_str() {
        std::fs::write(&cert, format!("{c}\n")).unwrap();
    }
    (
        User {
            key,
            cert,
            port: w.bastion.port,
        },
        answer,
    )
}

#[test]
fn device_flow_token_to_certificate_to_ssh() {
    let w = world();
    let token = w.op.id_token("alice");
    let (alice, answer) = certify(&w, "alice", &token);
    assert_eq!(answer["key_id"], "alice@example.test", "{answer}");
    assert_eq!(answer["principals"], serde_json::json!(["ops"]));
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["id -un"]));
    assert!(o.status.success(), "{}\n{}", stderr(&o), w.bastion.log());
    assert_eq!(stdout(&o), "root\n");
    let log = w.bastion.wait_log("authenticated");
    assert!(log.contains("identity=alice@example.test"), "{log}");

    // The issuance is in the audit store.
    let o = run(Command::new(tests::bastion_bin())
        .args(["audit", "certs", "--json", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(answer["serial"].as_str().unwrap()),
        "{}",
        stdout(&o)
    );
}

#[test]
fn revoked_serial_is_refused_at_authentication() {
    let w = world();
    let token = w.op.id_token("alice");
    let (alice, answer) = certify(&w, "alice", &token);
    let serial = answer["serial"].as_str().unwrap().to_string();
    assert!(run(&mut alice.ssh("t1@127.0.0.1", &["true"]))
        .status
        .success());

    let o = run(Command::new(tests::bastion_bin())
        .args([
            "ca",
            "revoke",
            "--serial",
            &serial,
            "--reason",
            "lost laptop",
            "--config",
        ])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["true"]));
    assert!(!o.status.success(), "a revoked certificate got in");
    let log = w.bastion.wait_log("revoked");
    assert!(
        log.contains(&serial) || log.contains("alice@example.test"),
        "{log}"
    );

    // A new certificate for the same identity still works (only the serial was revoked)...
    let (again, _) = certify(&w, "alice2", &token);
    assert!(run(&mut again.ssh("t1@127.0.0.1", &["true"]))
        .status
        .success());
    // ...until the identity is revoked: then none is issued.
    let o = run(Command::new(tests::bastion_bin())
        .args(["ca", "revoke", "--key-id", "alice@example.test", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!run(&mut again.ssh("t1@127.0.0.1", &["true"]))
        .status
        .success());
    let (_, refused) = certify(&w, "alice3", &token);
    assert_eq!(refused["error"], "revoked", "{refused}");
}
