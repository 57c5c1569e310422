//! Whether a shell has read a whole command yet.
//!
//! After a line that ends inside quotes, after a backslash, a pipe or `&&`, inside `$( … )`, a
//! `{ … }` group or an `if … fi` block, or before a here-document's end, a POSIX shell asks
//! for more lines (its secondary prompt, `> `) and runs them all as one command. Approval rules
//! judge that whole command, so `rm \` Enter `-rf /data` Enter is judged as `rm -rf /data`.
//!
//! This is a lexer for the common shapes, not a shell parser. Where it errs, it errs towards
//! "not complete" (lines are then judged together with the ones before them as well as on their
//! own, which can only hold more lines, never fewer).

/// How the next line continues a command, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continued {
    /// The command is complete: the next line is a new command.
    No,
    /// A trailing backslash: the shell drops it and the newline and joins the lines directly.
    Joined,
    /// The newline is part of the command (open quotes, blocks, pipes, here-documents).
    NewLine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
    Backtick,
}

/// Reserved words that open a compound command and the ones that close it.
const OPENS: [&str; 6] = ["if", "case", "for", "while", "until", "select"];
const CLOSES: [&str; 3] = ["fi", "esac", "done"];
/// Reserved words after which a command starts.
const LEAD: [&str; 8] = ["then", "do", "else", "elif", "if", "while", "until", "!"];

/// Whether `command` (lines joined with `\n`) is a whole command for a POSIX shell.
pub fn continuation(command: &str) -> Continued {
    let mut s = Scan::default();
    for line in command.split('\n') {
        s.line(line);
    }
    s.verdict()
}

#[derive(Debug)]
struct Scan {
    quote: Quote,
    /// The last character was an unquoted (or double-quoted) backslash.
    escaped: bool,
    /// Open `(` and `{` groups, and open compound commands.
    depth: i64,
    /// Here-document delimiters announced on the current line, then awaited.
    heredocs: Vec<(String, bool)>,
    /// Inside a here-document body: its delimiter and whether leading tabs are stripped.
    body: Option<(String, bool)>,
    /// The last operator or word ended with `|`, `&&` or `||`.
    dangling: bool,
}

impl Default for Scan {
    fn default() -> Scan {
        Scan {
            quote: Quote::None,
            escaped: false,
            depth: 0,
            heredocs: Vec::new(),
            body: None,
            dangling: false,
        }
    }
}

impl Scan {
    fn line(&mut self, line: &str) {
        if let Some((delim, strip)) = &self.body {
            let l = if *strip {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if l == delim {
                self.body = None;
                self.next_body();
            }
            return;
        }
        // After a backslash-newline the line goes on where it was; after any other newline a
        // command may start.
        let mut command_position = !self.escaped;
        self.escaped = false;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut word = String::new();
        let mut word_quoted = false;
        while i < chars.len() {
            let c = chars[i];
            match self.quote {
                Quote::Single => {
                    if c == '\'' {
                        self.quote = Quote::None;
                    }
                    i += 1;
                    continue;
                }
                Quote::Double | Quote::Backtick => {
                    let close = if self.quote == Quote::Double {
                        '"'
                    } else {
                        '`'
                    };
                    if c == '\\' {
                        if i + 1 == chars.len() {
                            self.escaped = true;
                        }
                        i += 2;
                        continue;
                    }
                    if c == close {
                        self.quote = Quote::None;
                    }
                    i += 1;
                    continue;
                }
                Quote::None => {}
            }
            match c {
                '\\' => {
                    if i + 1 == chars.len() {
                        self.escaped = true;
                    }
                    word.push(c);
                    i += 2;
                    continue;
                }
                '\'' => {
                    self.quote = Quote::Single;
                    word_quoted = true;
                }
                '"' => {
                    self.quote = Quote::Double;
                    word_quoted = true;
                }
                '`' => {
                    self.quote = Quote::Backtick;
                    word_quoted = true;
                }
                '#' if word.is_empty() && !word_quoted => break,
                ' ' | '\t' => {
                    command_position = self.end_word(&word, word_quoted, command_position);
                    word.clear();
                    word_quoted = false;
                }
                ';' | '&' | '|' | '(' | ')' | '<' | '>' => {
                    command_position = self.end_word(&word, word_quoted, command_position);
                    word.clear();
                    word_quoted = false;
                    self.dangling = false;
                    match c {
                        '(' => {
                            self.depth += 1;
                            command_position = true;
                        }
                        ')' => {
                            self.depth -= 1;
                            command_position = false;
                        }
                        '|' => {
                            // `|`, `||`: the command goes on; `|&` too.
                            if chars.get(i + 1) == Some(&'|') {
                                i += 1;
                            }
                            self.dangling = true;
                            command_position = true;
                        }
                        '&' => {
                            if chars.get(i + 1) == Some(&'&') {
                                i += 1;
                                self.dangling = true;
                            }
                            command_position = true;
                        }
                        ';' => command_position = true,
                        '<' if chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') => {
                            i = self.heredoc(&chars, i + 2);
                            continue;
                        }
                        '<' if chars.get(i + 1) == Some(&'<') => {
                            // A here-string (`<<<`).
                            i += 2;
                        }
                        _ => {}
                    }
                }
                _ => {
                    if self.dangling && !c.is_whitespace() {
                        self.dangling = false;
                    }
                    word.push(c);
                }
            }
            i += 1;
        }
        if self.quote == Quote::None {
            self.end_word(&word, word_quoted, command_position);
        }
        if self.quote == Quote::None && !self.escaped && !self.heredocs.is_empty() {
            self.next_body();
        }
    }

