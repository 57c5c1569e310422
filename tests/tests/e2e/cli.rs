//! `bastion config check`, `bastion ca init`, `bastion ca sign` (issue 2, items 2 and 3).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use tests::{bastion_bin, keygen, run, stderr, stdout, BastionBuilder};

#[test]
fn config_check_names_key_file_and_line() {
    let b = BastionBuilder::new();
    let sshd_key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli";
    let text = format!(
        "{}\n[[targets]]\nname = \"a\"\nhost = \"h\"\nhost_key = \"{sshd_key}\"\n\n[[targets]]\nname = \"b\"\nhost = \"h\"\nhost_key = \"{sshd_key}\"\n\n[[targets]]\nname = \"c\"\nhost = \"h\"\nport = \"ssh\"\n",
        b.config_text()
    );
    let path = b.path("bastion.toml");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("port")).unwrap() + 1;
    let o = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "targets[2].port: expected integer 1-65535, found string \"ssh\" at {}:{line}",
            path.display()
        )),
        "{}",
        stderr(&o)
    );

    std::fs::write(&path, b.config_text().replace("[ca]", "colour = 1\n[ca]")).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("server.colour: unknown field `colour`"),
        "{}",
        stderr(&o)
    );

    // A masking rule the masker cannot compile is pointed at like any other key, by serve,
    // config check and mask-test alike.
    let text = format!(
        "{}\n[[masking.rules]]\nname = \"site-id\"\npattern = 'ID-\\d+'\n",
        b.config_text()
    );
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("pattern")).unwrap() + 1;
    let want = format!(
        "masking.rules[0].pattern: masking rule `site-id`: pattern has no maximum match length; \
         use bounded repetitions such as `\\d{{6,12}}` instead of `+`, `*` or `{{n,}}` at {}:{line}",
        path.display()
    );
    for args in [&["config", "check"][..], &["serve"], &["mask-test"]] {
        let o = run(Command::new(bastion_bin())
            .args(args)
            .arg("--config")
            .arg(&path)
            .stdin(std::process::Stdio::null()));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
    }

    std::fs::write(&path, b.config_text()).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&path));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("OK"), "{}", stdout(&o));
    // A check creates nothing: the audit database is made by the first `bastion serve`.
    let db = tests::default_sqlite_db(&path);
    assert!(stdout(&o).contains("does not exist yet"), "{}", stdout(&o));
    assert!(!db.exists(), "config check created {}", db.display());
    // A key readable by others is refused, naming the file.
    let ca = b.path("keys/user_ca");
    std::fs::set_permissions(&ca, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["config", "check", "--config"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("too open"), "{}", stderr(&o));
}

#[test]
fn ca_init_creates_private_keys_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let o = run(Command::new(bastion_bin())
        .args(["ca", "init", "--dir"])
        .arg(&keys));
    assert!(o.status.success(), "{}", stderr(&o));
    for name in ["user_ca", "target_ca", "host_ed25519", "recording_ed25519"] {
        let mode = std::fs::metadata(keys.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{name}");
        let pubkey = std::fs::read_to_string(keys.join(format!("{name}.pub"))).unwrap();
        assert!(pubkey.starts_with("ssh-ed25519 "), "{pubkey}");
        // ssh-keygen reads the private key and derives the same public key.
        let o = run(Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(keys.join(name)));
        assert_eq!(
            stdout(&o).split_whitespace().nth(1),
            pubkey.split_whitespace().nth(1)
        );
    }
    let before = std::fs::read(keys.join("user_ca")).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["ca", "init", "--dir"])
        .arg(&keys));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refusing to overwrite"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(keys.join("user_ca")).unwrap(), before);
}

