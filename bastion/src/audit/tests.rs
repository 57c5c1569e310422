//! The store against a real SQLite file and a real PostgreSQL server: every scenario runs on
//! both, which is what proves that one set of SQL statements fits both schemas.

use std::path::Path;

use harness::Postgres;

use super::query::Pty;
use super::store::Pool;
use super::*;

const T0: i64 = 1_700_000_000_000;

async fn sqlite(dir: &Path, name: &str) -> AuditStore {
    let url = format!("sqlite://{}", dir.join(name).display());
    AuditStore::connect(&url).await.unwrap()
}

fn session(id: &str, identity: &str, at: i64, target: Option<&str>) -> SessionOpened {
    SessionOpened {
        id: id.into(),
        started_at_ms: at,
        identity: identity.into(),
        serial: u64::MAX,
        principals: vec!["ops".into(), "dba, leads".into()],
        peer: "127.0.0.1:50000".into(),
        target: target.map(Into::into),
        login: target.map(|_| "root".into()),
    }
}

fn channel(session_id: &str, channel: u32, at: i64, target: &str) -> ChannelOpened {
    ChannelOpened {
        session_id: session_id.into(),
        channel,
        started_at_ms: at,
        kind: "exec".into(),
        command: Some("uname -a; echo 'é'".into()),
        target: target.into(),
        login: "root".into(),
        pty: None,
        recording_path: Some(format!("/rec/{session_id}-{channel}.cast")),
    }
}

fn end(at: i64, status: Option<u32>) -> ChannelEnd {
    ChannelEnd {
        ended_at_ms: at,
        exit_status: status,
        exit_signal: None,
        bytes_in: 10,
        bytes_out: u64::try_from(i64::MAX).unwrap(),
        final_hash: Some("sha256:abc".into()),
        signature: Some("sig".into()),
        close_reason: "closed by client".into(),
    }
}

fn all() -> Filter {
    Filter::default()
}

