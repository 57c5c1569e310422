//! The thin terminal driver around [`Player`]: raw mode, key reading, drawing.

use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::{event, terminal};

use super::{command_for, Control, Frame, PlayOptions, Player};
use crate::{cast, verify_bytes, PlayerError, Report};

/// How often the status line clock is refreshed while nothing else happens.
const TICK: Duration = Duration::from_millis(250);

/// Verifies and plays a recording in the current terminal until it ends or the user quits.
///
/// # Returns
/// The verification report, so the caller can print it after the terminal is restored.
///
/// # Errors
/// Those of [`prepare`], and [`PlayerError::Terminal`] when there is no usable terminal.
pub fn play(path: &Path, options: &PlayOptions) -> Result<Report, PlayerError> {
    let (report, mut player) = prepare(path, options)?;
    let mut screen = RawScreen::enter().map_err(PlayerError::Terminal)?;
    run(&mut player, &mut screen).map_err(PlayerError::Terminal)?;
    drop(screen);
    Ok(report)
}

/// Everything [`play`] does before touching the terminal: verify, apply the refusal policy,
/// parse, and build the [`Player`].
///
/// # Errors
/// [`PlayerError::Refused`] when verification finds tampering (or an untrusted signer) and
/// `options.force` is false; read and parse errors.
pub fn prepare(path: &Path, options: &PlayOptions) -> Result<(Report, Player), PlayerError> {
    let sidecar = options
        .sidecar
        .clone()
        .unwrap_or_else(|| recorder::sidecar_path(path));
    // Verified and shown from the same bytes: a file swapped after verification is not played.
    let bytes = cast::read(path)?;
    let report = verify_bytes(path, &bytes, &sidecar, &options.trusted_keys)?;
    if report.is_tampered() && !options.force {
        return Err(PlayerError::Refused(Box::new(report)));
    }
    let recording = cast::parse(&bytes[..], path)?;
    let mut player = Player::new(&recording, options, report.summary());
    if let Some(tail) = report.unverified_tail() {
        player = player.with_unverified_tail(&tail);
    }
    Ok((report, player))
}

fn run(player: &mut Player, screen: &mut RawScreen) -> io::Result<()> {
    let mut last = Instant::now();
    loop {
        if let Some(frame) = player.frame() {
            screen.draw(&frame)?;
        }
        if player.finished() {
            return Ok(());
        }
        let wait = player.wait_hint().map_or(TICK, |w| w.min(TICK));
        if event::poll(wait)? {
            if let event::Event::Key(key) = event::read()? {
                if let Some(command) = command_for(&key) {
                    if player.handle(command) == Control::Quit {
                        return Ok(());
                    }
                }
            }
        }
        let now = Instant::now();
        player.advance(now - last);
        last = now;
    }
}

/// Raw mode and the alternate screen for as long as it lives, restored on drop (also on error
/// paths and panics), so a failed playback never leaves the user's terminal unusable.
struct RawScreen {
    out: io::Stdout,
}

impl RawScreen {
    fn enter() -> io::Result<Self> {
        terminal::enable_raw_mode()?;
        let mut out = io::stdout();
        // Alternate screen, so the user's scrollback is left as it was.
        if let Err(e) = out.write_all(b"\x1b[?1049h").and_then(|()| out.flush()) {
            let _ = terminal::disable_raw_mode();
            return Err(e);
        }
        Ok(Self { out })
    }

    fn draw(&mut self, frame: &Frame) -> io::Result<()> {
        let (cols, rows) = terminal::size().unwrap_or((80, 24));
        let row = (frame.rows + 1).min(rows.max(1));
        let status: String = frame.status.chars().take(usize::from(cols)).collect();
        self.out.write_all(&frame.screen)?;
        // DECSC/DECRC keep the recording's cursor and attributes around the status line.
        write!(
            self.out,
            "\x1b7\x1b[{row};1H\x1b[2K\x1b[7m{status}\x1b[0m\x1b8"
        )?;
        self.out.flush()
    }
}

impl Drop for RawScreen {
    fn drop(&mut self) {
        // Nothing sensible to do if restoring fails; the shell's `reset` is the fallback.
        let _ = self.out.write_all(b"\x1b[0m\x1b[?25h\x1b[?1049l");
        let _ = self.out.flush();
        let _ = terminal::disable_raw_mode();
    }
}
