//! A bastion started in the test process through its library (`bastion::server::start`),
//! driven by the real OpenSSH client like the binary in every other module (issue 16).

use std::net::TcpStream;
use std::path::PathBuf;

use bastion::audit::{AuditStore, Filter};
use player::Verdict;
use recorder::VerifyingKey;
use tests::{run, stderr, stdout, BastionBuilder};

use crate::fixture::OPS_ROLE;

#[test]
fn exec_is_relayed_recorded_and_audited() {
    let b = BastionBuilder::in_process();
    let sshd = b.sshd("t1");
    let mut bastion = b.target("t1", &sshd, "").role(OPS_ROLE).start_in_process();
    let alice = bastion.user("alice@example.test", "ops");

    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo hi; echo oops >&2; exit 3"]));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    assert_eq!(stderr(&o), "oops\n");

    // The stop returns once the channel's recording is sealed and its end is written.
    assert!(bastion.stop(), "the bastion did not stop in time");
    assert!(
        TcpStream::connect(bastion.ssh).is_err(),
        "still listening after the stop"
    );

    let channels = bastion.block_on(async {
        let store = AuditStore::connect(&bastion.database).await.unwrap();
        store.channels(&Filter::default()).await.unwrap()
    });
    assert_eq!(channels.len(), 1, "{channels:?}");
    let ch = &channels[0];
    assert_eq!(ch.identity, "alice@example.test");
    assert_eq!(
        (ch.kind.as_str(), ch.target.as_str(), ch.login.as_str()),
        ("exec", "t1", "root")
    );
    assert_eq!(ch.exit_status, Some(3), "{ch:?}");

    let cast = PathBuf::from(ch.recording_path.as_deref().expect("a recording path"));
    assert_eq!(bastion.casts(), vec![cast.clone()]);
    let key = VerifyingKey::load(&bastion.dir.path().join("keys/recording_ed25519.pub")).unwrap();
    let report = player::verify(&cast, &recorder::sidecar_path(&cast), &[key]).unwrap();
    assert!(
        report.is_ok() && report.verdict == Verdict::Sealed,
        "{report}"
    );
    assert_eq!(report.final_hash, ch.final_hash, "{report}");
    let text = std::fs::read_to_string(&cast).unwrap();
    assert!(text.contains("hi") && text.contains("oops"), "{text}");
}

/// The audit rows of a stopped in-process bastion's channels.
fn channel_rows(bastion: &tests::InProcessBastion) -> Vec<bastion::audit::ChannelRow> {
    bastion.block_on(async {
        let store = AuditStore::connect(&bastion.database).await.unwrap();
        store.channels(&Filter::default()).await.unwrap()
    })
}

