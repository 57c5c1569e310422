//! Commands a program run without a terminal reads from its stdin (`ssh host bash < script`,
//! `echo 'drop table x' | ssh host psql`, `ssh -T host`): where command rules apply, each line
//! is judged before it reaches the program, as a line typed in a shell would be, and a line that
//! is not approved ends the channel with the rest of the input unread.
//!
//! Which commands read their commands from stdin is decided from the command line: a program
//! named in `[approval] interpreters`, given no command (`-c`, `-e`, `--command`, …) and, for
//! shells and script languages, no script file.

use bytes::{Bytes, BytesMut};
use globset::GlobSet;

use super::shell_syntax::{continuation, join, Continued};

/// Longest line judged; a longer one cannot be read as a command and ends the channel. Within
/// one SSH packet (OpenSSH's are 32 KiB), so a judged line reaches the program whole.
pub const MAX_LINE: usize = 16 * 1024;

/// A line grew past [`MAX_LINE`]: it is not a command that can be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;

/// Longest text kept of a command a shell has not finished reading.
const MAX_PENDING: usize = 16 * 1024;

/// Programs that only start others (`sudo bash`, `env X=1 python3`, `timeout 60 psql`): the
/// program after them is the one that reads stdin. With each, its options that take a value,
/// and how many words before the program are its own.
const WRAPPERS: &[(&str, &[&str], usize)] = &[
    (
        "env",
        &["-u", "-C", "-S", "--unset", "--chdir", "--split-string"],
        0,
    ),
    ("exec", &["-a"], 0),
    ("command", &[], 0),
    ("builtin", &[], 0),
    ("nice", &["-n", "--adjustment"], 0),
    ("ionice", &["-c", "-n", "-p", "-P", "-u"], 0),
    ("nohup", &[], 0),
    ("time", &["-f", "-o", "--format", "--output"], 0),
    (
        "sudo",
        &[
            "-u", "-g", "-h", "-p", "-U", "-C", "-D", "-r", "-t", "-T", "--user", "--group",
            "--chdir",
        ],
        0,
    ),
    ("doas", &["-u", "-C"], 0),
    ("setsid", &[], 0),
    ("stdbuf", &["-i", "-o", "-e"], 0),
    ("timeout", &["-s", "-k", "--signal", "--kill-after"], 1),
    ("chrt", &["-p"], 1),
    ("taskset", &["-p"], 1),
    (
        "xargs",
        &[
            "-a",
            "-d",
            "-E",
            "-I",
            "-L",
            "-n",
            "-P",
            "-s",
            "--arg-file",
            "--delimiter",
        ],
        0,
    ),
    (
        "flock",
        &["-w", "-E", "--timeout", "--conflict-exit-code"],
        1,
    ),
];
/// Programs that start a shell reading stdin when given no command: `su -`, `sudo -i`.
const SHELL_STARTERS: &[(&str, &[&str])] = &[
    ("su", &["-c", "--command", "--session-command"]),
    ("runuser", &["-c", "--command", "--session-command"]),
    ("login", &[]),
    ("machinectl", &[]),
];
/// Names of files that are stdin, given where a program takes a script.
const STDIN_FILES: [&str; 4] = ["-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"];

/// How a known program is told to run something other than its stdin.
struct Family {
    names: &'static [&'static str],
    /// Options that give the commands on the command line or in a file.
    commands: &'static [&'static str],
    /// Options that take the next word as their value.
    values: &'static [&'static str],
    /// Its first word that is not an option is a script to run.
    script: bool,
    /// Single-letter flags combine (`-lc`): `c` gives a command, `s` forces stdin.
    shell: bool,
    /// Its second word that is not an option is a statement to run (`sqlite3 DB SQL`).
    statement: bool,
}

