//! The audit store from the outside: run `bastion audit …` and read its JSON lines, or put rows
//! into a database by hand (sqlite3, psql) to test the queries before the relay writes them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::{bastion_bin, run, stderr, stdout};

/// `bastion audit ARGS… --config CONFIG`.
pub fn audit(config: &Path, args: &[&str]) -> Output {
    run(Command::new(bastion_bin())
        .arg("audit")
        .args(args)
        .arg("--config")
        .arg(config))
}

/// `bastion audit WHAT ARGS… --json`, which must succeed, as one JSON value per row (oldest
/// first). `what` is `sessions`, `channels` or `auth`.
pub fn audit_json(config: &Path, what: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec![what, "--json"];
    all.extend_from_slice(args);
    let o = audit(config, &all);
    assert!(o.status.success(), "bastion audit {all:?}: {}", stderr(&o));
    json_lines(&stdout(&o))
}

/// Parses JSON lines (as `--json` and `audit export` write them).
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// The SQLite audit database of a test bastion (`[audit]` left at its default).
pub fn default_sqlite_db(config: &Path) -> PathBuf {
    config.with_file_name("bastion.db")
}

/// Runs SQL with the sqlite3 shell (stop at the first error); returns its output.
pub fn sqlite3(db: &Path, sql: &str) -> String {
    let o = run(Command::new("sqlite3")
        .args(["-bail", "-batch"])
        .arg(db)
        .arg(sql));
    assert!(
        o.status.success(),
        "sqlite3 {sql:?} (apt-get install -y sqlite3): {}",
        stderr(&o)
    );
    stdout(&o)
}
