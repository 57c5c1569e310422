use super::*;
use std::path::Path;

/// Output "one" at 1 s, a screen clear and "two" at 7 s, a resize at 8 s, "three" at 20 s.
fn recording() -> Recording {
    crate::cast::parse(
        &b"{\"version\":3,\"term\":{\"cols\":20,\"rows\":4}}\n\
[1.0, \"o\", \"one\"]\n\
[2.0, \"m\", \"mark\"]\n\
[4.0, \"o\", \"\\u001b[2J\\u001b[Htwo\"]\n\
[1.0, \"r\", \"30x5\"]\n\
[12.0, \"o\", \" three\"]\n"[..],
        Path::new("t"),
    )
    .unwrap()
}

fn player(options: PlayOptions) -> Player {
    Player::new(&recording(), &options, "verified".into())
}

fn text(p: &Player) -> String {
    p.screen().contents().trim_end().to_string()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn plays_in_time_and_ends() {
    let mut p = player(PlayOptions::default());
    assert_eq!(p.duration(), secs(20.0));
    p.advance(secs(0.9));
    assert_eq!(text(&p), "");
    assert_eq!(p.wait_hint(), Some(secs(0.1)));
    p.advance(secs(0.1));
    assert_eq!(text(&p), "one");
    p.advance(secs(6.0));
    assert_eq!(text(&p), "two");
    assert!(!p.finished());
    p.advance(secs(100.0));
    assert_eq!(text(&p), "two three");
    assert_eq!(p.position(), secs(20.0));
    assert!(p.finished());
    assert_eq!(p.wait_hint(), None);
}

#[test]
fn speed_scales_time_and_can_be_changed() {
    let mut p = player(PlayOptions {
        speed: 2.0,
        ..Default::default()
    });
    assert_eq!(p.wait_hint(), Some(secs(0.5)));
    p.advance(secs(0.5));
    assert_eq!(text(&p), "one");
    p.handle(Command::Slower);
    p.handle(Command::Slower);
    assert_eq!(p.speed(), 0.5);
    p.advance(secs(2.0));
    assert_eq!(p.position(), secs(2.0));
}

#[test]
fn pause_freezes_time_and_step_shows_the_next_output() {
    let mut p = player(PlayOptions::default());
    p.advance(secs(1.0));
    assert_eq!(p.handle(Command::TogglePause), Control::Continue);
    p.advance(secs(30.0));
    assert_eq!((p.position(), text(&p)), (secs(1.0), "one".to_string()));
    assert_eq!(p.wait_hint(), None);
    assert!(!p.finished(), "paused playback is not finished");
    // Step skips the marker and stops at the next output.
    p.handle(Command::Step);
    assert_eq!((p.position(), text(&p)), (secs(7.0), "two".to_string()));
    assert!(p.paused());
    p.handle(Command::TogglePause);
    p.advance(secs(0.5));
    assert_eq!(p.position(), secs(7.5));
}

#[test]
fn seeking_re_renders_from_the_start() {
    let mut p = player(PlayOptions::default());
    p.advance(secs(7.5));
    assert_eq!(text(&p), "two");
    p.handle(Command::SeekBackward);
    assert_eq!((p.position(), text(&p)), (secs(2.5), "one".to_string()));
    p.handle(Command::SeekForward);
    p.handle(Command::SeekForward);
    assert_eq!(p.position(), secs(12.5));
    assert_eq!(text(&p), "two");
    assert_eq!(dims(&p), (5, 30), "resize at 8 s applied");
    p.handle(Command::SeekBackward);
    p.handle(Command::SeekBackward);
    p.handle(Command::SeekBackward);
    assert_eq!((p.position(), text(&p)), (secs(0.0), String::new()));
    assert_eq!(dims(&p), (4, 20), "back to the initial size");
    for _ in 0..10 {
        p.handle(Command::SeekForward);
    }
    assert_eq!(p.position(), p.duration());
}

#[test]
fn idle_limit_and_start_at() {
    let mut p = player(PlayOptions {
        idle_limit: Some(secs(2.0)),
        start_at: secs(5.5),
        ..Default::default()
    });
    // Gaps 1, 2, 4→2, 1, 12→2: events at 1, 3, 5, 6, 8.
    assert_eq!(p.duration(), secs(8.0));
    assert_eq!(text(&p), "two");
    assert_eq!(p.wait_hint(), Some(secs(0.5)));
    p.advance(secs(2.5));
    assert_eq!(text(&p), "two three");
}

#[test]
fn frames_redraw_fully_after_seek_and_diff_otherwise() {
    let mut p = player(PlayOptions::default());
    let first = p.frame().unwrap();
    assert_eq!(first.rows, 4);
    assert!(first.status.contains("verified") && first.status.contains("00:00 / 00:20"));
    assert!(
        first.screen.windows(3).any(|w| w == b"\x1b[H"),
        "full redraw homes the cursor"
    );
    assert_eq!(p.frame(), None, "nothing changed");
    p.advance(secs(1.0));
    let diff = p.frame().unwrap();
    assert!(String::from_utf8_lossy(&diff.screen).contains("one"));
    assert!(
        !String::from_utf8_lossy(&diff.screen).contains("\x1b[H\x1b[J"),
        "a diff, not a redraw"
    );
    p.handle(Command::SeekForward);
    p.handle(Command::SeekForward);
    let redraw = String::from_utf8(p.frame().unwrap().screen).unwrap();
    assert!(
        redraw.contains("\x1b[H\x1b[J") && redraw.contains("two"),
        "{redraw:?}"
    );
    assert_eq!(p.handle(Command::Quit), Control::Quit);
}

fn dims(p: &Player) -> (u16, u16) {
    let (r, c) = p.screen().size();
    (r.get(), c.get())
}
