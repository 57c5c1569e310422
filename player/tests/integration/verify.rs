//! Every verdict of `player::verify`, produced by a real manipulation of a real recording.

use std::fs;
use std::time::SystemTime;

use player::{verify, Verdict};
use recorder::{recover, sidecar_path};

use crate::util::*;

fn trusted() -> Vec<recorder::VerifyingKey> {
    vec![key(1).verifying_key().clone()]
}

fn rewrite_line(path: &std::path::Path, index: usize, f: impl FnOnce(&str) -> Option<String>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match f(&lines[index]) {
        Some(new) => lines[index] = new,
        None => {
            lines.remove(index);
        }
    }
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn intact_and_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, seal) = sealed(dir.path(), "s1", key(1), 5);
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(r.verdict, Verdict::Sealed);
    assert!(r.is_intact() && !r.is_tampered() && r.signer_trusted);
    assert_eq!(r.lines, 6);
    assert_eq!(r.final_hash.as_deref(), Some(seal.checkpoint.hash.as_str()));
    assert_eq!(r.key_id.as_deref(), Some(key(1).key_id()));
    let text = r.to_string();
    assert!(
        text.starts_with("OK: ") && text.contains("intact and sealed"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verdict"]["status"], "sealed");
}

#[test]
fn one_flipped_byte_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 5);
    // File line 3 is event line 2 (`line 2`): change one character.
    rewrite_line(&cast, 2, |l| Some(l.replace("line 2", "line X")));
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Altered {
            checkpoint: 2,
            intact_through: 1,
            line: 2
        }
    );
    assert!(r.is_tampered());
    assert!(r.to_string().starts_with("FAILED"), "{r}");
    assert!(r.to_string().contains("altered at line 2"), "{r}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verdict"]["status"], "altered");
    assert_eq!(json["verdict"]["line"], 2);

    // A flipped byte in the header (same length, still valid JSON) is caught at line 0.
    let (cast, _) = sealed(dir.path(), "s2", key(1), 2);
    rewrite_line(&cast, 0, |l| Some(l.replace("alice", "mally")));
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert!(matches!(r.verdict, Verdict::Altered { line: 0, .. }), "{r}");
}

#[test]
fn a_deleted_line_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 5);
    rewrite_line(&cast, 4, |_| None); // event line 4
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Altered {
            checkpoint: 4,
            intact_through: 3,
            line: 4
        }
    );
    assert_eq!(r.lines, 5);
}

#[test]
fn truncation_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 5);
    let text = fs::read_to_string(&cast).unwrap();
    let keep: Vec<&str> = text.lines().take(4).collect(); // header + 3 event lines
    fs::write(&cast, keep.join("\n") + "\n").unwrap();
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Truncated {
            checkpoint: 4,
            expected_lines: 4,
            found_lines: 3
        }
    );
    assert!(r.is_tampered());
    assert!(r.to_string().contains("truncated"), "{r}");
}

#[test]
fn swapped_sidecars_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = sealed(dir.path(), "a", key(1), 3);
    let (b, _) = sealed(dir.path(), "b", key(1), 3);
    let r = verify(&a, &sig(&b), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Altered {
            checkpoint: 0,
            intact_through: 0,
            line: 0
        }
    );
    assert!(
        r.to_string()
            .contains("sidecar belongs to another recording"),
        "{r}"
    );
}

#[test]
fn re_signing_with_another_key_is_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 3);
    // The forger replaces the recording with one of their own, signed with their own key.
    fs::remove_file(&cast).unwrap();
    fs::remove_file(sig(&cast)).unwrap();
    let (forged, _) = sealed(dir.path(), "s1", key(9), 3);
    assert_eq!(forged, cast);
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::UnknownKey {
            checkpoint: 0,
            key_id: key(9).key_id().to_owned()
        }
    );
    assert!(r.is_tampered());
    // Without any trusted key the forgery is self-consistent: only `signer_trusted` tells.
    let r = verify(&cast, &sig(&cast), &[]).unwrap();
    assert_eq!(r.verdict, Verdict::Sealed);
    assert!(!r.signer_trusted);
    assert!(r.to_string().starts_with("WARNING"), "{r}");
}

#[test]
fn an_edited_checkpoint_has_a_bad_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 3);
    let side = sig(&cast);
    // Claim the seal covers fewer lines, e.g. to hide a tail.
    rewrite_line(&side, 3, |l| Some(l.replace("\"lines\":3", "\"lines\":2")));
    let r = verify(&cast, &side, &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::BadSignature {
            checkpoint: 3,
            problem: "signature does not verify".into()
        }
    );
    rewrite_line(&side, 3, |_| Some("not json".into()));
    let r = verify(&cast, &side, &trusted()).unwrap();
    assert!(
        matches!(r.verdict, Verdict::SidecarMalformed { line: 4, .. }),
        "{r}"
    );
}

#[test]
fn a_missing_sidecar_is_neither_intact_nor_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 2);
    fs::remove_file(sig(&cast)).unwrap();
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(r.verdict, Verdict::SidecarMissing);
    assert!(!r.is_intact() && !r.is_tampered());
    assert_eq!(r.lines, 3);
    assert!(r.to_string().contains("sidecar missing"), "{r}");
}