/// Every field written comes back as written, including u64::MAX serials and byte counts at
/// the schema's limit.
async fn round_trip(store: &AuditStore) {
    store.ping().await.unwrap();
    let refused = AuthEvent {
        at_ms: T0,
        peer: "10.0.0.9:4000".into(),
        user_name: "root@db1".into(),
        identity: Some("mallory@example.test".into()),
        serial: Some(u64::MAX),
        accepted: false,
        reason: "certificate expired".into(),
        principals: Some(vec!["ops".into(), "dba".into()]),
        offered: None,
    };
    let unknown = AuthEvent {
        identity: None,
        serial: None,
        reason: "no certificate".into(),
        principals: None,
        offered: Some("key id \"mallory\", serial 1, principals [\"root\"]".into()),
        ..refused.clone()
    };
    store.auth_event(&refused).await.unwrap();
    store.auth_event(&unknown).await.unwrap();
    let auth = store.auth_events(&all()).await.unwrap();
    assert_eq!(auth.len(), 2);
    assert_eq!(auth[0].serial, Some(u64::MAX));
    assert_eq!(auth[0].identity.as_deref(), Some("mallory@example.test"));
    assert!(!auth[0].accepted);
    assert_eq!(auth[0].reason, "certificate expired");
    assert_eq!(auth[0].principals, Some(vec!["ops".into(), "dba".into()]));
    assert_eq!((auth[1].serial, auth[1].identity.as_ref()), (None, None));
    assert!(auth[1]
        .offered
        .as_deref()
        .is_some_and(|o| o.contains("mallory")));
    // Refusals only.
    store
        .auth_event(&AuthEvent {
            accepted: true,
            reason: "accepted".into(),
            ..refused.clone()
        })
        .await
        .unwrap();
    let only = Filter {
        refused: true,
        ..all()
    };
    assert_eq!(store.auth_events(&only).await.unwrap().len(), 2);
    assert_eq!(store.auth_events(&all()).await.unwrap().len(), 3);

    store
        .session_opened(&session("s1", "alice@example.test", T0, Some("db1")))
        .await
        .unwrap();
    let mut shell = channel("s1", 0, T0 + 1, "db1");
    shell.kind = "shell".into();
    shell.command = None;
    shell.pty = Some(("xterm-256color".into(), u32::MAX, 24));
    let shell = store.channel_opened(&shell).await.unwrap();
    let running = &store.channels(&all()).await.unwrap()[0];
    assert_eq!((running.ended_at_ms, running.bytes_in), (None, None));

    let mut signalled = end(T0 + 5_000, None);
    signalled.exit_signal = Some("KILL".into());
    store.channel_closed(&shell, &signalled).await.unwrap();
    store
        .session_closed("s1", T0 + 6_000, "client disconnected")
        .await
        .unwrap();

    let s = &store.sessions(&all()).await.unwrap()[0];
    assert_eq!(s.id, "s1");
    assert_eq!(s.serial, u64::MAX);
    assert_eq!(s.principals, vec!["ops", "dba, leads"]);
    assert_eq!(s.ended_at_ms, Some(T0 + 6_000));
    assert_eq!(s.close_reason.as_deref(), Some("client disconnected"));
    assert_eq!(
        (s.target.as_deref(), s.login.as_deref()),
        (Some("db1"), Some("root"))
    );
    let c = &store.channels(&all()).await.unwrap()[0];
    assert_eq!(
        c.pty,
        Some(Pty {
            term: "xterm-256color".into(),
            cols: u32::MAX,
            rows: 24
        })
    );
    assert_eq!(c.identity, "alice@example.test");
    assert_eq!((c.kind.as_str(), c.command.as_deref()), ("shell", None));
    assert_eq!(
        (c.exit_status, c.exit_signal.as_deref()),
        (None, Some("KILL"))
    );
    assert_eq!((c.bytes_in, c.bytes_out), (Some(10), Some(i64::MAX as u64)));
    assert_eq!(c.final_hash.as_deref(), Some("sha256:abc"));
    assert_eq!(c.signature.as_deref(), Some("sig"));
    assert_eq!(c.recording_path.as_deref(), Some("/rec/s1-0.cast"));
    assert_eq!(c.close_reason.as_deref(), Some("closed by client"));
    assert_eq!(c.ended_at_ms, Some(T0 + 5_000));

    // JSON keeps 64-bit serials exact by writing them as strings.
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["serial"], "18446744073709551615");

    let too_big = ChannelEnd {
        bytes_in: u64::MAX,
        ..end(T0, None)
    };
    assert!(matches!(
        store.channel_closed(&shell, &too_big).await,
        Err(AuditError::OutOfRange {
            field: "bytes_in",
            ..
        })
    ));
}

