//! The player as a pure state machine: time and commands in, frames out. No I/O, so every
//! interaction can be tested without a terminal.

use std::num::NonZeroU16;
use std::time::Duration;

use crate::{Event, EventData, PlayOptions, Recording, UnverifiedTail};

/// How far a seek moves.
pub const SEEK_STEP: Duration = Duration::from_secs(5);
/// Speed bounds: beyond these, playback is either a slideshow or a blur.
const MIN_SPEED: f64 = 1.0 / 16.0;
const MAX_SPEED: f64 = 64.0;

/// A user command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Pause or resume.
    TogglePause,
    /// Pause, then show the next output event.
    Step,
    /// Jump [`SEEK_STEP`] forward.
    SeekForward,
    /// Jump [`SEEK_STEP`] back.
    SeekBackward,
    /// Double the speed.
    Faster,
    /// Halve the speed.
    Slower,
    /// Stop playing.
    Quit,
}

/// Whether to go on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep playing.
    Continue,
    /// Stop.
    Quit,
}

/// What to put on the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Escape sequences that turn what the terminal shows into the recording's screen: a full
    /// redraw after a seek or resize, otherwise a diff.
    pub screen: Vec<u8>,
    /// The status line text.
    pub status: String,
    /// Rows of the recording's screen; the status line goes below them.
    pub rows: u16,
}

/// Playback state.
pub struct Player {
    /// Events with idle-limited times.
    events: Vec<Event>,
    duration: Duration,
    initial: (NonZeroU16, NonZeroU16),
    parser: vt100::Parser,
    /// Invariant: exactly `events[..next]` have been applied to `parser`, and their times are
    /// all `<= position`.
    next: usize,
    position: Duration,
    speed: f64,
    paused: bool,
    /// What the terminal shows now; `None` forces a full redraw.
    shown: Option<vt100::Screen>,
    last_status: String,
    verification: String,
    /// Index of the first event of an unverified tail, and the notice shown once it plays.
    tail: Option<(usize, String)>,
}

impl Player {
    /// Prepares playback; `verification` is the one-line result shown in the status line.
    pub fn new(recording: &Recording, options: &PlayOptions, verification: String) -> Self {
        let limit = options.idle_limit.or_else(|| {
            recording
                .header
                .idle_time_limit
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
        });
        let events = limit_idle(&recording.events, limit);
        let duration = events.last().map_or(Duration::ZERO, |e| e.time);
        let initial = recorder::emulated_size(
            recording.header.term.rows.into(),
            recording.header.term.cols.into(),
        );
        let mut player = Player {
            events,
            duration,
            initial,
            parser: vt100::Parser::new(initial.0, initial.1, 0),
            next: 0,
            position: Duration::ZERO,
            // NaN would survive the clamp and make every step panic.
            speed: if options.speed.is_nan() {
                1.0
            } else {
                options.speed.clamp(MIN_SPEED, MAX_SPEED)
            },
            paused: false,
            shown: None,
            last_status: String::new(),
            verification,
            tail: None,
        };
        player.seek_to(options.start_at);
        player
    }

    /// Marks where the lines verification could not vouch for begin: from the first event of
    /// `tail` on, the status line says so.
    pub fn with_unverified_tail(mut self, tail: &UnverifiedTail) -> Self {
        self.tail = self
            .events
            .iter()
            .position(|e| e.line >= tail.from_line)
            .map(|index| (index, tail.to_string()));
        self
    }

    /// Whether the screen shows events of the unverified tail.
    pub fn in_unverified_tail(&self) -> bool {
        self.tail
            .as_ref()
            .is_some_and(|(index, _)| self.next > *index)
    }

    /// Lets `wall` time pass (scaled by the speed), applying the events it reaches.
    pub fn advance(&mut self, wall: Duration) {
        if self.paused {
            return;
        }
        self.position = (self.position + wall.mul_f64(self.speed)).min(self.duration);
        self.apply_until(self.position);
    }

