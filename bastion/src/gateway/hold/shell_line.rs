//! Approval holds inside interactive sessions: before a key that may run the line reaches the
//! shell ([`crate::gateway::hold::line_keys`]), the line on the screen is judged ([`crate::gateway::hold::screen_line`]); a line that
//! matches a rule waits (keystrokes held, Ctrl-C cancels) until reviewers decide.
//!
//! A line is judged as the shell will read it: from where the typing began, all of its rows,
//! joined with the lines before it while the shell still waits for the rest of a command
//! ([`crate::approval::shell_syntax`]). Keys typed ahead, before the shell has shown its prompt (at the
//! start of a session, or while a command runs), wait for it, so that each line is judged
//! after its prompt. A line the bastion cannot read whole is not run.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use russh::{ChannelMsg, ChannelReadHalf};
use tracing::info;

use super::asking::{Asking, Flow, NotApproved, WhileHeld};
use super::line_keys::{line_end, model, recalls};
use super::screen_line::{LineTracker, Mark, Seen};
use crate::approval::shell_syntax::{continuation, join, Continued};
use crate::gateway::relay::ended::Ended;
use crate::gateway::relay::io::ChannelIo;
use crate::gateway::relay::line_judge::{Input, Judged, LineJudge};
use crate::gateway::relay::upward::Upward;
use crate::masking::mask_text;
use crate::policy::Access;

/// How long the screen stays quiet after the echo before the line is read.
const QUIET: Duration = Duration::from_millis(30);
/// Longest wait for the screen to go quiet once the echo has begun (output that never stops).
const BUSY: Duration = Duration::from_millis(300);
/// Longest wait for an echo at all (password prompts, `stty -echo`).
const NO_ECHO: Duration = Duration::from_millis(500);
/// Longest wait for the echo of a recalled or completed line: its text is known only from the
/// screen, so without an echo the line is not let through.
const RECALL_NO_ECHO: Duration = Duration::from_secs(3);
/// Longest keys typed ahead wait for the session's first prompt.
const FIRST_PROMPT: Duration = Duration::from_secs(2);
/// Longest keys typed ahead wait for the prompt after a line has run.
const NEXT_PROMPT: Duration = Duration::from_millis(300);
/// Largest amount of typing kept while a line is held.
const MAX_HELD_INPUT: usize = 64 * 1024;
/// Longest typing kept to rebuild the line from its keys (see [`Line::keys`]).
const MAX_KEYS: usize = 64 * 1024;
/// Earlier lines kept to judge with a line typed at a different prompt (a continuation).
const RECENT_LINES: usize = 3;
/// Longest text kept of a command the shell has not finished reading.
const MAX_PENDING: usize = 64 * 1024;
/// What the user is told happens to a line that is not approved.
const NOT_RUN: &str = "the line was not run";
/// Sent to clear a line that is not run: to its end, then all of it (readline and zsh); a
/// terminal in canonical mode takes Ctrl-E as a character and Ctrl-U clears the lot.
const CLEAR_LINE: &[u8] = b"\x05\x15";

/// What an interactive shell needs to hold a command line.
pub struct ShellHold {
    /// The screen, fed by the output pump, read by the input pump.
    pub tracker: Mutex<LineTracker>,
    access: Access,
    masker: mask::Masker,
    /// When keystrokes last went to the shell and when its output last arrived: the line is
    /// judged only once the echo of what was typed has reached the screen.
    echo: Mutex<EchoClock>,
    line: Mutex<Line>,
}

/// See [`ShellHold::echo`].
#[derive(Debug, Clone, Copy)]
struct EchoClock {
    input: Instant,
    output: Instant,
    /// When, since the line began, a key was last typed whose effect on the line only the echo
    /// shows (history, completion, search, yank: see [`recalls`]).
    recall: Option<Instant>,
    /// When the last line was run (or the session began), and whether output came since.
    ended: Instant,
    shown_since_ended: bool,
}

