//! `bastion audit` against a real SQLite file and a real PostgreSQL server: the same rows, put
//! in by hand through each database's own shell, must read back the same through the CLI.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tests::{audit, audit_json, default_sqlite_db, json_lines, sqlite3, stderr, stdout};
use tests::{BastionBuilder, Postgres};

/// Three sessions (one still open, one that reached db1 only through a channel), a channel each,
/// three auth events. Valid SQL for both sqlite3 and psql; the ESC byte in bob's command checks
/// that tables escape control characters.
fn fixture() -> String {
    "INSERT INTO sessions (id, instance, started_at_ms, ended_at_ms, close_reason, identity, serial, principals, peer, target, login) VALUES \
     ('s-alice-1', 'b1', 1700000000000, 1700000060000, 'client disconnected', 'alice@example.test', '18446744073709551615', '[\"ops\"]', '127.0.0.1:40000', 'db1', 'root'), \
     ('s-bob-1', 'b1', 1700000100000, NULL, NULL, 'bob@example.test', '42', '[\"ops\",\"dba\"]', '127.0.0.1:40001', NULL, NULL), \
     ('s-alice-2', 'b1', 1700086400000, 1700086500000, 'idle timeout', 'alice@example.test', '7', '[\"ops\"]', '127.0.0.1:40002', 'web1', 'deploy'); \
     INSERT INTO channels (session_id, channel, started_at_ms, ended_at_ms, kind, command, target, login, pty_term, pty_cols, pty_rows, exit_status, exit_signal, bytes_in, bytes_out, recording_path, final_hash, signature, close_reason) VALUES \
     ('s-alice-1', 0, 1700000001000, 1700000059000, 'shell', NULL, 'db1', 'root', 'xterm', 120, 40, 0, NULL, 321, 4567, '/rec/s-alice-1-0.cast', 'h1', 'sig1', 'exit'), \
     ('s-bob-1', 0, 1700000101000, NULL, 'exec', 'printf \x1b[2J; psql -c ''select 1''', 'db1', 'postgres', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '/rec/s-bob-1-0.cast', NULL, NULL, NULL), \
     ('s-alice-2', 0, 1700086401000, 1700086499000, 'exec', 'systemctl restart app', 'web1', 'deploy', NULL, NULL, NULL, NULL, 'TERM', 10, 20, NULL, NULL, NULL, 'signal'); \
     INSERT INTO auth_events (at_ms, peer, user_name, identity, serial, accepted, reason) VALUES \
     (1699999999000, '127.0.0.1:40000', 'root@db1', 'alice@example.test', '18446744073709551615', TRUE, 'accepted'), \
     (1700000050000, '10.1.2.3:5555', 'root@db1', 'mallory@example.test', '99', FALSE, 'certificate expired'), \
     (1700000099000, '127.0.0.1:40001', 'postgres@db1', 'bob@example.test', '42', TRUE, 'accepted');"
        .to_string()
}

/// A configuration for `b` with `audit` as its `[audit]` table body (empty: the default).
fn write_config(b: &BastionBuilder, audit: &str) -> PathBuf {
    let path = b.path("bastion.toml");
    let text = format!("{}\n[audit]\n{audit}\n", b.config_text());
    std::fs::write(&path, text).unwrap();
    path
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}

