//! The command line of an interactive shell, read from a vt100 screen fed with the shell's
//! output: what the user sees is what is judged, whatever tab completion, history recall or line
//! editing produced it.
//!
//! A line is read from where the user's typing began (the prompt's end, noted when the first key
//! of the line was sent: a [`Mark`]) to the end of what the screen shows: every row of a
//! wrapped line, wherever the cursor is, and the rows of a multi-line paste. The prompt itself is
//! not part of the command, so a rule anchored at the start (`^touch\s`) judges a typed line as
//! it judges `ssh host 'touch …'`.

/// A terminal screen that follows one shell's output.
pub struct LineTracker {
    parser: vt100::Parser,
}

/// Where a line's typing began: the text before the cursor on its line at that moment (the
/// prompt, or nothing at the start of a row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mark {
    prompt: String,
}

impl Mark {
    /// The text before the typing (the prompt).
    pub fn prompt(&self) -> &str {
        &self.prompt
    }
}

/// What the screen says a line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The text typed after the prompt, and the whole line it is on (prompt and anything the
    /// shell put before the typing included), both to be judged.
    Line {
        /// After the prompt.
        typed: String,
        /// From the start of the line.
        whole: String,
    },
    /// The prompt is no longer on the screen as it was (redrawn differently, or a program other
    /// than a shell): the line as it stands, perhaps with a prompt in front, and readings of it
    /// without what looks like a prompt.
    Guess {
        /// The whole line.
        line: String,
        /// The same without a prefix ending in `$ `, `# `, `> `, `% ` or `: `.
        readings: Vec<String>,
    },
    /// The line begins above the top of the screen: it cannot be read whole.
    Hidden,
}

impl Seen {
    /// The text a reviewer is shown.
    pub fn shown(&self) -> &str {
        match self {
            Seen::Line { typed: l, .. } | Seen::Guess { line: l, .. } => l,
            Seen::Hidden => "",
        }
    }
}

/// `(rows, cols)` to emulate; a size of 0 (not announced) is taken as 80×24.
fn size(cols: u32, rows: u32) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let or = |v: u32, fallback: u32| if v == 0 { fallback } else { v };
    recorder::emulated_size(or(rows, 24), or(cols, 80))
}

/// A terminal size as the target gets it: at most what the line judge emulates (a larger one
/// would wrap lines differently from the emulation); 0 (not announced) stays 0.
pub fn capped(cols: u32, rows: u32) -> (u32, u32) {
    let max = recorder::emulated_size(u32::MAX, u32::MAX);
    (
        cols.min(u32::from(max.1.get())),
        rows.min(u32::from(max.0.get())),
    )
}

/// How far into a line a prompt may end, for [`Seen::Guess`] readings.
const PROMPT_REACH: usize = 64;

impl LineTracker {
    /// A screen of the pty's size.
    pub fn new(cols: u32, rows: u32) -> LineTracker {
        let (rows, cols) = size(cols, rows);
        // One row of scrollback: enough to tell whether the top row continues a line above it.
        LineTracker {
            parser: vt100::Parser::new(rows, cols, 1),
        }
    }

    /// Feeds the shell's output.
    pub fn output(&mut self, data: &[u8]) {
        self.parser.process(data);
    }

    /// Follows a window change.
    pub fn resize(&mut self, cols: u32, rows: u32) {
        let (rows, cols) = size(cols, rows);
        self.parser.screen_mut().set_size(rows, cols);
    }

    /// The whole visible screen as text (trailing blank lines dropped).
    pub fn screen_text(&self) -> String {
        self.parser.screen().contents().trim_end().to_string()
    }

