//! A real OpenSSH `sshd` on a loopback port, trusting the bastion's target CA.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{free_port, keygen, read, wait_for};

/// A running sshd; killed on drop.
pub struct Sshd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its directory (config, keys, log).
    pub dir: PathBuf,
    child: Child,
}

impl Sshd {
    /// Starts sshd in `dir` trusting user certificates from `target_ca_pub`.
    pub fn start(dir: &Path, target_ca_pub: &Path) -> Sshd {
        Self::start_with(dir, target_ca_pub, "")
    }

    /// Same, with extra sshd_config lines.
    pub fn start_with(dir: &Path, target_ca_pub: &Path, extra: &str) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        let host = dir.join("host_ed25519");
        if !host.exists() {
            keygen(&host);
        }
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {host}\nPidFile {dir}/sshd.pid\nUsePAM no\nStrictModes no\n\
             PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             AuthorizedKeysFile none\nTrustedUserCAKeys {ca}\nLogLevel VERBOSE\nAcceptEnv LANG LC_* TZ FOO\n\
             AllowTcpForwarding yes\nSubsystem sftp internal-sftp\n{extra}\n",
            host = host.display(),
            dir = dir.display(),
            ca = target_ca_pub.display(),
        );
        let config_path = dir.join("sshd_config");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start /usr/sbin/sshd (apt-get install openssh-server)");
        let sshd = Sshd {
            port,
            dir: dir.to_path_buf(),
            child,
        };
        let up = wait_for(Duration::from_secs(10), || {
            read(&sshd.log_path())
                .contains("Server listening")
                .then_some(())
        });
        assert!(
            up.is_some(),
            "sshd did not start: {}",
            read(&sshd.log_path())
        );
        sshd
    }

    /// Its host public key line.
    pub fn host_key(&self) -> String {
        read(&self.dir.join("host_ed25519.pub")).trim().to_string()
    }

    /// Where it logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        read(&self.log_path())
    }

    /// Kills every connection it serves (its per-connection processes), as a target reboot or
    /// a network cut would end them; the listener keeps accepting new ones.
    pub fn kill_connections(&self) {
        let o = crate::util::run(
            std::process::Command::new("pkill")
                .args(["-KILL", "-P"])
                .arg(self.child.id().to_string()),
        );
        assert!(o.status.success(), "no connection to kill");
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
