//! Real sessions leave audit rows; no audit store, no session (issue 3, items 7-9).

use tests::{audit_json, run, stderr, stdout, BastionBuilder, Postgres};

use crate::fixture::{world, OPS_ROLE};

#[test]
fn sessions_channels_and_refusals_become_rows() {
    let w = world();
    let o = run(&mut w
        .alice
        .ssh("t1@127.0.0.1", &["echo 'SSN 123-45-6789' && exit 4"]));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let stranger = w.bastion.user("eve@example.test", "nobody");
    let o = run(&mut stranger.ssh("t1@127.0.0.1", &["true"]));
    assert_eq!(o.status.code(), Some(255));
    // The rows are written as the connection ends.
    w.bastion.wait_log("connection closed");
    let config = &w.bastion.config;
    let found = tests::wait_for(std::time::Duration::from_secs(10), || {
        let s = audit_json(config, "sessions", &[]);
        (s.len() == 1 && !s[0]["ended_at_ms"].is_null()).then_some(s)
    })
    .expect("a closed session row");
    assert_eq!(found[0]["identity"], "alice@example.test");
    assert_eq!(found[0]["target"], "t1");
    // The channel's closing row (exit status, byte counts, final hash) is written once its
    // recording is sealed, independently of the session's: `bytes_in` stays NULL until then.
    let channels = tests::wait_for(std::time::Duration::from_secs(20), || {
        let c = audit_json(config, "channels", &[]);
        (!c.is_empty() && c.iter().all(|r| !r["bytes_in"].is_null())).then_some(c)
    })
    .unwrap_or_else(|| audit_json(config, "channels", &[]));
    assert_eq!(channels.len(), 1, "{channels:?}");
    let c = &channels[0];
    assert_eq!(c["kind"], "exec");
    assert_eq!(c["exit_status"], 4);
    // The command is stored masked, like everything else that is kept.
    assert_eq!(c["command"], "echo 'SSN ***-**-****' && exit 4");
    assert!(c["bytes_out"].as_u64().unwrap() >= 16, "{c}");
    let path = c["recording_path"].as_str().unwrap();
    let sig = std::fs::read_to_string(format!("{path}.sig")).unwrap();
    let last = sig.lines().last().unwrap();
    assert!(
        last.contains(c["final_hash"].as_str().unwrap()),
        "{last}\n{c}"
    );
    assert!(
        last.contains(c["signature"].as_str().unwrap()),
        "{last}\n{c}"
    );
    // `ca sign` recorded the certificate it issued.
    let certs = audit_json(config, "certs", &[]);
    assert!(
        certs
            .iter()
            .any(|c| c["key_id"] == "alice@example.test" && c["source"] == "cli"),
        "{certs:?}"
    );
    // A refused authentication is written in the background.
    let auth = tests::wait_for(std::time::Duration::from_secs(20), || {
        let a = audit_json(config, "auth", &[]);
        a.iter()
            .any(|r| r["identity"] == "eve@example.test")
            .then_some(a)
    })
    .unwrap_or_else(|| audit_json(config, "auth", &[]));
    assert!(
        auth.iter()
            .any(|a| a["identity"] == "alice@example.test" && a["accepted"] == true),
        "{auth:?}"
    );
    assert!(
        auth.iter().any(|a| a["identity"] == "eve@example.test"
            && a["accepted"] == false
            && a["reason"] == "unknown-principal"),
        "{auth:?}"
    );
}

