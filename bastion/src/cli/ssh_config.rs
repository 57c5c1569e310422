//! `bastion ssh-config`: an ssh_config that makes `ssh TARGET.bastion` (and scp, sftp, rsync,
//! git and ansible over ssh) reach each permitted target through the bastion with no options.
//! One `Host` block per target (user name = the target) and per named login
//! (`LOGIN.TARGET.bastion`, user name `LOGIN@TARGET`), then one `Host *.bastion` block with
//! the bastion's address, the key and certificate `bastion login` wrote, and the known_hosts
//! file that holds the bastion's host key. `bastion login` writes it too.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde_json::Value;

use super::api_client::{get_json, http_client, remember_host, server_host, state_dir};
use super::failure::Failure;

/// What host names end in by default: `ssh db1.bastion`.
pub const SUFFIX: &str = "bastion";

/// Print (or write) an ssh_config for the targets you may reach.
#[derive(Debug, clap::Args)]
pub struct SshConfig {
    /// The bastion's API, e.g. https://bastion.example.com:8443
    #[arg(long, value_name = "URL")]
    server: String,
    /// Write DIR/ssh_config and include it from ~/.ssh/config, instead of printing it.
    #[arg(long)]
    write: bool,
    /// Host names end in this: `ssh db1.SUFFIX`.
    #[arg(long, default_value = SUFFIX)]
    suffix: String,
    /// The private key whose certificate to use (default: DIR/id_ed25519).
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Where `bastion login` put the key, certificate and known_hosts (default: ~/.bastion).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Trust this PEM certificate (a private CA) for the bastion's HTTPS.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

/// Where the bastion is and what identifies the user to it.
pub struct Bastion<'a> {
    /// The bastion's API.
    pub server: &'a str,
    /// Key, certificate and known_hosts live here.
    pub dir: &'a Path,
    /// The private key (its certificate beside it).
    pub key: &'a Path,
    /// `GET /v1/login`.
    pub info: &'a Value,
    /// Host names end in `.SUFFIX`.
    pub suffix: &'a str,
}

impl SshConfig {
    pub fn run(self) -> Result<(), Failure> {
        let dir = state_dir(self.dir.as_deref())?;
        let key = self.key.clone().unwrap_or_else(|| dir.join("id_ed25519"));
        let server = self.server.trim_end_matches('/');
        let info = super::failure::runtime()?.block_on(async {
            let http = http_client(self.ca_file.as_deref())?;
            get_json(&http, &format!("{server}/v1/login")).await
        })?;
        let bastion = Bastion {
            server,
            dir: &dir,
            key: &key,
            info: &info,
            suffix: &self.suffix,
        };
        if self.write {
            let include = self.dir.is_none();
            for line in bastion.write(include)? {
                super::out::say(format_args!("{line}"));
            }
            Ok(())
        } else {
            print!("{}", bastion.text()?);
            Ok(())
        }
    }
}

