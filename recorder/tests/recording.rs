//! End-to-end behaviour of the recorder: file contents, chain, checkpoints, cap, recovery, keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use recorder::*;
use ring::digest::{digest, SHA256};

fn header() -> Header {
    Header {
        term: Term {
            cols: 80,
            rows: 24,
            term_type: Some("xterm-256color".into()),
        },
        timestamp: Some(1_700_000_000),
        command: None,
        title: Some("test".into()),
        ..Header::default()
    }
}

fn meta(kind: ChannelKind) -> BastionMeta {
    BastionMeta {
        session: "s1".into(),
        channel: 0,
        user: "alice@example.com".into(),
        cert_serial: Some(42),
        source: "127.0.0.1:40000".into(),
        target: "db1".into(),
        login: "postgres".into(),
        kind,
    }
}

fn key(seed: u8) -> Arc<SigningKey> {
    Arc::new(SigningKey::from_seed(&[seed; 32]).unwrap())
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn cast_path(dir: &Path) -> PathBuf {
    recording_path(
        dir,
        "s1",
        0,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn event(line: &str) -> (f64, String, String) {
    serde_json::from_str(line).unwrap()
}

/// Recomputes the chain over a cast file with nothing but the documented formula.
fn chain_of(path: &Path) -> (Vec<u8>, Vec<u8>, u64) {
    let text = fs::read(path).unwrap();
    let mut it = text.split(|&b| b == b'\n');
    let mut input = b"bastion-recording-chain-v1\0".to_vec();
    input.extend_from_slice(it.next().unwrap());
    let h0 = digest(&SHA256, &input).as_ref().to_vec();
    let mut h = h0.clone();
    let mut n = 0;
    for line in it.filter(|l| !l.is_empty()) {
        let mut input = h.clone();
        input.extend_from_slice(line);
        h = digest(&SHA256, &input).as_ref().to_vec();
        n += 1;
    }
    (h0, h, n)
}

#[test]
fn writes_v3_events_with_intervals_and_a_verifiable_final_seal() {
    let dir = tempfile::tempdir().unwrap();
    let path = cast_path(dir.path());
    assert!(path.ends_with("2023/11/14/s1-0.cast"));
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    rec.output(ms(100), "héllo ".as_bytes()).unwrap();
    // "€" split over two chunks, then an invalid byte (kept exactly, in a `b` event).
    rec.output(ms(350), b"\xe2\x82").unwrap();
    rec.output(ms(400), b"\xac\xff\r\n").unwrap();
    rec.resize(ms(1400), 100, 40).unwrap();
    rec.marker(ms(1500), "exec: ls").unwrap();
    rec.exit(ms(2000), "0").unwrap();
    let seal = rec.seal(ms(2000)).unwrap();

    let l = lines(&path);
    let h: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
    assert_eq!(h["version"], 3);
    assert_eq!(h["term"]["cols"], 80);
    assert_eq!(h["timestamp"], 1_700_000_000);
    assert_eq!(h["bastion"]["cert_serial"], 42);
    assert_eq!(h["bastion"]["kind"], "shell");
    let events: Vec<_> = l[1..].iter().map(|s| event(s)).collect();
    let expect = [
        (0.1, "o", "héllo "),
        (0.3, "o", "€"),
        (0.0, "b", "/w=="),
        (0.0, "o", "\r\n"),
        (1.0, "r", "100x40"),
        (0.1, "m", "exec: ls"),
        (0.5, "x", "0"),
    ];
    assert_eq!(events.len(), expect.len(), "{l:?}");
    for (got, want) in events.iter().zip(expect) {
        assert!((got.0 - want.0).abs() < 1e-9, "{got:?} vs {want:?}");
        assert_eq!((got.1.as_str(), got.2.as_str()), (want.1, want.2));
    }

    let cp = &seal.checkpoint;
    let (h0, hn, n) = chain_of(&path);
    assert_eq!(cp.kind, CheckpointKind::Final);
    assert!(cp.sealed);
    assert_eq!(cp.lines, n);
    assert_eq!(cp.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(cp.header, hex::encode(&h0));
    assert_eq!(cp.hash, hex::encode(&hn));
    assert_eq!(cp.time, 1_700_000_002_000);
    assert_eq!(cp.verify_signature().unwrap().key_id(), key(1).key_id());
    assert_eq!(seal.counters.output_bytes, "héllo ".len() as u64 + 6);

    let side = read_sidecar(&sidecar_path(&path)).unwrap().unwrap();
    assert_eq!(side.partial_tail, 0);
    assert_eq!(
        side.checkpoints.first().unwrap().lines,
        0,
        "header signed at creation"
    );
    assert_eq!(side.checkpoints.last().unwrap(), cp);
}

#[test]
fn checkpoints_at_most_every_interval_and_only_when_lines_were_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = cast_path(dir.path());
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    assert_eq!(
        rec.checkpoint_if_due(ms(5000)).unwrap(),
        None,
        "nothing new"
    );
    rec.output(ms(5000), b"a").unwrap();
    let cp = rec
        .checkpoint_if_due(ms(5000))
        .unwrap()
        .expect("due: last one at 0 s");
    assert_eq!(
        (cp.lines, cp.kind, cp.sealed),
        (1, CheckpointKind::Checkpoint, false)
    );
    rec.output(ms(5500), b"b").unwrap();
    assert_eq!(
        rec.checkpoint_if_due(ms(5999)).unwrap(),
        None,
        "within a second"
    );
    let cp = rec
        .checkpoint_if_due(ms(6000))
        .unwrap()
        .expect("a second later");
    assert_eq!(cp.lines, 2);
    // The checkpoint covers exactly what is on disk even though the writer buffers.
    assert_eq!(cp.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(
        read_sidecar(&sidecar_path(&path))
            .unwrap()
            .unwrap()
            .checkpoints
            .len(),
        3
    );
    // On demand (a reviewer starts watching): at once, but only when there is something new.
    rec.output(ms(6100), b"c").unwrap();
    let cp = rec.checkpoint_now(ms(6100)).unwrap().expect("new line");
    assert_eq!(cp.lines, 3);
    assert_eq!(cp.bytes, fs::metadata(&path).unwrap().len());
    assert_eq!(rec.checkpoint_now(ms(6200)).unwrap(), None, "nothing new");
}

/// Drives a recorder the way the bastion's writer task does (a checkpoint check after every
/// write, and a wake-up at `checkpoint_due` when nothing else happens) on a simulated clock.
/// Returns when each line was written and the checkpoints, times in ms since the start.
fn drive(dir: &Path, writes: &[u64]) -> (Vec<u64>, Vec<Checkpoint>) {
    let path = cast_path(dir);
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    let wake_until = |rec: &mut Recorder, until: Duration| {
        while let Some(due) = rec.checkpoint_due().filter(|d| *d <= until) {
            // A wake-up at the announced time must find the checkpoint due.
            rec.checkpoint_if_due(due)
                .unwrap()
                .expect("due when announced");
        }
    };
    for &at in writes {
        wake_until(&mut rec, ms(at));
        rec.output(ms(at), b"x\r\n").unwrap();
        rec.checkpoint_if_due(ms(at)).unwrap();
    }
    // The stream stops right after its last write; the channel stays open.
    wake_until(&mut rec, Duration::MAX);
    let mut checkpoints = read_sidecar(&sidecar_path(&path))
        .unwrap()
        .unwrap()
        .checkpoints;
    for cp in &mut checkpoints {
        cp.time -= 1_700_000_000_000;
    }
    (writes.to_vec(), checkpoints)
}

/// The threat model's bound: while data flows, checkpoints are at most the interval (1 s)
/// apart, and no line waits longer than that for one, also when the stream is continuous (as
/// under load) or stops right after a write.
#[test]
fn while_data_flows_no_line_waits_longer_than_the_interval_for_a_checkpoint() {
    let interval = RecorderOptions::default().checkpoint_interval.as_millis() as u64;
    assert_eq!(interval, 1000);
    let continuous: Vec<u64> = (0..=5000).step_by(7).collect();
    // Bursts and pauses of up to 1.5 s (a fixed pseudo-random sequence).
    let mut bursty = Vec::new();
    let (mut seed, mut at) = (0x5eed_u64, 0);
    for _ in 0..400 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        at += (seed >> 33) % 1500;
        bursty.push(at);
    }
    // A write right after a checkpoint, then nothing.
    let stops = vec![100, 1000, 1001];
    for writes in [continuous.clone(), bursty, stops] {
        let dir = tempfile::tempdir().unwrap();
        let (written, cps) = drive(dir.path(), &writes);
        for (i, at) in written.iter().enumerate() {
            let line = i as u64 + 1;
            let covered = cps
                .iter()
                .find(|c| c.lines >= line)
                .expect("every line is covered");
            assert!(
                covered.time <= at + interval,
                "line {line} written at {at} ms first covered at {} ms",
                covered.time
            );
        }
        assert_eq!(cps.last().unwrap().lines, written.len() as u64);
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, cps) = drive(dir.path(), &continuous);
    let gaps: Vec<u64> = cps.windows(2).map(|w| w[1].time - w[0].time).collect();
    assert!(gaps.iter().all(|g| *g <= interval), "{gaps:?}");
    assert!(cps.len() >= 6, "{} checkpoints over 5 s", cps.len());
}

#[test]
fn stderr_is_output_behind_comment_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = cast_path(dir.path());
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Exec),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    rec.output(ms(0), b"out1\n").unwrap();
    rec.stderr(ms(10), b"err1\n").unwrap();
    rec.stderr(ms(20), b"err2\n").unwrap();
    rec.output(ms(30), b"out2\n").unwrap();
    let seal = rec.seal(ms(40)).unwrap();
    let l = lines(&path);
    assert_eq!(l[1..].len(), 6);
    assert_eq!(event(&l[1]).2, "out1\n");
    assert_eq!(l[2], STDERR_COMMENT);
    assert_eq!(event(&l[3]), (0.01, "o".into(), "err1\n".into()));
    assert_eq!(event(&l[4]).2, "err2\n");
    assert_eq!(l[5], STDOUT_COMMENT);
    // Intervals skip comments: 30 ms - 20 ms.
    assert_eq!(event(&l[6]), (0.01, "o".into(), "out2\n".into()));
    assert_eq!(seal.checkpoint.lines, 6, "comments are chained lines");
    assert_eq!(
        (seal.counters.output_bytes, seal.counters.stderr_bytes),
        (10, 10)
    );
}

#[test]
fn output_past_the_cap_is_counted_and_hashed_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = cast_path(dir.path());
    // The cap is on the file: room for the header, its first event and a few bytes more.
    let empty = {
        let d = tempfile::tempdir().unwrap();
        let p = cast_path(d.path());
        Recorder::create(
            &p,
            &header(),
            &meta(ChannelKind::Exec),
            key(1),
            Default::default(),
        )
        .unwrap();
        fs::metadata(&p).unwrap().len()
    };
    let opts = RecorderOptions {
        output_cap: empty + 50,
        ..Default::default()
    };
    let mut rec =
        Recorder::create(&path, &header(), &meta(ChannelKind::Exec), key(1), opts).unwrap();
    rec.output(ms(0), b"0123456").unwrap();
    rec.output(ms(1), b"789SECRET").unwrap();
    rec.stderr(ms(2), b"MORE").unwrap();
    let omitted = rec.counters().omitted_bytes;
    assert!((4..=13).contains(&omitted), "{omitted}");
    let seal = rec.seal(ms(3)).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("SECRET") && !text.contains("MORE"), "{text}");
    let l = lines(&path);
    let evs: Vec<_> = l[1..].iter().map(|s| event(s)).collect();
    assert_eq!(evs[0].2, "0123456");
    let kept: String = evs
        .iter()
        .filter(|e| e.1 == "o")
        .map(|e| e.2.as_str())
        .collect();
    assert!("0123456789".starts_with(&kept), "{kept}");
    let marker = evs.iter().find(|e| e.1 == "m").unwrap();
    assert!(
        marker
            .2
            .contains(&format!("output cap of {} bytes reached", empty + 50)),
        "{marker:?}"
    );
    let last = evs.last().unwrap();
    assert_eq!(last.1, "m");
    let all = b"0123456789SECRETMORE";
    let sha = hex::encode(digest(&SHA256, &all[all.len() - omitted as usize..]).as_ref());
    assert!(
        last.2
            .contains(&format!("{omitted} bytes of output after the file reached"))
            && last.2.contains(&sha),
        "{last:?}"
    );
    assert_eq!(
        seal.counters,
        Counters {
            output_bytes: 16,
            stderr_bytes: 4,
            input_bytes: 0,
            omitted_bytes: omitted
        }
    );
}

