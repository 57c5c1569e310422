//! Writing recordings for the tests with the real recorder.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use recorder::*;

pub fn key(seed: u8) -> Arc<SigningKey> {
    Arc::new(SigningKey::from_seed(&[seed; 32]).unwrap())
}

pub fn header(kind: ChannelKind) -> Header {
    Header {
        term: Term {
            cols: 40,
            rows: 10,
            term_type: Some("xterm-256color".into()),
        },
        timestamp: Some(1_700_000_000),
        command: (kind == ChannelKind::Exec).then(|| "make test".to_string()),
        ..Header::default()
    }
}

pub fn meta(session: &str, kind: ChannelKind) -> BastionMeta {
    BastionMeta {
        session: session.into(),
        channel: 0,
        user: "alice@example.com".into(),
        cert_serial: Some(1),
        source: "127.0.0.1:50000".into(),
        target: "db1".into(),
        login: "postgres".into(),
        kind,
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Opens a recorder that checkpoints after every line, so verification can name exact lines.
pub fn open(dir: &Path, session: &str, key: Arc<SigningKey>) -> Recorder {
    let path = recording_path(
        dir,
        session,
        0,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .unwrap();
    let opts = RecorderOptions {
        checkpoint_interval: Duration::ZERO,
        ..Default::default()
    };
    Recorder::create(
        &path,
        &header(ChannelKind::Shell),
        &meta(session, ChannelKind::Shell),
        key,
        opts,
    )
    .unwrap()
}

/// Writes `n` output lines `line 1` … `line n`, one checkpoint each, and seals: event line `i`
/// is the output `line i`, event line `n + 1` the exit status.
pub fn sealed(dir: &Path, session: &str, key: Arc<SigningKey>, n: u64) -> (PathBuf, Seal) {
    let mut rec = open(dir, session, key);
    for i in 1..=n {
        rec.output(ms(i * 100), format!("line {i}\r\n").as_bytes())
            .unwrap();
        rec.checkpoint_if_due(ms(i * 100)).unwrap();
    }
    rec.exit(ms(n * 100 + 50), "0").unwrap();
    let path = rec.path().to_path_buf();
    (path, rec.seal(ms(n * 100 + 50)).unwrap())
}

pub fn sig(cast: &Path) -> PathBuf {
    sidecar_path(cast)
}