/// What every backend must answer for the fixture.
fn check_fixture_queries(config: &Path) {
    let sessions = audit_json(config, "sessions", &[]);
    assert_eq!(ids(&sessions, "id"), ["s-alice-1", "s-bob-1", "s-alice-2"]);
    let alice = &sessions[0];
    assert_eq!(alice["serial"], "18446744073709551615");
    assert_eq!(alice["principals"], json!(["ops"]));
    assert_eq!(alice["ended_at_ms"], 1_700_000_060_000_i64);
    assert_eq!(alice["close_reason"], "client disconnected");
    assert_eq!(sessions[1]["ended_at_ms"], Value::Null);
    assert_eq!(sessions[1]["principals"], json!(["ops", "dba"]));

    let by = |args: &[&str]| ids(&audit_json(config, "sessions", args), "id");
    assert_eq!(
        by(&["--user", "alice@example.test"]),
        ["s-alice-1", "s-alice-2"]
    );
    // bob's session named no target; its channel went to db1.
    assert_eq!(by(&["--target", "db1"]), ["s-alice-1", "s-bob-1"]);
    assert_eq!(by(&["--since", "2023-11-15T00:00:00Z"]), ["s-alice-2"]);
    assert_eq!(by(&["--limit", "1"]), ["s-alice-2"]);
    assert!(by(&["--since", "1h"]).is_empty());

    let bob = audit_json(config, "channels", &["--user", "bob@example.test"]);
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["command"], "printf \x1b[2J; psql -c 'select 1'");
    assert_eq!(bob[0]["identity"], "bob@example.test");
    assert_eq!(bob[0]["bytes_in"], Value::Null);
    let web = audit_json(config, "channels", &["--target", "web1"]);
    assert_eq!(web[0]["exit_signal"], "TERM");
    let shell = &audit_json(config, "channels", &["--target", "db1", "--limit", "2"])[0];
    assert_eq!(
        shell["pty"],
        json!({"term": "xterm", "cols": 120, "rows": 40})
    );
    assert_eq!(
        (shell["bytes_in"].as_u64(), shell["bytes_out"].as_u64()),
        (Some(321), Some(4567))
    );

    // The table: aligned columns, control characters escaped, never passed to the terminal.
    let o = audit(config, &["channels"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(!table.contains('\x1b'), "{table:?}");
    assert!(
        table.contains("printf \\u{1b}[2J; psql -c 'select 1'"),
        "{table}"
    );
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let column = lines[0].find("KIND").unwrap();
    assert_eq!(&lines[1][column..column + 5], "shell", "{table}");
    assert!(lines[3].contains("SIGTERM"), "{table}");

    let auth = audit_json(config, "auth", &[]);
    assert_eq!(auth.len(), 3);
    assert_eq!(auth[1]["accepted"], false);
    assert_eq!(auth[1]["reason"], "certificate expired");
    assert_eq!(auth[0]["serial"], "18446744073709551615");
    let mallory = audit_json(config, "auth", &["--user", "mallory@example.test"]);
    assert_eq!(mallory.len(), 1);
    let o = audit(config, &["auth"]);
    assert!(stdout(&o).contains("refused"), "{}", stdout(&o));
    let o = audit(config, &["auth", "--target", "db1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    check_export(config);
}

/// Sessions carry their channels; everything is in time order; the file is private.
fn check_export(config: &Path) {
    let out = config.with_file_name("export.jsonl");
    let o = audit(
        config,
        &[
            "export",
            "--since",
            "2023-11-14T00:00:00Z",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let lines = json_lines(&std::fs::read_to_string(&out).unwrap());
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "{}:{}",
                l["type"].as_str().unwrap(),
                l["id"].as_str().or(l["identity"].as_str()).unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "auth:alice@example.test",
            "session:s-alice-1",
            "auth:mallory@example.test",
            "auth:bob@example.test",
            "session:s-bob-1",
            "session:s-alice-2",
        ]
    );
    assert_eq!(
        lines[1]["channels"][0]["recording_path"],
        "/rec/s-alice-1-0.cast"
    );
    assert_eq!(lines[1]["channels"][0]["final_hash"], "h1");
    assert_eq!(lines[1]["channels"].as_array().unwrap().len(), 1);

    // A window that starts between a session and its channel still exports the channel.
    let o = audit(config, &["export", "--since", "2023-11-15T22:13:21Z"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&stdout(&o));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["type"], "channel");
    assert_eq!(lines[0]["session_id"], "s-alice-2");
}

#[test]
fn audit_cli_on_sqlite() {
    let b = BastionBuilder::new();
    let config = write_config(&b, "");
    let db = default_sqlite_db(&config);
    // Reading never creates the database (a typo or another user would otherwise make one).
    let o = audit(&config, &["sessions"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no audit database at"),
        "{}",
        stderr(&o)
    );
    assert!(!db.exists());

    let o = audit(&config, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(db.exists());
    assert!(audit_json(&config, "sessions", &[]).is_empty());
    sqlite3(&db, &fixture());
    check_fixture_queries(&config);
}

#[test]
fn audit_cli_on_postgres() {
    let pg = Postgres::launch();
    let b = BastionBuilder::new();
    // trust authentication accepts any password: this one must never be printed.
    let url = pg.url().replace("bastion@", "bastion:pg-secret@");
    let config = write_config(&b, &format!("database = \"{url}\""));
    let o = audit(&config, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("bastion:***@"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("pg-secret"));
    pg.psql("postgres", &fixture());
    check_fixture_queries(&config);
}

#[test]
fn audit_cli_reports_a_postgres_outage_then_recovers() {
    let mut pg = Postgres::launch();
    let b = BastionBuilder::new();
    let url = pg.url().replace("bastion@", "bastion:pg-secret@");
    let config = write_config(&b, &format!("database = \"{url}\""));
    assert!(audit(&config, &["migrate"]).status.success());

    pg.stop();
    let o = audit(&config, &["sessions"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("unreachable"), "{err}");
    assert!(
        err.contains(&format!(
            "postgres://bastion:***@127.0.0.1:{}/postgres",
            pg.port
        )),
        "{err}"
    );
    assert!(!err.contains("pg-secret"), "{err}");

    pg.start();
    assert!(audit_json(&config, "sessions", &[]).is_empty());
}

#[test]
fn audit_cli_usage_and_configuration_errors_exit_2() {
    let b = BastionBuilder::new();
    let config = write_config(&b, "database = \"mysql://u@h/audit\"");
    let o = audit(&config, &["sessions"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("[audit] database"), "{}", stderr(&o));

    let config = write_config(&b, "");
    let o = audit(&config, &["sessions", "--since", "yesterday"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = audit(&config, &["export"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--since is required: {}",
        stderr(&o)
    );
    let o = audit(&b.path("missing.toml"), &["sessions"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
