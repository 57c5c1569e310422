//! Which keys typed in a terminal may run the line being edited, and which put text on it that
//! the user did not type.
//!
//! Enter (`\r`) is only the usual way to run a line. `\n` (Ctrl-J, or a scripted client) runs it
//! too, Ctrl-O runs it in bash (operate-and-get-next), Ctrl-D hands a partial line to a program
//! reading the terminal in canonical mode, Ctrl-X starts bash's edit-and-execute, and a user's
//! `~/.inputrc` or `bindkey` can bind `accept-line` to any key. So every control key is taken as
//! a possible end of line, except those known to edit or move within the line (judging a line
//! that was not going to run costs nothing unless it matches a rule; missing one that runs would
//! let it through unseen).

/// Control keys that only edit, move within the line, or interrupt it, in the default
/// bindings of readline, zsh's line editor and the terminal driver: Ctrl-A B C E F G H, Tab, K, L,
/// N, P, R, S, T, U, W, Y, Escape (which starts arrow keys and Meta combinations), Ctrl-_, and
/// Backspace (DEL).
fn edits(b: u8) -> bool {
    matches!(
        b,
        0x01 | 0x02
            | 0x03
            | 0x05
            | 0x06
            | 0x07
            | 0x08
            | b'\t'
            | 0x0b
            | 0x0c
            | 0x0e
            | 0x10
            | 0x12
            | 0x13
            | 0x14
            | 0x15
            | 0x17
            | 0x19
            | 0x1b
            | 0x1f
            | 0x7f
    )
}

/// Where in `keys` the first key is that may run the line, if any.
pub fn line_end(keys: &[u8]) -> Option<usize> {
    keys.iter()
        .position(|&b| (b < 0x20 || b == 0x7f) && !edits(b))
}

/// Whether `keys` hold a key that puts text on the line the user did not type: an escape
/// sequence (arrows, Alt-.), Tab, Ctrl-P/N (history), Ctrl-R/S (search), Ctrl-Y (yank),
/// Ctrl-O (operate-and-get-next). A lone Escape is not one: editors take it silently.
pub fn recalls(keys: &[u8]) -> bool {
    keys.iter().enumerate().any(|(i, b)| match b {
        0x1b => i + 1 < keys.len(),
        b => matches!(b, b'\t' | 0x10 | 0x0e | 0x12 | 0x13 | 0x19 | 0x0f),
    })
}

/// Whether `keys` are plain text: what they say is what the line holds (no editing, no recall,
/// no escape sequence).
pub fn plain(keys: &[u8]) -> bool {
    keys.iter().all(|&b| b >= 0x20 && b != 0x7f)
}

#[cfg(test)]
mod tests {
    use super::{line_end, plain, recalls};

    #[test]
    fn every_key_that_may_run_a_line_ends_it() {
        for (keys, at) in [
            (&b"rm -rf /tmp/v\r"[..], 13),
            (b"rm -rf /tmp/v\n", 13),
            (b"rm -rf /tmp/v\x0f", 13),
            (b"rm -rf /tmp/v\x04", 13),
            (b"rm -rf\x18\x05", 6),
            (b"\x00", 0),
            (b"x\x1d", 1),
            // Meta-Enter is still Enter.
            (b"ls\x1b\r", 3),
        ] {
            assert_eq!(line_end(keys), Some(at), "{keys:?}");
        }
        for keys in [
            &b"rm -rf /tmp/v"[..],
            b"\x01\x05\x02\x06\x0b\x15\x17\x19\x7f\x08\t",
            b"\x1b[A\x1b[D\x1bOB",
            b"\x03",
            b"\x12drop",
            b"",
        ] {
            assert_eq!(line_end(keys), None, "{keys:?}");
        }
    }

    #[test]
    fn keys_that_recall_or_complete_are_told_from_typing() {
        for keys in [
            &b"\x1b[A"[..],
            b"\x1bOA",
            b"\t",
            b"\x10",
            b"\x12",
            b"\x19",
            b"ls\x1b.",
        ] {
            assert!(recalls(keys), "{keys:?}");
        }
        for keys in [
            &b"echo drop"[..],
            b"\x7f",
            b"\x15",
            b"\x01\x05",
            b"",
            b"\x1b",
        ] {
            assert!(!recalls(keys), "{keys:?}");
        }
    }

    #[test]
    fn plain_keys_are_only_text() {
        assert!(plain(b"rm -rf /tmp/v"));
        assert!(plain("écho".as_bytes()));
        assert!(!plain(b"rm -rf\x7f"));
        assert!(!plain(b"\x1b[D"));
    }
}
