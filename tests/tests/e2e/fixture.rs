//! The usual world: one sshd target `t1`, a role `ops` that may use it, and a user alice.

use std::process::Command;

use tests::{run, stderr, Bastion, BastionBuilder, Sshd, User};

pub const OPS_ROLE: &str = "name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\", \"bastion-e2e\"]\nallow = [\"shell\", \"exec\", \"sftp\"]";

pub struct World {
    pub bastion: Bastion,
    pub sshd: Sshd,
    pub alice: User,
}

/// One target, the ops role, alice; `role_extra` is appended to the role.
pub fn world_with(role_extra: &str, server: &str) -> World {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .server(server)
        .target("t1", &sshd, "labels = { env = \"test\" }")
        .role(&format!("{OPS_ROLE}\n{role_extra}"))
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    World {
        bastion,
        sshd,
        alice,
    }
}

pub fn world() -> World {
    world_with("", "")
}

/// A key with a certificate from the target CA for `root`: logs in to the sshd directly, so a
/// test can compare the bastion with plain OpenSSH.
pub fn direct_ssh(w: &World, args: &[&str]) -> Command {
    let key = w.bastion.dir.path().join("direct");
    if !key.exists() {
        tests::keygen(&key);
        let o = run(Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(w.bastion.dir.path().join("keys/target_ca"))
            .args(["-I", "direct", "-n", "root", "-V", "-5m:+1h"])
            .arg(key.with_extension("pub")));
        assert!(o.status.success(), "{}", stderr(&o));
    }
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
    ])
    .args([
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "BatchMode=yes",
        "-i",
    ])
    .arg(&key)
    .args(["-p", &w.sshd.port.to_string(), "root@127.0.0.1"])
    .args(args);
    c
}

/// A second login on the target host, with a shell (created once; tests run as root).
pub fn ensure_test_login() {
    ensure_login("bastion-e2e");
}

/// A login `name` on the target host, with a shell (created once; tests run as root).
pub fn ensure_login(name: &str) {
    if !run(Command::new("id").arg(name)).status.success() {
        let o = run(Command::new("useradd").args(["-m", "-s", "/bin/sh", name]));
        assert!(
            o.status.success() || run(Command::new("id").arg(name)).status.success(),
            "useradd: {}",
            stderr(&o)
        );
    }
    // A locked account ("!" password) is refused by sshd without PAM; "*" is unlocked but
    // has no password.
    let o = run(Command::new("usermod").args(["-p", "*", name]));
    assert!(o.status.success(), "usermod: {}", stderr(&o));
}
