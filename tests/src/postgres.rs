//! A real PostgreSQL server on a loopback port in a temporary directory, stopped on drop.
//!
//! PostgreSQL refuses to run as root, so as root the server tools run as the `postgres` OS user
//! (created by Debian's `postgresql` package, which `scripts/test` installs when missing).
//! Authentication is `trust` for the user `bastion`: any password is accepted, so tests can put
//! one in a URL to check that it is never shown.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use crate::util::{free_port, read, run, stderr, stdout};

/// A running (or deliberately stopped) PostgreSQL server.
pub struct Postgres {
    /// Its port on 127.0.0.1 (kept across `stop`/`start`).
    pub port: u16,
    /// Data directory, socket and log.
    pub dir: TempDir,
    bin: PathBuf,
    running: bool,
}

impl Postgres {
    /// `initdb` and start a fresh server; the database `postgres` exists, owned by `bastion`.
    pub fn launch() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("bastion-pg-")
            .tempdir()
            .unwrap();
        if is_root() {
            let o = run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
            assert!(
                o.status.success(),
                "chown postgres (apt-get install -y postgresql creates the user): {}",
                stderr(&o)
            );
        }
        let mut pg = Postgres {
            port: free_port(),
            dir,
            bin,
            running: false,
        };
        let data = pg.data();
        let o = run(pg
            .tool("initdb")
            .args([
                "-U",
                "bastion",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--no-locale",
                "-D",
            ])
            .arg(&data));
        assert!(o.status.success(), "initdb: {}{}", stdout(&o), stderr(&o));
        pg.start();
        pg
    }

    /// `postgres://bastion@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of another database on this server (see [`Postgres::create_database`]).
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://bastion@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url_for(name)
    }

    /// Runs SQL in `database` with psql (stop at the first error); returns its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let o = run(Command::new(self.psql_bin())
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "bastion",
                "-d",
                database,
                "-c",
                sql,
            ]));
        assert!(o.status.success(), "psql {sql:?}: {}", stderr(&o));
        stdout(&o)
    }

    /// Stops the server (fast shutdown: clients are disconnected), to simulate an outage.
    pub fn stop(&mut self) {
        if self.running {
            let data = self.data();
            let o = run(self
                .tool("pg_ctl")
                .args(["stop", "-w", "-m", "fast", "-D"])
                .arg(&data));
            assert!(o.status.success(), "pg_ctl stop: {}", stderr(&o));
            self.running = false;
        }
    }

    /// Starts the server again on the same port and waits until it accepts connections.
    pub fn start(&mut self) {
        if self.running {
            return;
        }
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.log_path();
        let o = run(self
            .tool("pg_ctl")
            .args(["start", "-w", "-t", "60", "-o", &options, "-l"])
            .arg(&log)
            .arg("-D")
            .arg(&data));
        assert!(
            o.status.success(),
            "pg_ctl start: {}{}",
            stderr(&o),
            read(&log)
        );
        self.running = true;
    }

    /// The server log.
    pub fn log(&self) -> String {
        read(&self.log_path())
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A server tool, as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn psql_bin(&self) -> PathBuf {
        let here = self.bin.join("psql");
        if here.exists() {
            here
        } else {
            PathBuf::from("psql")
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = self
                .tool("pg_ctl")
                .args(["stop", "-w", "-m", "immediate", "-D"])
                .arg(&data)
                .output();
        }
    }
}

/// The directory holding `initdb` and `pg_ctl`: on the PATH (or /usr/local/bin), else the
/// newest /usr/lib/postgresql/N/bin.
fn bin_dir() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut candidates: Vec<PathBuf> = std::env::split_paths(&path).collect();
    candidates.push(PathBuf::from("/usr/local/bin"));
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    candidates.extend(versions.into_iter().rev().map(|(_, p)| p));
    candidates
        .into_iter()
        .find(|d| has_tools(d))
        .unwrap_or_else(|| {
            panic!("PostgreSQL server tools (initdb, pg_ctl) not found: apt-get install -y postgresql (./scripts/test does)")
        })
}

fn has_tools(dir: &Path) -> bool {
    dir.join("initdb").exists() && dir.join("pg_ctl").exists()
}

fn is_root() -> bool {
    // libc::geteuid would need `unsafe`, which this crate forbids; `id -u` tells the same.
    run(Command::new("id").arg("-u")).stdout.starts_with(b"0\n")
}
