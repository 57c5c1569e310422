//! Identity (issue 4): a real OpenID provider's token → the HTTP API → a certificate that real
//! `ssh` uses through the bastion; a revoked serial is refused at authentication.
//!
//! Needs `serve` to start the API (`api::start`) and the gateway to call
//! `AuditStore::is_revoked`.

use std::process::Command;

use tests::{keygen, run, stderr, stdout, Bastion, BastionBuilder, OpenIdProvider, Sshd, User};

use crate::fixture::OPS_ROLE;

pub struct World {
    pub bastion: Bastion,
    _sshd: Sshd,
    pub op: OpenIdProvider,
    pub api: String,
}

fn world() -> World {
    world_with("")
}

/// A target, the ops role, the API, and `[oidc]` trusting a real provider (plus `oidc_extra`).
pub fn world_with(oidc_extra: &str) -> World {
    world_with_server(oidc_extra, "")
}

/// [`world_with`], plus `server_extra` in `[server]`.
pub fn world_with_server(oidc_extra: &str, server_extra: &str) -> World {
    world_with_role(oidc_extra, server_extra, "")
}

/// [`world_with_server`], plus `role_extra` in the ops role.
fn world_with_role(oidc_extra: &str, server_extra: &str, role_extra: &str) -> World {
    let op = OpenIdProvider::start();
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .server(&format!("api_listen = \"127.0.0.1:0\"\n{server_extra}"))
        .section_table(
            "oidc",
            &format!(
                "issuer = \"{}\"\nclient_id = \"{}\"\nusername_claim = \"preferred_username\"\n{oidc_extra}",
                op.issuer,
                tests::oidc::PUBLIC_CLIENT
            ),
        )
        .target("t1", &sshd, "")
        .role(&format!("{OPS_ROLE}\n{role_extra}"))
        .start();
    let api = format!("http://{}", api_address(&bastion));
    World {
        bastion,
        _sshd: sshd,
        op,
        api,
    }
}

