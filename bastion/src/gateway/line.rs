//! The command line of an interactive shell, read from a vt100 screen fed with the shell's
//! output: what the user sees is what is judged, whatever tab completion, history recall or line
//! editing produced it.

/// A terminal screen that follows one shell's output.
pub struct LineTracker {
    parser: vt100::Parser,
}

/// `(rows, cols)` to emulate; a size of 0 (not announced) is taken as 80×24.
fn size(cols: u32, rows: u32) -> (std::num::NonZeroU16, std::num::NonZeroU16) {
    let or = |v: u32, fallback: u32| if v == 0 { fallback } else { v };
    recorder::emulated_size(or(rows, 24), or(cols, 80))
}

impl LineTracker {
    /// A screen of the pty's size.
    pub fn new(cols: u32, rows: u32) -> LineTracker {
        let (rows, cols) = size(cols, rows);
        LineTracker {
            parser: vt100::Parser::new(rows, cols, 0),
        }
    }

    /// Feeds the shell's output.
    pub fn output(&mut self, data: &[u8]) {
        self.parser.process(data);
    }

    /// Follows a window change.
    pub fn resize(&mut self, cols: u32, rows: u32) {
        let (rows, cols) = size(cols, rows);
        self.parser.set_size(rows, cols);
    }

    /// The whole visible screen as text (trailing blank lines dropped).
    pub fn screen_text(&self) -> String {
        self.parser.screen().contents().trim_end().to_string()
    }

    /// Whether a full-screen program (an editor, a pager) has the screen.
    pub fn alternate_screen(&self) -> bool {
        self.parser.screen().alternate_screen()
    }

    /// The logical line under the cursor (prompt included): the cursor's row and the rows that
    /// wrap into it.
    pub fn current_line(&self) -> String {
        let screen = self.parser.screen();
        let (row, _) = screen.cursor_position();
        let mut start = row;
        while start > 0 && screen.row_wrapped(start - 1) {
            start -= 1;
        }
        let (_, cols) = screen.size();
        screen
            .contents_between(start, 0, row, cols.get())
            .trim_end()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::LineTracker;

    #[test]
    fn reads_the_edited_line_not_the_keystrokes() {
        let mut t = LineTracker::new(40, 10);
        t.output(b"old output\r\n$ ");
        // Typed "drip", erased one char, then "op tab" with the shell redrawing.
        t.output(b"drip\x08 \x08\x08 \x08op tab");
        t.output(b"le users");
        assert_eq!(t.current_line(), "$ drop table users");
        // A line longer than the screen wraps; both rows are the line.
        let mut t = LineTracker::new(10, 5);
        t.output(b"$ echo 0123456789abc");
        assert_eq!(t.current_line(), "$ echo 0123456789abc");
    }

    #[test]
    fn a_huge_announced_terminal_is_emulated_at_the_cap() {
        // 65535×65535 cells would be 137 GB; the cap keeps it to 1000×500.
        let mut t = LineTracker::new(u32::MAX, 65_535);
        t.output(b"$ ls");
        assert_eq!(t.current_line(), "$ ls");
        t.resize(65_535, 65_535);
        let (rows, cols) = t.parser.screen().size();
        assert_eq!((rows.get(), cols.get()), (500, 1000));
    }
}