    /// A word ended; returns whether the next word is in command position.
    fn end_word(&mut self, word: &str, quoted: bool, command_position: bool) -> bool {
        if word.is_empty() {
            return command_position;
        }
        self.dangling = false;
        if quoted || !command_position {
            return false;
        }
        if word == "{" {
            self.depth += 1;
            return true;
        }
        if word == "}" {
            self.depth -= 1;
            return false;
        }
        if OPENS.contains(&word) {
            self.depth += 1;
        } else if CLOSES.contains(&word) {
            self.depth -= 1;
        }
        // `for NAME`, `case WORD`, `select NAME`: a name follows, not a command.
        LEAD.contains(&word)
    }

    /// Reads a here-document's delimiter after `<<` at `i`; returns where scanning goes on.
    fn heredoc(&mut self, chars: &[char], mut i: usize) -> usize {
        let strip = chars.get(i) == Some(&'-');
        if strip {
            i += 1;
        }
        while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
            i += 1;
        }
        let mut delim = String::new();
        while let Some(&c) = chars.get(i) {
            if c.is_whitespace() || matches!(c, ';' | '&' | '|' | '<' | '>' | '(' | ')') {
                break;
            }
            if !matches!(c, '\'' | '"' | '\\') {
                delim.push(c);
            }
            i += 1;
        }
        if !delim.is_empty() {
            self.heredocs.push((delim, strip));
        }
        i
    }

    /// Starts the next announced here-document body, if any.
    fn next_body(&mut self) {
        if !self.heredocs.is_empty() {
            self.body = Some(self.heredocs.remove(0));
        }
    }

    fn verdict(&self) -> Continued {
        // Inside double quotes too, a backslash-newline is dropped.
        if self.escaped && self.quote != Quote::Single {
            return Continued::Joined;
        }
        if self.quote != Quote::None
            || self.body.is_some()
            || !self.heredocs.is_empty()
            || self.depth > 0
        {
            return Continued::NewLine;
        }
        if self.dangling {
            return Continued::NewLine;
        }
        Continued::No
    }
}

