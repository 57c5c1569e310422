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

use super::shell_syntax::{continuation, join, words, Continued};

/// Longest line judged; a longer one cannot be read as a command and ends the channel. Within
/// one SSH packet (OpenSSH's are 32 KiB), so a judged line reaches the program whole.
pub const MAX_LINE: usize = 16 * 1024;
/// Longest text kept of a command a shell has not finished reading.
const MAX_PENDING: usize = 16 * 1024;

/// Programs that only start others (`sudo bash`, `env X=1 python3`): the program after them is
/// the one that reads stdin.
const WRAPPERS: [&str; 10] = [
    "env", "exec", "command", "nice", "nohup", "time", "sudo", "doas", "setsid", "stdbuf",
];
/// Options of the wrappers that take a value (`sudo -u root`, `nice -n 5`).
const WRAPPER_VALUES: [&str; 8] = ["-u", "-g", "-n", "-C", "-D", "-h", "-p", "-U"];

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
}

/// Whether `command` runs a program named in `interpreters` that reads its commands from
/// stdin. A program the bastion knows no options of (one added to the list, `redis-cli`) is
/// taken to read stdin whatever its arguments: when in doubt, lines are judged.
pub fn interpreter(command: &str, interpreters: &GlobSet) -> Option<Interpreter> {
    let words = words(command);
    let mut i = 0;
    // Variable assignments and wrappers in front.
    while let Some(w) = words.get(i) {
        if is_assignment(w) {
            i += 1;
        } else if WRAPPERS.contains(&base(w)) {
            i += 1;
            while let Some(opt) = words
                .get(i)
                .filter(|o| o.starts_with('-') || is_assignment(o))
            {
                i += if WRAPPER_VALUES.contains(&opt.as_str()) {
                    2
                } else {
                    1
                };
            }
        } else {
            break;
        }
    }
    let program = base(words.get(i)?);
    if !interpreters.is_match(program) {
        return None;
    }
    // `python3.11` is a `python`; `sqlite3` is itself.
    let unversioned = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let named = |f: &&Family| f.names.contains(&program) || f.names.contains(&unversioned);
    let family = FAMILIES.iter().find(named);
    let found = Interpreter {
        program: program.to_string(),
        shell: family.is_some_and(|f| f.shell),
    };
    let Some(family) = family else {
        return Some(found);
    };
    let mut args = words[i + 1..].iter();
    let mut positional = 0;
    while let Some(arg) = args.next() {
        let option = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        if arg == "--" || arg == "-" {
            break;
        }
        if family.commands.contains(&option) {
            return None;
        }
        if family.values.contains(&arg.as_str()) {
            args.next();
            continue;
        }
        let flags = arg.strip_prefix('-').filter(|f| !f.starts_with('-'));
        if family.shell {
            match flags {
                Some(f) if f.contains('c') => return None,
                Some(f) if f.contains('s') => break,
                _ => {}
            }
        }
        if arg.starts_with('-') || arg.starts_with('+') {
            continue;
        }
        positional += 1;
        if family.script || (family.statement && positional == 2) {
            return None;
        }
    }
    Some(found)
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
    pub fn push(&mut self, data: &[u8]) -> Result<(), ()> {
        self.partial.extend_from_slice(data);
        let unfinished = match memchr::memrchr(b'\n', &self.partial) {
            Some(i) => self.partial.len() - i - 1,
            None => self.partial.len(),
        };
        if unfinished > MAX_LINE {
            return Err(());
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
                let joined = join(&before, how, text.trim_start());
                readings.push(joined.clone());
                joined
            }
            None => text,
        };
        if self.interpreter.shell {
            self.pending = match continuation(&shown) {
                Continued::No => None,
                how => {
                    let mut from = shown.len().saturating_sub(MAX_PENDING);
                    while !shown.is_char_boundary(from) {
                        from += 1;
                    }
                    Some((shown[from..].to_string(), how))
                }
            };
        }
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
            "python3 -W ignore",
            "sqlite3 -cmd '.mode csv' app.db",
            "redis-cli -h db GET key",
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
            "ls -l",
            "cat",
            "echo bash",
        ] {
            assert!(interpreter(cmd, &set).is_none(), "{cmd}");
        }
        assert_eq!(
            interpreter("sudo bash", &set),
            Some(Interpreter {
                program: "bash".into(),
                shell: true
            })
        );
        assert!(!interpreter("psql", &set).unwrap().shell);
    }

    fn lines(shell: bool, input: &[u8]) -> Vec<(String, Vec<String>)> {
        let mut l = StdinLines::new(Interpreter {
            program: "x".into(),
            shell,
        });
        l.push(input).unwrap();
        std::iter::from_fn(|| l.next_line(true))
            .map(|x| (x.shown, x.readings))
            .collect()
    }

    #[test]
    fn lines_are_judged_alone_and_joined_as_a_shell_reads_them() {
        let got = lines(true, b"echo one\nrm \\\n -rf /data\necho 'a\nb'\n");
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
        // Other programs' lines are not joined.
        let got = lines(false, b"select 'a\ndrop table x;\n");
        assert_eq!(got[1].0, "drop table x;");
        // The last line without a newline is judged at the end of the input.
        assert_eq!(lines(true, b"rm -rf /x")[0].0, "rm -rf /x");
    }

    #[test]
    fn a_line_too_long_to_judge_is_refused() {
        let mut l = StdinLines::new(Interpreter {
            program: "bash".into(),
            shell: true,
        });
        assert!(l.push(&vec![b'x'; super::MAX_LINE]).is_ok());
        assert!(l.push(b"x").is_err());
        let mut l = StdinLines::new(Interpreter {
            program: "bash".into(),
            shell: true,
        });
        let mut many = b"echo a\n".repeat(20_000);
        many.extend_from_slice(b"tail");
        assert!(l.push(&many).is_ok());
    }
}
