//! Two bastions, one PostgreSQL, one object store (issue 18): a reviewer on one lists and
//! watches, read only and masked, a live session that runs on the other, for longer than
//! the API's usual connection lifetime; approves a command held there; and is told at once
//! when that bastion has died. Both bastions' recordings land in the store.

use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{
    casts, run, stderr, stdout, wait_for, Bastion, BastionBuilder, Garage, Postgres, Tmux, User,
};

const RULE: &str =
    "name = \"no-drops\"\ncommand = '(?i)\\bdrop\\b'\napprovers = [\"leads\"]\ntimeout = \"30s\"";

fn member(b: BastionBuilder, name: &str, db: &str, garage: &Garage, sshd: &tests::Sshd) -> Bastion {
    b.server("api_listen = \"127.0.0.1:0\"")
        .section_table(
            "audit",
            &format!("database = \"{db}\"\ninstance = \"{name}\""),
        )
        .section_table(
            "recording",
            &format!("{}upload_every = \"1s\"\n", garage.recording_lines("fleet")),
        )
        .target("t1", sshd, "")
        .role("name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\"]")
        .role("name = \"leads\"\nprincipals = [\"leads\"]\ntargets = [\"*\"]\nallow = [\"review\"]")
        .section("approval.rules", RULE)
        .start()
}

fn metrics(api: &str) -> String {
    stdout(&run(Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(format!("{api}/metrics"))))
}

#[test]
fn a_reviewer_on_one_bastion_watches_and_approves_sessions_of_another() {
    let pg = Postgres::launch();
    let db = pg.create_database("fleet");
    let garage = Garage::launch();
    let ba = BastionBuilder::new();
    let sshd = ba.sshd("t1");
    let keys = ba.path("keys");
    let mut a = member(ba, "a", &db, &garage, &sshd);
    // B shares the keys (one user CA, one host key behind one address), the database and the store.
    let bb = BastionBuilder::sharing_keys(&keys);
    let b = member(bb, "b", &db, &garage, &sshd);
    let (api_a, api_b) = (a.api(), b.api());
    let alice = a.user("alice@example.test", "ops");
    let mut bob: User = a.user("bob@example.test", "leads");
    bob.port = b.port;
    let wait = Duration::from_secs(30);

    // Alice works on A.
    let user = Tmux::start(&alice.remote_bash("t1@127.0.0.1"), 100, 24);
    user.wait_for("REMOTE$", wait);
    user.type_text("echo live-$((7*6)) SSN 123-45-$((6000+789))");
    user.keys(&["Enter"]);
    user.wait_for("live-42", wait);

    // Bob's console on B lists it, with the bastion it runs on, and watches it.
    let console = Tmux::start(
        &format!("{} -tt review@127.0.0.1; sleep 60", bob.ssh_line("", "")),
        130,
        30,
    );
    console.wait_for("pending requests", wait);
    console.keys(&["s"]);
    console.wait_for("live sessions", wait);
    let listed = console.wait_for("alice@example.test", wait);
    assert!(
        listed.contains("BASTION") && listed.contains(" a "),
        "{listed}"
    );
    console.keys(&["Enter"]);
    let s = console.wait_for("(read only, masked)", wait);
    assert!(!s.contains("cannot"), "{s}");
    // The screen so far, masked, then what follows live.
    console.wait_for("live-42 SSN ***-**-****", wait);
    let opened = std::time::Instant::now();
    user.type_text("echo next-$((1+1)) 321-54-$((9000+876))");
    user.keys(&["Enter"]);
    let s = console.wait_for("next-2", wait);
    assert!(!s.contains("6789") && !s.contains("9876"), "{s}");
    // The feed outlives the API's 30-second connection lifetime.
    std::thread::sleep(Duration::from_secs(33).saturating_sub(opened.elapsed()));
    user.type_text("echo later-$((2+1))");
    user.keys(&["Enter"]);
    console.wait_for("later-3", wait);
    // Read only: keys typed in the console never reach the session.
    console.type_text("echo typed-by-reviewer");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !user.screen().contains("typed-by-reviewer"),
        "{}",
        user.screen()
    );
    let m = metrics(&api_b);
    assert!(
        m.contains("bastion_remote_watches_total{result=\"opened\"} 1"),
        "{m}"
    );
    let m = metrics(&api_a);
    assert!(
        m.contains("bastion_remote_watches_total{result=\"served\"} 1"),
        "{m}"
    );
    console.keys(&["q"]);
    console.wait_for("live sessions", wait);

    // A command held on A is approved through B.
    let child = alice
        .ssh("t1@127.0.0.1", &["echo approved-elsewhere; echo drop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = a.held_request();
    let ok = run(&mut bob.ssh("review@127.0.0.1", &[&format!("approve {id}")]));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("approved-elsewhere"));

    // A dies: B says so at once instead of hanging.
    a.kill();
    console.keys(&["Enter"]);
    let s = console.wait_for("cannot reach bastion a", Duration::from_secs(15));
    assert!(!s.contains("(read only, masked)"), "{s}");
    let m = metrics(&api_b);
    assert!(
        m.contains("bastion_remote_watches_total{result=\"failed\"} 1"),
        "{m}"
    );
    console.keys(&["q"]);
    console.keys(&["q"]);
    // A's recordings before it died are in the store up to the last interval; B's spool empties.
    let spool_b = b.dir.path().join("recordings");
    assert!(
        wait_for(Duration::from_secs(30), || casts(&spool_b)
            .is_empty()
            .then_some(()))
        .is_some(),
        "{:?}",
        casts(&spool_b)
    );
    let spool_a = a.dir.path().join("recordings");
    let shell = casts(&spool_a)
        .into_iter()
        .find(|c| {
            std::fs::read_to_string(c)
                .unwrap_or_default()
                .contains("later-3")
        })
        .unwrap();
    let at = format!(
        "s3://recordings/fleet/{}",
        shell.strip_prefix(&spool_a).unwrap().display()
    );
    let p = run(Command::new(tests::bastion_bin())
        .args(["play", "--cat", "--force", &at, "--config"])
        .arg(&b.config));
    assert!(
        stdout(&p).contains("live-42 SSN ***-**-****"),
        "{}{}",
        stdout(&p),
        stderr(&p)
    );
    assert!(
        stderr(&p).contains("put together from its"),
        "{}",
        stderr(&p)
    );
}

