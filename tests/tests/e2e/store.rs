//! Recordings in an object store (issue 18): a real Garage server, the bastion's spool
//! emptied into it, and an auditor who reads it with read-only credentials from a directory
//! that holds nothing of the bastion's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tests::{
    audit_json, bastion_bin, casts, run, stderr, stdout, wait_for, Bastion, BastionBuilder, Garage,
    Tmux, User,
};

use crate::fixture::OPS_ROLE;

struct Fleet {
    bastion: Bastion,
    _sshd: tests::Sshd,
    alice: User,
    api: String,
}

fn bastion_with_store(garage: &Garage, recording: &str) -> Fleet {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let lines = format!("{}{recording}", garage.recording_lines("fleet"));
    let bastion = b
        .server("api_listen = \"127.0.0.1:0\"")
        .section_table("recording", &lines)
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    let api = bastion.api();
    Fleet {
        bastion,
        _sshd: sshd,
        alice,
        api,
    }
}

/// An auditor's directory: a configuration with only `[recording]` (the store, read-only
/// credentials) and the recording key's public half. Nothing of the bastion's.
struct Auditor {
    dir: tempfile::TempDir,
}

impl Auditor {
    fn new(garage: &Garage, bastion: &Bastion) -> Auditor {
        let dir = tempfile::Builder::new()
            .prefix("auditor-")
            .tempdir()
            .unwrap();
        std::fs::copy(
            bastion.dir.path().join("keys/recording_ed25519.pub"),
            dir.path().join("recording.pub"),
        )
        .unwrap();
        std::fs::copy(&garage.reader, dir.path().join("reader.env")).unwrap();
        std::fs::write(
            dir.path().join("auditor.toml"),
            format!(
                "[recording]\nstore = \"s3://recordings/fleet\"\nstore_endpoint = \"{}\"\n\
                 store_region = \"garage\"\nstore_path_style = true\n\
                 store_credentials = \"reader.env\"\n",
                garage.endpoint()
            ),
        )
        .unwrap();
        Auditor { dir }
    }

    /// SHA-256 and length of what `bastion play --cat --raw` gives back for `url`.
    fn replay(&self, url: &str) -> (String, u64) {
        sha256_of_command(
            Command::new(bastion_bin())
                .current_dir(self.dir.path())
                .args(["play", "--cat", "--raw", url])
                .args(["--config", "auditor.toml", "--key", "recording.pub"]),
        )
    }

