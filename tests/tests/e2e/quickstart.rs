//! `bastion quickstart`: keys, config, a certificate for the user's key, a demo target, and a
//! working ssh command (issue 2, item 10).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{bastion_bin, free_port_pair, keygen, read, run, stderr, stdout, wait_for};

#[test]
fn quickstart_serves_a_demo_target() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("me");
    keygen(&key);
    // A certificate the user already has beside the key stays as it is.
    let own = dir.path().join("me-cert.pub");
    std::fs::write(&own, "the user's own certificate\n").unwrap();
    let port = free_port_pair();
    let log = dir.path().join("quickstart.log");
    let serving = serve(
        &dir.path().join("dev"),
        &key,
        port,
        &dir.path().join("quickstart.out"),
        &log,
    );
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
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}\nquickstart's log:\n{}",
        stderr(&o),
        read(&log)
    );
    assert_eq!(stdout(&o), "hello from demo\n");
    let o = ssh(&["-tt", "demo@127.0.0.1", "tty"]);
    assert!(
        stdout(&o).contains("/dev/pts/"),
        "{} {}",
        stdout(&o),
        stderr(&o)
    );
    drop(serving);
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

/// The port after SSH's, where quickstart puts its API, is taken by another program: quickstart
/// serves anyway, with its API on another port, and says where.
#[test]
fn quickstart_serves_when_the_api_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("me");
    keygen(&key);
    let port = free_port_pair();
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", port + 1)).unwrap();
    let log = dir.path().join("quickstart.log");
    let out = dir.path().join("quickstart.out");
    let _serving = serve(&dir.path().join("dev"), &key, port, &out, &log);
    let printed = read(&out);
    assert!(
        printed.contains(&format!("127.0.0.1:{} is taken", port + 1)),
        "{printed}"
    );
    let metrics = printed
        .lines()
        .find_map(|l| l.strip_prefix("Metrics: curl "))
        .unwrap_or_else(|| panic!("{printed}"))
        .to_string();
    assert!(!metrics.contains(&format!(":{}/", port + 1)), "{metrics}");
    let o = run(Command::new("curl").args(["-sf", &metrics]));
    assert!(
        stdout(&o).contains("# TYPE bastion_sessions gauge"),
        "{}",
        stderr(&o)
    );
}

/// Starts `bastion quickstart --dir DEV --listen 127.0.0.1:PORT --key KEY.pub` (as USER root),
/// its output in `out` and its log in `log`, and waits until it serves.
fn serve(dev: &Path, key: &Path, port: u16, out: &Path, log: &Path) -> Stop {
    let serving = Stop(
        Command::new(bastion_bin())
            .args(["quickstart", "--dir"])
            .arg(dev)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--key"])
            .arg(key.with_extension("pub"))
            .env("USER", "root")
            .stdout(std::fs::File::create(out).unwrap())
            .stderr(std::fs::File::create(log).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = wait_for(Duration::from_secs(20), || {
        read(log).contains("bastion listening").then_some(())
    });
    assert!(up.is_some(), "quickstart did not serve: {}", read(log));
    serving
}

/// A quickstart serving; stopped when dropped, whatever the test's outcome.
struct Stop(std::process::Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A printed command as a shell runs it, with no ssh configuration file or agent of this
/// machine's user (the printed options alone must be enough).
fn printed_command(line: &str) -> Command {
    let line = line.trim().replacen(
        "ssh ",
        "ssh -F /dev/null -o IdentityAgent=none -o BatchMode=yes ",
        1,
    );
    let mut c = Command::new("sh");
    c.arg("-c").arg(line).stdin(Stdio::null());
    c
}

/// Issue 19, item 4: `--listen` holds over an existing dev directory; the printed commands
/// work as printed, trusting the bastion through the dev directory's own known_hosts (nothing
/// written to ~/.ssh); `/metrics` answers on loopback; a reviewer approves a held command.
#[test]
fn quickstart_commands_work_as_printed_and_an_approval_can_be_tried() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    let key = dir.path().join("me");
    keygen(&key);
    let home_known = std::path::PathBuf::from(std::env::var("HOME").unwrap_or("/root".into()))
        .join(".ssh/known_hosts");
    let known_before = std::fs::read(&home_known).ok();
    // An earlier run made the directory for another port.
    let first = free_port_pair();
    let o = run(Command::new(bastion_bin())
        .args(["quickstart", "--no-serve", "--dir"])
        .arg(&dev)
        .args(["--listen", &format!("127.0.0.1:{first}"), "--key"])
        .arg(key.with_extension("pub")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("StrictHostKeyChecking"),
        "{}",
        stdout(&o)
    );

    let port = free_port_pair();
    let out = dir.path().join("quickstart.out");
    let log = dir.path().join("quickstart.log");
    let child = serve(&dev, &key, port, &out, &log);
    let printed = read(&out);
    assert!(
        printed.contains(&format!(
            "serving on 127.0.0.1:{port} (--listen), not on 127.0.0.1:{first} as {} says",
            dev.join("bastion.toml").display()
        )),
        "{printed}"
    );
    assert!(
        read(&log).contains(&format!("address=127.0.0.1:{port}")),
        "{}",
        read(&log)
    );
    let lines: Vec<&str> = printed.lines().collect();
    let after = |heading: &str| {
        let at = lines
            .iter()
            .position(|l| l.starts_with(heading))
            .unwrap_or_else(|| panic!("no {heading:?} in {printed}"));
        lines[at + 1..].to_vec()
    };
    let try_it = after("Try it:")[0];
    assert!(
        try_it.contains(&format!(
            "-o UserKnownHostsFile={}",
            dev.join("known_hosts").display()
        )),
        "{try_it}"
    );
    let o = run(&mut printed_command(&format!(
        "{try_it} 'echo hello from demo; exit 4'"
    )));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hello from demo\n");

    // Metrics on loopback, on the port after the SSH one.
    let metrics = format!("http://127.0.0.1:{}/metrics", port + 1);
    assert!(
        printed.contains(&format!("Metrics: curl {metrics}")),
        "{printed}"
    );
    let o = run(Command::new("curl").args(["-sf", &metrics]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("# TYPE bastion_sessions gauge"),
        "{}",
        stdout(&o)
    );

    // The approval, as printed: the user's command waits, the reviewer lists and approves.
    let approval = after("Try an approval:");
    let (held, list, approve) = (approval[0], approval[2], approval[3]);
    let user = printed_command(held)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for(Duration::from_secs(20), || {
        let o = run(&mut printed_command(list));
        let text = stdout(&o);
        (text.contains("demo-deploy") && text.contains("root@quickstart")).then(|| {
            text.lines()
                .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                .next()
        })?
    })
    .unwrap_or_else(|| panic!("never listed: {}", stdout(&run(&mut printed_command(list)))));
    let approve = approve.replacen("approve 1 ", &format!("approve {id} "), 1);
    let o = run(&mut printed_command(&approve));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = user.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "deploy finished\n");
    assert!(stderr(&o).contains("held for approval"), "{}", stderr(&o));
    drop(child);
    assert_eq!(std::fs::read(&home_known).ok(), known_before);
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
