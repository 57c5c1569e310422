//! The command line of an interactive shell, read from a vt100 screen fed with the shell's
//! output: what the user sees is what is judged, whatever tab completion, history recall or line
//! editing produced it.

/// A terminal screen that follows one shell's output.
pub struct LineTracker {
    parser: vt100::Parser,
}

fn dim(v: u32, fallback: u16) -> std::num::NonZeroU16 {
    let v = u16::try_from(v).unwrap_or(u16::MAX);
    std::num::NonZeroU16::new(v)
        .or(std::num::NonZeroU16::new(fallback))
        .unwrap_or(std::num::NonZeroU16::MIN)
}

impl LineTracker {
    /// A screen of the pty's size.
    pub fn new(cols: u32, rows: u32) -> LineTracker {
        LineTracker {
            parser: vt100::Parser::new(dim(rows, 24), dim(cols, 80), 0),
        }
    }

    /// Feeds the shell's output.
    pub fn output(&mut self, data: &[u8]) {
        self.parser.process(data);
    }

    /// Follows a window change.
    pub fn resize(&mut self, cols: u32, rows: u32) {
        self.parser.set_size(dim(rows, 24), dim(cols, 80));
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
}