/// The API's `host:port`, from the bastion's log.
fn api_address(bastion: &Bastion) -> String {
    bastion.api().trim_start_matches("http://").to_string()
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

    // Operators see the same in numbers, without names.
    let metrics = |_: ()| {
        let o = run(Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .arg(format!("{}/metrics", w.api)));
        stdout(&o)
    };
    // The session gauge drops when the connection closes, the channel gauge when the channel's
    // task has sealed its recording and written its end: each on its own, after the client has
    // its exit status.
    let text = tests::wait_for(std::time::Duration::from_secs(20), || {
        let t = metrics(());
        let idle = ["\nbastion_sessions 0\n", "\nbastion_channels 0\n"];
        idle.iter().all(|l| t.contains(l)).then_some(t)
    })
    .unwrap_or_else(|| panic!("{}", metrics(())));
    for line in [
        "bastion_certificates_issued_total 1",
        "bastion_authentications_total{result=\"accepted\"} 1",
        "bastion_channels 0",
    ] {
        assert!(text.contains(&format!("{line}\n")), "{line}: {text}");
    }
    assert!(!text.contains("alice"), "{text}");
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

#[test]
fn a_subject_revoked_before_its_first_certificate_gets_none() {
    // `--identity` names the provider's subject; a person's key id is their e-mail.
    let w = world();
    let o = run(Command::new(tests::bastion_bin())
        .args(["ca", "revoke", "--identity", "alice", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, refused) = certify(&w, "alice1", &w.op.id_token("alice"));
    assert_eq!(refused["error"], "revoked", "{refused}");
}

#[test]
fn bastion_login_device_flow_then_ssh_and_status() {
    let w = world();
    let home = w.bastion.dir.path().join("home");
    let out = w.bastion.dir.path().join("login.out");
    let mut child = Command::new(tests::bastion_bin())
        .args(["login", "--server", &w.api, "--dir"])
        .arg(home.join(".bastion"))
        .env_remove("SSH_AUTH_SOCK")
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The user reads the code from the terminal and confirms it in a browser.
    let code = tests::oidc::shown_user_code(&out);
    w.op.confirm_device(&code, "alice");
    let status = child.wait().unwrap();
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(status.success(), "{printed}");
    assert!(
        printed.contains("signed in as alice@example.test"),
        "{printed}"
    );
    assert!(printed.contains("connect with: ssh"), "{printed}");
    let user = User {
        key: home.join(".bastion/id_ed25519"),
        cert: home.join(".bastion/id_ed25519-cert.pub"),
        port: w.bastion.port,
    };
    let o = run(&mut user.ssh("t1@127.0.0.1", &["echo via-login"]));
    assert_eq!(stdout(&o), "via-login\n", "{}", stderr(&o));
    // The known_hosts line it wrote names the bastion's host key.
    let kh = std::fs::read_to_string(home.join(".bastion/known_hosts")).unwrap();
    let host_key =
        std::fs::read_to_string(w.bastion.dir.path().join("keys/host_ed25519.pub")).unwrap();
    assert!(
        kh.contains(host_key.split_whitespace().nth(1).unwrap()),
        "{kh}"
    );
    let o = run(Command::new(tests::bastion_bin())
        .args(["login", "--status", "--dir"])
        .arg(home.join(".bastion")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("identity:   alice@example.test") && stdout(&o).contains("remaining:"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bastion_login_with_a_token_file_for_ci() {
    let w = world();
    let token = w.op.id_token("alice");
    let file = w.bastion.dir.path().join("token");
    std::fs::write(&file, &token).unwrap();
    let dir = w.bastion.dir.path().join("ci");
    let o = run(Command::new(tests::bastion_bin())
        .args(["login", "--server", &w.api, "--id-token-file"])
        .arg(&file)
        .arg("--dir")
        .arg(&dir)
        .env_remove("SSH_AUTH_SOCK"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let user = User {
        key: dir.join("id_ed25519"),
        cert: dir.join("id_ed25519-cert.pub"),
        port: w.bastion.port,
    };
    let o = run(&mut user.ssh("t1@127.0.0.1", &["echo from-ci"]));
    assert_eq!(stdout(&o), "from-ci\n", "{}", stderr(&o));
    // A garbage token is refused with the API's reason.
    std::fs::write(&file, "not.a.token").unwrap();
    let o = run(Command::new(tests::bastion_bin())
        .args(["login", "--server", &w.api, "--id-token-file"])
        .arg(&file)
        .arg("--dir")
        .arg(&dir));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused to issue a certificate"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn api_over_tls_with_a_private_ca() {
    let op = OpenIdProvider::start();
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    // A private CA and a server certificate for 127.0.0.1 signed by it.
    let (ca, crt, key) = (b.path("ca.crt"), b.path("api.crt"), b.path("api.key"));
    let o = run(Command::new("bash")
        .arg("-ec")
        .arg(
            "E='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
             openssl req -x509 $E -days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt
             openssl req $E -subj /CN=127.0.0.1 -keyout api.key -out api.csr
             printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext
             openssl x509 -req -in api.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out api.crt",
        )
        .current_dir(b.path("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let bastion = b
        .server(&format!(
            "api_listen = \"127.0.0.1:0\"\napi_tls_cert = \"{}\"\napi_tls_key = \"{}\"",
            crt.display(),
            key.display()
        ))
        .section_table(
            "oidc",
            &format!(
                "issuer = \"{}\"\nclient_id = \"{}\"",
                op.issuer,
                tests::oidc::PUBLIC_CLIENT
            ),
        )
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .start();
    let addr = api_address(&bastion);
    assert!(bastion.log().contains("tls=true"), "{}", bastion.log());
    let curl = |args: &[&str]| {
        run(Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(args))
    };
    let o = curl(&[
        "--cacert",
        &ca.display().to_string(),
        &format!("https://{addr}/healthz"),
    ]);
    assert_eq!(stdout(&o), "ok\n", "{}", stderr(&o));
    // Plain HTTP to the TLS port gets nothing.
    assert!(!curl(&[&format!("http://{addr}/healthz")]).status.success());
    let token = op.id_token("alice");
    let file = bastion.dir.path().join("token");
    std::fs::write(&file, &token).unwrap();
    let login = |ca: Option<&std::path::Path>| {
        let mut c = Command::new(tests::bastion_bin());
        c.args([
            "login",
            "--server",
            &format!("https://{addr}"),
            "--id-token-file",
        ])
        .arg(&file)
        .arg("--dir")
        .arg(bastion.dir.path().join("tls-login"))
        .env_remove("SSH_AUTH_SOCK");
        if let Some(ca) = ca {
            c.arg("--ca-file").arg(ca);
        }
        run(&mut c)
    };
    // Without the private CA the server is not trusted.
    let o = login(None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("cannot reach https://"),
        "{}",
        stderr(&o)
    );
    let o = login(Some(&ca));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("signed in as alice@example.test"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn idle_api_connections_cannot_take_every_descriptor() {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .server("api_listen = \"127.0.0.1:0\"")
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .start();
    let addr = api_address(&bastion);
    // Clients that connect from one address and send nothing (or trickle) hold at most 32
    // connections (256 from all addresses together)...
    let idle: Vec<std::net::TcpStream> = (0..32)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // ...and the next one is closed at once instead of waiting with them.
    let mut extra = std::net::TcpStream::connect(&addr).unwrap();
    extra
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(std::io::Read::read(&mut extra, &mut buf).unwrap_or(0), 0);
    bastion.wait_log("api connection refused: 32 connections open from one address");
    // Once they go, the API answers again.
    drop(idle);
    let ok = tests::wait_for(std::time::Duration::from_secs(10), || {
        let o = run(Command::new("curl")
            .args(["-sS", "--max-time", "5"])
            .arg(format!("http://{addr}/healthz")));
        (stdout(&o) == "ok\n").then_some(())
    });
    assert!(ok.is_some(), "the API did not recover");
}

/// Issue 19, item 6: after `bastion login` (no other options), `ssh t1.bastion` works, and so
/// do scp, rsync, git and ansible over ssh: the login wrote ~/.bastion/ssh_config (a block per
/// permitted target and login) and included it from ~/.ssh/config. ssh reads the config of
/// the account's home from the password database, not $HOME: `-F $HOME/.ssh/config` stands in
/// for it here, the only option any client is given.
#[test]
fn after_login_ssh_scp_rsync_git_and_ansible_reach_targets_by_name() {
    crate::fixture::ensure_test_login();
    // Automation parses what its commands print (ansible reads back the temporary directory
    // it made, a name full of digits): its role shows output unmasked. Recordings stay masked.
    let w = world_with_role("", "", "live_masking = false");
    let home = w.bastion.dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/config"), "Host other\n  User someone\n").unwrap();
    let token = w.bastion.dir.path().join("token");
    std::fs::write(&token, w.op.id_token("alice")).unwrap();
    let o = run(Command::new(tests::bastion_bin())
        .args(["login", "--server", &w.api, "--id-token-file"])
        .arg(&token)
        .env("HOME", &home)
        .env_remove("SSH_AUTH_SOCK"));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let config = home.join(".ssh/config");
    let included = std::fs::read_to_string(&config).unwrap();
    assert!(
        included.starts_with(&format!(
            "Include {}\nHost other\n",
            home.join(".bastion/ssh_config").display()
        )),
        "{included}"
    );
    assert!(
        stdout(&o).contains("reach TARGET.bastion"),
        "{}",
        stdout(&o)
    );
    // Logging in again does not include it twice.
    let o = run(Command::new(tests::bastion_bin())
        .args(["login", "--server", &w.api, "--id-token-file"])
        .arg(&token)
        .env("HOME", &home)
        .env_remove("SSH_AUTH_SOCK"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), included);

    let f = config.display().to_string();
    let client = |program: &str| {
        let mut c = Command::new(program);
        c.env("HOME", &home)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(std::process::Stdio::null());
        c
    };
    let o = run(client("ssh").args(["-F", &f, "t1.bastion", "id -un"]));
    assert_eq!(stdout(&o), "root\n", "{}", stderr(&o));
    let o = run(client("ssh").args(["-F", &f, "bastion-e2e.t1.bastion", "id -un"]));
    assert_eq!(stdout(&o), "bastion-e2e\n", "{}", stderr(&o));

    let work = w.bastion.dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("a.txt"), "through the bastion\n").unwrap();
    let remote = w.bastion.dir.path().join("remote");
    std::fs::create_dir(&remote).unwrap();
    let o = run(client("scp")
        .args(["-F", &f])
        .arg(work.join("a.txt"))
        .arg(format!("t1.bastion:{}/scp.txt", remote.display())));
    assert!(o.status.success(), "scp: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(remote.join("scp.txt")).unwrap(),
        "through the bastion\n"
    );
    let o = run(client("rsync")
        .args(["-a", "-e", &format!("ssh -F {f}")])
        .arg(format!("{}/", work.display()))
        .arg(format!("t1.bastion:{}/rsync/", remote.display())));
    assert!(o.status.success(), "rsync: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(remote.join("rsync/a.txt")).unwrap(),
        "through the bastion\n"
    );

    // git: a repository on the target, cloned over ssh by host name.
    let repo = remote.join("repo.git");
    let o = run(Command::new("git")
        .args(["init", "-q", "--bare"])
        .arg(&repo));
    assert!(o.status.success(), "{}", stderr(&o));
    let seed = w.bastion.dir.path().join("seed");
    let git = |dir: &std::path::Path, args: &[&str]| {
        run(client("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=a", "-c", "user.email=a@example.test"])
            .args(args)
            .env("GIT_SSH_COMMAND", format!("ssh -F {f}")))
    };
    let o = run(Command::new("git").args(["init", "-q"]).arg(&seed));
    assert!(o.status.success());
    std::fs::write(seed.join("README"), "hello\n").unwrap();
    assert!(git(&seed, &["add", "README"]).status.success());
    assert!(git(&seed, &["commit", "-qm", "first"]).status.success());
    let url = format!("t1.bastion:{}", repo.display());
    let o = git(&seed, &["push", "-q", &url, "HEAD:main"]);
    assert!(o.status.success(), "git push: {}", stderr(&o));
    let clone = w.bastion.dir.path().join("clone");
    let o = git(
        w.bastion.dir.path(),
        &["clone", "-q", "-b", "main", &url, clone.to_str().unwrap()],
    );
    assert!(o.status.success(), "git clone: {}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(clone.join("README")).unwrap(),
        "hello\n"
    );

    // ansible: an inventory of host names, nothing else.
    let o = run(client("ansible")
        .args([
            "all",
            "-i",
            "t1.bastion,bastion-e2e.t1.bastion,",
            "-m",
            "command",
        ])
        .args(["-a", "id -un", "-o"])
        .env("ANSIBLE_SSH_ARGS", format!("-F {f}"))
        .env(
            "ANSIBLE_LOCAL_TEMP",
            w.bastion.dir.path().join("ansible-tmp"),
        )
        // The target's own Python (root's PATH here may lead to a pyenv shim).
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False"));
    assert!(o.status.success(), "ansible: {}{}", stdout(&o), stderr(&o));
    let said = stdout(&o);
    assert!(
        said.contains("t1.bastion | CHANGED | rc=0 | (stdout) root")
            && said.contains("bastion-e2e.t1.bastion | CHANGED | rc=0 | (stdout) bastion-e2e"),
        "{said}"
    );
}