#[test]
fn input_is_counted_always_and_recorded_only_when_enabled() {
    for record_input in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = cast_path(dir.path());
        let opts = RecorderOptions {
            record_input,
            ..Default::default()
        };
        let mut rec =
            Recorder::create(&path, &header(), &meta(ChannelKind::Shell), key(1), opts).unwrap();
        rec.input(ms(5), b"ls\r").unwrap();
        let seal = rec.seal(ms(6)).unwrap();
        assert_eq!(seal.counters.input_bytes, 3);
        let l = lines(&path);
        if record_input {
            assert_eq!(event(&l[1]), (0.005, "i".into(), "ls\r".into()));
        } else {
            assert_eq!(l.len(), 1, "{l:?}");
        }
    }
}

#[test]
fn never_overwrites_an_existing_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = cast_path(dir.path());
    let rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    rec.seal(ms(1)).unwrap();
    let err = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, RecorderError::Io { .. }), "{err}");
}

/// Leaves a recording as a crash would: checkpoints up to 1 s, two unsigned lines, a torn line.
fn crashed_recording(dir: &Path) -> PathBuf {
    let path = cast_path(dir);
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Shell),
        key(1),
        RecorderOptions::default(),
    )
    .unwrap();
    rec.output(ms(100), b"one\r\n").unwrap();
    rec.checkpoint_if_due(ms(1000)).unwrap().unwrap();
    rec.output(ms(1100), b"two\r\n").unwrap();
    rec.output(ms(1200), b"three\r\n").unwrap();
    drop(rec); // no seal; BufWriter flushes what it holds, as the OS would keep written pages
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, b"[0.1, \"o\", \"fo").unwrap();
    let mut s = fs::OpenOptions::new()
        .append(true)
        .open(sidecar_path(&path))
        .unwrap();
    std::io::Write::write_all(&mut s, b"{\"kind\":\"checkp").unwrap();
    path
}

