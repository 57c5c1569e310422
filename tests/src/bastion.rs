//! The bastion under test: keys, configuration, the running binary, and users with certificates.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::sshd::Sshd;
use crate::util::{bastion_bin, keygen, read, run, stderr, wait_for};

/// Builds a configuration around real sshd targets, then starts the bastion.
pub struct BastionBuilder {
    /// Temporary directory holding keys, config, logs, targets.
    pub dir: TempDir,
    server: String,
    tables: Vec<String>,
    sections: Vec<String>,
}

impl Default for BastionBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BastionBuilder {
    /// New keys (`bastion ca init`) in a fresh temporary directory.
    pub fn new() -> BastionBuilder {
        let b = BastionBuilder::empty();
        let o = run(Command::new(bastion_bin())
            .args(["ca", "init", "--dir"])
            .arg(b.path("keys")));
        assert!(o.status.success(), "ca init: {}", stderr(&o));
        b
    }

    /// A fresh directory with a copy of another bastion's keys (`keys`, its builder's
    /// `path("keys")`): one user CA, target CA, host key and recording key for a fleet.
    pub fn sharing_keys(keys: &Path) -> BastionBuilder {
        let b = BastionBuilder::empty();
        let o = run(Command::new("cp").arg("-a").arg(keys).arg(b.path("keys")));
        assert!(o.status.success(), "cp {}: {}", keys.display(), stderr(&o));
        b
    }

    /// A fresh temporary directory, no keys yet.
    pub(crate) fn empty() -> BastionBuilder {
        let dir = tempfile::Builder::new()
            .prefix("bastion-e2e-")
            .tempdir()
            .unwrap();
        BastionBuilder {
            dir,
            server: String::new(),
            tables: Vec::new(),
            sections: Vec::new(),
        }
    }

    /// Path of a file in the test directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The target CA's public key (what targets trust).
    pub fn target_ca_pub(&self) -> PathBuf {
        self.path("keys/target_ca.pub")
    }

    /// Starts an sshd that trusts the target CA.
    pub fn sshd(&self, name: &str) -> Sshd {
        Sshd::start(&self.path(name), &self.target_ca_pub())
    }

    /// Adds lines to `[server]`.
    pub fn server(mut self, lines: &str) -> Self {
        self.server.push_str(lines);
        self.server.push('\n');
        self
    }

    /// Adds a target reaching `sshd` with its pinned host key; `extra` are more TOML lines.
    pub fn target(self, name: &str, sshd: &Sshd, extra: &str) -> Self {
        let body = format!(
            "name = \"{name}\"\nhost = \"127.0.0.1\"\nport = {}\nhost_key = \"{}\"\ndefault_login = \"root\"\n{extra}",
            sshd.port,
            sshd.host_key()
        );
        self.section("targets", &body)
    }

    /// Adds a `[[roles]]` table with this body.
    pub fn role(self, body: &str) -> Self {
        self.section("roles", body)
    }

    /// Adds a plain `[NAME]` table (e.g. `audit`).
    pub fn section_table(mut self, name: &str, body: &str) -> Self {
        self.tables.push(format!("[{name}]\n{body}\n"));
        self
    }

    /// Adds any `[[NAME]]` array table.
    pub fn section(mut self, name: &str, body: &str) -> Self {
        self.sections.push(format!("[[{name}]]\n{body}\n"));
        self
    }

    /// The configuration text.
    pub fn config_text(&self) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nhost_key = \"keys/host_ed25519\"\n{}\n[ca]\nuser_ca = \"keys/user_ca\"\ntarget_ca = \"keys/target_ca\"\n\n{}\n{}",
            self.server,
            self.tables.join("\n"),
            self.sections.join("\n")
        )
    }

    /// Writes the configuration and starts `bastion serve`.
    pub fn start(self) -> Bastion {
        let config = self.write_config();
        Bastion::spawn(self.dir, &config)
    }

    /// Writes the configuration to `bastion.toml`; returns its path.
    pub(crate) fn write_config(&self) -> PathBuf {
        let config = self.path("bastion.toml");
        std::fs::write(&config, self.config_text()).unwrap();
        config
    }
}

/// A running bastion; killed on drop.
pub struct Bastion {
    /// Its address's port on 127.0.0.1.
    pub port: u16,
    /// The configuration file.
    pub config: PathBuf,
    child: Child,
    log: PathBuf,
    /// The test directory (kept alive as long as the bastion).
    pub dir: TempDir,
}

