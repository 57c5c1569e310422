//! The refusal policy of `player::play`, through `prepare` (all of `play` but the terminal).

use std::fs;

use player::{prepare, PlayOptions, PlayerError, Verdict};

use crate::util::*;

#[test]
fn refuses_an_altered_recording_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 3);
    let text = fs::read_to_string(&cast)
        .unwrap()
        .replace("line 3", "line 8");
    fs::write(&cast, text).unwrap();
    let options = PlayOptions {
        trusted_keys: vec![key(1).verifying_key().clone()],
        ..Default::default()
    };
    match prepare(&cast, &options) {
        Err(PlayerError::Refused(report)) => {
            assert!(
                matches!(report.verdict, Verdict::Altered { line: 3, .. }),
                "{report}"
            )
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a player"),
    }
    let forced = PlayOptions {
        force: true,
        ..options
    };
    let (report, mut player) = prepare(&cast, &forced).unwrap();
    assert!(report.is_tampered());
    let frame = player.frame().unwrap();
    assert!(
        frame.status.contains("NOT VERIFIED: altered at line 3"),
        "{}",
        frame.status
    );
    player.advance(std::time::Duration::from_secs(1));
    assert!(player.screen().contents().contains("line 8"));
}

#[test]
fn plays_an_unsealed_recording_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = open(dir.path(), "s1", key(1));
    rec.output(ms(100), b"before crash\r\n").unwrap();
    let cast = rec.path().to_path_buf();
    drop(rec);
    let options = PlayOptions {
        trusted_keys: vec![key(1).verifying_key().clone()],
        ..Default::default()
    };
    let (report, mut player) = prepare(&cast, &options).unwrap();
    assert!(matches!(report.verdict, Verdict::Unsealed { .. }));
    assert!(player.frame().unwrap().status.contains("UNSEALED"));
}

#[test]
fn cat_prints_the_output_of_a_real_recording() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 2);
    let rec = player::cast::open(&cast).unwrap();
    let mut out = Vec::new();
    player::cat(&rec, &mut out, false).unwrap();
    assert_eq!(out, b"line 1\r\nline 2\r\n");
    assert_eq!(rec.bastion.unwrap().user, "alice@example.com");
}

/// A recording whose line 2 was appended after the last live checkpoint and then signed by
/// crash recovery.
fn with_recovered_tail(dir: &std::path::Path) -> std::path::PathBuf {
    let mut rec = open(dir, "s1", key(1));
    rec.output(ms(100), b"recorded\r\n").unwrap();
    rec.checkpoint_if_due(ms(100)).unwrap().unwrap();
    let cast = rec.path().to_path_buf();
    fs::OpenOptions::new()
        .append(true)
        .open(&cast)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"[0.1, \"o\", \"planted\\r\\n\"]\n"))
        .unwrap();
    drop(rec);
    recorder::recover(&cast, &key(1), std::time::SystemTime::now()).unwrap();
    cast
}

#[test]
fn playback_marks_where_a_recovered_tail_begins() {
    let dir = tempfile::tempdir().unwrap();
    let cast = with_recovered_tail(dir.path());
    let options = PlayOptions {
        trusted_keys: vec![key(1).verifying_key().clone()],
        ..Default::default()
    };
    let (report, mut player) = prepare(&cast, &options).unwrap();
    assert!(
        matches!(report.verdict, Verdict::RecoveredTail { .. }),
        "{report}"
    );
    let notice = "recovered tail from line 2: 1 line not covered by a live checkpoint";
    player.advance(ms(150));
    let status = player.frame().unwrap().status;
    assert!(player.screen().contents().contains("recorded"));
    assert!(!status.contains(notice), "{status}");
    assert!(status.contains("RECOVERED TAIL"), "{status}");
    assert!(!player.in_unverified_tail());
    player.advance(ms(100));
    assert!(player.screen().contents().contains("planted"));
    assert!(player.in_unverified_tail());
    let status = player.frame().unwrap().status;
    assert!(status.starts_with(&format!("▶ {notice}")), "{status}");
}

#[test]
fn cat_marks_where_a_recovered_tail_begins_except_raw() {
    let dir = tempfile::tempdir().unwrap();
    let cast = with_recovered_tail(dir.path());
    let report = player::verify(&cast, &recorder::sidecar_path(&cast), &[]).unwrap();
    let tail = report.unverified_tail().unwrap();
    let rec = player::cast::open(&cast).unwrap();
    let mut out = Vec::new();
    player::cat_marked(&rec, &mut out, false, Some(&tail)).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "recorded\r\n\x1b[0m\r\n\x1b[7m[bastion: recovered tail from line 2: 1 line not covered by a live checkpoint]\x1b[0m\r\nplanted\r\n"
    );
    let mut raw = Vec::new();
    player::cat_marked(&rec, &mut raw, true, Some(&tail)).unwrap();
    assert_eq!(raw, b"recorded\r\nplanted\r\n");
}