impl Bastion<'_> {
    fn cert(&self) -> PathBuf {
        super::ca::cert_path(&cert_authority::keyfile::public_path(self.key))
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    fn port(&self) -> u64 {
        self.info["ssh_port"].as_u64().unwrap_or(22)
    }

    /// The targets and logins, as the bastion lists them (`ssh bastion list --json`), with the
    /// bastion's host key remembered first.
    fn permitted(&self) -> Result<Vec<Value>, Failure> {
        let cert = self.cert();
        if !cert.exists() {
            return Err(Failure::failed(anyhow!(
                "no certificate at {}; run bastion login --server {}",
                cert.display(),
                self.server
            )));
        }
        if let Some(line) = self.info["host_key_line"]
            .as_str()
            .filter(|l| !l.is_empty())
        {
            std::fs::create_dir_all(self.dir)
                .with_context(|| format!("cannot create {}", self.dir.display()))?;
            remember_host(&self.known_hosts(), line)?;
        }
        let out = std::process::Command::new("ssh")
            .args(["-F", "/dev/null", "-p", &self.port().to_string(), "-i"])
            .arg(self.key)
            .arg("-o")
            .arg(format!("CertificateFile={}", cert.display()))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts().display()
            ))
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "LogLevel=ERROR", "-T"])
            .arg(server_host(self.server))
            .arg("list --json")
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run ssh")?;
        if !out.status.success() {
            return Err(Failure::failed(anyhow!(
                "cannot list your targets through the bastion: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .with_context(|| "the bastion's listing is not JSON lines".to_string())
                    .map_err(Failure::failed)
            })
            .collect()
    }

    /// The configuration text.
    pub fn text(&self) -> Result<String, Failure> {
        Ok(render(
            &self.permitted()?,
            self.suffix,
            server_host(self.server),
            self.port(),
            self.key,
            &self.cert(),
            &self.known_hosts(),
        ))
    }

    /// Writes `DIR/ssh_config` and, when `include`, the line that includes it at the top of
    /// `~/.ssh/config`; returns what it did, for the user.
    pub fn write(&self, include: bool) -> Result<Vec<String>, Failure> {
        let text = self.text()?;
        let hosts = text
            .lines()
            .filter(|l| l.starts_with("Host ") && !l.contains('*'))
            .count();
        let path = self.dir.join("ssh_config");
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let mut said = vec![format!(
            "wrote {} ({})",
            path.display(),
            bastion::human::count(hosts as u64, "host")
        )];
        let line = format!("Include {}", quoted(&path));
        if include {
            let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?;
            let ssh_dir = PathBuf::from(home).join(".ssh");
            let config = ssh_dir.join("config");
            let existing = std::fs::read_to_string(&config).unwrap_or_default();
            if !existing.lines().any(|l| l.trim() == line) {
                std::fs::create_dir_all(&ssh_dir)
                    .with_context(|| format!("cannot create {}", ssh_dir.display()))?;
                set_mode(&ssh_dir, 0o700);
                // At the top: an Include after a Host line would apply only to that host.
                std::fs::write(&config, format!("{line}\n{existing}"))
                    .with_context(|| format!("cannot write {}", config.display()))?;
                set_mode(&config, 0o600);
                said.push(format!("added `{line}` to {}", config.display()));
            }
        } else {
            said.push(format!(
                "to use it, add `{line}` at the top of ~/.ssh/config"
            ));
        }
        said.push(format!(
            "ssh, scp, sftp, rsync, git and ansible reach TARGET.{} (or LOGIN.TARGET.{})",
            self.suffix, self.suffix
        ));
        Ok(said)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// The blocks for `permitted` (`list --json` rows).
fn render(
    permitted: &[Value],
    suffix: &str,
    host: &str,
    port: u64,
    key: &Path,
    cert: &Path,
    known_hosts: &Path,
) -> String {
    let mut text = format!(
        "# Written by `bastion ssh-config`: ssh TARGET.{suffix}, or LOGIN.TARGET.{suffix} for\n\
         # another login. Made again by `bastion login`; edits are lost.\n"
    );
    for row in permitted {
        let Some(target) = row["target"].as_str().filter(|t| safe(t)) else {
            continue;
        };
        text.push_str(&format!("\nHost {target}.{suffix}\n  User {target}\n"));
        for login in row["logins"].as_array().into_iter().flatten() {
            if let Some(login) = login.as_str().filter(|l| *l != "*" && safe(l)) {
                text.push_str(&format!(
                    "Host {login}.{target}.{suffix}\n  User {login}@{target}\n"
                ));
            }
        }
    }
    text.push_str(&format!(
        "\nHost *.{suffix}\n  HostName {host}\n  Port {port}\n  IdentityFile {}\n  \
         CertificateFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n",
        quoted(key),
        quoted(cert),
        quoted(known_hosts)
    ));
    text
}

/// A path as ssh_config reads it: in double quotes when it holds a blank.
pub fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    if text.contains(char::is_whitespace) {
        format!("\"{text}\"")
    } else {
        text
    }
}

/// A name that can stand in a Host pattern and a User line as is.
fn safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_block_per_target_and_login_then_the_shared_one() {
        let rows: Vec<Value> = vec![
            serde_json::json!({"target": "db1", "logins": ["postgres", "*"], "default_login": "postgres"}),
            serde_json::json!({"target": "bad name", "logins": ["root"]}),
        ];
        let text = render(
            &rows,
            "bastion",
            "b.example.com",
            2222,
            Path::new("/h/.bastion/id_ed25519"),
            Path::new("/h/.bastion/id_ed25519-cert.pub"),
            Path::new("/h/.bastion/known_hosts"),
        );
        assert!(
            text.contains(
                "\nHost db1.bastion\n  User db1\nHost postgres.db1.bastion\n  User postgres@db1\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("bad name") && !text.contains("*.db1"),
            "{text}"
        );
        assert_eq!(quoted(Path::new("/My Home/x")), "\"/My Home/x\"");
        assert!(text.ends_with("\nHost *.bastion\n  HostName b.example.com\n  Port 2222\n  IdentityFile /h/.bastion/id_ed25519\n  CertificateFile /h/.bastion/id_ed25519-cert.pub\n  IdentitiesOnly yes\n  UserKnownHostsFile /h/.bastion/known_hosts\n"), "{text}");
    }
}
