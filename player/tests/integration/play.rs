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
    assert_eq!(rec.header.bastion.unwrap().user, "alice@example.com");
}
