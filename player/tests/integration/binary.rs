//! Binary output (`b` events): what `cat` and the player get back is the bytes recorded, the
//! chain and signatures cover it, and the file stays small.

use std::fs;
use std::path::{Path, PathBuf};

use player::{cat, verify, EventData, Verdict};
use proptest::prelude::*;
use recorder::{Recorder, RecorderOptions};

use crate::util::*;

/// One chunk of output and whether it is stderr.
type Chunk = (Vec<u8>, bool);

fn record(dir: &Path, chunks: &[Chunk], options: RecorderOptions) -> PathBuf {
    let path = recorder::recording_path(dir, "s1", 0, std::time::SystemTime::now()).unwrap();
    let kind = recorder::ChannelKind::Exec;
    let mut rec =
        Recorder::create(&path, &header(kind), &meta("s1", kind), key(1), options).unwrap();
    for (i, (bytes, stderr)) in chunks.iter().enumerate() {
        let now = ms(i as u64);
        if *stderr {
            rec.stderr(now, bytes).unwrap();
        } else {
            rec.output(now, bytes).unwrap();
        }
        rec.checkpoint_if_due(now).unwrap();
    }
    rec.exit(ms(chunks.len() as u64), "0").unwrap();
    rec.seal(ms(chunks.len() as u64)).unwrap();
    path
}

fn shown(path: &Path) -> Vec<u8> {
    let rec = player::cast::open(path).unwrap();
    let mut out = Vec::new();
    cat(&rec, &mut out, true).unwrap();
    out
}

/// stdout and stderr as the player reads them back.
fn streams(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let rec = player::cast::open(path).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for e in &rec.events {
        match &e.data {
            EventData::Output(s) => out.extend_from_slice(s.as_bytes()),
            EventData::Stderr(s) => err.extend_from_slice(s.as_bytes()),
            EventData::Binary { bytes, stderr } => {
                if *stderr { &mut err } else { &mut out }.extend_from_slice(bytes)
            }
            _ => {}
        }
    }
    (out, err)
}

fn report(path: &Path) -> player::Report {
    verify(
        path,
        &sig(path),
        std::slice::from_ref(key(1).verifying_key()),
    )
    .unwrap()
}

/// Bytes from a small deterministic generator (xorshift), for sizes too large for proptest.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A byte stream that mixes text, escape sequences, UTF-8 and binary runs.
fn stream_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        "[a-z €é\\r\\n\"\\\\]{0,80}".prop_map(String::into_bytes),
        Just(b"\x1b[1;31mred\x1b[0m".to_vec()),
        (0usize..300).prop_map(|n| vec![0u8; n]),
        Just("€".as_bytes()[..2].to_vec()),
        Just("€".as_bytes()[2..].to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the bytes and wherever the chunks end, the player gives each stream back
    /// exactly, and the recording verifies. (A character split across chunks is written when
    /// it is whole, so stdout and stderr interleave by characters, not bytes.)
    #[test]
    fn the_player_shows_exactly_the_bytes_recorded(
        chunks in proptest::collection::vec((stream_piece(), any::<bool>()), 0..24)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = record(dir.path(), &chunks, RecorderOptions::default());
        let sent = |err: bool| -> Vec<u8> {
            chunks.iter().filter(|c| c.1 == err).flat_map(|(b, _)| b.clone()).collect()
        };
        prop_assert_eq!(streams(&path), (sent(false), sent(true)));
        let all: Vec<u8> = chunks.iter().flat_map(|(b, _)| b.clone()).collect();
        if chunks.iter().all(|c| !c.1) {
            prop_assert_eq!(shown(&path), all);
        }
        let report = report(&path);
        prop_assert!(report.is_ok(), "{}", report.verdict_text());
    }
}

