//! Configuration errors: each problem names the key, the file and the line.

use std::fmt;
use std::path::PathBuf;

use crate::locate::{self, Document};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", render(origin, problems))]
    Invalid {
        /// The file (or other source) the problems are in.
        origin: String,
        /// Every problem found, in file order where known.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    pub(crate) fn invalid(origin: &str, mut problems: Vec<Problem>) -> ConfigError {
        problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        ConfigError::Invalid {
            origin: origin.to_string(),
            problems,
        }
    }
}

fn render(origin: &str, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.render(origin))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `targets[2].port`; empty for the whole document.
    pub path: String,
    /// What is wrong, e.g. `expected integer 1-65535, found string "ssh"`.
    pub message: String,
    /// 1-based line of the key, where known.
    pub line: Option<usize>,
}

impl Problem {
    /// `targets[2].port: expected … at bastion.toml:14`
    pub fn render(&self, origin: &str) -> String {
        let mut s = String::new();
        if !self.path.is_empty() {
            s.push_str(&self.path);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s.push_str(" at ");
        s.push_str(origin);
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
        }
        s
    }

    pub(crate) fn from_toml(src: &str, doc: &Document, path: &str, e: &toml::de::Error) -> Problem {
        let line = e
            .span()
            .map(|s| locate::line_of(src, s.start))
            .or_else(|| doc.line_of_path(path));
        Problem {
            path: path.to_string(),
            message: reword(e.message()),
            line,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<config>"))
    }
}

/// serde says "invalid type: string \"ssh\", expected integer 1-65535"; people read
/// "expected integer 1-65535, found string \"ssh\"" faster.
fn reword(message: &str) -> String {
    let message = message.trim();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                return format!("expected {expected}, found {found}");
            }
        }
    }
    message.to_string()
}