/// The line being typed.
#[derive(Debug, Default)]
struct Line {
    /// Where its typing began; `None` until the first key of a line.
    mark: Option<Mark>,
    /// The keys typed since the mark (`None` past [`MAX_KEYS`]): the line rebuilt from them
    /// ([`model`]) is what it holds even if the screen shows something else.
    keys: Option<Vec<u8>>,
    /// Earlier lines of a command the shell has not finished reading, and how the next joins.
    pending: Option<(String, Continued)>,
    /// The last lines run, with their prompts: a line typed at another prompt than the one
    /// before it (a program's continuation prompt, `->` in mysql, `-#` in psql) is judged
    /// with them too.
    recent: std::collections::VecDeque<(String, String)>,
    /// A line has been typed in this session (the first prompt has been waited for).
    begun: bool,
}

/// What judging a line decided.
enum Verdict {
    /// The key may go, followed by the keys typed while the line was held.
    Go(Vec<u8>),
    /// The line was cleared and the user told why.
    Dropped,
}

/// Where typing stops to be looked at: a key that may run the line, or Ctrl-C, after which a
/// new line (and prompt) begins.
enum Stop {
    End(usize),
    Cancel(usize),
}

fn next_stop(keys: &[u8]) -> Option<Stop> {
    let end = line_end(keys);
    let cancel = keys.iter().position(|&b| b == 0x03);
    match (end, cancel) {
        (Some(e), Some(c)) if c < e => Some(Stop::Cancel(c)),
        (Some(e), _) => Some(Stop::End(e)),
        (None, Some(c)) => Some(Stop::Cancel(c)),
        (None, None) => None,
    }
}

/// Keys after which the shell reads the line (and a new one begins): Enter, Ctrl-J, Ctrl-O.
fn runs(key: u8) -> bool {
    matches!(key, b'\r' | b'\n' | 0x0f)
}

impl ShellHold {
    /// A shell on a pty of `cols`×`rows` whose lines `access`'s rules judge.
    pub fn new(cols: u32, rows: u32, access: Access, masker: mask::Masker) -> ShellHold {
        let now = Instant::now();
        ShellHold {
            tracker: Mutex::new(LineTracker::new(cols, rows)),
            access,
            masker,
            echo: Mutex::new(EchoClock {
                input: now,
                output: now,
                recall: None,
                ended: now,
                shown_since_ended: false,
            }),
            line: Mutex::default(),
        }
    }

    /// The shell's output reached the screen.
    pub fn shown(&self) {
        if let Ok(mut c) = self.echo.lock() {
            c.output = Instant::now();
            c.shown_since_ended = true;
        }
    }

    /// `keys` went to the shell as part of the line.
    fn typed(&self, keys: &[u8]) {
        if let Ok(mut c) = self.echo.lock() {
            c.input = Instant::now();
            if recalls(keys) {
                c.recall = Some(c.input);
            }
        }
        if let Ok(mut l) = self.line.lock() {
            let fits = l
                .keys
                .as_ref()
                .is_some_and(|k| k.len() + keys.len() <= MAX_KEYS);
            match (&mut l.keys, fits) {
                (Some(k), true) => k.extend_from_slice(keys),
                (k, _) => *k = None,
            }
        }
    }

    /// The terminal was resized: the shell redraws the line, and until it has, the screen
    /// (emulated at the new size) cannot be trusted.
    pub fn resized(&self) {
        if let Ok(mut c) = self.echo.lock() {
            c.input = Instant::now();
            c.recall = Some(c.input);
        }
    }

    /// Whether a line has begun (its first key went to the shell).
    fn open(&self) -> bool {
        self.line.lock().is_ok_and(|l| l.mark.is_some())
    }

    /// A line begins: notes where.
    fn begin(&self) {
        let mark = self.tracker.lock().map(|t| t.mark()).unwrap_or_default();
        if let Ok(mut l) = self.line.lock() {
            l.mark = Some(mark);
            l.keys = Some(Vec::new());
            l.begun = true;
        }
        if let Ok(mut c) = self.echo.lock() {
            c.recall = None;
        }
    }

    /// The line ended: run as `whole` (`None`: cleared, cancelled). A new one begins with the
    /// next key, after the shell's prompt.
    fn end(&self, whole: Option<&str>) {
        if let Ok(mut l) = self.line.lock() {
            if let (Some(w), Some(mark)) = (whole, l.mark.take()) {
                l.recent
                    .push_back((mark.prompt().to_string(), tail(w, MAX_PENDING).to_string()));
                if l.recent.len() > RECENT_LINES {
                    l.recent.pop_front();
                }
            }
            l.keys = None;
            l.pending = whole.and_then(|w| match continuation(w) {
                Continued::No => None,
                // A runaway block (the lexer misled, or a huge here-document) keeps its end.
                how => Some((tail(w, MAX_PENDING).to_string(), how)),
            });
        }
        if let Ok(mut c) = self.echo.lock() {
            c.recall = None;
            c.ended = Instant::now();
            c.shown_since_ended = false;
        }
    }

