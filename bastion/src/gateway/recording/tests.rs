use super::*;
use std::path::Path;
use std::sync::Arc;

use recorder::{CheckpointKind, SigningKey};

use tokio::time::Instant;

use crate::audit::{AuditStore, ChannelEnd, ChannelOpened, Filter, SessionOpened};

const T0: i64 = 1_700_000_000_000;

fn header() -> Header {
    Header {
        term: Term {
            cols: 80,
            rows: 24,
            term_type: None,
        },
        timestamp: Some(1_700_000_000),
        ..Header::default()
    }
}

fn meta(session: &str) -> BastionMeta {
    BastionMeta {
        session: session.into(),
        channel: 0,
        user: "alice@example.test".into(),
        cert_serial: None,
        source: "127.0.0.1".into(),
        target: "t1".into(),
        login: "root".into(),
        kind: recorder::ChannelKind::Shell,
    }
}

/// A recording whose recorder stopped without sealing: one line under a live checkpoint.
fn unsealed(dir: &Path, session: &str, key: &Arc<SigningKey>) -> std::path::PathBuf {
    let path = dir.join(format!("{session}-0.cast"));
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(session),
        key.clone(),
        RecorderOptions::default(),
    )
    .unwrap();
    rec.output(Duration::from_secs(2), b"before the stop\r\n")
        .unwrap();
    rec.checkpoint_if_due(Duration::from_secs(2))
        .unwrap()
        .unwrap();
    path
}

async fn row(store: &AuditStore, session: &str, path: &Path) -> crate::audit::OpenChannel {
    store
        .session_opened(&SessionOpened {
            id: session.into(),
            started_at_ms: T0,
            identity: "alice@example.test".into(),
            serial: 1,
            principals: vec!["ops".into()],
            peer: "127.0.0.1:50000".into(),
            target: Some("t1".into()),
            login: Some("root".into()),
        })
        .await
        .unwrap();
    store
        .channel_opened(&ChannelOpened {
            session_id: session.into(),
            channel: 0,
            started_at_ms: T0,
            kind: "shell".into(),
            command: None,
            target: "t1".into(),
            login: "root".into(),
            pty: None,
            recording_path: Some(path.display().to_string()),
        })
        .await
        .unwrap()
}

fn last_kind(cast: &Path) -> CheckpointKind {
    let side = recorder::read_sidecar(&recorder::sidecar_path(cast))
        .unwrap()
        .unwrap();
    side.checkpoints.last().unwrap().kind
}

/// A channel whose row was closed but whose recording was never sealed (the recorder stopped
/// without sealing) is sealed at start like an open one, and the seal lands in its row; a file
/// no row of this instance names is left alone.
#[tokio::test]
async fn recovery_at_start_seals_recordings_of_closed_rows_without_a_seal() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = AuditStore::connect(&url)
        .await
        .unwrap()
        .with_instance("this-bastion");
    let key = Arc::new(SigningKey::from_seed(&[7; 32]).unwrap());

    let closed = unsealed(dir.path(), "closed", &key);
    let channel = row(&store, "closed", &closed).await;
    store
        .channel_closed(
            &channel,
            &ChannelEnd {
                ended_at_ms: T0 + 5,
                exit_status: None,
                exit_signal: None,
                bytes_in: 0,
                bytes_out: 17,
                final_hash: None,
                signature: None,
                close_reason: "recording failed".into(),
            },
        )
        .await
        .unwrap();
    store
        .session_closed("closed", T0 + 6, "recording failed")
        .await
        .unwrap();
    let foreign = unsealed(dir.path(), "unlisted", &key);

    assert_eq!(recover_unsealed(&key, &store).await.unwrap(), 1);
    assert_eq!(last_kind(&closed), CheckpointKind::Recovered);
    assert_eq!(last_kind(&foreign), CheckpointKind::Checkpoint);
    let report = player::verify(
        &closed,
        &recorder::sidecar_path(&closed),
        &[key.verifying_key().clone()],
    )
    .unwrap();
    assert!(report.is_ok(), "{report}");
    let rows = store.channels(&Filter::default()).await.unwrap();
    assert_eq!(rows[0].final_hash, report.final_hash);
    assert!(rows[0].signature.is_some());
    // Sealed and stored: nothing left to do at the next start.
    assert!(store.unsealed_recordings().await.unwrap().is_empty());
    assert_eq!(recover_unsealed(&key, &store).await.unwrap(), 0);
}

/// The writer task checkpoints on its own while data flows, and after a stream that stops right
/// after a write (nothing more arrives to trigger one): the data is never left uncovered for
/// long, even though the channel stays open.
#[tokio::test]
async fn the_writer_checkpoints_while_data_flows_and_after_it_stops() {
    const INTERVAL: Duration = Duration::from_millis(200);
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(SigningKey::from_seed(&[7; 32]).unwrap());
    let path = dir.path().join("s-0.cast");
    let options = RecorderOptions {
        checkpoint_interval: INTERVAL,
        ..RecorderOptions::default()
    };
    let rec = Recorder::create(&path, &header(), &meta("s"), key, options).unwrap();
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(write_loop(rec, rx, CancellationToken::new()));
    let mut sent = 0u64;
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        tx.send(RecEvent::Output(Bytes::from_static(b"tick\r\n")))
            .await
            .unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The stream stops right after a write, the channel stays open: only the writer's own
    // timer can cover the last lines.
    let checkpoints = || {
        recorder::read_sidecar(&recorder::sidecar_path(&path))
            .unwrap()
            .unwrap()
            .checkpoints
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while checkpoints().last().unwrap().lines < sent {
        assert!(
            Instant::now() < deadline,
            "the last lines were never covered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cps = checkpoints();
    // The timer's own clock: how far apart the writer wrote them (loose, the machine is shared).
    let gaps: Vec<u64> = cps.windows(2).map(|w| w[1].time - w[0].time).collect();
    let longest = gaps.iter().copied().max().unwrap();
    assert!(
        longest <= 2 * INTERVAL.as_millis() as u64,
        "checkpoints {longest} ms apart while data flowed: {gaps:?}"
    );
    assert!(cps.len() >= 5, "{} checkpoints in 1.5 s of data", cps.len());
    drop(tx);
    let seal = task.await.unwrap().unwrap();
    assert_eq!(seal.checkpoint.lines, sent);
}