#[test]
fn recover_seals_the_intact_lines_and_drops_torn_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let outcome = recover(&path, &key(1), now).unwrap();
    let RecoverOutcome::Recovered(r) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(r.checkpoint.kind, CheckpointKind::Recovered);
    assert!(r.checkpoint.sealed);
    assert_eq!(r.checkpoint.lines, 3);
    assert_eq!(r.unsigned_lines, 2);
    assert_eq!(r.dropped_cast_bytes, 14);
    assert_eq!(r.dropped_sidecar_bytes, 15);
    assert_eq!(r.checkpoint.time, 1_800_000_000_000);
    let (_, hn, n) = chain_of(&path);
    assert_eq!((n, hex::encode(&hn)), (3, r.checkpoint.hash.clone()));
    assert!(fs::read_to_string(&path)
        .unwrap()
        .ends_with("three\\r\\n\"]\n"));
    let side = read_sidecar(&sidecar_path(&path)).unwrap().unwrap();
    assert_eq!(side.partial_tail, 0);
    assert_eq!(side.checkpoints.last().unwrap(), &r.checkpoint);
    r.checkpoint.verify_signature().unwrap();

    match recover(&path, &key(1), now).unwrap() {
        RecoverOutcome::AlreadySealed(cp) => assert_eq!(cp, r.checkpoint),
        other => panic!("{other:?}"),
    }
}