#[test]
fn a_crash_leaves_an_intact_prefix_and_an_unsealed_tail_until_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = open(dir.path(), "s1", key(1));
    rec.output(ms(100), b"signed\r\n").unwrap();
    rec.checkpoint_if_due(ms(100)).unwrap().unwrap();
    rec.output(ms(200), b"unsigned 1\r\n").unwrap();
    rec.output(ms(300), b"unsigned 2\r\n").unwrap();
    let cast = rec.path().to_path_buf();
    drop(rec); // the bastion died: no seal
    fs::OpenOptions::new()
        .append(true)
        .open(&cast)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"[0.1, \"o\""))
        .unwrap();
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Unsealed {
            checkpoint: Some(1),
            signed_lines: 1,
            tail_lines: 2,
            torn_bytes: 9
        }
    );
    assert!(r.is_intact());
    assert!(r.to_string().starts_with("WARNING"), "{r}");
    assert!(r.summary().starts_with("UNSEALED"));

    recover(&cast, &key(1), SystemTime::now()).unwrap();
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::RecoveredTail {
            signed_while_recording: 1,
            tail_lines: 2
        }
    );
    assert!(r.final_hash.is_some());
    assert!(!r.is_ok() && r.is_intact() && !r.is_tampered());
    assert_eq!(r.recovered_tail(), Some(2));
    assert!(r.to_string().starts_with("WARNING"), "{r}");
    assert!(
        r.to_string().contains(
            "recovered tail: 2 lines not covered by a live checkpoint (lines 2..=3 signed only by crash recovery"
        ),
        "{r}"
    );
}

/// Someone who can write the recording directory appends a line to a live recording after its
/// last checkpoint; the bastion then crashes and recovery signs whatever it finds. That line
/// must not pass as verified.
#[test]
fn a_line_appended_after_the_last_live_checkpoint_is_a_recovered_tail_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = open(dir.path(), "s1", key(1));
    rec.output(ms(100), b"recorded\r\n").unwrap();
    rec.checkpoint_if_due(ms(100)).unwrap().unwrap();
    let cast = rec.path().to_path_buf();
    fs::OpenOptions::new()
        .append(true)
        .open(&cast)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"[0.1, \"o\", \"planted\"]\n"))
        .unwrap();
    drop(rec); // the crash
    recover(&cast, &key(1), SystemTime::now()).unwrap();

    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::RecoveredTail {
            signed_while_recording: 1,
            tail_lines: 1
        }
    );
    assert!(!r.is_ok(), "{r}");
    assert_eq!(r.recovered_tail(), Some(1));
    let text = r.to_string();
    assert!(
        text.contains("recovered tail: 1 line not covered by a live checkpoint (line 2 signed"),
        "{text}"
    );
    assert!(r.summary().starts_with("RECOVERED TAIL"), "{}", r.summary());
    let tail = r.unverified_tail().unwrap();
    assert_eq!((tail.from_line, tail.lines, tail.recovered), (2, 1, true));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["verdict"]["status"], "recovered_tail");
    assert_eq!(json["verdict"]["tail_lines"], 1);
    // Without a trusted key it is not OK either, and not merely a recovered tail.
    let untrusted = verify(&cast, &sig(&cast), &[]).unwrap();
    assert!(!untrusted.is_ok() && untrusted.recovered_tail().is_none());
}

/// A crash right after a live checkpoint leaves nothing that only recovery signed: OK.
#[test]
fn a_recovered_seal_over_live_signed_lines_only_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = open(dir.path(), "s1", key(1));
    rec.output(ms(100), b"recorded\r\n").unwrap();
    rec.checkpoint_if_due(ms(100)).unwrap().unwrap();
    let cast = rec.path().to_path_buf();
    drop(rec);
    recover(&cast, &key(1), SystemTime::now()).unwrap();
    let r = verify(&cast, &sig(&cast), &trusted()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Recovered {
            signed_while_recording: 1
        }
    );
    assert!(r.is_ok() && r.recovered_tail().is_none() && r.unverified_tail().is_none());
    assert!(r.to_string().starts_with("OK"), "{r}");
    assert!(r.to_string().contains("sealed by crash recovery"), "{r}");
}

#[test]
fn content_appended_after_the_seal_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 2);
    fs::OpenOptions::new()
        .append(true)
        .open(&cast)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"[0.1, \"o\", \"rm -rf\"]\n"))
        .unwrap();
    let r = verify(&cast, &sidecar_path(&cast), &trusted()).unwrap();
    assert_eq!(r.verdict, Verdict::AppendedAfterSeal { extra_bytes: 21 });
    assert!(r.is_tampered());
}

#[test]
fn symlinks_and_fifos_are_refused_not_followed_or_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 3);
    let real = dir.path().join("elsewhere.cast");
    fs::rename(&cast, &real).unwrap();
    std::os::unix::fs::symlink(&real, &cast).unwrap();
    let e = verify(&cast, &sig(&cast), &trusted()).unwrap_err();
    assert!(e.to_string().contains("symbolic link"), "{e}");
    fs::remove_file(&cast).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&cast)
        .status()
        .unwrap();
    assert!(made.success());
    let e = verify(&cast, &sig(&cast), &trusted()).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn verify_bytes_judges_the_bytes_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (cast, _) = sealed(dir.path(), "s1", key(1), 3);
    let bytes = fs::read(&cast).unwrap();
    let from_file = verify(&cast, &sig(&cast), &trusted()).unwrap();
    let from_bytes = player::verify_bytes(&cast, &bytes, &sig(&cast), &trusted()).unwrap();
    assert_eq!(from_bytes.verdict, from_file.verdict);
    assert_eq!(from_bytes.final_hash, from_file.final_hash);
    // What a player would show (these bytes) is what is judged, whatever the file holds now.
    let forged = String::from_utf8(bytes)
        .unwrap()
        .replace("line 2", "forged");
    let r = player::verify_bytes(&cast, forged.as_bytes(), &sig(&cast), &trusted()).unwrap();
    assert!(r.is_tampered(), "{r}");
    assert!(verify(&cast, &sig(&cast), &trusted()).unwrap().is_ok());
}