    /// Whether the shell shows a prompt (its output has settled with the cursor after some
    /// text), and the latest time to wait for it.
    fn prompt_shown(&self) -> (bool, Instant) {
        let Ok(c) = self.echo.lock().map(|c| *c) else {
            return (true, Instant::now());
        };
        let begun = self.line.lock().is_ok_and(|l| l.begun);
        let (alt, col) = self
            .tracker
            .lock()
            .map(|t| (t.alternate_screen(), t.cursor_col()))
            .unwrap_or((true, 0));
        let wait = if begun { NEXT_PROMPT } else { FIRST_PROMPT };
        // Full-screen programs show no prompt; their keys are not held.
        let shown = alt || (c.shown_since_ended && c.output.elapsed() >= QUIET && col > 0);
        (shown, c.ended + wait)
    }

    /// Waits until the shell has echoed the keystrokes sent before this key: a recalled
    /// history line (Up) or a completion (Tab) typed just before Enter must be on the screen
    /// when the line is judged, or a fast Enter would slip past the rules. False when a recall
    /// or completion key was followed by no output at all: the line holds text that is not on
    /// the screen, and cannot be judged. Full-screen programs are exempt (keys there are not
    /// shell lines, and many produce no output).
    async fn settled(&self) -> bool {
        loop {
            let Ok(c) = self.echo.lock().map(|c| *c) else {
                return false;
            };
            let echoed = c.output >= c.input;
            // Keys whose effect the keys alone do not tell (a recall, a completion, editing
            // keys the line cannot be rebuilt from) must show on the screen.
            let unmodelled = self
                .line
                .lock()
                .map(|l| l.keys.as_deref().and_then(model).is_none())
                .unwrap_or(true);
            let unseen = (c.recall.is_some_and(|r| c.output < r) || (unmodelled && !echoed))
                && !self.tracker.lock().is_ok_and(|t| t.alternate_screen());
            let now = Instant::now();
            let wait = if echoed {
                let quiet = c.output + QUIET;
                let cap = c.input + BUSY;
                quiet.min(cap)
            } else if unseen {
                c.input + RECALL_NO_ECHO
            } else {
                c.input + NO_ECHO
            };
            if wait <= now {
                return echoed || !unseen;
            }
            tokio::time::sleep((wait - now).min(Duration::from_millis(10))).await;
        }
    }

