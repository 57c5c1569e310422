//! The one place a channel's bytes are masked (the recorder never masks). Output is masked
//! once for both the recording and the user's screen:
//!
//! - **live** (the default): a possible identifier is held back from the screen at most the
//!   configured hold (15 ms by default) so typing stays smooth, then shown masked as if the
//!   output ended there; not held at all when it is the echo of what the user just typed. The
//!   recording gets the exact masking.
//! - **exact** (a role with `live_masking = false`): the screen gets the target's bytes, the
//!   recording the exact masking.
//! - **pass** (file transfers): nothing is masked; the recording counts and hashes, it keeps no
//!   content.
//!
//! Input is masked exactly before it is recorded ([`Redactor::input`], used by
//! [`super::io::ChannelIo`]).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mask::{DualMasker, Masked, Masker, RecordingMasker};

/// How a channel's bytes are masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redaction {
    /// Screen and recording masked (the screen within the hold).
    Live,
    /// Recording masked; the screen gets the target's bytes.
    Exact,
    /// Nothing masked (file transfers).
    Pass,
}

/// A channel's maskers: [`Redactor::output`] for the output pump, [`Redactor::input`] for what
/// the client types.
pub struct Redactor {
    masker: Masker,
    redaction: Redaction,
    hold: Duration,
}

impl Redactor {
    /// The maskers of a channel under `masker`'s rules.
    pub fn new(masker: &Masker, redaction: Redaction, hold: Duration) -> Redactor {
        Redactor {
            masker: masker.clone(),
            redaction,
            hold,
        }
    }

    /// The output's maskers.
    pub fn output(&self) -> OutputRedactor {
        OutputRedactor {
            masker: self.masker.clone(),
            hold: self.hold,
            streams: match self.redaction {
                Redaction::Live => Streams::Live {
                    out: self.masker.dual(self.hold),
                    err: None,
                },
                Redaction::Exact => Streams::Exact {
                    out: self.masker.recording(),
                    err: None,
                },
                Redaction::Pass => Streams::Pass,
            },
        }
    }

    /// The exact masker for recorded input; `None` when input passes as it is.
    pub fn input(&self) -> Option<RecordingMasker> {
        (self.redaction != Redaction::Pass).then(|| self.masker.recording())
    }

    /// Whether the screen is masked (what watching reviewers may see).
    pub fn screen_masked(&self) -> bool {
        self.redaction == Redaction::Live
    }
}

/// The output streams' maskers. The stderr maskers are made on first use: terminal sessions
/// have no stderr.
pub struct OutputRedactor {
    masker: Masker,
    hold: Duration,
    streams: Streams,
}

enum Streams {
    Live {
        out: DualMasker,
        err: Option<DualMasker>,
    },
    Exact {
        out: RecordingMasker,
        err: Option<RecordingMasker>,
    },
    Pass,
}

/// What one chunk produced: bytes for the recording and bytes for the screen (often the same
/// buffer).
#[derive(Default)]
pub struct Shown {
    /// Masked exactly, for the recording.
    pub recording: Option<Bytes>,
    /// For the user's screen.
    pub screen: Option<Bytes>,
}

/// Bytes to send now, per stream.
#[derive(Default)]
pub struct Released {
    /// For stdout (or the terminal).
    pub out: Shown,
    /// For stderr.
    pub err: Shown,
}

fn bytes(b: &[u8]) -> Option<Bytes> {
    (!b.is_empty()).then(|| Bytes::copy_from_slice(b))
}

fn shown(m: Masked<'_>) -> Shown {
    let recording = Bytes::copy_from_slice(m.recording);
    let screen = if m.screen_extra.is_empty() {
        recording.slice(m.screen_from..)
    } else {
        Bytes::from(m.screen())
    };
    Shown {
        recording: (!recording.is_empty()).then_some(recording),
        screen: (!screen.is_empty()).then_some(screen),
    }
}

fn screen_only(b: &[u8]) -> Shown {
    Shown {
        recording: None,
        screen: bytes(b),
    }
}

fn recording_only(b: &[u8]) -> Shown {
    Shown {
        recording: bytes(b),
        screen: None,
    }
}

/// The target's bytes as they are, for both.
fn unmasked(data: &Bytes) -> Shown {
    let d = (!data.is_empty()).then(|| data.clone());
    Shown {
        recording: d.clone(),
        screen: d,
    }
}

/// The target's bytes on the screen, `masked` in the recording.
fn exact(data: &Bytes, masked: &[u8]) -> Shown {
    Shown {
        recording: bytes(masked),
        screen: (!data.is_empty()).then(|| data.clone()),
    }
}

impl OutputRedactor {
    /// Masks a chunk of stdout. `echo`: the chunk is the echo of the user's typing, so what
    /// is held goes to the screen at once.
    pub fn out(&mut self, data: &Bytes, echo: bool) -> Shown {
        let out = match &mut self.streams {
            Streams::Live { out, .. } => out,
            Streams::Exact { out, .. } => return exact(data, out.push(data)),
            Streams::Pass => return unmasked(data),
        };
        // Output held from before the echo is the program's, not the user's: it goes first,
        // masked as on a pause (an identifier printed just before a keystroke's echo is not
        // shown as it is).
        let before = if echo {
            bytes(out.show_settled())
        } else {
            None
        };
        let mut s = shown(out.push(data, Instant::now()));
        if echo {
            let extra = out.show_held();
            if before.is_some() || !extra.is_empty() {
                let mut all = before.map(|b| b.to_vec()).unwrap_or_default();
                all.extend_from_slice(s.screen.as_deref().unwrap_or_default());
                all.extend_from_slice(extra);
                s.screen = Some(Bytes::from(all));
            }
        }
        s
    }