#[test]
fn a_character_split_across_chunks_around_binary_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let chunks: Vec<Chunk> = vec![
        (b"price \xe2\x82".to_vec(), false),
        (b"\xac!".to_vec(), false),
        (vec![0u8; 100], false),
        (b"\xe2".to_vec(), false),
        (b"\x82\xac ok\r\n".to_vec(), false),
        // Left incomplete at the end: kept exactly, as binary.
        (b"\xf0\x9f".to_vec(), true),
    ];
    let path = record(dir.path(), &chunks, RecorderOptions::default());
    let rec = player::cast::open(&path).unwrap();
    let texts: Vec<&str> = rec
        .events
        .iter()
        .filter_map(|e| e.data.screen_text())
        .collect();
    assert_eq!(texts, ["price ", "€!", "€ ok\r\n"]);
    assert!(rec.events.iter().any(|e| matches!(
        &e.data,
        EventData::Binary { bytes, stderr: true } if bytes == b"\xf0\x9f"
    )));
    let sent: Vec<u8> = chunks.iter().flat_map(|(b, _)| b.clone()).collect();
    assert_eq!(shown(&path), sent);
}

#[test]
fn text_stays_in_o_events_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let chunks: Vec<Chunk> = vec![(
        b"\x1b[01;34mdir\x1b[0m  file\r\n\x07a stray \0 NUL\r\n".to_vec(),
        false,
    )];
    let path = record(dir.path(), &chunks, RecorderOptions::default());
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("\"b\""), "{text}");
    assert!(
        text.contains(r#""\u001b[01;34mdir\u001b[0m  file\r\n\u0007a stray \u0000 NUL\r\n""#),
        "{text}"
    );
}

#[test]
fn binary_output_takes_at_most_a_third_more_than_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let n = 4 << 20;
    for (name, bytes) in [("zeros", vec![0u8; n]), ("noise", noise(n, 0x5eed))] {
        let chunks: Vec<Chunk> = bytes
            .chunks(32 * 1024)
            .map(|c| (c.to_vec(), false))
            .collect();
        let sub = dir.path().join(name);
        let options = RecorderOptions {
            output_cap: 1 << 30,
            ..Default::default()
        };
        let path = record(&sub, &chunks, options);
        let size = fs::metadata(&path).unwrap().len() as f64;
        assert!(size <= 1.4 * n as f64, "{name}: {size} for {n}");
        assert_eq!(shown(&path), bytes, "{name}");
    }
}

#[test]
fn altered_binary_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let chunks: Vec<Chunk> = vec![
        (b"before\r\n".to_vec(), false),
        (vec![0u8; 300], false),
        (b"after\r\n".to_vec(), false),
    ];
    let path = record(dir.path(), &chunks, RecorderOptions::default());
    let text = fs::read_to_string(&path).unwrap();
    // Change one base64 character of the binary event: other bytes, still valid base64.
    let altered = text.replacen("AAAA", "AAAB", 1);
    assert_ne!(altered, text);
    fs::write(&path, altered).unwrap();
    let report = report(&path);
    assert!(
        matches!(report.verdict, Verdict::Altered { .. }),
        "{}",
        report.verdict_text()
    );
    assert!(report.is_tampered());
}

#[test]
fn the_cap_counts_the_bytes_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 100 * 1024;
    for (name, bytes) in [
        ("zeros", vec![0u8; 1 << 20]),
        ("noise", noise(1 << 20, 7)),
        ("text", b"hello world\r\n".repeat(80_000)),
    ] {
        let chunks: Vec<Chunk> = bytes
            .chunks(32 * 1024)
            .map(|c| (c.to_vec(), false))
            .collect();
        let options = RecorderOptions {
            output_cap: cap,
            ..Default::default()
        };
        let path = record(&dir.path().join(name), &chunks, options);
        let size = fs::metadata(&path).unwrap().len();
        // The cap note and the seal's note with its hash come after.
        assert!(size <= cap + 512, "{name}: {size}");
        assert!(size >= cap - 1024, "{name}: {size}");
        let kept = shown(&path);
        assert!(
            bytes.starts_with(&kept) && kept.len() < bytes.len(),
            "{name}"
        );
        assert!(report(&path).is_ok(), "{name}");
    }
}