#[test]
fn ca_sign_writes_a_certificate_ssh_keygen_understands() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    assert!(run(Command::new(bastion_bin())
        .args(["ca", "init", "--dir"])
        .arg(&keys))
    .status
    .success());
    let user = dir.path().join("id_ed25519");
    keygen(&user);
    let o = run(Command::new(bastion_bin())
        .args(["ca", "sign", "--ca"])
        .arg(keys.join("user_ca"))
        .args([
            "--principals",
            "dba,ops",
            "--identity",
            "alice@example.test",
            "--ttl",
            "1h",
            "--source-address",
            "127.0.0.1/32",
        ])
        .arg(user.with_extension("pub")));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new("ssh-keygen")
        .arg("-L")
        .arg("-f")
        .arg(dir.path().join("id_ed25519-cert.pub")));
    let text = stdout(&o);
    assert!(text.contains("user certificate"), "{text}");
    assert!(text.contains("Key ID: \"alice@example.test\""), "{text}");
    assert!(
        text.contains("                dba\n                ops"),
        "{text}"
    );
    assert!(text.contains("source-address 127.0.0.1/32"), "{text}");
    assert!(text.contains("permit-pty"), "{text}");
    let ca_fp = stdout(&run(Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(keys.join("user_ca.pub"))));
    assert!(
        text.contains(ca_fp.split_whitespace().nth(1).unwrap()),
        "{text}\n{ca_fp}"
    );
}

/// Issue 19, item 1: without a configuration, one message says where the bastion looked and
/// how to name another file; the OS error is not said twice.
#[test]
fn a_missing_configuration_says_where_the_bastion_looked() {
    let dir = tempfile::tempdir().unwrap();
    let bastion = |args: &[&str], env: Option<&str>| {
        let mut c = Command::new(bastion_bin());
        c.args(args)
            .current_dir(dir.path())
            .env_remove("BASTION_CONFIG");
        if let Some(v) = env {
            c.env("BASTION_CONFIG", v);
        }
        run(&mut c)
    };
    for args in [&["serve"][..], &["config", "check"], &["audit", "sessions"]] {
        let o = bastion(args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("no configuration file: looked for bastion.toml in the current directory (no --config given, $BASTION_CONFIG not set)"),
            "{args:?}: {e}"
        );
        assert!(
            e.contains("name one with --config FILE or BASTION_CONFIG=FILE"),
            "{e}"
        );
        assert!(!e.contains("os error"), "{e}");
    }
    let o = bastion(&["serve"], Some("/nowhere/b.toml"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("$BASTION_CONFIG names /nowhere/b.toml, which does not exist"),
        "{}",
        stderr(&o)
    );
    let o = bastion(&["serve", "--config", "other.toml"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("bastion: --config other.toml: no such file\n"),
        "{}",
        stderr(&o)
    );
    // A file that exists but cannot be read keeps the OS's words, once.
    std::fs::create_dir(dir.path().join("bastion.toml")).unwrap();
    let o = bastion(&["serve"], None);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).matches("Is a directory").count(),
        1,
        "{}",
        stderr(&o)
    );
}

