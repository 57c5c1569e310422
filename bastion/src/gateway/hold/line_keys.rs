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

/// Where in `keys` the first key is that may run the line, if any: a control key not known to
/// edit, an escape sequence other than a cursor or editing key (Alt combinations such as bash's
/// `M-#`, which runs the line, or zsh's `ESC a`; an escape cut off by the end of `keys` counts
/// too, since what follows cannot be seen), or a byte that is not UTF-8 text (a terminal sending
/// Meta as the eighth bit).
pub fn line_end(keys: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&b) = keys.get(i) {
        match b {
            0x1b => match editing_sequence(&keys[i..]) {
                Some(n) => i += n,
                None => return Some(i),
            },
            b if (b < 0x20 || b == 0x7f) && !edits(b) => return Some(i),
            b if b >= 0x80 => match utf8_len(&keys[i..]) {
                Some(n) => i += n,
                None => return Some(i),
            },
            _ => i += 1,
        }
    }
    None
}

/// The length of the escape sequence at the start of `keys` if it is a cursor or editing key:
/// arrows, Home, End, Insert, Delete, Page Up/Down (`ESC [ … A-D H F ~`, `ESC O A-D H F`), the
/// bracketed-paste marks, and Alt-B/F/D/Backspace (word motion and deletion).
fn editing_sequence(keys: &[u8]) -> Option<usize> {
    match keys.get(1)? {
        b'[' => {
            let params = keys[2..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b';')
                .count();
            let last = keys.get(2 + params)?;
            matches!(last, b'A'..=b'D' | b'H' | b'F' | b'~').then_some(3 + params)
        }
        b'O' => matches!(keys.get(2)?, b'A'..=b'D' | b'H' | b'F').then_some(3),
        b'b' | b'f' | b'd' | 0x7f | 0x08 => Some(2),
        _ => None,
    }
}

/// The length of the UTF-8 character at the start of `keys`, if it is one (one cut off by the
/// end of `keys` counts as whole: the rest is checked when it arrives).
fn utf8_len(keys: &[u8]) -> Option<usize> {
    let want = match keys.first()? {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let have = keys.len().min(want);
    std::str::from_utf8(&keys[..have])
        .map(|_| have)
        .or_else(|e| match e.error_len() {
            None => Ok(have),
            Some(_) => Err(()),
        })
        .ok()
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

/// The line `keys` leave, typed at an empty line with the usual editing keys (insert, Backspace,
/// Delete, Ctrl-A/E/B/F/K/U/W, Alt-B/F, arrows left and right, Home, End): what the line holds
/// whatever the screen shows. `None` when a key puts text on the line that the keys do not
/// say (history, completion, yank, transpose) or is unknown.
pub fn model(keys: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(keys);
    let mut line: Vec<char> = Vec::new();
    let mut at = 0usize;
    let mut chars = text.chars().peekable();
    let word_start = |line: &[char], mut at: usize| {
        while at > 0 && line[at - 1] == ' ' {
            at -= 1;
        }
        while at > 0 && line[at - 1] != ' ' {
            at -= 1;
        }
        at
    };
    let word_end = |line: &[char], mut at: usize| {
        while at < line.len() && line[at] == ' ' {
            at += 1;
        }
        while at < line.len() && line[at] != ' ' {
            at += 1;
        }
        at
    };
    while let Some(c) = chars.next() {
        match c {
            '\x01' => at = 0,
            '\x05' => at = line.len(),
            '\x02' => at = at.saturating_sub(1),
            '\x06' => at = (at + 1).min(line.len()),
            '\x7f' | '\x08' if at > 0 => {
                at -= 1;
                line.remove(at);
            }
            '\x7f' | '\x08' => {}
            '\x0b' => line.truncate(at),
            '\x15' => {
                line.drain(..at);
                at = 0;
            }
            '\x17' => {
                let from = word_start(&line, at);
                line.drain(from..at);
                at = from;
            }
            '\x0c' => {}
            '\x1b' => match chars.next()? {
                'b' => at = word_start(&line, at),
                'f' => at = word_end(&line, at),
                'd' => {
                    let to = word_end(&line, at);
                    line.drain(at..to);
                }
                '\x7f' | '\x08' => {
                    let from = word_start(&line, at);
                    line.drain(from..at);
                    at = from;
                }
                '[' | 'O' => {
                    let mut code = String::new();
                    let end = loop {
                        let c = chars.next()?;
                        if c.is_ascii_digit() || c == ';' {
                            code.push(c);
                        } else {
                            break c;
                        }
                    };
                    match (end, code.as_str()) {
                        ('D', _) => at = at.saturating_sub(1),
                        ('C', _) => at = (at + 1).min(line.len()),
                        ('H', _) | ('~', "1" | "7") => at = 0,
                        ('F', _) | ('~', "4" | "8") => at = line.len(),
                        ('~', "3") if at < line.len() => {
                            line.remove(at);
                        }
                        ('~', "3" | "200" | "201") => {}
                        _ => return None,
                    }
                }
                _ => return None,
            },
            c if c < ' ' => return None,
            c => {
                line.insert(at, c);
                at += 1;
            }
        }
    }
    Some(line.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::{line_end, recalls};

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
            // Meta-Enter and other Alt keys (bash's M-# runs the line).
            (b"ls\x1b\r", 2),
            (b"#rm -rf /tmp/v\x1b1\x1b#", 14),
            (b"rm -rf /tmp/v\x1ba", 13),
            // An escape cut off: what follows cannot be seen.
            (b"rm -rf\x1b", 6),
            // Meta as the eighth bit, not UTF-8.
            (b"rm -rf /tmp/v\xb1\xa3", 13),
        ] {
            assert_eq!(line_end(keys), Some(at), "{keys:?}");
        }
        for keys in [
            &b"rm -rf /tmp/v"[..],
            b"\x01\x05\x02\x06\x0b\x15\x17\x19\x7f\x08\t",
            b"\x1b[A\x1b[D\x1bOB\x1b[3~\x1b[1;5D\x1bb\x1bf",
            "\u{e9}cho \u{1f600}".as_bytes(),
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
    fn the_line_is_rebuilt_from_editing_keys() {
        use super::model;
        assert_eq!(
            model(b"rm -rf /tmp/vx\x7f").as_deref(),
            Some("rm -rf /tmp/v")
        );
        assert_eq!(
            model(b"-rf /tmp/v\x01rm ").as_deref(),
            Some("rm -rf /tmp/v")
        );
        assert_eq!(model(b"echo hi\x15rm -rf x").as_deref(), Some("rm -rf x"));
        assert_eq!(
            model(b"rm -rf x\x1b[D\x1b[Dy").as_deref(),
            Some("rm -rfy x")
        );
        assert_eq!(model(b"ls old\x17new").as_deref(), Some("ls new"));
        assert_eq!(model(b"ab\x02\x02\x0b").as_deref(), Some(""));
        // Keys whose effect only the screen shows.
        assert_eq!(model(b"rm\t"), None);
        assert_eq!(model(b"\x1b[A"), None);
        assert_eq!(model(b"\x19"), None);
    }
}