/// since, user, target and limit narrow; rows come oldest first; a session matches a target
/// its channels went to.
async fn filters(store: &AuditStore) {
    store
        .session_opened(&session("a1", "alice", T0, Some("db1")))
        .await
        .unwrap();
    store
        .session_opened(&session("b1", "bob", T0 + 1000, None))
        .await
        .unwrap();
    store
        .session_opened(&session("a2", "alice", T0 + 2000, Some("web1")))
        .await
        .unwrap();
    store
        .channel_opened(&channel("b1", 0, T0 + 1500, "db1"))
        .await
        .unwrap();
    store
        .channel_opened(&channel("a2", 0, T0 + 2500, "web1"))
        .await
        .unwrap();
    for (i, who) in ["alice", "bob", "alice"].iter().enumerate() {
        let at = T0 + 1000 * i64::try_from(i).unwrap();
        let e = AuthEvent {
            at_ms: at,
            peer: "p".into(),
            user_name: "u".into(),
            identity: Some(who.to_string()),
            serial: Some(7),
            accepted: true,
            reason: "accepted".into(),
            principals: None,
            offered: None,
        };
        store.auth_event(&e).await.unwrap();
    }
    let ids = |rows: Vec<SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();

    assert_eq!(
        ids(store.sessions(&all()).await.unwrap()),
        ["a1", "b1", "a2"]
    );
    let f = Filter {
        user: Some("alice".into()),
        ..all()
    };
    assert_eq!(ids(store.sessions(&f).await.unwrap()), ["a1", "a2"]);
    let f = Filter {
        since_ms: Some(T0 + 1000),
        ..all()
    };
    assert_eq!(ids(store.sessions(&f).await.unwrap()), ["b1", "a2"]);
    let f = Filter {
        target: Some("db1".into()),
        ..all()
    };
    assert_eq!(ids(store.sessions(&f).await.unwrap()), ["a1", "b1"]);
    let f = Filter {
        limit: Some(2),
        ..all()
    };
    assert_eq!(ids(store.sessions(&f).await.unwrap()), ["b1", "a2"]);

    let f = Filter {
        user: Some("bob".into()),
        ..all()
    };
    let chans = store.channels(&f).await.unwrap();
    assert_eq!(chans.len(), 1);
    assert_eq!(
        (chans[0].session_id.as_str(), chans[0].target.as_str()),
        ("b1", "db1")
    );
    let f = Filter {
        target: Some("web1".into()),
        ..all()
    };
    assert_eq!(store.channels(&f).await.unwrap()[0].session_id, "a2");

    let f = Filter {
        user: Some("alice".into()),
        since_ms: Some(T0 + 1),
        target: Some("ignored for auth".into()),
        limit: None,
        refused: false,
    };
    let auth = store.auth_events(&f).await.unwrap();
    assert_eq!(
        auth.iter().map(|a| a.at_ms).collect::<Vec<_>>(),
        [T0 + 2000]
    );
}

/// Closing twice keeps the first end; unknown ids are errors; a channel's own end completes a
/// row that the session's end closed first; a channel needs its session.
async fn close_rules(store: &AuditStore) {
    store
        .session_opened(&session("s", "alice", T0, None))
        .await
        .unwrap();
    let three = store
        .channel_opened(&channel("s", 3, T0, "db1"))
        .await
        .unwrap();
    store.session_closed("s", T0 + 10, "first").await.unwrap();
    store.session_closed("s", T0 + 20, "second").await.unwrap();
    let s = &store.sessions(&all()).await.unwrap()[0];
    assert_eq!(
        (s.ended_at_ms, s.close_reason.as_deref()),
        (Some(T0 + 10), Some("first"))
    );
    // The session's end closed the open channel without exit data ...
    let c = &store.channels(&all()).await.unwrap()[0];
    assert_eq!(
        (c.ended_at_ms, c.close_reason.as_deref(), c.bytes_in),
        (Some(T0 + 10), Some("first"), None)
    );
    // ... which the relay's later report completes, once.
    store
        .channel_closed(&three, &end(T0 + 15, Some(0)))
        .await
        .unwrap();
    store
        .channel_closed(&three, &end(T0 + 99, Some(1)))
        .await
        .unwrap();
    let c = &store.channels(&all()).await.unwrap()[0];
    assert_eq!(
        (c.ended_at_ms, c.exit_status, c.bytes_in),
        (Some(T0 + 15), Some(0), Some(10))
    );

    assert!(matches!(
        store.session_closed("nope", T0, "x").await,
        Err(AuditError::UnknownSession { .. })
    ));
    let never = OpenChannel {
        session_id: "s".into(),
        channel: 9,
        row: three.row + 100,
    };
    assert!(matches!(
        store.channel_closed(&never, &end(T0, None)).await,
        Err(AuditError::UnknownChannel { channel: 9, .. })
    ));
    let orphan = store.channel_opened(&channel("nope", 0, T0, "db1")).await;
    assert!(
        matches!(orphan, Err(AuditError::Query { .. })),
        "{orphan:?}"
    );
    assert!(matches!(
        store.session_opened(&session("s", "alice", T0, None)).await,
        Err(AuditError::Query { .. })
    ));
}