    /// The line as it will run, to show, and every reading of it to judge: as the screen shows
    /// it after the prompt and whole (and without whatever looks like a prompt), as rebuilt
    /// from the keys typed (even unechoed), joined with the unfinished command before it (both
    /// ways a shell may join them), with the lines before it when it was typed at another
    /// prompt, and without NUL bytes (which shells drop). `None` when the line cannot be read
    /// whole.
    fn readings(&self) -> Option<(String, Vec<String>)> {
        let (mark, keys, pending, recent) = match self.line.lock() {
            Ok(l) => (
                l.mark.clone()?,
                l.keys.clone(),
                l.pending.clone(),
                l.recent.clone(),
            ),
            Err(_) => return None,
        };
        let seen = self.tracker.lock().ok()?.command(&mark);
        let mut all = match &seen {
            Seen::Hidden => return None,
            Seen::Line { typed, whole } => {
                let mut v = vec![typed.clone(), whole.clone()];
                v.extend(crate::gateway::hold::screen_line::readings(whole));
                v
            }
            Seen::Guess { line, readings } => {
                let mut v = vec![line.clone()];
                v.extend(readings.iter().cloned());
                v
            }
        };
        let mut shown = seen.shown().to_string();
        if let Some(m) = keys.as_deref().and_then(model) {
            let m = m.trim().to_string();
            if shown.is_empty() {
                shown = m.clone();
            }
            all.push(m);
        }
        if let Some((before, how)) = pending {
            shown = join(&before, how, &shown);
            let joined: Vec<String> = all
                .iter()
                .flat_map(|r| {
                    [
                        join(&before, Continued::Joined, r),
                        join(&before, Continued::NewLine, r),
                    ]
                })
                .collect();
            all.extend(joined);
        }
        if recent
            .back()
            .is_some_and(|(prompt, _)| prompt != mark.prompt())
        {
            let before: Vec<&str> = recent.iter().map(|(_, l)| l.as_str()).collect();
            let earlier = before.join("\n");
            let joined: Vec<String> = all.iter().map(|r| format!("{earlier}\n{r}")).collect();
            all.extend(joined);
        }
        let without_nul: Vec<String> = all
            .iter()
            .filter(|r| r.contains('\0'))
            .map(|r| r.replace('\0', ""))
            .collect();
        all.extend(without_nul);
        all.sort();
        all.dedup();
        Some((shown, all))
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
fn tail(s: &str, max: usize) -> &str {
    let mut from = s.len().saturating_sub(max);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}

impl LineJudge for ShellHold {
    fn data<'a>(&'a self, input: Input<'a>, data: Bytes) -> Judged<'a> {
        Box::pin(self.keys(input.io, input.rx, input.up, data))
    }

    fn output(&self, data: &[u8]) {
        if let Ok(mut t) = self.tracker.lock() {
            t.output(data);
        }
        self.shown();
    }

    fn resize(&self, cols: u32, rows: u32) {
        if let Ok(mut t) = self.tracker.lock() {
            t.resize(cols, rows);
        }
        self.resized();
    }
}

impl ShellHold {
    /// Keys typed in a shell that approval rules watch: passed on up to each key that may run
    /// the line, which waits until the line has been judged (and, if it matches a rule,
    /// approved); keys after a line that is not run are dropped with it. Each line's first key
    /// waits for the shell's prompt. `Err` ends the channel.
    async fn keys(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        up: &Upward,
        data: Bytes,
    ) -> Result<(), Ended> {
        let mut rest = data;
        while !rest.is_empty() {
            if !self.open() {
                self.await_prompt(io).await;
                self.begin();
            }
            let (at, key) = match next_stop(&rest) {
                None => {
                    self.typed(&rest);
                    return up.data(rest);
                }
                Some(Stop::Cancel(at)) => {
                    // Ctrl-C: the line and any unfinished command are abandoned.
                    up.data(rest.slice(..=at))?;
                    self.end(None);
                    rest = rest.slice(at + 1..);
                    continue;
                }
                Some(Stop::End(at)) => (at, rest[at]),
            };
            let before = rest.slice(..at);
            let after = rest.slice(at + 1..);
            if !before.is_empty() {
                self.typed(&before);
                up.data(before)?;
            }
            let judged = Box::pin(self.judge_line(io, rx, up)).await?;
            let (Verdict::Go(typed_while_held), whole) = judged else {
                self.end(None);
                return Ok(());
            };
            up.data(Bytes::copy_from_slice(&[key]))?;
            if runs(key) {
                self.end(Some(&whole));
            } else {
                // A key that may or may not have run it (Ctrl-D, a custom binding): the line
                // goes on, but what was typed no longer tells what it holds.
                self.typed(&[key]);
            }
            // What follows starts the next line, judged the same way.
            rest = if typed_while_held.is_empty() {
                after
            } else {
                let mut v = after.to_vec();
                v.extend_from_slice(&typed_while_held);
                Bytes::from(v)
            };
        }
        Ok(())
    }

    /// Waits until the shell shows its prompt (at most [`FIRST_PROMPT`] at the start of the
    /// session, [`NEXT_PROMPT`] after a line ran), so that keys typed ahead begin their line
    /// after it.
    async fn await_prompt(&self, io: &ChannelIo) {
        loop {
            let (shown, deadline) = self.prompt_shown();
            let now = Instant::now();
            if shown || now >= deadline {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep((deadline - now).min(Duration::from_millis(10))) => {}
                _ = io.done.cancelled() => return,
            }
        }
    }

    /// Judges the line once the echo has settled: the verdict, and the line as judged.
    async fn judge_line(
        &self,
        io: &ChannelIo,
        rx: &mut ChannelReadHalf,
        up: &Upward,
    ) -> Result<(Verdict, String), Ended> {
        if !self.settled().await {
            info!("line not run: recalled text never reached the screen");
            let text = format!(
                "the shell did not show the recalled or completed line within {}, so it could not \
                 be checked; it was not run (type it again)",
                crate::human::duration(RECALL_NO_ECHO)
            );
            return drop_line(io, up, &text).await;
        }
        let Some((whole, readings)) = self.readings() else {
            info!("line not run: its beginning is no longer on the screen");
            return drop_line(
                io,
                up,
                "the beginning of this line is no longer on the screen, so it could not be \
                 checked; it was not run (run long commands as ssh … 'command')",
            )
            .await;
        };
        let Some(rule) = io
            .ctx
            .services
            .approvals
            .rules
            .matching_line(&self.access, &readings)
        else {
            return Ok((Verdict::Go(Vec::new()), whole));
        };
        let asking = Asking {
            io,
            access: &self.access,
            rule,
            what: "shell line",
            not_run: NOT_RUN,
        };
        let screen = self
            .tracker
            .lock()
            .ok()
            .map(|t| mask_text(&self.masker, &t.screen_text()));
        let command = mask_text(&self.masker, &whole);
        // Keystrokes typed while waiting go through only once the line is approved; Ctrl-C
        // cancels.
        let mut keys = HeldKeys {
            io,
            hold: self,
            up,
            typed: Vec::new(),
        };
        let held = asking
            .hold(command, screen, "; Ctrl-C cancels", rx, None, &mut keys)
            .await;
        let typed = keys.typed;
        let clear: &[u8] = match held {
            Ok(()) => return Ok((Verdict::Go(typed), whole)),
            Err(NotApproved::Ended | NotApproved::Unrecorded) => return Err(Ended),
            Err(NotApproved::Refused {
                cancelled: true, ..
            }) => b"\x03",
            Err(_) => CLEAR_LINE,
        };
        if let Some(words) = held.as_ref().err().and_then(NotApproved::words) {
            io.client.say(&format!("bastion: {words}")).await;
        }
        up.data(Bytes::from_static(clear))?;
        Ok((Verdict::Dropped, whole))
    }
}

/// What a shell does with its client's input while a line is held.
struct HeldKeys<'a> {
    io: &'a ChannelIo,
    hold: &'a ShellHold,
    up: &'a Upward,
    /// Keys typed meanwhile, for the shell once the line is approved.
    typed: Vec<u8>,
}

impl WhileHeld for HeldKeys<'_> {
    async fn input(&mut self, m: Option<ChannelMsg>) -> Flow {
        match m {
            Some(ChannelMsg::Data { data }) => {
                // Recorded as typed, even if it never reaches the target.
                self.io.input(&data).await;
                if data.contains(&0x03) {
                    return Flow::Cancel;
                }
                if self.typed.len() + data.len() <= MAX_HELD_INPUT {
                    self.typed.extend_from_slice(&data);
                }
                Flow::Wait
            }
            Some(ChannelMsg::WindowChange {
                col_width,
                row_height,
                pix_width,
                pix_height,
            }) => {
                self.hold.resize(col_width, row_height);
                let _ = self
                    .up
                    .window_change(col_width, row_height, pix_width, pix_height);
                Flow::Wait
            }
            Some(ChannelMsg::Close) | None => Flow::End,
            Some(_) => Flow::Wait,
        }
    }
}

/// Tells the user why the line was not run, and clears it at the shell.
async fn drop_line(io: &ChannelIo, up: &Upward, why: &str) -> Result<(Verdict, String), Ended> {
    io.client.say(&format!("bastion: {why}")).await;
    up.data(Bytes::from_static(CLEAR_LINE))?;
    Ok((Verdict::Dropped, String::new()))
}

#[cfg(test)]
mod tests {
    use super::{next_stop, tail, Stop};

    #[test]
    fn typing_stops_at_the_first_end_or_cancel() {
        assert!(matches!(next_stop(b"ls\r"), Some(Stop::End(2))));
        assert!(matches!(next_stop(b"ls\x03rm\r"), Some(Stop::Cancel(2))));
        assert!(matches!(next_stop(b"ls\nx\x03"), Some(Stop::End(2))));
        assert!(next_stop(b"ls -l").is_none());
    }

    #[test]
    fn a_long_pending_command_keeps_its_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("ab", 10), "ab");
    }
}