/// Between bastions over TLS: the watching bastion trusts only the certificate the other
/// published in the shared database, byte for byte. Another certificate from the same CA, for
/// the same address, is refused: a CA-based check would have let it through.
#[test]
fn watching_over_tls_trusts_only_the_published_certificate() {
    let pg = Postgres::launch();
    let db = pg.create_database("fleet_tls");
    let garage = Garage::launch();
    let ba = BastionBuilder::new();
    let sshd = ba.sshd("t1");
    let keys = ba.path("keys");
    // A private CA and two server certificates for 127.0.0.1 signed by it.
    let o = run(Command::new("bash")
        .arg("-ec")
        .arg(
            "E='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'
             openssl req -x509 $E -days 1 -subj /CN=fleet-ca -keyout ca.key -out ca.crt
             printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
             for n in api other; do
               openssl req $E -subj /CN=127.0.0.1 -keyout $n.key -out $n.csr
               openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out $n.crt
             done",
        )
        .current_dir(ba.path("")));
    assert!(o.status.success(), "{}", stderr(&o));
    let tls = format!(
        "api_tls_cert = \"{}\"\napi_tls_key = \"{}\"",
        ba.path("api.crt").display(),
        ba.path("api.key").display()
    );
    let other = std::fs::read_to_string(ba.path("other.crt")).unwrap();
    let a = member(ba.server(&tls), "a", &db, &garage, &sshd);
    let bb = BastionBuilder::sharing_keys(&keys);
    let b = member(bb, "b", &db, &garage, &sshd);
    let alice = a.user("alice@example.test", "ops");
    let mut bob: User = a.user("bob@example.test", "leads");
    bob.port = b.port;
    let wait = Duration::from_secs(30);
    let user = Tmux::start(&alice.remote_bash("t1@127.0.0.1"), 100, 24);
    user.wait_for("REMOTE$", wait);
    user.type_text("echo over-tls-$((6*7))");
    user.keys(&["Enter"]);
    user.wait_for("over-tls-42", wait);
    // A publishes https and its certificate.
    let published = wait_for(wait, || {
        let row = pg.psql(
            "fleet_tls",
            "SELECT api_url || ' ' || api_cert FROM instances WHERE name = 'a'",
        );
        row.contains("https://").then_some(row)
    })
    .unwrap();
    assert!(
        published.contains("BEGIN CERTIFICATE") && !published.contains("PRIVATE KEY"),
        "{published}"
    );
    let console = Tmux::start(
        &format!("{} -tt review@127.0.0.1; sleep 60", bob.ssh_line("", "")),
        130,
        30,
    );
    console.wait_for("pending requests", wait);
    console.keys(&["s"]);
    console.wait_for("alice@example.test", wait);
    console.keys(&["Enter"]);
    console.wait_for("(read only, masked)", wait);
    console.wait_for("over-tls-42", wait);
    console.keys(&["q"]);
    console.wait_for("live sessions", wait);
    // The database says A's certificate is another one from the same CA: B refuses A. The
    // heartbeat puts the real one back every 10 s, so the swap is tried again if it lost the
    // race.
    let swap = format!(
        "UPDATE instances SET api_cert = '{}' WHERE name = 'a' RETURNING name",
        other.trim()
    );
    let refused = (0..3).find_map(|_| {
        let done = pg.psql("fleet_tls", &swap);
        assert_eq!(done.trim(), "a");
        // The console reads the list every second.
        std::thread::sleep(Duration::from_millis(1500));
        console.keys(&["Enter"]);
        let screen = wait_for(Duration::from_secs(10), || {
            let s = console.screen();
            (s.contains("cannot reach bastion a") || s.contains("(read only, masked)")).then_some(s)
        })
        .unwrap_or_default();
        if screen.contains("(read only, masked)") {
            console.keys(&["q"]);
            console.wait_for("live sessions", wait);
            None
        } else {
            Some(screen)
        }
    });
    let screen = refused.expect("a certificate A did not publish was trusted");
    assert!(
        screen.contains("cannot reach bastion a at https://"),
        "{screen}"
    );
    drop(b);
}

