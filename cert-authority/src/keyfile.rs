//! OpenSSH private key files: created 0600, never overwritten, refused when others can read them.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ssh_key::private::{Ed25519Keypair, PrivateKey};
use ssh_key::LineEnding;

/// Why a key could not be created or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file exists; keys are never replaced silently.
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The private key can be read by its group or by everyone.
    #[error("{path}: permissions {mode:04o} are too open; a private key must not be readable by group or others (chmod 600)")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is not an OpenSSH key, or is encrypted.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The operating system's random source failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A new ed25519 key pair from the system's random source.
///
/// # Errors
/// [`KeyError::Random`] if no randomness is available.
pub fn generate_ed25519(comment: &str) -> Result<PrivateKey, KeyError> {
    let seed = crate::random::<32>()?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    Ok(key)
}

/// Writes `key` to `path` (mode 0600) and its public half to `path.pub` (0644). Refuses to
/// replace either file.
///
/// # Errors
/// [`KeyError::Exists`] when either file exists, [`KeyError::Io`] when writing fails.
pub fn write_new_key_pair(key: &PrivateKey, path: &Path) -> Result<(), KeyError> {
    let pub_path = public_path(path);
    for p in [path, pub_path.as_path()] {
        if p.exists() {
            return Err(KeyError::Exists(p.to_path_buf()));
        }
    }
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| KeyError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| KeyError::Format {
            path: pub_path.clone(),
            message: e.to_string(),
        })?;
    write_new(path, private.as_bytes(), 0o600)?;
    write_new(&pub_path, format!("{public}\n").as_bytes(), 0o644)
}

/// `KEY` → `KEY.pub`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Creates `path` exclusively with `mode` and writes `bytes`.
///
/// # Errors
/// [`KeyError::Exists`] when the file exists, [`KeyError::Io`] otherwise.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists(path.to_path_buf())
            } else {
                io(e)
            }
        })?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Loads an unencrypted OpenSSH private key, refusing files that group or others can read.
///
/// # Errors
/// [`KeyError::TooOpen`], [`KeyError::Io`] or [`KeyError::Format`].
pub fn load_private_key(path: &Path) -> Result<PrivateKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let key = PrivateKey::from_openssh(&text).map_err(|e| KeyError::Format {
        path: path.to_path_buf(),
        message: format!("not an OpenSSH private key: {e}"),
    })?;
    if key.is_encrypted() {
        return Err(KeyError::Format {
            path: path.to_path_buf(),
            message: "the key is passphrase-protected; the bastion needs an unencrypted key".into(),
        });
    }
    Ok(key)
}