    fn bastion(&self, args: &[&str]) -> std::process::Output {
        run(Command::new(bastion_bin())
            .current_dir(self.dir.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(args)
            .args(["--config", "auditor.toml", "--key", "recording.pub"]))
    }
}

/// The store address of a recording the bastion wrote at `cast` in its spool.
fn address(bastion: &Bastion, cast: &Path) -> String {
    let rel = cast
        .strip_prefix(bastion.dir.path().join("recordings"))
        .unwrap();
    format!("s3://recordings/fleet/{}", rel.display())
}

/// Waits until the spool holds no recording (all went to the store).
fn spool_empty(bastion: &Bastion, within: Duration) {
    let dir = bastion.dir.path().join("recordings");
    let empty = wait_for(within, || casts(&dir).is_empty().then_some(()));
    assert!(
        empty.is_some(),
        "recordings stayed in the spool: {:?}\n{}",
        casts(&dir),
        bastion.log()
    );
}

fn metrics(f: &Fleet) -> String {
    stdout(&run(Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("{}/metrics", f.api))))
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn sha256_of_command(cmd: &mut Command) -> (String, u64) {
    let o = run(cmd);
    assert!(o.status.success(), "{}", stderr(&o));
    let digest = ring::digest::digest(&ring::digest::SHA256, &o.stdout);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    (hex, o.stdout.len() as u64)
}

/// A 200 MiB exec stream and an interactive session go to the store; an auditor with read
/// credentials only verifies and replays both from there, byte for byte, after the bastion's
/// spool is gone.
#[test]
fn recordings_go_to_the_store_and_an_auditor_replays_them_with_read_only_credentials() {
    let garage = Garage::launch();
    let f = bastion_with_store(
        &garage,
        "max_channel_bytes = 268435456\nupload_every = \"1s\"\n",
    );
    let stream = "yes abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c 209715200";
    let (sent, n) = sha256_of_command(&mut f.alice.ssh("t1@127.0.0.1", &[stream]));
    assert_eq!(n, 200 << 20);
    let t = Tmux::start(&f.alice.remote_bash("t1@127.0.0.1"), 100, 30);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    t.type_text("echo interactive-$((6*7))\r");
    t.wait_for("interactive-42", Duration::from_secs(10));
    t.type_text("exit\r");
    t.wait_for("SSH-EXIT=0", Duration::from_secs(10));
    let channels = audit_json(&f.bastion.config, "channels", &[]);
    assert_eq!(channels.len(), 2, "{channels:?}");
    spool_empty(&f.bastion, Duration::from_secs(120));
    // Every row names its object.
    let channels = audit_json(&f.bastion.config, "channels", &[]);
    let urls: Vec<String> = channels
        .iter()
        .map(|c| c["recording_url"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        urls.iter().all(|u| u.starts_with("s3://recordings/fleet/")),
        "{channels:?}"
    );
    // The gauges follow within a second or two of the spool.
    let m = wait_for(Duration::from_secs(10), || {
        let m = metrics(&f);
        (metric(&m, "bastion_spool_pending_recordings") == 0).then_some(m)
    })
    .unwrap_or_else(|| panic!("{}", metrics(&f)));
    assert!(metric(&m, "bastion_store_objects_total") >= 4, "{m}");
    assert!(metric(&m, "bastion_store_bytes_total") >= 200 << 20, "{m}");
    // Nothing of the bastion's spool is read: it is gone.
    std::fs::remove_dir_all(f.bastion.dir.path().join("recordings")).unwrap();
    let auditor = Auditor::new(&garage, &f.bastion);
    let is_stream =
        |c: &&serde_json::Value| c["command"].as_str().is_some_and(|c| c.starts_with("yes"));
    let exec = channels.iter().find(is_stream).unwrap();
    let exec_url = exec["recording_url"].as_str().unwrap();
    let v = auditor.bastion(&["verify", exec_url]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    assert!(stdout(&v).contains("OK"), "{}", stdout(&v));
    assert_eq!(auditor.replay(exec_url), (sent, 200 << 20));
    // The interactive one: a terminal, typed keys, a prompt.
    let shell = channels.iter().find(|c| !is_stream(c)).unwrap();
    assert!(shell["pty"].is_object(), "{shell}");
    let shell_url = shell["recording_url"].as_str().unwrap();
    let p = auditor.bastion(&["play", "--cat", shell_url]);
    assert!(p.status.success(), "{}", stderr(&p));
    assert!(stdout(&p).contains("interactive-42"), "{}", stdout(&p));
    // By session id, from the audit database: the row names the object.
    let id = format!(
        "{}-{}",
        shell["session_id"].as_str().unwrap(),
        shell["channel"].as_u64().unwrap()
    );
    let p = run(Command::new(bastion_bin())
        .args(["play", "--cat", &id, "--config"])
        .arg(&f.bastion.config));
    assert!(
        stdout(&p).contains("interactive-42"),
        "{}{}",
        stdout(&p),
        stderr(&p)
    );
    let v = run(Command::new(bastion_bin())
        .args(["verify", shell["session_id"].as_str().unwrap(), "--config"])
        .arg(&f.bastion.config));
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    // The audit rows and the objects agree; then someone with the store's credentials replaces
    // one object with another and deletes a third: both are found.
    let a = run(Command::new(bastion_bin())
        .args(["audit", "recordings", "--config"])
        .arg(&f.bastion.config));
    assert!(a.status.success(), "{}{}", stdout(&a), stderr(&a));
    assert_eq!(stdout(&a).matches("OK     ").count(), 2, "{}", stdout(&a));
    assert!(stdout(&a).contains(shell_url), "{}", stdout(&a));
    let key = |url: &str| url.strip_prefix("s3://recordings/").unwrap().to_string();
    let copy = auditor.dir.path().join("shell.cast");
    let o = garage.curl(&key(shell_url), &["-o", copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = garage.curl(&key(exec_url), &["-T", copy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = garage.curl(&key(shell_url), &["-X", "DELETE"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = run(Command::new(bastion_bin())
        .args(["audit", "recordings", "--config"])
        .arg(&f.bastion.config));
    assert_eq!(a.status.code(), Some(1), "{}{}", stdout(&a), stderr(&a));
    let report = stdout(&a);
    let line = |url: &str| {
        report
            .lines()
            .find(|l| l.contains(url))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line(exec_url).starts_with("FAILED") && line(exec_url).contains("belongs to session"),
        "{report}"
    );
    assert!(
        line(shell_url).starts_with("FAILED") && line(shell_url).contains("missing"),
        "{report}"
    );
    // The auditor's key reads but cannot write or delete: the store enforces it.
    let o = garage.curl_as(&garage.reader, &key(exec_url), &["-o", "/dev/null"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = garage.curl_as(
        &garage.reader,
        &key(exec_url),
        &["-T", copy.to_str().unwrap()],
    );
    assert!(!o.status.success(), "the read-only key wrote");
    let o = garage.curl_as(&garage.reader, &key(exec_url), &["-X", "DELETE"]);
    assert!(!o.status.success(), "the read-only key deleted");
}

/// SIGKILL in the middle of a session: the store already has the recording up to the last
/// interval, and it verifies as far as it goes; the restarted bastion seals it as recovered
/// and sends the whole of it.
#[test]
fn a_killed_bastion_leaves_its_recording_in_the_store_up_to_the_last_interval() {
    let garage = Garage::launch();
    let mut f = bastion_with_store(&garage, "upload_every = \"1s\"\n");
    let mut ssh = f
        .alice
        .ssh(
            "t1@127.0.0.1",
            &["for i in $(seq 1 600); do echo line-$i; sleep 0.1; done"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let spool = f.bastion.dir.path().join("recordings");
    let cast: PathBuf = wait_for(Duration::from_secs(15), || casts(&spool).pop()).unwrap();
    let at = address(&f.bastion, &cast);
    let auditor = Auditor::new(&garage, &f.bastion);
    // Parts go up while it runs: wait until the store shows some ten lines.
    let seen = wait_for(Duration::from_secs(30), || {
        let p = auditor.bastion(&["play", "--cat", "--force", &at]);
        stdout(&p).contains("line-10\n").then_some(())
    });
    assert!(seen.is_some(), "no part in the store:\n{}", f.bastion.log());
    f.bastion.kill();
    let _ = ssh.kill();
    let _ = ssh.wait();
    // Before any restart: intact as far as it goes, not sealed.
    let v = auditor.bastion(&["verify", &at]);
    assert_eq!(v.status.code(), Some(1), "{}{}", stdout(&v), stderr(&v));
    assert!(
        stderr(&v).contains("put together from its"),
        "{}",
        stderr(&v)
    );
    assert!(!stdout(&v).contains("ALTERED"), "{}", stdout(&v));
    let p = auditor.bastion(&["play", "--cat", "--force", &at]);
    assert!(stdout(&p).contains("line-10\n"), "{}", stdout(&p));
    f.bastion.restart();
    f.bastion.wait_log("sealed as recovered");
    spool_empty(&f.bastion, Duration::from_secs(60));
    let v = auditor.bastion(&["verify", &at]);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    assert!(
        stdout(&v).contains("sealed by crash recovery"),
        "{}",
        stdout(&v)
    );
    assert!(!stderr(&v).contains("put together"), "{}", stderr(&v));
}

/// The store goes away: sessions go on, uploads fail and are retried (and counted), and when
/// it returns everything arrives, byte for byte. With the spool at its limit, a new session
/// is refused with the reason.
#[test]
fn a_store_that_is_away_loses_nothing_and_a_full_spool_refuses_new_sessions() {
    let mut garage = Garage::launch();
    let f = bastion_with_store(
        &garage,
        "upload_every = \"1s\"\nmax_channel_bytes = 1048576\nspool_limit = 1048576\n",
    );
    garage.stop();
    let (sent, n) = sha256_of_command(&mut f.alice.ssh(
        "t1@127.0.0.1",
        &["seq 1 200000 | tr 0-9 a-j | head -c 700000"],
    ));
    assert_eq!(n, 700_000);
    let failing = wait_for(Duration::from_secs(20), || {
        (metric(&metrics(&f), "bastion_store_upload_failures_total") > 0).then_some(())
    });
    assert!(failing.is_some(), "{}", metrics(&f));
    let m = metrics(&f);
    assert!(metric(&m, "bastion_spool_pending_recordings") >= 1, "{m}");
    // Another 700 kB puts the spool past its 1 MiB limit.
    let o = run(&mut f.alice.ssh("t1@127.0.0.1", &["head -c 700000 /dev/zero"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let refused = wait_for(Duration::from_secs(15), || {
        let o = run(&mut f.alice.ssh("t1@127.0.0.1", &["echo SHOULD-NOT-RUN"]));
        (o.status.code() == Some(1) && stderr(&o).contains("waiting for the recording store"))
            .then_some(o)
    })
    .unwrap_or_else(|| panic!("never refused:\n{}", metrics(&f)));
    assert!(!stdout(&refused).contains("SHOULD-NOT-RUN"));
    f.bastion.wait_log("recording spool");
    garage.start();
    spool_empty(&f.bastion, Duration::from_secs(120));
    let auditor = Auditor::new(&garage, &f.bastion);
    let channels = audit_json(&f.bastion.config, "channels", &[]);
    let first = channels
        .iter()
        .find(|c| c["command"].as_str().is_some_and(|c| c.starts_with("seq")))
        .unwrap();
    let url = first["recording_url"].as_str().unwrap();
    assert_eq!(auditor.replay(url), (sent, 700_000));
    // Admission opens again once the spool is empty.
    let o = run(&mut f.alice.ssh("t1@127.0.0.1", &["echo back"]));
    assert!(
        o.status.success() && stdout(&o).contains("back"),
        "{}",
        stderr(&o)
    );
}

/// Garage does not implement S3 Object Lock: a retention cannot be kept there, which `config
/// check` reports and `serve` refuses to start with.
#[test]
fn a_retention_the_store_cannot_keep_is_reported_and_stops_serve() {
    let garage = Garage::launch();
    let b = BastionBuilder::new();
    let lines = format!("{}retention = \"6y\"\n", garage.recording_lines("fleet"));
    let b = b.section_table("recording", &lines);
    let config = b.path("bastion.toml");
    std::fs::write(&config, b.config_text()).unwrap();
    let c = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&config));
    assert!(!c.status.success(), "{}", stdout(&c));
    assert!(
        stderr(&c).contains("does not support S3 Object Lock"),
        "{}{}",
        stdout(&c),
        stderr(&c)
    );
    let s = run(Command::new(bastion_bin())
        .args(["serve", "--config"])
        .arg(&config));
    assert!(!s.status.success());
    assert!(
        stderr(&s).contains("recording.retention") && stderr(&s).contains("Object Lock"),
        "{}",
        stderr(&s)
    );
    // Without a retention, the check says where recordings go and that nothing keeps them.
    let lines = garage.recording_lines("fleet");
    let b = BastionBuilder::new().section_table("recording", &lines);
    let config = b.path("bastion.toml");
    std::fs::write(&config, b.config_text()).unwrap();
    let c = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&config));
    assert!(c.status.success(), "{}", stderr(&c));
    assert!(
        stdout(&c).contains("recording store s3://recordings/fleet: no retention"),
        "{}",
        stdout(&c)
    );
}