/// At start, this instance's sessions and channels without an end are closed with the reason;
/// ended ones and other instances' are left alone.
async fn crash_recovery(store: &AuditStore) {
    let other = store.clone().with_instance("other-bastion");
    let me = store.clone().with_instance("this-bastion");
    me.session_opened(&session("open", "alice", T0, None))
        .await
        .unwrap();
    me.channel_opened(&channel("open", 0, T0, "db1"))
        .await
        .unwrap();
    me.session_opened(&session("done", "alice", T0, None))
        .await
        .unwrap();
    me.session_closed("done", T0 + 1, "normal").await.unwrap();
    other
        .session_opened(&session("theirs", "bob", T0, None))
        .await
        .unwrap();

    other
        .channel_opened(&channel("theirs", 0, T0, "db1"))
        .await
        .unwrap();
    // Channels of an ended session: one sealed, one whose recorder stopped without a seal.
    let sealed = me
        .channel_opened(&channel("done", 0, T0, "db1"))
        .await
        .unwrap();
    me.channel_closed(&sealed, &end(T0 + 1, Some(0)))
        .await
        .unwrap();
    let failed = me
        .channel_opened(&channel("done", 1, T0, "db1"))
        .await
        .unwrap();
    let no_seal = ChannelEnd {
        final_hash: None,
        signature: None,
        ..end(T0 + 1, None)
    };
    me.channel_closed(&failed, &no_seal).await.unwrap();
    let open = me.unsealed_recordings().await.unwrap();
    let paths: Vec<&str> = open.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(paths, ["/rec/open-0.cast", "/rec/done-1.cast"]);
    assert_eq!(
        me.close_unfinished_sessions(T0 + 50, "recovered after crash")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        me.close_unfinished_sessions(T0 + 60, "again")
            .await
            .unwrap(),
        0
    );
    // Closing the rows does not seal their recordings: still listed until a seal is stored.
    assert_eq!(me.unsealed_recordings().await.unwrap(), open);

    let by_id = |rows: &[SessionRow], id: &str| {
        let s = rows.iter().find(|s| s.id == id).unwrap().clone();
        (s.ended_at_ms, s.close_reason)
    };
    let rows = store.sessions(&all()).await.unwrap();
    assert_eq!(
        by_id(&rows, "open"),
        (Some(T0 + 50), Some("recovered after crash".into()))
    );
    assert_eq!(by_id(&rows, "done"), (Some(T0 + 1), Some("normal".into())));
    assert_eq!(by_id(&rows, "theirs"), (None, None));
    assert_eq!(
        rows.iter().find(|s| s.id == "open").unwrap().instance,
        "this-bastion"
    );
    me.channel_recovered(open[0].0, "hash", "sig")
        .await
        .unwrap();
    me.channel_recovered(open[0].0, "other", "other")
        .await
        .unwrap();
    me.channel_recovered(open[1].0, "hash 2", "sig 2")
        .await
        .unwrap();
    assert!(me.unsealed_recordings().await.unwrap().is_empty());
    let channels = store.channels(&all()).await.unwrap();
    let c = channels.iter().find(|c| c.session_id == "open").unwrap();
    assert_eq!(
        (c.ended_at_ms, c.close_reason.as_deref()),
        (Some(T0 + 50), Some("recovered after crash"))
    );
    assert_eq!(
        (c.final_hash.as_deref(), c.signature.as_deref()),
        (Some("hash"), Some("sig"))
    );
}

