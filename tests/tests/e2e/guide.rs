//! The operator guide, run as written (issue 19, item 3): every block of
//! `docs/operator-guide.md` marked as a step runs, in order, against a real sshd this test
//! starts; a step that fails fails the test, so the guide cannot drift from the bastion.
//!
//! Blocks: ```` ```sh step ```` runs with bash (`-e -o pipefail`) in the user's directory and
//! must exit 0 (`expect=N`: N); ```` ```sh step background ```` starts `bastion serve` and
//! waits for it to listen; ```` ```toml file=PATH ```` writes PATH; ```` ```text sshd_config ````
//! is the target's sshd configuration (after the lines only a test needs: address, port, host
//! key, no PAM), and the target starts there. Before running, a block's text has these
//! replaced, and nothing else: `/etc/bastion` and `/etc/ssh` by temporary directories,
//! `bastion.example.com` and `db1.internal` by 127.0.0.1, the ports 2222 and 22 by free ones.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tests::{bastion_bin, free_port, keygen, read, run, stderr, stdout, wait_for};

/// A fenced block: its info string (after the backticks) and its text.
struct Block {
    info: String,
    text: String,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    text: String::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// Kills a process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_operator_guide_works_as_written() {
    crate::fixture::ensure_login("deploy");
    let guide_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operator-guide.md");
    let guide = read(&guide_path);
    let tmp = tempfile::Builder::new()
        .prefix("bastion-guide-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let user_dir = root.join("alice");
    std::fs::create_dir_all(&user_dir).unwrap();
    let (bastion_port, target_port) = (free_port(), free_port());
    let subst = |text: &str| -> String {
        text.replace("/etc/bastion", &format!("{}/etc/bastion", root.display()))
            .replace("/etc/ssh", &format!("{}/target/etc/ssh", root.display()))
            .replace("-p 22 db1.internal", &format!("-p {target_port} 127.0.0.1"))
            .replace("port = 22\n", &format!("port = {target_port}\n"))
            .replace("db1.internal", "127.0.0.1")
            .replace("0.0.0.0:2222", &format!("127.0.0.1:{bastion_port}"))
            .replace("2222", &bastion_port.to_string())
            .replace("bastion.example.com", "127.0.0.1")
    };
    let path = format!(
        "{}:{}",
        bastion_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let shell = |text: &str| {
        let mut c = Command::new("bash");
        c.args(["-e", "-o", "pipefail", "-c", text])
            .current_dir(&user_dir)
            .env("PATH", &path)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("BASTION_CONFIG")
            .stdin(Stdio::null());
        c
    };
    let mut target: Option<Running> = None;
    let mut bastion: Option<(Running, PathBuf)> = None;
    let mut said = String::new();
    let mut steps = 0;
    for block in blocks(&guide) {
        let info: Vec<&str> = block.info.split_whitespace().collect();
        match info.as_slice() {
            ["text", "sshd_config"] => {
                let dir = root.join("target");
                std::fs::create_dir_all(&dir).unwrap();
                let host_key = dir.join("ssh_host_ed25519_key");
                keygen(&host_key);
                let _ = std::fs::create_dir_all("/run/sshd");
                let config = dir.join("sshd_config");
                std::fs::write(
                    &config,
                    format!(
                        "ListenAddress 127.0.0.1\nPort {target_port}\nHostKey {}\nPidFile {}/sshd.pid\n\
                         UsePAM no\nStrictModes no\nPasswordAuthentication no\nLogLevel VERBOSE\n{}",
                        host_key.display(),
                        dir.display(),
                        subst(&block.text)
                    ),
                )
                .unwrap();
                let log = dir.join("sshd.log");
                let child = Command::new("/usr/sbin/sshd")
                    .args(["-D", "-e", "-f"])
                    .arg(&config)
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap();
                target = Some(Running(child));
                wait_for(Duration::from_secs(10), || {
                    read(&log).contains("Server listening").then_some(())
                })
                .unwrap_or_else(|| panic!("the guide's sshd_config: {}", read(&log)));
            }
            ["toml", file] if file.starts_with("file=") => {
                let path = PathBuf::from(subst(&file["file=".len()..]));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, subst(&block.text)).unwrap();
            }
            ["sh", "step", "background"] => {
                steps += 1;
                let log = root.join("serve.log");
                let child = shell(&subst(&block.text))
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap();
                let running = Running(child);
                wait_for(Duration::from_secs(20), || {
                    read(&log).contains("bastion listening").then_some(())
                })
                .unwrap_or_else(|| panic!("step\n{}\ndid not serve: {}", block.text, read(&log)));
                bastion = Some((running, log));
            }
            ["sh", "step", rest @ ..] => {
                steps += 1;
                let expect = match rest {
                    [] => 0,
                    [e] if e.starts_with("expect=") => e["expect=".len()..].parse().unwrap(),
                    _ => panic!("unknown step kind: {}", block.info),
                };
                // A reader of the guide runs each step well after the one before; the bastion
                // seals a channel's recording a moment after its client has gone, so a
                // recording the previous step made is waited for before the next one reads it.
                if let Some((_, log)) = &bastion {
                    wait_for(Duration::from_secs(10), || {
                        let text = read(log);
                        (text.matches("recording sealed").count()
                            >= text.matches(": recording path=").count())
                        .then_some(())
                    })
                    .unwrap_or_else(|| panic!("recordings not sealed:\n{}", read(log)));
                }
                let o = run(&mut shell(&subst(&block.text)));
                assert_eq!(
                    o.status.code(),
                    Some(expect),
                    "the guide's step\n{}\nexited {:?} (want {expect}):\n{}{}\nbastion log:\n{}",
                    block.text,
                    o.status.code(),
                    stdout(&o),
                    stderr(&o),
                    bastion.as_ref().map(|(_, l)| read(l)).unwrap_or_default()
                );
                said.push_str(&stdout(&o));
                said.push_str(&stderr(&o));
            }
            _ => {}
        }
    }
    assert!(
        target.is_some(),
        "the guide never configures a target's sshd"
    );
    assert!(bastion.is_some(), "the guide never starts the bastion");
    assert!(steps >= 10, "only {steps} steps");
    // What the steps printed, beyond their exit status.
    for want in [
        "hello from db1",
        "db1     deploy  deploy   shell,exec,sftp",
        "revoked key id \"alice@example.com\"",
        "this certificate was revoked",
    ] {
        assert!(
            said.contains(want),
            "{want:?} not in what the steps printed:\n{said}"
        );
    }
}