impl Bastion {
    fn spawn(dir: TempDir, config: &Path) -> Bastion {
        let (child, port, log) = launch(dir.path(), config);
        Bastion {
            port,
            config: config.to_path_buf(),
            child,
            log,
            dir,
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        wait_for(Duration::from_secs(15), || {
            let l = self.log();
            l.contains(needle).then_some(l)
        })
        .unwrap_or_else(|| panic!("log never contained {needle:?}:\n{}", self.log()))
    }

    /// `http://ADDRESS` of its HTTP API (`server.api_listen`), once it listens.
    pub fn api(&self) -> String {
        let log = self.wait_log("api listening");
        log.lines()
            .find(|l| l.contains("api listening"))
            .and_then(|l| l.split("address=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .map(|a| format!("http://{a}"))
            .unwrap_or_else(|| panic!("no api address in the log:\n{log}"))
    }

    /// Waits for a command to be held for approval; returns its request number.
    pub fn held_request(&self) -> i64 {
        let log = self.wait_log("held for approval");
        log.lines()
            .rev()
            .find(|l| l.contains("held for approval"))
            .and_then(|l| l.split("request=").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no request number in the log:\n{log}"))
    }

    /// A user with a fresh key and a certificate from the user CA (`bastion ca sign`).
    pub fn user(&self, identity: &str, principals: &str) -> User {
        self.user_with(identity, principals, &[])
    }

    /// Same, with extra `ca sign` arguments (`--ttl`, `--source-address`, …).
    pub fn user_with(&self, identity: &str, principals: &str, args: &[&str]) -> User {
        let name = format!(
            "user-{}-{}",
            identity.replace(['@', '.'], "_"),
            crate::util::free_port()
        );
        let key = self.dir.path().join(&name);
        keygen(&key);
        let o = run(Command::new(bastion_bin())
            .args(["ca", "sign", "--config"])
            .arg(&self.config)
            .args(["--principals", principals, "--identity", identity])
            .args(args)
            .arg(key.with_extension("pub")));
        assert!(o.status.success(), "ca sign: {}", stderr(&o));
        User {
            key: key.clone(),
            cert: PathBuf::from(format!("{}-cert.pub", key.display())),
            port: self.port,
        }
    }

    /// Kills the process (SIGKILL: no shutdown, nothing sealed or flushed) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the bastion again with the same configuration (after a kill); the port changes.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, port, log) = launch(self.dir.path(), &self.config);
        (self.child, self.port, self.log) = (child, port, log);
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let done = wait_for(Duration::from_secs(20), || {
            self.child.try_wait().ok().flatten()
        });
        done.is_some_and(|s| s.success())
    }
}

/// Starts `bastion serve` and waits for its listening line; returns the child, port and log.
fn launch(dir: &Path, config: &Path) -> (Child, u16, PathBuf) {
    let log = dir.join(format!("bastion-{}.log", crate::util::free_port()));
    let mut child = Command::new(bastion_bin())
        .args(["serve", "--config"])
        .arg(config)
        .env("BASTION_LOG", "info,russh=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let port = wait_for(Duration::from_secs(20), || {
        read(&log)
            .lines()
            .find(|l| l.contains("bastion listening"))
            .and_then(|l| l.split("address=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
    });
    match port {
        Some(p) => (child, p, log),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("bastion did not start: {}", read(&log));
        }
    }
}

impl Drop for Bastion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user: a key and its certificate.
#[derive(Debug, Clone)]
pub struct User {
    /// Private key.
    pub key: PathBuf,
    /// Certificate (`KEY-cert.pub`).
    pub cert: PathBuf,
    /// The bastion's port.
    pub port: u16,
}

impl User {
    /// Options every test ssh uses: this user's key and certificate only, no agent, no config
    /// file, no host key prompts.
    pub fn ssh_options(&self) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "IdentityAgent=none".into(),
            "-o".into(),
            format!("IdentityFile={}", self.key.display()),
            "-o".into(),
            format!("CertificateFile={}", self.cert.display()),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "BatchMode=yes".into(),
        ]
    }

    /// `ssh -p PORT [options] DEST ARGS…` ready to run.
    pub fn ssh(&self, dest: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.ssh_options())
            .arg("-p")
            .arg(self.port.to_string())
            .arg(dest)
            .args(args);
        c
    }

    /// Starts an OpenSSH ControlMaster to `dest` on socket `sock` (in the background) and
    /// returns a handle that runs commands over it and stops it when dropped.
    pub fn control_master(&self, dest: &str, sock: &Path) -> ControlMaster {
        let o = run(self.ssh(dest, &["-M", "-S"]).arg(sock).args(["-f", "-N"]));
        assert!(o.status.success(), "ControlMaster: {}", stderr(&o));
        ControlMaster {
            user: self.clone(),
            dest: dest.to_string(),
            sock: sock.to_path_buf(),
        }
    }

    /// A shell command line (for tmux) that opens an interactive bash through the bastion to
    /// `dest`, prompt `REMOTE$ `, and prints `SSH-EXIT=<status>` when ssh ends.
    pub fn remote_bash(&self, dest: &str) -> String {
        format!(
            "{} -tt {dest} 'PS1=REMOTE\\$\\  exec bash --norc -i'; echo SSH-EXIT=$?; sleep 60",
            self.ssh_line("", "")
        )
    }

    /// The same as a shell command line (for tmux).
    pub fn ssh_line(&self, extra: &str, dest: &str) -> String {
        format!(
            "ssh {} -p {} {extra} {dest}",
            self.ssh_options().join(" "),
            self.port
        )
    }
}

/// A running OpenSSH ControlMaster; stopped (`ssh -O exit`) when dropped.
#[derive(Debug)]
pub struct ControlMaster {
    user: User,
    dest: String,
    sock: PathBuf,
}

impl ControlMaster {
    /// `ssh -S SOCK DEST COMMAND`: a new channel over the master connection.
    pub fn ssh(&self, command: &str) -> Command {
        let mut c = self.user.ssh(&self.dest, &["-S"]);
        c.arg(&self.sock).arg(command);
        c
    }
}

impl Drop for ControlMaster {
    fn drop(&mut self) {
        let _ = run(self
            .user
            .ssh(&self.dest, &["-S"])
            .arg(&self.sock)
            .args(["-O", "exit"]));
    }
}
