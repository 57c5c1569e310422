//! Masking of a channel's output, once for both the recording and the user's screen: one
//! [`DualMasker`] per output stream. A possible identifier is held back from the screen at most
//! the configured hold (15 ms by default) so typing stays smooth, then shown masked as if the
//! output ended there; not held at all when it is the echo of what the user just typed. The
//! recording gets the exact masking.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use recorder::mask::{DualMasker, Masked, Masker};

/// The two output streams of a channel. The stderr masker is made on first use: terminal
/// sessions have no stderr.
pub struct LiveMasks {
    masker: Masker,
    hold: Duration,
    out: DualMasker,
    err: Option<DualMasker>,
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

impl LiveMasks {
    /// Fresh maskers for one channel.
    pub fn new(masker: &Masker, hold: Duration) -> LiveMasks {
        LiveMasks {
            masker: masker.clone(),
            hold,
            out: masker.dual(hold),
            err: None,
        }
    }

    /// Masks a chunk of stdout. `echo`: the chunk is the echo of the user's typing, so what
    /// is held goes to the screen at once.
    pub fn out(&mut self, data: &[u8], echo: bool) -> Shown {
        // Output held from before the echo is the program's, not the user's: it goes first,
        // masked as on a pause (an identifier printed just before a keystroke's echo is not
        // shown as it is).
        let before = if echo {
            bytes(self.out.show_settled())
        } else {
            None
        };
        let mut s = shown(self.out.push(data, Instant::now()));
        if echo {
            let extra = self.out.show_held();
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
    pub fn err(&mut self, data: &[u8]) -> Shown {
        let (masker, hold) = (&self.masker, self.hold);
        let err = self.err.get_or_insert_with(|| masker.dual(hold));
        shown(err.push(data, Instant::now()))
    }

    /// When held bytes must be released to the screen.
    pub fn deadline(&self) -> Option<Instant> {
        match (
            self.out.next_deadline(),
            self.err.as_ref().and_then(DualMasker::next_deadline),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Releases what is due (screen only: the recording waits for the exact decision).
    pub fn poll(&mut self) -> Released {
        let now = Instant::now();
        Released {
            out: screen_only(self.out.poll(now)),
            err: self
                .err
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
        Released {
            out: screen_only(self.out.show_settled()),
            err: self
                .err
                .as_mut()
                .map(|e| screen_only(e.show_settled()))
                .unwrap_or_default(),
        }
    }

    /// The streams ended: releases everything, masked as far as it can be.
    pub fn finish(&mut self) -> Released {
        Released {
            out: shown(self.out.finish()),
            err: self
                .err
                .as_mut()
                .map(|e| shown(e.finish()))
                .unwrap_or_default(),
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

    fn masks() -> LiveMasks {
        let masker = recorder::mask::RuleSet::hipaa().compile().unwrap();
        LiveMasks::new(&masker, Duration::from_millis(15))
    }

    fn screen(s: &Shown) -> String {
        String::from_utf8_lossy(s.screen.as_deref().unwrap_or_default()).into_owned()
    }

    #[test]
    fn output_held_before_an_echo_is_masked_as_on_a_pause() {
        let mut l = masks();
        // The program prints an identifier; the user's next keystroke (a space) comes back
        // before the hold expired.
        assert_eq!(screen(&l.out(b"x 123-45-6789", false)), "x ");
        let s = l.out(b" ", true);
        assert_eq!(screen(&s), "***-**-**** ");
        // The user's own typing still comes back without the hold.
        assert_eq!(screen(&l.out(b"4", true)), "4");
    }

    #[test]
    fn a_pause_after_an_identifier_shows_it_masked() {
        let mut l = masks();
        assert_eq!(screen(&l.out(b"x 123-45-6789", false)), "x ");
        let due = l.deadline().expect("held");
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let r = l.poll();
        assert!(r.out.recording.is_none());
        assert_eq!(screen(&r.out), "***-**-****");
    }
}