/// Requests an identity may have waiting: expired and decided ones do not count, and other
/// identities have their own allowance.
async fn pending_limit(store: &AuditStore) {
    store
        .session_opened(&session("s1", "alice", T0, Some("t1")))
        .await
        .unwrap();
    let req = |who: &str, at: i64, expires: i64| ApprovalRequest {
        session_id: "s1".into(),
        channel: 0,
        rule: "no-drops".into(),
        command: "drop table x".into(),
        requester: who.into(),
        target: "t1".into(),
        login: "root".into(),
        required: 1,
        requested_at_ms: at,
        expires_at_ms: expires,
        screen: None,
    };
    let ask = |r: ApprovalRequest| async move { store.approval_requested(&r, 2).await.unwrap() };
    // Left pending by a bastion that went away, long expired.
    assert!(ask(req("alice", T0, T0 + 10)).await.is_some());
    let first = ask(req("alice", T0 + 100, T0 + 60_000)).await.unwrap();
    assert!(ask(req("alice", T0 + 101, T0 + 60_000)).await.is_some());
    assert_eq!(ask(req("alice", T0 + 102, T0 + 60_000)).await, None);
    assert!(ask(req("bob", T0 + 103, T0 + 60_000)).await.is_some());
    assert!(store
        .approval_decide(first, "denied", T0 + 200)
        .await
        .unwrap());
    let next = ask(req("alice", T0 + 201, T0 + 60_000)).await.unwrap();
    let stored = store.approval(next).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.requester.as_str(),
            stored.state.as_str(),
            stored.screen
        ),
        ("alice", "pending", None)
    );
    // The refused request was not stored: four wait (one of them expired).
    assert_eq!(store.approvals(true, 100).await.unwrap().len(), 4);

    // A burst of simultaneous requests (a script firing commands in parallel) on several
    // connections of the pool: exactly the allowance gets through.
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        let r = req("carol", T0 + 300 + i, T0 + 60_000);
        burst.spawn(async move { store.approval_requested(&r, 2).await.unwrap() });
    }
    let stored = burst.join_all().await.into_iter().flatten().count();
    assert_eq!(stored, 2);
}

#[tokio::test]
async fn sqlite_round_trip_filters_close_rules_and_recovery() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&sqlite(dir.path(), "a.db").await).await;
    filters(&sqlite(dir.path(), "b.db").await).await;
    close_rules(&sqlite(dir.path(), "c.db").await).await;
    crash_recovery(&sqlite(dir.path(), "d.db").await).await;
    pending_limit(&sqlite(dir.path(), "e.db").await).await;
}

