//! Key bindings, kept apart from the terminal loop so they can be tested.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::Command;

/// The command a key press means, if any.
///
/// space pause/resume, `.` step, → / ← seek ±5 s, `+`/`=` faster, `-` slower,
/// `q`, Esc or Ctrl-C quit.
pub fn command_for(key: &KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let command = match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Command::Quit,
        KeyCode::Char(' ') => Command::TogglePause,
        KeyCode::Char('.') => Command::Step,
        KeyCode::Right => Command::SeekForward,
        KeyCode::Left => Command::SeekBackward,
        KeyCode::Char('+') | KeyCode::Char('=') => Command::Faster,
        KeyCode::Char('-') => Command::Slower,
        KeyCode::Char('q') | KeyCode::Esc => Command::Quit,
        _ => return None,
    };
    Some(command)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn maps_the_documented_keys() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            command_for(&press(KeyCode::Char(' '), none)),
            Some(Command::TogglePause)
        );
        assert_eq!(
            command_for(&press(KeyCode::Char('.'), none)),
            Some(Command::Step)
        );
        assert_eq!(
            command_for(&press(KeyCode::Right, none)),
            Some(Command::SeekForward)
        );
        assert_eq!(
            command_for(&press(KeyCode::Left, none)),
            Some(Command::SeekBackward)
        );
        assert_eq!(
            command_for(&press(KeyCode::Char('q'), none)),
            Some(Command::Quit)
        );
        assert_eq!(
            command_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(command_for(&press(KeyCode::Char('c'), none)), None);
        let mut release = press(KeyCode::Char('q'), none);
        release.kind = KeyEventKind::Release;
        assert_eq!(command_for(&release), None);
    }
}