    /// Masks a chunk of stderr.
    pub fn err(&mut self, data: &Bytes) -> Shown {
        let (masker, hold) = (&self.masker, self.hold);
        match &mut self.streams {
            Streams::Live { err, .. } => {
                let err = err.get_or_insert_with(|| masker.dual(hold));
                shown(err.push(data, Instant::now()))
            }
            Streams::Exact { err, .. } => {
                let err = err.get_or_insert_with(|| masker.recording());
                exact(data, err.push(data))
            }
            Streams::Pass => unmasked(data),
        }
    }

    /// When held bytes must be released to the screen.
    pub fn deadline(&self) -> Option<Instant> {
        let Streams::Live { out, err } = &self.streams else {
            return None;
        };
        match (
            out.next_deadline(),
            err.as_ref().and_then(DualMasker::next_deadline),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases what is due (screen only: the recording waits for the exact decision).
    pub fn poll(&mut self) -> Released {
        let Streams::Live { out, err } = &mut self.streams else {
            return Released::default();
        };
        let now = Instant::now();
        Released {
            out: screen_only(out.poll(now)),
            err: err
                .as_mut()
                .map(|e| screen_only(e.poll(now)))
                .unwrap_or_default(),
        }
    }

    /// Shows everything held on the screen now, masked as if the output ended here, without
    /// ending the streams: the target reported the command's exit, and output it had not
    /// sent yet may still follow (OpenSSH sends the exit status as soon as the command exits).
    /// The recording keeps waiting for the exact decision, and what follows is masked as the
    /// continuation it is (a table's rows under their header).
    pub fn settle(&mut self) -> Released {
        let Streams::Live { out, err } = &mut self.streams else {
            return Released::default();
        };
        Released {
            out: screen_only(out.show_settled()),
            err: err
                .as_mut()
                .map(|e| screen_only(e.show_settled()))
                .unwrap_or_default(),
        }
    }

    /// The streams ended: releases everything, masked as far as it can be.
    pub fn finish(&mut self) -> Released {
        match &mut self.streams {
            Streams::Live { out, err } => Released {
                out: shown(out.finish()),
                err: err.as_mut().map(|e| shown(e.finish())).unwrap_or_default(),
            },
            Streams::Exact { out, err } => Released {
                out: recording_only(out.finish()),
                err: err
                    .as_mut()
                    .map(|e| recording_only(e.finish()))
                    .unwrap_or_default(),
            },
            Streams::Pass => Released::default(),
        }
    }
}

/// Keystrokes kept to recognise their echo.
const TYPED_KEEP: usize = 256;
/// Output this long after the last keystroke is not taken for its echo.
const ECHO_WINDOW: Duration = Duration::from_secs(1);

/// What the user typed recently, so that its echo is shown without the masking hold: the user
/// knows what they typed, and the recording is masked exactly either way.
#[derive(Default)]
pub struct Typed {
    recent: Mutex<(VecDeque<u8>, Option<Instant>)>,
}

impl Typed {
    /// The user typed `data`.
    pub fn typed(&self, data: &[u8]) {
        let Ok(mut r) = self.recent.lock() else {
            return;
        };
        let (recent, at) = &mut *r;
        recent.extend(data.iter().copied());
        let extra = recent.len().saturating_sub(TYPED_KEEP);
        recent.drain(..extra);
        *at = Some(Instant::now());
    }

    /// Whether `output` is the echo of recent typing (all of it, in order, contiguous); the
    /// keystrokes up to it are then used up.
    pub fn is_echo(&self, output: &[u8]) -> bool {
        let Ok(mut r) = self.recent.lock() else {
            return false;
        };
        let (recent, at) = &mut *r;
        if output.is_empty()
            || output.len() > recent.len()
            || !at.is_some_and(|t| t.elapsed() < ECHO_WINDOW)
        {
            return false;
        }
        let found = recent
            .make_contiguous()
            .windows(output.len())
            .position(|w| w == output);
        match found {
            Some(i) => {
                recent.drain(..i + output.len());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn masks() -> OutputRedactor {
        let masker = mask::RuleSet::hipaa().compile().unwrap();
        Redactor::new(&masker, Redaction::Live, Duration::from_millis(15)).output()
    }

    fn screen(s: &Shown) -> String {
        String::from_utf8_lossy(s.screen.as_deref().unwrap_or_default()).into_owned()
    }

    #[test]
    fn output_held_before_an_echo_is_masked_as_on_a_pause() {
        let mut l = masks();
        // The program prints an identifier; the user's next keystroke (a space) comes back
        // before the hold expired.
        assert_eq!(
            screen(&l.out(&Bytes::from_static(b"x 123-45-6789"), false)),
            "x "
        );
        let s = l.out(&Bytes::from_static(b" "), true);
        assert_eq!(screen(&s), "***-**-**** ");
        // The user's own typing still comes back without the hold.
        assert_eq!(screen(&l.out(&Bytes::from_static(b"4"), true)), "4");
    }

    #[test]
    fn a_pause_after_an_identifier_shows_it_masked() {
        let mut l = masks();
        assert_eq!(
            screen(&l.out(&Bytes::from_static(b"x 123-45-6789"), false)),
            "x "
        );
        let due = l.deadline().expect("held");
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let r = l.poll();
        assert!(r.out.recording.is_none());
        assert_eq!(screen(&r.out), "***-**-****");
    }
}