/// Every simple command of a command line, its words as a shell splits them (quotes removed,
/// no expansion: enough to tell which programs a line runs and with which options): split at `;`, `&`, `|`, `&&`, `||`,
/// newlines and parentheses (so `$( … )` and `( … )` count as commands of their own).
pub fn simple_commands(command: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = Quote::None;
    let mut chars = command.chars();
    let end_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Quote::Single, '\'') | (Quote::Double, '"') => quote = Quote::None,
            (Quote::Single, c) => word.push(c),
            (Quote::Double, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Quote::Double, c) => word.push(c),
            (_, '\'') => {
                quote = Quote::Single;
                in_word = true;
            }
            (_, '"') => {
                quote = Quote::Double;
                in_word = true;
            }
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
                in_word = true;
            }
            (_, c) if c == '\n' || matches!(c, ';' | '&' | '|' | '(' | ')' | '`') => {
                end_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            (_, c) if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut words),
            // Redirections: the word after them is a file, not an argument.
            (_, '<' | '>') => {
                end_word(&mut word, &mut in_word, &mut words);
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// `before` and the line after it as the shell reads them together.
pub fn join(before: &str, how: Continued, line: &str) -> String {
    match how {
        Continued::No => line.to_string(),
        Continued::Joined => {
            let kept = before.strip_suffix('\\').unwrap_or(before);
            format!("{kept}{line}")
        }
        Continued::NewLine => format!("{before}\n{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{continuation, join, Continued};

    #[test]
    fn whole_commands_are_complete() {
        for c in [
            "rm -rf /tmp/v",
            "echo 'a b' \"c d\" `date`",
            "ls | wc -l",
            "a && b || c",
            "sleep 1 &",
            "echo $(date) ; (cd /tmp; ls)",
            "if true; then echo y; fi",
            "for x in a b; do echo $x; done",
            "case $x in a) echo a;; esac",
            "{ echo a; echo b; }",
            "echo done if fi",
            "echo {a,b}",
            "echo a # don't mind me",
            "cat <<< 'here string'",
            "echo \\\\",
            "",
        ] {
            assert_eq!(continuation(c), Continued::No, "{c:?}");
        }
    }

    #[test]
    fn unfinished_commands_continue() {
        assert_eq!(continuation("rm \\"), Continued::Joined);
        assert_eq!(continuation("echo \"a \\"), Continued::Joined);
        for c in [
            "echo 'a",
            "echo \"a",
            "echo `date",
            "ls |",
            "true &&",
            "false ||",
            "echo $(date",
            "(cd /tmp",
            "if true; then",
            "for x in a b",
            "while true; do",
            "case $x in",
            "{ echo a",
            "cat <<EOF",
            "cat <<'EOF' > f\nline one",
            "cat <<-EOF\n\tbody",
        ] {
            assert_eq!(continuation(c), Continued::NewLine, "{c:?}");
        }
    }

    #[test]
    fn continued_commands_end_where_the_shell_ends_them() {
        assert_eq!(continuation("echo 'a\nb'"), Continued::No);
        assert_eq!(continuation("if true; then\necho y\nfi"), Continued::No);
        assert_eq!(continuation("cat <<EOF\nrm -rf /\nEOF"), Continued::No);
        assert_eq!(continuation("cat <<-EOF\n\tx\n\tEOF"), Continued::No);
        assert_eq!(continuation("ls |\nwc -l"), Continued::No);
        assert_eq!(continuation("cat <<EOF\nEOFX"), Continued::NewLine);
    }

    #[test]
    fn a_command_splits_into_words_as_a_shell_would() {
        let words = |c: &str| {
            super::simple_commands(c)
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        assert_eq!(
            words("sudo -u 'pg admin' psql  \"my db\""),
            ["sudo", "-u", "pg admin", "psql", "my db"]
        );
        assert_eq!(words("bash -c 'a; b' ; rm x"), ["bash", "-c", "a; b"]);
        assert_eq!(words("b\\ash"), ["bash"]);
        assert!(words("").is_empty());
        assert_eq!(
            super::simple_commands("cd /tmp && bash; echo $(date) | tee x"),
            [
                vec!["cd", "/tmp"],
                vec!["bash"],
                vec!["echo", "$"],
                vec!["date"],
                vec!["tee", "x"]
            ]
        );
    }

    #[test]
    fn lines_join_as_the_shell_reads_them() {
        assert_eq!(
            join("rm \\", Continued::Joined, " -rf /tmp/v"),
            "rm  -rf /tmp/v"
        );
        assert_eq!(join("echo 'a", Continued::NewLine, "b'"), "echo 'a\nb'");
        assert_eq!(join("ignored", Continued::No, "ls"), "ls");
    }
}
