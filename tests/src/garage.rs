//! A real S3-compatible object store: a single-node Garage on loopback ports in a temporary
//! directory, with a bucket `recordings`, a read-write key for the bastion and a read-only key
//! for auditors. Stopped on drop; [`Garage::stop`] and [`Garage::start`] take it away and
//! bring it back (same data, same ports) for the tests of a store that is down.
//!
//! `scripts/test` installs the `garage` binary (`cargo install --locked garage`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::util::{free_port, run, stderr, stdout, wait_for};

/// The bucket every test uses.
pub const BUCKET: &str = "recordings";

/// A running (or deliberately stopped) Garage server.
pub struct Garage {
    /// The S3 API's port on 127.0.0.1.
    pub port: u16,
    /// Configuration, metadata, data and log.
    pub dir: TempDir,
    /// `KEY=value` credentials with read and write rights on the bucket.
    pub writer: PathBuf,
    /// `KEY=value` credentials with read rights only.
    pub reader: PathBuf,
    child: Option<Child>,
}

impl Garage {
    /// Starts a fresh server, lays out its one node, creates the bucket and both keys.
    pub fn launch() -> Garage {
        let dir = tempfile::Builder::new()
            .prefix("bastion-garage-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let d = dir.path().display();
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + port as usize) % 251))
            .collect();
        std::fs::write(
            dir.path().join("garage.toml"),
            format!(
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                 [s3_api]\ns3_region = \"garage\"\napi_bind_addr = \"127.0.0.1:{port}\"\n\
                 root_domain = \".s3.garage.localhost\"\n\
                 [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\n",
                rpc = free_port(),
                admin = free_port(),
            ),
        )
        .unwrap();
        let mut g = Garage {
            port,
            writer: dir.path().join("writer.env"),
            reader: dir.path().join("reader.env"),
            dir,
            child: None,
        };
        g.start();
        let node = g.cli(&["node", "id", "-q"]);
        let node = node.trim().split('@').next().unwrap().to_string();
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        g.cli(&["layout", "apply", "--version", "1"]);
        g.cli(&["bucket", "create", BUCKET]);
        for (name, file, rights) in [
            // Garage answers questions about the bucket (is Object Lock on?) to owners only.
            (
                "bastion",
                g.writer.clone(),
                &["--read", "--write", "--owner"][..],
            ),
            ("auditor", g.reader.clone(), &["--read"][..]),
        ] {
            let out = g.cli(&["key", "create", name]);
            let field = |label: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(label))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| panic!("garage key create: no {label}\n{out}"))
            };
            std::fs::write(
                &file,
                format!(
                    "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
                    field("Key ID:"),
                    field("Secret key:")
                ),
            )
            .unwrap();
            let mut args = vec!["bucket", "allow"];
            args.extend_from_slice(rights);
            args.extend_from_slice(&[BUCKET, "--key", name]);
            g.cli(&args);
        }
        g
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `[recording]` lines that send recordings to `s3://recordings/PREFIX` with the
    /// read-write key.
    pub fn recording_lines(&self, prefix: &str) -> String {
        format!(
            "store = \"s3://{BUCKET}/{prefix}\"\nstore_endpoint = \"{}\"\nstore_region = \"garage\"\n\
             store_path_style = true\nstore_credentials = \"{}\"\n",
            self.endpoint(),
            self.writer.display()
        )
    }

    /// `curl` signing with the read-write key: what someone holding the bastion's store
    /// credentials can do to objects (`-X DELETE`, `-T FILE` to put).
    pub fn curl(&self, key: &str, args: &[&str]) -> std::process::Output {
        self.curl_as(&self.writer, key, args)
    }

    /// `curl` signing with the credentials in `creds` ([`Garage::writer`], [`Garage::reader`]).
    pub fn curl_as(&self, creds: &Path, key: &str, args: &[&str]) -> std::process::Output {
        let creds = std::fs::read_to_string(creds).unwrap();
        let get = |k: &str| {
            creds
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        run(Command::new("curl")
            .args(["-fsS", "--aws-sigv4", "aws:amz:garage:s3"])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--user"])
            .arg(format!(
                "{}:{}",
                get("AWS_ACCESS_KEY_ID="),
                get("AWS_SECRET_ACCESS_KEY=")
            ))
            .args(args)
            .arg(format!("{}/{BUCKET}/{key}", self.endpoint())))
    }

    /// Stops the server (SIGKILL): the store is away.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server on its data and waits until it answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "garage is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(bin())
            .arg("-c")
            .arg(self.config())
            .arg("server")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (scripts/test installs it): {e}",
                    bin().display()
                )
            });
        self.child = Some(child);
        let up = wait_for(Duration::from_secs(30), || {
            let o = run(Command::new(bin())
                .arg("-c")
                .arg(self.config())
                .arg("status"));
            let s3 = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            (o.status.success() && s3).then_some(())
        });
        assert!(up.is_some(), "garage did not start: {}", self.log());
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("garage.toml")
    }

    fn cli(&self, args: &[&str]) -> String {
        let o = run(Command::new(bin()).arg("-c").arg(self.config()).args(args));
        assert!(
            o.status.success(),
            "garage {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `garage` on the PATH, else where `cargo install` puts it.
fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("GARAGE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin"));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(home)
        .map(|d| d.join("garage"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("garage"))
}
