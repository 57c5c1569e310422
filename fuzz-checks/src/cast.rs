//! The asciicast reader (v3 and v2), and what is built on it: `cat` and the player.

use std::path::Path;
use std::time::Duration;

use player::{Command, PlayOptions, Player};

/// Parses `data` as a recording file.
pub fn check(data: &[u8]) {
    let recording = match player::cast::parse(data, Path::new("fuzz.cast")) {
        Ok(r) => r,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // Events keep their file order and line numbers.
    for pair in recording.events.windows(2) {
        assert!(pair[0].line < pair[1].line, "{pair:?}");
    }
    assert!(recording
        .events
        .iter()
        .all(|e| e.line <= crate::input::newlines(data)));

    // Whatever the recording holds, `cat` lets only harmless sequences reach the terminal.
    let mut out = Vec::new();
    if let Err(e) = player::cat(&recording, &mut out, false) {
        panic!("cat into memory: {e}");
    }
    match String::from_utf8(out) {
        Ok(text) => crate::escape::assert_harmless(&text),
        Err(e) => panic!("cat wrote something that is not UTF-8: {e}"),
    }

    // Playback: from the start, with what a viewer does, and from past the end (every event
    // applied to the emulated terminal at once).
    let mut p = Player::new(&recording, &PlayOptions::default(), "fuzz".into());
    let _ = p.frame();
    for command in [Command::Faster, Command::SeekForward, Command::Step] {
        p.handle(command);
        p.advance(Duration::from_millis(1500));
        let _ = (p.frame(), p.wait_hint());
    }
    p.handle(Command::SeekBackward);
    let _ = (p.frame(), p.status_line());
    let to_end = PlayOptions {
        start_at: Duration::MAX,
        ..PlayOptions::default()
    };
    let mut p = Player::new(&recording, &to_end, "fuzz".into());
    let _ = p.frame();
    assert!(p.finished(), "started past the end, not finished");
}