#[test]
fn recover_refuses_to_bless_content_that_contradicts_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    let text = fs::read_to_string(&path).unwrap().replace("one", "ONE");
    fs::write(&path, text).unwrap();
    let err = recover(&path, &key(1), SystemTime::now()).unwrap_err();
    assert!(
        matches!(
            err,
            RecorderError::Recover {
                reason: RecoverRefusal::ChainMismatch {
                    checkpoint: 1,
                    lines: 1
                },
                ..
            }
        ),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, &text[..text.find('\n').unwrap() + 1]).unwrap();
    let err = recover(&path, &key(1), SystemTime::now()).unwrap_err();
    assert!(
        matches!(
            err,
            RecorderError::Recover {
                reason: RecoverRefusal::Truncated {
                    lines: 1,
                    found: 0,
                    ..
                },
                ..
            }
        ),
        "{err}"
    );
}

fn private_copy(name: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        &path,
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    (dir, path)
}

#[test]
fn loads_openssh_keys_and_names_them_by_fingerprint() {
    let (_d, path) = private_copy("test_recording_ed25519", 0o600);
    let key = SigningKey::load_openssh(&path).unwrap();
    // As printed by `ssh-keygen -l -f tests/fixtures/test_recording_ed25519.pub`.
    assert_eq!(
        key.key_id(),
        "SHA256:p+yU9YCqH//jwhL/dJAZTumfnf32qmX65+4n5afd5VE"
    );
    let public = VerifyingKey::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test_recording_ed25519.pub"),
    )
    .unwrap();
    assert_eq!(&public, key.verifying_key());
    assert_eq!(VerifyingKey::load(&path).unwrap(), public);

    let (_d, loose) = private_copy("test_recording_ed25519", 0o644);
    assert!(matches!(
        SigningKey::load_openssh(&loose),
        Err(RecorderError::KeyPermissions { mode: 0o644, .. })
    ));
    let (_d, enc) = private_copy("test_encrypted_ed25519", 0o600);
    let err = SigningKey::load_openssh(&enc).unwrap_err();
    assert!(err.to_string().contains("encrypted"), "{err}");
    assert!(VerifyingKey::from_openssh("ssh-rsa AAAA").is_err());
}

