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