#[tokio::test]
async fn postgres_round_trip_filters_close_rules_and_recovery() {
    let pg = Postgres::launch();
    let connect = |name: &str| {
        let url = pg.create_database(name);
        async move { AuditStore::connect(&url).await.unwrap() }
    };
    round_trip(&connect("a").await).await;
    filters(&connect("b").await).await;
    close_rules(&connect("c").await).await;
    crash_recovery(&connect("d").await).await;
    pending_limit(&connect("e").await).await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let url = format!("sqlite://{}", path.display());
    let store = AuditStore::connect(&url).await.unwrap();
    assert!(dir.path().join("audit.db").exists());
    let Pool::Sqlite(pool) = &store.pool else {
        panic!("not sqlite")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    store
        .session_opened(&session("s", "alice", T0, None))
        .await
        .unwrap();
    drop(store);
    // Connecting again applies nothing twice and keeps the rows.
    let again = AuditStore::connect(&url).await.unwrap();
    assert_eq!(again.sessions(&all()).await.unwrap().len(), 1);
    let Pool::Sqlite(pool) = &again.pool else {
        panic!("not sqlite")
    };
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    // Each migration once, even though the store was opened twice.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap());
}

#[tokio::test]
async fn postgres_outage_fails_ping_and_writes_then_recovers() {
    let mut pg = Postgres::launch();
    let store = AuditStore::connect(&pg.url()).await.unwrap();
    store.ping().await.unwrap();
    pg.stop();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, AuditError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&pg.url()), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    let write = store.session_opened(&session("s", "alice", T0, None)).await;
    assert!(write.is_err(), "a write during the outage succeeded");
    pg.start();
    store.ping().await.unwrap();
    store
        .session_opened(&session("s", "alice", T0, None))
        .await
        .unwrap();
    assert_eq!(store.sessions(&all()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn ends_during_an_outage_are_written_when_the_database_is_back() {
    let mut pg = Postgres::launch();
    let store = AuditStore::connect(&pg.url()).await.unwrap();
    let endings = Endings::new(store.clone());
    store
        .session_opened(&session("s", "alice", T0, Some("db1")))
        .await
        .unwrap();
    let first = store
        .channel_opened(&channel("s", 0, T0, "db1"))
        .await
        .unwrap();
    pg.stop();
    endings
        .record(Ending::Channel {
            channel: first.clone(),
            end: end(T0 + 5, Some(0)),
        })
        .await;
    assert_eq!(endings.waiting(), 1);
    assert_eq!(
        endings.drain(std::time::Duration::from_millis(300)).await,
        1
    );
    pg.start();
    // The client reuses channel number 0 before the retry gets through: the end still lands
    // on the channel that ended.
    let second = store
        .channel_opened(&channel("s", 0, T0 + 7, "db1"))
        .await
        .unwrap();
    assert_ne!(first.row, second.row);
    assert_eq!(endings.drain(std::time::Duration::from_secs(30)).await, 0);
    let ends = |rows: Vec<ChannelRow>| {
        let mut v: Vec<_> = rows
            .iter()
            .map(|c| (c.started_at_ms, c.ended_at_ms, c.exit_status))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        ends(store.channels(&all()).await.unwrap()),
        vec![(T0, Some(T0 + 5), Some(0)), (T0 + 7, None, None)]
    );

    pg.stop();
    endings
        .record(Ending::Session {
            id: "s".into(),
            ended_at_ms: T0 + 9,
            reason: "connection closed".into(),
        })
        .await;
    assert_eq!(endings.waiting(), 1);
    pg.start();
    assert_eq!(endings.drain(std::time::Duration::from_secs(30)).await, 0);
    let s = &store.sessions(&all()).await.unwrap()[0];
    assert_eq!(s.ended_at_ms, Some(T0 + 9));

    // A refusal that waiting cannot fix is not queued.
    endings
        .record(Ending::Session {
            id: "never-opened".into(),
            ended_at_ms: T0,
            reason: "connection closed".into(),
        })
        .await;
    assert_eq!(endings.waiting(), 0);

    // An end handed to a task of its own counts as waiting until it is written, so that a
    // stopping bastion can wait for it.
    store
        .session_opened(&session("s2", "alice", T0, None))
        .await
        .unwrap();
    endings.spawn(Ending::Session {
        id: "s2".into(),
        ended_at_ms: T0 + 3,
        reason: "connection closed".into(),
    });
    assert_eq!(endings.waiting(), 1);
    assert_eq!(endings.drain(std::time::Duration::from_secs(10)).await, 0);
    let closed: Vec<_> = store
        .sessions(&all())
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.id == "s2")
        .map(|s| s.ended_at_ms)
        .collect();
    assert_eq!(closed, vec![Some(T0 + 3)]);
}

#[tokio::test]
async fn unreachable_database_is_named_without_its_password() {
    let port = harness::free_port();
    let url = format!("postgres://bastion:hunter2@127.0.0.1:{port}/audit");
    let err = AuditStore::connect(&url).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, AuditError::Unreachable { .. }), "{err:?}");
    assert!(
        text.contains(&format!("postgres://bastion:***@127.0.0.1:{port}/audit")),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/no/such/dir/a.db", dir.path().display());
    let err = AuditStore::connect(&url).await.unwrap_err();
    assert!(err.to_string().contains("no/such/dir/a.db"), "{err}");
}

#[tokio::test]
async fn a_database_that_never_answers_times_out() {
    // The kernel completes the TCP handshake for a listener nobody accepts on: a server that
    // hangs, as behind a partition.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let err = AuditStore::connect(&format!("postgres://bastion@127.0.0.1:{port}/audit"))
        .await
        .unwrap_err();
    assert!(matches!(err, AuditError::TimedOut { .. }), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://u@h/d", "sqlite::memory:", "bastion.db"] {
        let err = AuditStore::connect(url).await.unwrap_err();
        assert!(
            matches!(err, AuditError::UnsupportedUrl { .. }),
            "{url}: {err:?}"
        );
    }
}