/// What `GET /v1/live/{channel}` answers for this bearer ticket: the status and the body read
/// within two seconds (a served feed goes on as long as the channel).
fn live(api: &str, channel: &str, ticket: Option<&str>) -> (String, String) {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "2", "-w", "\n%{http_code}"]);
    if let Some(t) = ticket {
        curl.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = stdout(
        &curl
            .arg(format!("{api}/v1/live/{channel}"))
            .output()
            .unwrap(),
    );
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    (code.trim().to_string(), body.to_string())
}

#[test]
fn the_live_feed_serves_a_fresh_ticket_for_its_own_channel_once() {
    let pg = Postgres::launch();
    let db = pg.create_database("fleet");
    let garage = Garage::launch();
    let ba = BastionBuilder::new();
    let sshd = ba.sshd("t1");
    let a = member(ba, "a", &db, &garage, &sshd);
    let api = a.api();
    let alice = a.user("alice@example.test", "ops");
    let wait = Duration::from_secs(30);
    let user = Tmux::start(&alice.remote_bash("t1@127.0.0.1"), 100, 24);
    user.type_text("echo live-$((6*7)) 321-54-$((9000+876))");
    user.keys(&["Enter"]);
    user.wait_for("live-42", wait);
    let channel = wait_for(wait, || {
        let id = pg.psql("fleet", "SELECT id FROM live_channels LIMIT 1");
        (!id.trim().is_empty()).then(|| id.trim().to_string())
    })
    .unwrap_or_else(|| panic!("no live channel in the database"));
    // Tickets as a reviewer's bastion writes them: the hash of 64 hex digits, one channel, a
    // deadline.
    let ticket = |n: u8| format!("{n:x}").repeat(64);
    let issue = |t: &str, channel: &str, expires: &str| {
        pg.psql(
            "fleet",
            &format!(
                "INSERT INTO watch_tickets (token_hash, channel_id, reviewer, issued_by, \
                 expires_at_ms) VALUES (encode(sha256(convert_to('{t}', 'UTF8')), 'hex'), \
                 '{channel}', 'mallory@example.test', 'b', {expires})"
            ),
        );
    };
    let later = "(extract(epoch from now()) * 1000)::bigint + 60000";
    let earlier = "(extract(epoch from now()) * 1000)::bigint - 1";
    issue(&ticket(1), &channel, earlier);
    issue(&ticket(2), "0123abcd-7", later);
    issue(&ticket(3), &channel, later);

    let refused = |t: Option<&str>, code: &str, why: &str| {
        let (got, body) = live(&api, &channel, t);
        assert_eq!(got, code, "{why}: {body}");
        assert!(!body.contains("live-42"), "{why}: {body}");
    };
    refused(None, "401", "no ticket");
    refused(Some("not-a-ticket"), "401", "not a ticket");
    refused(Some(&ticket(9)), "403", "a ticket nobody issued");
    refused(Some(&ticket(1)), "403", "an expired ticket");
    refused(Some(&ticket(2)), "403", "another channel's ticket");
    let (code, _) = live(&api, "ffff-1", Some(&ticket(3)));
    assert_eq!(code, "404", "a channel this bastion does not run");

    // The right ticket opens the feed once: the screen so far, masked.
    let (code, body) = live(&api, &channel, Some(&ticket(3)));
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("live-42 ***-**-****"), "{body}");
    assert!(!body.contains("9876"), "{body}");
    refused(Some(&ticket(3)), "403", "a ticket used once already");

    let log = a.log();
    assert!(
        !log.contains(&ticket(3)) && !log.contains(&ticket(9)),
        "{log}"
    );
    let m = metrics(&api);
    assert!(
        m.contains("bastion_remote_watches_total{result=\"served\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("bastion_remote_watches_total{result=\"refused\"} 4"),
        "{m}"
    );
}
