//! `bastion quickstart`: keys, config, a certificate for the user's key, a demo target, and a
//! working ssh command (issue 2, item 10).

use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{bastion_bin, free_port, keygen, read, run, stderr, stdout, wait_for};

#[test]
fn quickstart_serves_a_demo_target() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("me");
    keygen(&key);
    // A certificate the user already has beside the key stays as it is.
    let own = dir.path().join("me-cert.pub");
    std::fs::write(&own, "the user's own certificate\n").unwrap();
    let port = free_port();
    let log = dir.path().join("quickstart.log");
    let mut child = Command::new(bastion_bin())
        .args(["quickstart", "--dir"])
        .arg(dir.path().join("dev"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--key"])
        .arg(key.with_extension("pub"))
        .env("USER", "root")
        .stdout(std::fs::File::create(dir.path().join("quickstart.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let up = wait_for(Duration::from_secs(20), || {
        read(&log).contains("bastion listening").then_some(())
    });
    if up.is_none() {
        let _ = child.kill();
        panic!("quickstart did not serve: {}", read(&log));
    }
    let printed = read(&dir.path().join("quickstart.out"));
    assert!(printed.contains(&format!("ssh -p {port}")), "{printed}");
    assert!(printed.contains("root@demo@127.0.0.1"), "{printed}");
    let cert = dir.path().join("dev/user-cert.pub");
    assert!(
        printed.contains(&format!("CertificateFile={}", cert.display())),
        "{printed}"
    );
    assert_eq!(read(&own), "the user's own certificate\n");
    let ssh = |args: &[&str]| {
        run(Command::new("ssh")
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
                "-o",
                "LogLevel=ERROR",
                "-i",
            ])
            .arg(&key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .args(["-p", &port.to_string()])
            .args(args))
    };
    let o = ssh(&["root@demo@127.0.0.1", "echo hello from demo; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello from demo\n");
    let o = ssh(&["-tt", "demo@127.0.0.1", "tty"]);
    assert!(
        stdout(&o).contains("/dev/pts/"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    let _ = child.kill();
    let _ = child.wait();
    // Running it again keeps the keys.
    let before = std::fs::read(dir.path().join("dev/keys/user_ca")).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["quickstart", "--no-serve", "--dir"])
        .arg(dir.path().join("dev"))
        .arg("--key")
        .arg(key.with_extension("pub")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.path().join("dev/keys/user_ca")).unwrap(),
        before
    );
}

#[test]
fn local_demo_target_is_refused_without_dev_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[server]\nlisten = \"127.0.0.1:0\"\nhost_key = \"k\"\n[ca]\nuser_ca = \"u\"\ntarget_ca = \"t\"\n[[targets]]\nname = \"demo\"\nkind = \"local-demo\"\n";
    std::fs::write(dir.path().join("b.toml"), text).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["serve", "--config"])
        .arg(dir.path().join("b.toml")));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("refused unless [dev] allow_local_demo = true"),
        "{}",
        stderr(&o)
    );
}