    /// Handles a command.
    pub fn handle(&mut self, command: Command) -> Control {
        match command {
            Command::TogglePause => self.paused = !self.paused,
            Command::Step => {
                self.paused = true;
                self.step();
            }
            Command::SeekForward => self.seek_to(self.position + SEEK_STEP),
            Command::SeekBackward => self.seek_to(self.position.saturating_sub(SEEK_STEP)),
            Command::Faster => self.speed = (self.speed * 2.0).min(MAX_SPEED),
            Command::Slower => self.speed = (self.speed / 2.0).max(MIN_SPEED),
            Command::Quit => return Control::Quit,
        }
        Control::Continue
    }

    /// The next frame, if the screen or status line changed since the last one.
    pub fn frame(&mut self) -> Option<Frame> {
        let screen = self.parser.screen();
        let bytes = match &self.shown {
            None => screen.state_formatted().into_bytes(),
            Some(prev) => screen.state_diff(prev).into_bytes(),
        };
        let status = self.status_line();
        if bytes.is_empty() && status == self.last_status {
            return None;
        }
        self.shown = Some(screen.clone());
        self.last_status.clone_from(&status);
        Some(Frame {
            screen: bytes,
            status,
            rows: screen.size().0.get(),
        })
    }

    /// Wall time until the next event is due, or `None` when paused or at the end.
    pub fn wait_hint(&self) -> Option<Duration> {
        if self.paused {
            return None;
        }
        let next = self.events.get(self.next)?;
        Some(next.time.saturating_sub(self.position).div_f64(self.speed))
    }

    /// Every event has been shown and playback is not paused.
    pub fn finished(&self) -> bool {
        !self.paused && self.next == self.events.len() && self.position >= self.duration
    }

    /// Current position in the (idle-limited) recording.
    pub fn position(&self) -> Duration {
        self.position
    }

    /// Length of the (idle-limited) recording.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether playback is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Current speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The recording's screen at the current position.
    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// The status line: play state, time, speed, and the verification result (in the
    /// unverified tail, its notice first).
    pub fn status_line(&self) -> String {
        let state = if self.paused { "paused" } else { "playing" };
        let tail = match &self.tail {
            Some((_, notice)) if self.in_unverified_tail() => format!("▶ {notice} | "),
            _ => String::new(),
        };
        format!(
            "{tail}{state} {} / {}  {}x  | {} | space pause . step ←/→ 5s +/- speed q quit",
            clock(self.position),
            clock(self.duration),
            self.speed,
            self.verification
        )
    }

    /// Re-renders the screen from the start up to `target`. Seeking by replaying delays would
    /// take as long as the recording; rebuilding the screen is bounded by its size.
    fn seek_to(&mut self, target: Duration) {
        let target = target.min(self.duration);
        self.parser = vt100::Parser::new(self.initial.0, self.initial.1, 0);
        self.next = 0;
        self.shown = None;
        self.position = target;
        self.apply_until(target);
    }

    fn step(&mut self) {
        while let Some(event) = self.events.get(self.next) {
            let shows = event.data.screen_bytes().is_some();
            self.position = self.position.max(event.time);
            self.apply_next();
            if shows {
                break;
            }
        }
    }

    fn apply_until(&mut self, position: Duration) {
        while self
            .events
            .get(self.next)
            .is_some_and(|e| e.time <= position)
        {
            self.apply_next();
        }
    }

    fn apply_next(&mut self) {
        let Some(event) = self.events.get(self.next) else {
            return;
        };
        match &event.data {
            EventData::Output(text) | EventData::Stderr(text) => {
                self.parser.process(text.as_bytes());
            }
            EventData::Binary { bytes, .. } => self.parser.process(bytes),
            EventData::Resize { cols, rows } => {
                let (rows, cols) = recorder::emulated_size((*rows).into(), (*cols).into());
                self.parser.set_size(rows, cols);
                // The terminal's layout changed under the diff base.
                self.shown = None;
            }
            _ => {}
        }
        self.next += 1;
    }
}

/// Caps every gap between events at `limit`, keeping order.
fn limit_idle(events: &[Event], limit: Option<Duration>) -> Vec<Event> {
    let Some(limit) = limit else {
        return events.to_vec();
    };
    let mut prev_in = Duration::ZERO;
    let mut now = Duration::ZERO;
    events
        .iter()
        .map(|e| {
            now += e.time.saturating_sub(prev_in).min(limit);
            prev_in = e.time;
            Event {
                time: now,
                data: e.data.clone(),
                line: e.line,
            }
        })
        .collect()
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests;