#[test]
fn postgres_outage_refuses_new_sessions_then_recovers() {
    let mut pg = Postgres::launch();
    let url = pg.create_database("bastion_audit");
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .section_table("audit", &format!("database = \"{url}\""))
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .start();
    let exited_zero = |pg: &Postgres| {
        pg.psql(
            "bastion_audit",
            "SELECT count(*) FROM channels WHERE exit_status = 0",
        )
    };
    let alice = bastion.user("alice@example.test", "ops");
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo before"]));
    assert_eq!(stdout(&o), "before\n", "{}", stderr(&o));
    // Its closing row is written just after the client has its exit status: wait for it, so
    // that the only channel end the outage catches is the long session's below.
    tests::wait_for(std::time::Duration::from_secs(20), || {
        (exited_zero(&pg).trim() == "1").then_some(())
    })
    .unwrap_or_else(|| panic!("{}", exited_zero(&pg)));

    // A session that starts before the outage and ends during it: it runs on (its recording
    // is local) and its end reaches the database once it is back.
    let go = bastion.dir.path().join("go");
    let wait_then_echo = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo during",
        go.display()
    );
    let during = alice
        .ssh("t1@127.0.0.1", &[&wait_then_echo])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tests::wait_for(std::time::Duration::from_secs(10), || {
        pg.psql(
            "bastion_audit",
            "SELECT count(*) FROM channels WHERE command LIKE 'while%'",
        )
        .contains('1')
        .then_some(())
    })
    .expect("the long session's channel row");

    pg.stop();
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo SHOULD-NOT-RUN"]));
    assert_ne!(o.status.code(), Some(0));
    assert!(!stdout(&o).contains("SHOULD-NOT-RUN"));
    assert!(
        stderr(&o).contains("audit store is unavailable"),
        "{}",
        stderr(&o)
    );
    bastion.wait_log("audit store unavailable, session refused");

    std::fs::write(&go, "").unwrap();
    let o = during.wait_with_output().unwrap();
    assert_eq!(stdout(&o), "during\n", "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    // Its channel end meets the outage (each attempt takes the pool's acquire timeout) and is
    // kept for a retry. Not just any kept end: the refused connection's is kept too, and
    // starting the database before the channel's end was tried would skip the retry. Only
    // the channel's is logged within a channel span.
    tests::wait_for(std::time::Duration::from_secs(30), || {
        bastion
            .log()
            .lines()
            .any(|l| l.contains("channel{") && l.contains("the end is kept and retried"))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no channel end kept for a retry:\n{}", bastion.log()));

    pg.start();
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo after"]));
    assert_eq!(stdout(&o), "after\n", "{}", stderr(&o));
    // before, during (written by the retry) and after; each closing row is written once the
    // recording is sealed, just after the client has its exit status.
    tests::wait_for(std::time::Duration::from_secs(20), || {
        exited_zero(&pg).contains('3').then_some(())
    })
    .unwrap_or_else(|| panic!("{}", exited_zero(&pg)));
    let closed = pg.psql(
        "bastion_audit",
        "SELECT count(*) FROM channels WHERE command LIKE 'while%' \
         AND exit_status = 0 AND final_hash IS NOT NULL AND bytes_out = 7",
    );
    assert!(closed.contains('1'), "{closed}");
    bastion.wait_log("every waiting end is settled");
}

#[test]
fn names_a_client_chooses_are_masked_in_logs_rows_and_recordings() {
    use std::process::Command;
    let w = world();
    let ssns = [
        "123-45-6789",
        "123-45-6780",
        "123-45-6790",
        "123-45-6791",
        "123-45-6792",
    ];
    // A user name, for a destination that does not exist and for a principal no role has.
    let o = run(&mut w.alice.ssh("x.123-45-6789@t1@127.0.0.1", &["true"]));
    assert_ne!(o.status.code(), Some(0));
    let stranger = w.bastion.user("eve@example.test", "nobody");
    let o = run(&mut stranger.ssh("x.123-45-6789@t1@127.0.0.1", &["true"]));
    assert_eq!(o.status.code(), Some(255));
    // A custom signal name.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/send_signal.py");
    let o = run(Command::new("python3")
        .arg(script)
        .arg(w.bastion.port.to_string())
        .arg("t1")
        .arg(&w.alice.key)
        .arg(&w.alice.cert)
        .args(["x.123-45-6780", "close"]));
    assert!(stdout(&o).contains("sent"), "{}{}", stdout(&o), stderr(&o));
    // A subsystem name, an environment variable name and a forward destination.
    let o = run(&mut w.alice.ssh("-s", &["t1@127.0.0.1", "sub.123-45-6790"]));
    assert_ne!(o.status.code(), Some(0));
    let o = run(&mut w.alice.ssh(
        "-o",
        &["SetEnv=LC_ID.123-45-6791=x", "t1@127.0.0.1", "true"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(w
        .alice
        .ssh("-W", &["host.123-45-6792:22", "t1@127.0.0.1"])
        .stdin(std::process::Stdio::null()));
    assert_ne!(o.status.code(), Some(0));
    w.bastion.wait_log("recording sealed");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = w.bastion.log();
    let rows = audit_json(&w.bastion.config, "auth", &[]);
    let recordings: String = crate::recording::casts(&w.bastion.dir.path().join("recordings"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for ssn in ssns {
        assert!(!log.contains(ssn), "{ssn} in the log:\n{log}");
        assert!(
            !format!("{rows:?}").contains(ssn),
            "{ssn} in the rows: {rows:?}"
        );
        assert!(!recordings.contains(ssn), "{ssn} in a recording");
    }
    assert!(log.contains("x.***-**-****"), "{log}");
    assert!(
        rows.iter().any(|r| r["user_name"] == "x.***-**-****@t1"),
        "{rows:?}"
    );
    assert!(recordings.contains("signal x.***-**-****"), "{recordings}");
}