const FAMILIES: &[Family] = &[
    Family {
        names: &["sh", "bash", "dash", "zsh", "ksh", "mksh"],
        commands: &[],
        values: &["-o", "+o", "-O", "+O", "--rcfile", "--init-file"],
        script: true,
        shell: true,
        statement: false,
    },
    Family {
        names: &["python"],
        commands: &["-c", "-m"],
        values: &["-W", "-X"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["perl", "lua", "Rscript"],
        commands: &["-e", "-E"],
        values: &["-l"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["ruby", "irb"],
        commands: &["-e"],
        values: &["-I", "-r", "-C"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["node"],
        commands: &["-e", "--eval", "-p", "--print"],
        values: &["-r", "--require", "--import", "--input-type", "--loader"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["php"],
        commands: &["-r", "-f"],
        values: &["-c", "-d", "-z"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["fish"],
        commands: &["-c", "--command"],
        values: &["-C", "--init-command"],
        script: true,
        shell: false,
        statement: false,
    },
    Family {
        names: &["psql"],
        commands: &["-c", "--command", "-f", "--file"],
        values: &[],
        script: false,
        shell: false,
        statement: false,
    },
    Family {
        names: &["mysql", "mariadb", "cqlsh"],
        commands: &["-e", "--execute", "-f", "--file"],
        values: &[],
        script: false,
        shell: false,
        statement: false,
    },
    Family {
        names: &["mongo", "mongosh"],
        commands: &["--eval", "-f", "--file"],
        values: &[],
        script: false,
        shell: false,
        statement: false,
    },
    Family {
        names: &["clickhouse-client"],
        commands: &["-q", "--query", "--queries-file"],
        values: &[],
        script: false,
        shell: false,
        statement: false,
    },
    Family {
        names: &["sqlite3"],
        commands: &[],
        values: &[
            "-cmd",
            "-separator",
            "-newline",
            "-nullvalue",
            "-init",
            "-vfs",
        ],
        script: false,
        shell: false,
        statement: true,
    },
];

/// A program that reads its commands from stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Its name.
    pub program: String,
    /// A POSIX shell (lines join as [`super::shell_syntax`] says).
    pub shell: bool,
    /// An SQL client: a statement goes on until a line ends with `;`.
    pub sql: bool,
}

/// SQL clients: their statements span lines until a `;`.
const SQL: [&str; 7] = [
    "psql",
    "mysql",
    "mariadb",
    "sqlite3",
    "cqlsh",
    "clickhouse-client",
    "mongosh",
];

/// Whether `command` runs a program named in `interpreters` that reads its commands from
/// stdin: in any of its simple commands (`cd /tmp && bash`), after wrappers (`sudo -u pg
/// psql`, `timeout 60 bash`), or named anywhere else on the line (`xargs sh`, `find -exec
/// bash`). A program the bastion knows no options of (one added to the list, `redis-cli`) is
/// taken to read stdin whatever its arguments: when in doubt, lines are judged.
pub fn interpreter(command: &str, interpreters: &GlobSet) -> Option<Interpreter> {
    for segment in super::shell_syntax::simple_commands(command) {
        let words = segment.as_slice();
        // `sudo -i`, `sudo -s`: a login shell on stdin (and a command after them is judged
        // as itself below).
        let shell_flag = |w: &String| matches!(w.as_str(), "-i" | "-s" | "--login" | "--shell");
        if words.iter().any(|w| matches!(base(w), "sudo" | "doas"))
            && words.iter().any(shell_flag)
            && program_at(words).is_none()
        {
            return Some(found("sudo", true));
        }
        let Some(i) = program_at(words) else { continue };
        let program = base(&words[i]);
        if let Some((_, commands)) = SHELL_STARTERS.iter().find(|(n, _)| *n == program) {
            if !words[i + 1..]
                .iter()
                .any(|w| commands.contains(&w.as_str()))
            {
                return Some(found(program, true));
            }
            continue;
        }
        if !interpreters.is_match(program) {
            continue;
        }
        if reads_stdin(program, &words[i + 1..]) {
            return Some(interpreter_named(program));
        }
    }
    // Named as an argument of something else: what that program does with it is unknown.
    for segment in super::shell_syntax::simple_commands(command) {
        let first = program_at(&segment);
        for (i, w) in segment.iter().enumerate() {
            if Some(i) != first && interpreters.is_match(base(w)) {
                return Some(interpreter_named(base(w)));
            }
        }
    }
    None
}

fn found(program: &str, shell: bool) -> Interpreter {
    Interpreter {
        program: program.to_string(),
        shell,
        sql: false,
    }
}

fn interpreter_named(program: &str) -> Interpreter {
    let family = family_of(program);
    Interpreter {
        program: program.to_string(),
        shell: family.is_some_and(|f| f.shell),
        sql: SQL.contains(&program),
    }
}

/// `python3.11` is a `python`; `sqlite3` is itself.
fn family_of(program: &str) -> Option<&'static Family> {
    let unversioned = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    FAMILIES
        .iter()
        .find(|f| f.names.contains(&program) || f.names.contains(&unversioned))
}

/// Where the program of a simple command is, past variable assignments and wrappers.
fn program_at(words: &[String]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = words.get(i) {
        if is_assignment(w) {
            i += 1;
            continue;
        }
        let Some((_, values, own)) = WRAPPERS.iter().find(|(n, _, _)| *n == base(w)) else {
            return Some(i);
        };
        i += 1;
        let mut own = *own;
        while let Some(next) = words.get(i) {
            if next == "--" {
                i += 1;
                break;
            }
            if next.starts_with('-') {
                i += if values.contains(&next.as_str()) {
                    2
                } else {
                    1
                };
            } else if is_assignment(next) {
                i += 1;
            } else if own > 0 {
                own -= 1;
                i += 1;
            } else {
                break;
            }
        }
    }
    None
}

/// Whether `program`, given `args`, reads its commands from stdin.
fn reads_stdin(program: &str, args: &[String]) -> bool {
    let Some(family) = family_of(program) else {
        return true;
    };
    let mut args = args.iter();
    let mut positional = 0;
    while let Some(arg) = args.next() {
        let option = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        if arg == "--" || STDIN_FILES.contains(&arg.as_str()) {
            return true;
        }
        if family.commands.contains(&option) {
            // `psql -f -`: the file given is stdin.
            return args
                .next()
                .is_some_and(|v| STDIN_FILES.contains(&v.as_str()))
                || arg
                    .split_once('=')
                    .is_some_and(|(_, v)| STDIN_FILES.contains(&v));
        }
        if family.values.contains(&arg.as_str()) {
            args.next();
            continue;
        }
        let flags = arg.strip_prefix('-').filter(|f| !f.starts_with('-'));
        if family.shell {
            match flags {
                Some(f) if f.contains('c') => return false,
                Some(f) if f.contains('s') => return true,
                // `-o pipefail`, `-euo pipefail`: the option names the next word.
                Some(f) if f.contains('o') || f.contains('O') => {
                    args.next();
                    continue;
                }
                _ => {}
            }
        }
        if arg.starts_with('-') || arg.starts_with('+') {
            continue;
        }
        positional += 1;
        if family.script || (family.statement && positional == 2) {
            return false;
        }
    }
    true
}

/// Whether an SQL client runs what it has read so far: a statement ended by `;` (or psql's
/// `\g`), or a client command (`\d`, `.tables`), or a blank line.
fn statement_ends(statement: &str) -> bool {
    let last = statement.lines().last().unwrap_or_default().trim();
    let first = statement.trim_start();
    last.is_empty()
        || last.ends_with(';')
        || last.ends_with("\\g")
        || first.starts_with('\\')
        || first.starts_with('.')
}

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The lines a program reads from stdin, as they arrive.
#[derive(Debug)]
pub struct StdinLines {
    /// What reads them.
    pub interpreter: Interpreter,
    /// The line being received.
    partial: BytesMut,
    /// Earlier lines of a command the shell has not finished reading.
    pending: Option<(String, Continued)>,
}

/// A complete line and how to judge it.
#[derive(Debug)]
pub struct StdinLine {
    /// The bytes to forward once it may run (its newline included).
    pub bytes: Bytes,
    /// The command as a reviewer is shown it (joined with the unfinished lines before it).
    pub shown: String,
    /// Every reading of it to judge.
    pub readings: Vec<String>,
}

impl StdinLines {
    /// Lines read by `interpreter`.
    pub fn new(interpreter: Interpreter) -> StdinLines {
        StdinLines {
            interpreter,
            partial: BytesMut::new(),
            pending: None,
        }
    }

    /// Takes input; `Err` when a line grows past [`MAX_LINE`] (it cannot be judged).
    pub fn push(&mut self, data: &[u8]) -> Result<(), LineTooLong> {
        self.partial.extend_from_slice(data);
        let unfinished = match memchr::memrchr(b'\n', &self.partial) {
            Some(i) => self.partial.len() - i - 1,
            None => self.partial.len(),
        };
        if unfinished > MAX_LINE {
            return Err(LineTooLong);
        }
        Ok(())
    }

    /// The next complete line; at end of input (`eof`), the last one without its newline.
    pub fn next_line(&mut self, eof: bool) -> Option<StdinLine> {
        let end = match memchr::memchr(b'\n', &self.partial) {
            Some(i) => i + 1,
            None if eof && !self.partial.is_empty() => self.partial.len(),
            None => return None,
        };
        let bytes = self.partial.split_to(end).freeze();
        let text = String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let mut readings = vec![text.clone(), text.trim_start().to_string()];
        let shown = match self.pending.take() {
            Some((before, how)) => {
                // Both ways a shell may join them, in case the lexer misread the line before.
                let line = text.trim_start();
                readings.push(join(&before, Continued::Joined, line));
                readings.push(join(&before, Continued::NewLine, line));
                join(&before, how, line)
            }
            None => text,
        };
        // Shells drop NUL bytes: `r\0m` runs `rm`.
        let without_nul: Vec<String> = readings
            .iter()
            .filter(|r| r.contains('\0'))
            .map(|r| r.replace('\0', ""))
            .collect();
        readings.extend(without_nul);
        // Reviewers see what the shell will run.
        let shown = if self.interpreter.shell {
            shown.replace('\0', "")
        } else {
            shown
        };
        let more = if self.interpreter.shell {
            continuation(&shown)
        } else if self.interpreter.sql && !statement_ends(&shown) {
            Continued::NewLine
        } else {
            Continued::No
        };
        self.pending = match more {
            Continued::No => None,
            how => {
                let mut from = shown.len().saturating_sub(MAX_PENDING);
                while !shown.is_char_boundary(from) {
                    from += 1;
                }
                Some((shown[from..].to_string(), how))
            }
        };
        Some(StdinLine {
            bytes,
            shown,
            readings,
        })
    }
}

#[cfg(test)]
mod tests {
    use globset::{Glob, GlobSet, GlobSetBuilder};

    use super::{interpreter, Interpreter, StdinLines};

    fn defaults() -> GlobSet {
        let mut b = GlobSetBuilder::new();
        for n in [
            "sh",
            "bash",
            "python*",
            "perl*",
            "psql",
            "sqlite3",
            "mysql",
            "node",
            "redis-cli",
        ] {
            b.add(Glob::new(n).unwrap());
        }
        b.build().unwrap()
    }

    #[test]
    fn programs_reading_commands_from_stdin_are_told_apart() {
        let set = defaults();
        for cmd in [
            "bash",
            "sh -s",
            "bash -s arg1 arg2",
            "/bin/bash -l",
            "python3 -",
            "python3",
            "python3.11 -u",
            "sudo -u postgres psql",
            "env PGHOST=db psql mydb",
            "FOO=1 bash",
            "psql -h db -U app mydb",
            "sqlite3 app.db",
            "exec bash -i",
            "perl",
            "'bash'",
            // Options that look like commands elsewhere, or take a value that looks like a
            // script, do not hide stdin.
            "bash -e",
            "bash -x",
            "bash --rcfile /dev/null",
            "bash -o pipefail",
            "bash -euo pipefail",
            "python3 -W ignore",
            "sqlite3 -cmd '.mode csv' app.db",
            "redis-cli -h db GET key",
            // Any simple command of the line, past wrappers; stdin named as a file.
            "cd /tmp && bash",
            "umask 077; psql",
            "timeout 60 bash",
            "time -p bash",
            "stdbuf -o L bash",
            "exec -a x bash",
            "bash /dev/stdin",
            "python3 /dev/fd/0",
            "psql -f -",
            "xargs sh",
            "find . -exec bash {} ;",
            // Programs that start a shell on stdin.
            "su -",
            "su root",
            "sudo -i",
            "sudo -s",
        ] {
            assert!(interpreter(cmd, &set).is_some(), "{cmd}");
        }
        for cmd in [
            "bash -c 'echo hi'",
            "bash -lc 'echo hi'",
            "bash deploy.sh",
            "python3 script.py",
            "python3 -m http.server",
            "python3 -c 'print(1)'",
            "psql -c 'select 1'",
            "psql --command='select 1'",
            "psql -f dump.sql",
            "mysql -e 'select 1'",
            "perl -e 'print 1'",
            "node app.js",
            "sqlite3 app.db 'select 1'",
            "su - -c 'echo hi'",
            "ls -l",
            "cat",
        ] {
            assert!(interpreter(cmd, &set).is_none(), "{cmd}");
        }
        assert_eq!(
            interpreter("sudo bash", &set),
            Some(Interpreter {
                program: "bash".into(),
                shell: true,
                sql: false,
            })
        );
        let psql = interpreter("psql", &set).unwrap();
        assert!(!psql.shell && psql.sql);
    }

    fn lines(shell: bool, sql: bool, input: &[u8]) -> Vec<(String, Vec<String>)> {
        let mut l = StdinLines::new(Interpreter {
            program: "x".into(),
            shell,
            sql,
        });
        l.push(input).unwrap();
        std::iter::from_fn(|| l.next_line(true))
            .map(|x| (x.shown, x.readings))
            .collect()
    }

    #[test]
    fn lines_are_judged_alone_and_joined_as_a_shell_reads_them() {
        let got = lines(true, false, b"echo one\nrm \\\n -rf /data\necho 'a\nb'\n");
        let shown: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            shown,
            [
                "echo one",
                "rm \\",
                "rm -rf /data",
                "echo 'a",
                "echo 'a\nb'"
            ]
        );
        assert!(got[2].1.contains(&" -rf /data".to_string()));
        // A line the lexer misreads is joined both ways.
        let got = lines(true, false, b"echo $'a\\'b'; rm \\\n-rf /tmp/v\n");
        assert!(
            got[1].1.iter().any(|r| r.ends_with("rm -rf /tmp/v")),
            "{:?}",
            got[1]
        );
        // Shells drop NULs.
        let got = lines(true, false, b"r\0m -rf /tmp/v\n");
        assert!(got[0].1.contains(&"rm -rf /tmp/v".to_string()), "{got:?}");
        // SQL statements go on until a `;`.
        let got = lines(false, true, b"drop\ntable users;\nselect 1;\n");
        assert_eq!(got[1].0, "drop\ntable users;");
        assert_eq!(got[2].0, "select 1;");
        // Other programs' lines are not joined.
        let got = lines(false, false, b"print('a\nb')\n");
        assert_eq!(got[1].0, "b')");
        // The last line without a newline is judged at the end of the input.
        assert_eq!(lines(true, false, b"rm -rf /x")[0].0, "rm -rf /x");
    }

    #[test]
    fn a_line_too_long_to_judge_is_refused() {
        let shell = || Interpreter {
            program: "bash".into(),
            shell: true,
            sql: false,
        };
        let mut l = StdinLines::new(shell());
        assert!(l.push(&vec![b'x'; super::MAX_LINE]).is_ok());
        assert!(l.push(b"x").is_err());
        let mut l = StdinLines::new(shell());
        let mut many = b"echo a\n".repeat(20_000);
        many.extend_from_slice(b"tail");
        assert!(l.push(&many).is_ok());
    }
}