/// Each stage that refuses a channel ends it with its own exit status and words; once the
/// channel's audit row exists, the row closes with the refusal's code and status.
#[test]
fn each_refusing_stage_yields_its_exit_status_and_code() {
    let b = BastionBuilder::in_process();
    let sshd = b.sshd("t1");
    // A target nothing listens on: the connect stage cannot reach it.
    let closed_port = tests::free_port();
    let mut bastion = b
        .target("t1", &sshd, "")
        .section(
            "targets",
            &format!("name = \"gone\"\nhost = \"127.0.0.1\"\nport = {closed_port}\nhost_key = \"{}\"\ndefault_login = \"root\"", sshd.host_key()),
        )
        .role("name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\"]\nallow = [\"exec\"]")
        .role("name = \"leads\"\nprincipals = [\"leads\"]\ntargets = [\"*\"]\nallow = [\"review\"]")
        .section(
            "approval.rules",
            "name = \"drops\"\ncommand = '\\bdrop\\b'\napprovers = [\"leads\"]\ntimeout = \"1s\"",
        )
        .server("connect_timeout = \"3s\"")
        .start_in_process();
    let alice = bastion.user("alice@example.test", "ops");

    // Authorize: no target named for a command (usage), a capability the roles lack, a
    // subsystem nobody serves.
    let o = run(&mut alice.ssh("127.0.0.1", &["true"]));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is unknown or not permitted for you; use ssh LOGIN@TARGET@bastion"),
        "{}",
        stderr(&o)
    );
    let o = run(&mut alice.ssh("-s", &["t1@127.0.0.1", "sftp"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sftp is not permitted"),
        "{}",
        stderr(&o)
    );
    let o = run(&mut alice.ssh("-s", &["t1@127.0.0.1", "nothing-here"]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not available"), "{}", stderr(&o));
    // Connect: the target is unreachable (status 255, as ssh reports its own connection
    // failing); a held command nobody decides is not run (126).
    let o = run(&mut alice.ssh("gone@127.0.0.1", &["echo SHOULD-NOT-RUN"]));
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(!stdout(&o).contains("SHOULD-NOT-RUN"));
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo drop; echo SHOULD-NOT-RUN"]));
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("SHOULD-NOT-RUN"));

    assert!(bastion.stop(), "the bastion did not stop in time");
    let rows = channel_rows(&bastion);
    // Refusals before the connect stage leave no channel row (their sessions' rows and the
    // log say what happened); the two after it close theirs with the refusal.
    let closed: Vec<(String, Option<u32>, String)> = rows
        .iter()
        .map(|r| {
            (
                r.target.clone(),
                r.exit_status,
                r.close_reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        closed.contains(&("gone".into(), Some(255), "target unreachable".into())),
        "{closed:?}"
    );
    assert!(
        closed.contains(&("t1".into(), Some(126), "not run".into())),
        "{closed:?}"
    );
    assert_eq!(rows.len(), 2, "{closed:?}");
    // Each of them still has a sealed recording, ending with the status the user got.
    for row in &rows {
        let cast = PathBuf::from(row.recording_path.as_deref().expect("a recording"));
        let text = std::fs::read_to_string(&cast).unwrap();
        let status = row.exit_status.unwrap().to_string();
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.contains("\"x\"") && l.contains(&status)),
            "{text}"
        );
        assert!(row.final_hash.is_some(), "{row:?}");
    }
}

/// The redactor masks what is recorded whatever the user's screen shows: a role without live
/// masking sees the target's bytes, and both recordings are masked the same.
#[test]
fn the_recording_is_masked_whether_or_not_the_screen_is() {
    let b = BastionBuilder::in_process();
    let sshd = b.sshd("t1");
    let mut bastion = b
        .target("t1", &sshd, "")
        .role(OPS_ROLE)
        .role("name = \"clinician\"\nprincipals = [\"clinic\"]\ntargets = [\"t1\"]\nlogins = [\"root\"]\nlive_masking = false")
        .start_in_process();
    let masked = bastion.user("alice@example.test", "ops");
    let raw = bastion.user("carol@example.test", "clinic");
    let command = "echo 'ssn 123-45-6789'; echo 'mrn MRN-00123456' >&2";
    let o = run(&mut masked.ssh("t1@127.0.0.1", &[command]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("***-**-****"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("123-45-6789"));
    let o = run(&mut raw.ssh("t1@127.0.0.1", &[command]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("123-45-6789"), "{}", stdout(&o));
    assert!(bastion.stop());
    let casts = bastion.casts();
    assert_eq!(casts.len(), 2);
    for cast in casts {
        let text = std::fs::read_to_string(&cast).unwrap();
        assert!(!text.contains("123-45-6789"), "{text}");
        assert!(text.contains("***-**-****"), "{text}");
    }
}

/// A recording that fails mid-session (its disk fills) closes the channel: the rest of the
/// output never reaches the user, who is told why, and the channel's row says the recording
/// was not sealed.
#[test]
fn a_failing_recording_tap_closes_the_channel() {
    // The tmpfs below is smaller than the default min_free, which would refuse the session.
    let b = BastionBuilder::in_process().section_table("recording", "min_free = 65536");
    let sshd = b.sshd("t1");
    let mut bastion = b.target("t1", &sshd, "").role(OPS_ROLE).start_in_process();
    let alice = bastion.user("alice@example.test", "ops");
    let rec = bastion.recordings.clone();
    let _volume = tests::Tmpfs::mount(&rec, "256k");
    let o = run(&mut alice.ssh(
        "t1@127.0.0.1",
        &["for i in $(seq 20); do head -c 150000 /dev/urandom | base64; sleep 0.1; done; echo END-OF-OUTPUT"],
    ));
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("END-OF-OUTPUT"),
        "the whole output went through"
    );
    assert!(stderr(&o).contains("recording failed"), "{}", stderr(&o));
    assert!(bastion.stop());
    let rows = channel_rows(&bastion);
    assert_eq!(rows.len(), 1);
    let reason = rows[0].close_reason.clone().unwrap_or_default();
    assert!(reason.contains("recording not sealed"), "{reason}");
}