#[test]
fn recorder_can_move_into_a_writer_task() {
    // The bastion hands each recorder to its own task/thread.
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Recorder>();
    assert_send::<Arc<SigningKey>>();
}

#[test]
fn recover_refuses_files_it_did_not_start_or_cannot_trust() {
    // A cast with no sidecar: anyone could have written it; sealing would sign their text.
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    fs::remove_file(sidecar_path(&path)).unwrap();
    let err = recover(&path, &key(1), SystemTime::now()).unwrap_err();
    assert!(
        matches!(
            err,
            RecorderError::Recover {
                reason: RecoverRefusal::NoCheckpoint,
                ..
            }
        ),
        "{err}"
    );

    // Checkpoints signed with another key.
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    let err = recover(&path, &key(2), SystemTime::now()).unwrap_err();
    assert!(
        matches!(
            err,
            RecorderError::Recover {
                reason: RecoverRefusal::ForeignCheckpoint { checkpoint: 0 },
                ..
            }
        ),
        "{err}"
    );

    // A symlink named like a recording, pointing at another file: never followed or cut.
    let dir = tempfile::tempdir().unwrap();
    let path = crashed_recording(dir.path());
    let victim = dir.path().join("audit.db");
    fs::write(&victim, b"line one\npartial").unwrap();
    let link = dir.path().join("link.cast");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    fs::copy(sidecar_path(&path), sidecar_path(&link)).unwrap();
    let err = recover(&link, &key(1), SystemTime::now()).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(fs::read(&victim).unwrap(), b"line one\npartial");
}

#[test]
fn unrecorded_input_of_a_transfer_is_counted_and_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upload.cast");
    let opts = RecorderOptions {
        output_cap: 0,
        input_digest: true,
        ..Default::default()
    };
    let mut rec = Recorder::create(
        &path,
        &header(),
        &meta(ChannelKind::Subsystem),
        key(1),
        opts,
    )
    .unwrap();
    rec.input(ms(1), b"uploaded ").unwrap();
    rec.input(ms(2), b"bytes").unwrap();
    let seal = rec.seal(ms(3)).unwrap();
    assert_eq!(seal.counters.input_bytes, 14);
    let text = std::fs::read_to_string(&path).unwrap();
    let sha: String = digest(&SHA256, b"uploaded bytes")
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        text.contains(&format!("input: 14 bytes not recorded; sha256 {sha}")),
        "{text}"
    );
    assert!(!text.contains("uploaded"), "{text}");
}