    /// Whether a full-screen program (an editor, a pager) has the screen.
    pub fn alternate_screen(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// The cursor's column.
    pub fn cursor_col(&self) -> u16 {
        self.parser.screen().cursor_position().1
    }

    /// Notes where typing begins: call before the first key of a line reaches the shell.
    pub fn mark(&self) -> Mark {
        let screen = self.parser.screen();
        let (row, col) = screen.cursor_position();
        let start = self.line_start(row);
        Mark {
            prompt: screen.contents_between(start, 0, row, col),
        }
    }

    /// The line typed since `mark`, as the screen shows it now.
    pub fn command(&mut self, mark: &Mark) -> Seen {
        // Whether the top row continues a line that scrolled off: a prompt found there is in
        // the middle of a longer line, not at its start.
        let top = !self.alternate_screen() && self.top_continues();
        let (here, whole) = match self.find(mark, top) {
            Ok(seen) => return seen,
            Err(at) => at,
        };
        if here == 0 && top {
            return Seen::Hidden;
        }
        let line = clean(&whole);
        let readings = readings(&line);
        Seen::Guess { line, readings }
    }

    /// The line after the prompt, found on the screen; else the first row of the cursor's line
    /// and the text from there on. `top`: the top row continues a line above the screen.
    fn find(&self, mark: &Mark, top: bool) -> Result<Seen, (u16, String)> {
        let screen = self.parser.screen();
        let (row, _) = screen.cursor_position();
        let cols = screen.size().1.get();
        let last = self.last_content_row().max(row);
        let here = self.line_start(row);
        let from = |start: u16| screen.contents_between(start, 0, last, cols);
        if self.alternate_screen() {
            return Err((here, from(here)));
        }
        // The nearest line at or above the cursor's that still begins with the prompt.
        if !mark.prompt.is_empty() {
            let mut start = here;
            loop {
                let whole = from(start);
                if !(start == 0 && top) {
                    if let Some(typed) = whole.strip_prefix(&mark.prompt) {
                        return Ok(Seen::Line {
                            typed: clean(typed),
                            whole: clean(&whole),
                        });
                    }
                }
                if start == 0 {
                    break;
                }
                start = self.line_start(start - 1);
            }
        }
        if !(here == 0 && top) {
            let whole = from(here);
            if let Some(found) = search_line(&screen.contents_between(here, 0, row, cols)) {
                return Ok(Seen::Line {
                    typed: clean(found),
                    whole: clean(&whole),
                });
            }
        }
        Err((here, from(here)))
    }

    /// The first row of the (possibly wrapped) line that `row` is part of.
    fn line_start(&self, row: u16) -> u16 {
        let screen = self.parser.screen();
        let mut start = row;
        while start > 0 && screen.row_wrapped(start - 1) {
            start -= 1;
        }
        start
    }

    /// The last row that shows anything.
    fn last_content_row(&self) -> u16 {
        let screen = self.parser.screen();
        let mut last = 0;
        for (i, text) in screen.rows(0, screen.size().1.get()).enumerate() {
            if !text.trim().is_empty() {
                last = i;
            }
        }
        u16::try_from(last).unwrap_or(u16::MAX)
    }

    /// Whether the top row continues a line that scrolled off the screen.
    fn top_continues(&mut self) -> bool {
        let screen = self.parser.screen_mut();
        if screen.scrollback_len() == 0 {
            return false;
        }
        screen.set_scrollback(1);
        let wrapped = screen.row_wrapped(0);
        screen.set_scrollback(0);
        wrapped
    }
}

/// A line as judged: no trailing blanks, no blanks in front.
fn clean(s: &str) -> String {
    s.trim().to_string()
}

/// The line after the search prompt of readline's history search (Ctrl-R, Ctrl-S): Enter there
/// runs the line found.
fn search_line(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("(reverse-i-search)`")
        .or_else(|| line.strip_prefix("(failed reverse-i-search)`"))
        .or_else(|| line.strip_prefix("(i-search)`"))
        .or_else(|| line.strip_prefix("(failed i-search)`"))?;
    rest.split_once("': ").map(|(_, found)| found)
}

/// `line` without each prefix that ends like a prompt, within [`PROMPT_REACH`] bytes.
pub fn readings(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, pair) in line.as_bytes().windows(2).enumerate().take(PROMPT_REACH) {
        if matches!(pair, [b'$' | b'#' | b'>' | b'%' | b':', b' ']) {
            if let Some(rest) = line.get(i + 2..) {
                let rest = clean(rest);
                if !rest.is_empty() && !out.contains(&rest) {
                    out.push(rest);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{LineTracker, Seen};

    /// The typed part of what the screen shows, or a description of anything else.
    fn typed_part(seen: Seen) -> String {
        match seen {
            Seen::Line { typed, .. } => typed,
            other => format!("{other:?}"),
        }
    }

    fn typed(t: &mut LineTracker, prompt: &str, keys: &str) -> super::Mark {
        t.output(prompt.as_bytes());
        let mark = t.mark();
        t.output(keys.as_bytes());
        mark
    }

    #[test]
    fn reads_the_edited_line_without_the_prompt() {
        let mut t = LineTracker::new(40, 10);
        t.output(b"old output\r\n");
        let mark = typed(&mut t, "deploy@vm:~$ ", "drip\x08 \x08\x08 \x08op tab");
        // The shell redraws after a completion.
        t.output(b"le users");
        assert_eq!(typed_part(t.command(&mark)), "drop table users");
    }

    #[test]
    fn a_wrapped_line_is_read_whole_wherever_the_cursor_is() {
        let mut t = LineTracker::new(10, 5);
        let mark = typed(&mut t, "$ ", "echo 0123456789abcdef");
        assert_eq!(typed_part(t.command(&mark)), "echo 0123456789abcdef");
        // Ctrl-A: the cursor goes back to the first row; the line is still all of it.
        t.output(b"\x1b[2A\x1b[3G");
        assert_eq!(typed_part(t.command(&mark)), "echo 0123456789abcdef");
    }

    #[test]
    fn the_prompt_is_found_after_scrolling_and_redraws() {
        let mut t = LineTracker::new(20, 4);
        t.output(b"a\r\nb\r\nc\r\n");
        let mark = typed(&mut t, "srv$ ", "rm -rf /tmp/v and more and more");
        assert_eq!(
            typed_part(t.command(&mark)),
            "rm -rf /tmp/v and more and more"
        );
        // Ctrl-L: the screen is cleared and the prompt and line drawn again at the top.
        t.output(b"\x1b[H\x1b[2Jsrv$ rm -rf /tmp/v and more and more");
        assert_eq!(
            typed_part(t.command(&mark)),
            "rm -rf /tmp/v and more and more"
        );
    }

    #[test]
    fn a_multi_line_paste_is_read_to_its_end() {
        let mut t = LineTracker::new(40, 10);
        let mark = typed(&mut t, "$ ", "echo one\r\necho two");
        assert_eq!(typed_part(t.command(&mark)), "echo one\necho two");
    }

    #[test]
    fn history_search_reads_the_line_found() {
        let mut t = LineTracker::new(60, 10);
        let mark = typed(&mut t, "$ ", "");
        t.output(b"\r\x1b[K(reverse-i-search)`dr': echo drop-42");
        assert_eq!(typed_part(t.command(&mark)), "echo drop-42");
    }

    #[test]
    fn a_prompt_drawn_anew_is_guessed_around() {
        let mut t = LineTracker::new(60, 10);
        let mark = typed(&mut t, "[10:32:05] $ ", "touch /tmp/x");
        // A prompt with a clock, redrawn.
        t.output(b"\r\x1b[K[10:32:07] $ touch /tmp/x");
        let Seen::Guess { line, readings } = t.command(&mark) else {
            panic!("{:?}", t.command(&mark));
        };
        assert_eq!(line, "[10:32:07] $ touch /tmp/x");
        assert!(
            readings.contains(&"touch /tmp/x".to_string()),
            "{readings:?}"
        );
        // Typing that began at the start of an empty row (type-ahead while a command ran)
        // has no prompt to strip: the readings cover the prompt the shell drew later.
        let mut t = LineTracker::new(60, 10);
        let mark = typed(&mut t, "", "");
        t.output(b"srv$ touch /tmp/x");
        let Seen::Guess { readings, .. } = t.command(&mark) else {
            panic!("{:?}", t.command(&mark));
        };
        assert!(
            readings.contains(&"touch /tmp/x".to_string()),
            "{readings:?}"
        );
    }

    #[test]
    fn a_line_longer_than_the_screen_is_hidden() {
        let mut t = LineTracker::new(10, 3);
        let mark = typed(&mut t, "$ ", &"x".repeat(60));
        assert_eq!(t.command(&mark), Seen::Hidden);
    }

    #[test]
    fn a_huge_announced_terminal_is_emulated_at_the_cap() {
        // 65535×65535 cells would be 137 GB; the cap keeps it to 1000×500.
        let mut t = LineTracker::new(u32::MAX, 65_535);
        let mark = typed(&mut t, "$ ", "ls");
        assert_eq!(typed_part(t.command(&mark)), "ls");
        t.resize(65_535, 65_535);
        let (rows, cols) = t.parser.screen().size();
        assert_eq!((rows.get(), cols.get()), (500, 1000));
    }
}