/// Issue 19, item 1: `verify` with no trusted key says how to give one.
#[test]
fn verify_without_a_trusted_key_says_to_pass_config_or_key() {
    let b = BastionBuilder::new();
    std::fs::write(b.path("bastion.toml"), b.config_text()).unwrap();
    let dir = b.path("recordings");
    let key = std::sync::Arc::new(
        recorder::SigningKey::load_openssh(&b.path("keys/recording_ed25519")).unwrap(),
    );
    let header = recorder::Header {
        term: recorder::Term {
            cols: 80,
            rows: 24,
            term_type: None,
        },
        timestamp: Some(0),
        ..recorder::Header::default()
    };
    let meta = recorder::BastionMeta {
        session: "s1".into(),
        channel: 0,
        user: "alice@example.test".into(),
        cert_serial: None,
        source: "127.0.0.1".into(),
        target: "t1".into(),
        login: "root".into(),
        kind: recorder::ChannelKind::Shell,
    };
    let cast = recorder::recording_path(&dir, "s1", 0, std::time::SystemTime::now()).unwrap();
    let mut rec = recorder::Recorder::create(
        &cast,
        &header,
        &meta,
        key,
        recorder::RecorderOptions::default(),
    )
    .unwrap();
    rec.output(std::time::Duration::from_millis(10), b"hello\r\n")
        .unwrap();
    rec.seal(std::time::Duration::from_millis(20)).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let verify = |extra: &[&str]| {
        run(Command::new(bastion_bin())
            .arg("verify")
            .args(extra)
            .arg(&cast)
            .current_dir(empty.path())
            .env_remove("BASTION_CONFIG"))
    };
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("no --key given, and no configuration file at bastion.toml"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("pass --key PUBKEY (the recording key's .pub, e.g. keys/recording_ed25519.pub) or --config FILE"),
        "{}",
        stderr(&o)
    );
    // Either way of giving the key verifies it.
    let pubkey = b.path("keys/recording_ed25519.pub");
    let o = verify(&["--key", pubkey.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = verify(&["--config", b.path("bastion.toml").to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// Issue 19, item 2: the operator guide's order works: `ca sign` and `ca revoke` before the
/// first `serve` create the configured audit database; a principal no role names is warned
/// about; port forwarding is granted only when asked for.
#[test]
fn ca_sign_and_revoke_work_before_the_first_serve() {
    let b = BastionBuilder::new()
        .role("name = \"dba\"\nprincipals = [\"dba\"]\ntargets = [\"*\"]\nlogins = [\"root\"]");
    // The database in a directory the bastion's account owns (root runs `ca sign`).
    let data = b.path("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
    let path = b.path("bastion.toml");
    std::fs::write(
        &path,
        format!(
            "{}\n[audit]\ndatabase = \"sqlite://data/audit.db\"\n",
            b.config_text()
        ),
    )
    .unwrap();
    let db = data.join("audit.db");
    let user = b.path("alice");
    keygen(&user);
    let sign = |extra: &[&str]| {
        run(Command::new(bastion_bin())
            .args(["ca", "sign", "--config"])
            .arg(&path)
            .args(["--identity", "alice@example.test"])
            .args(extra)
            .arg(user.with_extension("pub")))
    };
    let o = sign(&["--principals", "dba,dbas"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("created the audit database {}", db.display())),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(
            "warning: principal \"dbas\" is not in any role's principals, so it grants nothing (the roles name dba)"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("principal \"dba\" "), "{}", stderr(&o));
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(&path).unwrap().uid() == 0 {
        assert_eq!(std::fs::metadata(&db).unwrap().uid(), 65534);
    }
    let cert = b.path("alice-cert.pub");
    let listing = |cert: &std::path::Path| {
        stdout(&run(Command::new("ssh-keygen")
            .arg("-L")
            .arg("-f")
            .arg(cert)))
    };
    let text = listing(&cert);
    assert!(!text.contains("permit-port-forwarding"), "{text}");
    assert!(text.contains("permit-pty"), "{text}");
    let o = sign(&["--principals", "dba", "--port-forwarding"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("created"), "{}", stderr(&o));
    assert!(listing(&cert).contains("permit-port-forwarding"));
    // Both issues are in the database the bastion will use.
    let o = run(Command::new(bastion_bin())
        .args(["audit", "certs", "--json", "--config"])
        .arg(&path));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));

    // Revoking first creates it too.
    std::fs::remove_file(&db).unwrap();
    let o = run(Command::new(bastion_bin())
        .args(["ca", "revoke", "--serial", "7", "--config"])
        .arg(&path));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("revoked serial 7"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("created the audit database"),
        "{}",
        stderr(&o)
    );
    assert!(db.exists());
}

/// Issue 19, item 2: `serve` logs its host key's fingerprint and the line clients put in
/// known_hosts; with that line alone, ssh checks the bastion strictly and connects.
#[test]
fn serve_logs_the_known_hosts_line_clients_need() {
    let w = crate::fixture::world();
    let log = w.bastion.wait_log("known_hosts line");
    let public =
        std::fs::read_to_string(w.bastion.dir.path().join("keys/host_ed25519.pub")).unwrap();
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    let want = format!("[127.0.0.1]:{} {}", w.bastion.port, key.join(" "));
    assert!(log.contains(&want), "{want} not in {log}");
    let fp = stdout(&run(Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(w.bastion.dir.path().join("keys/host_ed25519.pub"))));
    let fp = fp.split_whitespace().nth(1).unwrap();
    assert!(
        log.contains(&format!("fingerprint={fp}")),
        "{fp} not in {log}"
    );
    let known = w.bastion.dir.path().join("known_hosts");
    std::fs::write(&known, format!("{want}\n")).unwrap();
    let opts: Vec<String> = w
        .alice
        .ssh_options()
        .into_iter()
        .map(|o| match o.as_str() {
            "UserKnownHostsFile=/dev/null" => format!("UserKnownHostsFile={}", known.display()),
            "StrictHostKeyChecking=no" => "StrictHostKeyChecking=yes".into(),
            _ => o,
        })
        .collect();
    let o = run(Command::new("ssh").args(&opts).args([
        "-p",
        &w.bastion.port.to_string(),
        "t1@127.0.0.1",
        "echo trusted",
    ]));
    assert_eq!(stdout(&o), "trusted\n", "{}", stderr(&o));
}

/// Issue 19, item 7: bash, given `bastion completions bash`, completes the subcommands and
/// their own subcommands and options.
#[test]
fn bash_completion_lists_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bastion.bash");
    let o = run(Command::new(bastion_bin()).args(["completions", "bash"]));
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&script, &o.stdout).unwrap();
    // What bash offers after `bastion ` and after `bastion ca `, as it does on Tab.
    let complete = |words: &str| {
        let shell = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _bastion bastion \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let o = run(Command::new("bash").args(["--norc", "-c", &shell]));
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let top = complete("bastion ''");
    for sub in [
        "serve",
        "quickstart",
        "audit",
        "config",
        "ca",
        "login",
        "verify",
        "play",
        "mask-test",
        "completions",
        "man",
    ] {
        assert!(top.lines().any(|l| l == sub), "{sub} not offered: {top}");
    }
    let ca = complete("bastion ca ''");
    for sub in ["init", "sign", "revoke"] {
        assert!(ca.lines().any(|l| l == sub), "{sub} not offered: {ca}");
    }
    let sign = complete("bastion ca sign --p");
    assert!(sign.lines().any(|l| l == "--port-forwarding"), "{sign}");
    for shell in ["zsh", "fish"] {
        let o = run(Command::new(bastion_bin()).args(["completions", shell]));
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("quickstart"), "{shell}");
    }
}

/// Issue 19, item 7: `bastion man` is a manual page man renders, naming every subcommand;
/// `--dir` writes one page per command.
#[test]
fn man_page_renders_and_names_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bastion.1");
    let o = run(Command::new(bastion_bin()).arg("man"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(".TH bastion 1"), "{}", stdout(&o));
    std::fs::write(&page, &o.stdout).unwrap();
    let o = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for sub in [
        "bastion-serve(1)",
        "bastion-quickstart(1)",
        "bastion-completions(1)",
    ] {
        assert!(text.contains(sub), "{sub} not in {text}");
    }
    let pages = dir.path().join("man1");
    let o = run(Command::new(bastion_bin())
        .args(["man", "--dir"])
        .arg(&pages));
    assert!(o.status.success(), "{}", stderr(&o));
    let serve = std::fs::read_to_string(pages.join("bastion-serve.1")).unwrap();
    assert!(serve.contains("config"), "{serve}");
    assert!(pages.join("bastion-ca-sign.1").exists());
}

/// A command whose reader went away (`| head`) ends quietly once its work is done: the keys
/// are created, nothing panics, the exit status is 0.
#[test]
fn a_report_read_by_head_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    // Standard output is a pipe whose reading end is already closed: every write fails.
    let script = "import os, subprocess, sys\n\
r, w = os.pipe()\n\
os.close(r)\n\
p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)\n\
sys.stderr.write(p.stderr.decode())\n\
sys.exit(p.returncode)\n";
    let o = run(Command::new("python3")
        .args(["-c", script])
        .arg(bastion_bin())
        .args(["ca", "init", "--dir"])
        .arg(&keys));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(keys.join("user_ca").exists() && keys.join("target_ca").exists());
}
