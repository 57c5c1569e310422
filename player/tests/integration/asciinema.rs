//! Our recordings in the real asciinema CLI (3.x). Skipped, with a notice, when `asciinema` is
//! not installed (`cargo install --locked asciinema`; CI installs it).

use std::path::PathBuf;
use std::process::Command;

use crate::util::*;

fn asciinema() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("asciinema"))
        .find(|p| p.is_file())
}

/// An exec channel with stdout, stderr, split UTF-8, a resize, a marker and an exit status.
fn exec_recording(dir: &std::path::Path) -> PathBuf {
    let path = recorder::recording_path(dir, "s1", 0, std::time::SystemTime::now()).unwrap();
    let mut rec = recorder::Recorder::create(
        &path,
        &header(recorder::ChannelKind::Exec),
        &meta("s1", recorder::ChannelKind::Exec),
        key(1),
        Default::default(),
    )
    .unwrap();
    rec.marker(ms(0), "exec: make test").unwrap();
    rec.output(ms(100), b"building \xe2\x82").unwrap();
    rec.output(ms(150), b"\xac ok\r\n").unwrap();
    rec.stderr(ms(200), b"warning: stderr line\r\n").unwrap();
    rec.resize(ms(250), 60, 12).unwrap();
    rec.output(ms(300), b"done\r\n").unwrap();
    rec.exit(ms(350), "0").unwrap();
    rec.seal(ms(350)).unwrap();
    path
}

#[test]
fn asciinema_converts_our_recording_to_text() {
    let Some(bin) = asciinema() else {
        eprintln!("NOTICE: asciinema not installed; skipping the asciinema compatibility test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cast = exec_recording(dir.path());
    let out = dir.path().join("out.txt");
    let status = Command::new(&bin)
        .args(["convert", "-f", "txt"])
        .arg(&cast)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "asciinema convert failed: {status:?}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    for expected in ["building € ok", "warning: stderr line", "done"] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from {text:?}"
        );
    }
}

#[test]
fn asciinema_plays_our_recording() {
    let Some(bin) = asciinema() else {
        eprintln!("NOTICE: asciinema not installed; skipping the asciinema compatibility test");
        return;
    };
    if !std::path::Path::new("/usr/bin/script").is_file() {
        eprintln!("NOTICE: script(1) not installed; skipping asciinema play");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cast = exec_recording(dir.path());
    // `asciinema play` needs a terminal: script(1) gives it a pty.
    let cmd = format!("{} play -s 100 {}", bin.display(), cast.display());
    let out = Command::new("/usr/bin/script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "asciinema play failed: {out:?}");
    assert!(
        shown.contains("warning: stderr line") && shown.contains("done"),
        "{shown:?}"
    );
}

#[test]
fn asciinema_plays_a_recording_with_binary_output_and_skips_it() {
    let Some(bin) = asciinema() else {
        eprintln!("NOTICE: asciinema not installed; skipping the asciinema compatibility test");
        return;
    };
    if !std::path::Path::new("/usr/bin/script").is_file() {
        eprintln!("NOTICE: script(1) not installed; skipping asciinema play");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = recorder::recording_path(dir.path(), "s1", 0, std::time::SystemTime::now()).unwrap();
    let kind = recorder::ChannelKind::Exec;
    let mut rec = recorder::Recorder::create(
        &path,
        &header(kind),
        &meta("s1", kind),
        key(1),
        Default::default(),
    )
    .unwrap();
    rec.output(ms(0), b"before\r\n").unwrap();
    rec.output(ms(10), &[0u8; 4096]).unwrap();
    rec.output(ms(20), b"\xff\xfe binary \x00\x01\x02\x03 more")
        .unwrap();
    rec.output(ms(30), b"after\r\n").unwrap();
    rec.exit(ms(40), "0").unwrap();
    rec.seal(ms(40)).unwrap();
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains(", \"b\", "));

    let cmd = format!("{} play -s 100 {}", bin.display(), path.display());
    let out = Command::new("/usr/bin/script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "asciinema play failed: {out:?}");
    assert!(
        shown.contains("before") && shown.contains("after"),
        "{shown:?}"
    );
    let txt = dir.path().join("out.txt");
    let status = Command::new(&bin)
        .args(["convert", "-f", "txt"])
        .arg(&path)
        .arg(&txt)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "asciinema convert failed: {status:?}"
    );
}
