//! A bastion running inside the test process, started through the `bastion` library
//! (`bastion::server::start`) from the same kind of configuration the binary-driven fixture
//! writes ([`BastionBuilder`]): a real SSH listener on a loopback port, real sshd targets, the
//! real `ssh` client. No binary is involved: keys and certificates are made with
//! `cert-authority` as `bastion ca init` and `bastion ca sign` make them, and a test can stop
//! the bastion at a moment of its choosing, then read its audit store and recordings.
//!
//! Each bastion has its own tokio runtime, so tests stay plain `#[test]` functions that run
//! clients as processes. Logging is process-wide: [`InProcessBastion`] installs the bastion's
//! refusal watch once, and a log on stderr only when `BASTION_LOG` is set.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use cert_authority::keyfile::{generate_ed25519, public_path, write_new, write_new_key_pair};
use cert_authority::ssh_key::PublicKey;
use cert_authority::{load_private_key, sign_user_certificate, UserCertificateRequest};
use tempfile::TempDir;

// `::bastion` is the library under test; `crate::bastion` is this crate's binary-driven fixture.
use crate::bastion::{BastionBuilder, User};
use crate::util::{casts, keygen};

/// The keys `bastion ca init` makes, by the names the fixture's configuration uses.
const KEY_NAMES: [&str; 4] = ["user_ca", "target_ca", "host_ed25519", "recording_ed25519"];

/// How long [`InProcessBastion::stop`] waits: the listener's own bound for live sessions
/// (30 s) and the audit drain (5 s), with room to spare.
const STOP_WAIT: Duration = Duration::from_secs(60);

impl BastionBuilder {
    /// A fresh temporary directory with new keys, made without the binary.
    pub fn in_process() -> BastionBuilder {
        let b = BastionBuilder::empty();
        let keys = b.path("keys");
        std::fs::create_dir_all(&keys).unwrap();
        for name in KEY_NAMES {
            let key = generate_ed25519(&format!("bastion {name}")).unwrap();
            write_new_key_pair(&key, &keys.join(name)).unwrap();
        }
        b
    }

    /// Writes the configuration, loads it as `bastion serve` does and starts the bastion in
    /// this process; returns once it listens.
    ///
    /// # Panics
    /// When the configuration does not load or the bastion does not start, with the reason.
    pub fn start_in_process(self) -> InProcessBastion {
        init_logging();
        let path = self.write_config();
        let config = ::bastion::settings::load_config(&path)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), chain(&e)));
        let recordings = config.recording.dir.clone();
        let database = config.audit.database.clone();
        let user_ca = config.ca.user_ca.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime
            .block_on(::bastion::server::start(config))
            .unwrap_or_else(|e| panic!("bastion did not start: {}", chain(&e)));
        InProcessBastion {
            ssh: running.ssh_addr(),
            api: running.api_addr(),
            port: running.ssh_addr().port(),
            config: path,
            audit_db: ::bastion::audit::sqlite_file(&database),
            database,
            recordings,
            user_ca,
            running: Some(running),
            runtime: Some(runtime),
            dir: self.dir,
        }
    }
}

/// A bastion running in this process; stopped when dropped.
pub struct InProcessBastion {
    /// Where its SSH listener is bound.
    pub ssh: SocketAddr,
    /// Where its HTTP API is bound, when `server.api_listen` is set.
    pub api: Option<SocketAddr>,
    /// The port of [`InProcessBastion::ssh`] (on 127.0.0.1), as [`User`] takes it.
    pub port: u16,
    /// The configuration file.
    pub config: PathBuf,
    /// The audit database URL (`audit.database`).
    pub database: String,
    /// The SQLite audit database file, when the database is SQLite.
    pub audit_db: Option<PathBuf>,
    /// `recording.dir`: where channels are recorded.
    pub recordings: PathBuf,
    user_ca: PathBuf,
    running: Option<::bastion::server::Running>,
    runtime: Option<tokio::runtime::Runtime>,
    /// The test directory (kept alive as long as the bastion).
    pub dir: TempDir,
}

impl InProcessBastion {
    /// A user with a fresh key and a one-hour certificate from the user CA for `principals`
    /// (comma-separated), with the extensions `bastion ca sign` gives (pty, port forwarding).
    /// Unlike `ca sign`, no issuance row is written: authentication does not look for one.
    pub fn user(&self, identity: &str, principals: &str) -> User {
        let name = format!(
            "user-{}-{}",
            identity.replace(['@', '.'], "_"),
            crate::util::free_port()
        );
        let key = self.dir.path().join(name);
        keygen(&key);
        let text = std::fs::read_to_string(public_path(&key)).unwrap();
        let request = UserCertificateRequest {
            public_key: PublicKey::from_openssh(text.trim()).unwrap(),
            key_id: identity.to_string(),
            principals: principals.split(',').map(str::to_string).collect(),
            ttl: Duration::from_secs(3600),
            extensions: vec!["permit-port-forwarding".into(), "permit-pty".into()],
            source_address: None,
            force_command: None,
        };
        let ca = load_private_key(&self.user_ca).unwrap();
        let cert = sign_user_certificate(&ca, &request).unwrap();
        let path = PathBuf::from(format!("{}-cert.pub", key.display()));
        let line = format!("{}\n", cert.to_openssh().unwrap());
        write_new(&path, line.as_bytes(), 0o644).unwrap();
        User {
            key,
            cert: path,
            port: self.port,
        }
    }

    /// Runs `f` on the bastion's runtime (to use the library's async API, e.g. its audit store).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        match &self.runtime {
            Some(rt) => rt.block_on(f),
            None => panic!("the bastion's runtime is gone"),
        }
    }

    /// Shuts the bastion down as SIGTERM does and waits for its end (channels sealed, audit
    /// ends written); returns whether it ended in time. Later calls return `true` at once.
    pub fn stop(&mut self) -> bool {
        let Some(running) = self.running.take() else {
            return true;
        };
        running.shutdown();
        // The timer needs the runtime: built inside the future, not before it.
        self.block_on(async { tokio::time::timeout(STOP_WAIT, running.wait()).await })
            .is_ok()
    }

    /// Every `.cast` under [`InProcessBastion::recordings`], sorted.
    pub fn casts(&self) -> Vec<PathBuf> {
        casts(&self.recordings)
    }
}

impl Drop for InProcessBastion {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failed test: no orderly stop (sessions may be stuck), just let everything go.
            if let Some(running) = self.running.take() {
                running.shutdown();
            }
            if let Some(rt) = self.runtime.take() {
                rt.shutdown_background();
            }
            return;
        }
        let stopped = self.stop();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        assert!(
            stopped,
            "the in-process bastion did not stop in {STOP_WAIT:?}"
        );
    }
}

/// An error and its sources, as the binary prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The process-wide subscriber: the bastion's refusal watch (its expired-certificate refusals
/// depend on it), and the log on stderr when `BASTION_LOG` asks for it. Tests that installed
/// their own subscriber first keep it.
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        let log = std::env::var("BASTION_LOG").ok().map(|filter| {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::EnvFilter::new(filter))
        });
        let _ = tracing_subscriber::registry()
            .with(log)
            .with(::bastion::server::refusal_watch())
            .try_init();
    });
}
