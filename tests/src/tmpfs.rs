//! A small tmpfs mounted over a directory for the length of a test: a recording volume that
//! fills up, or one with little room. Needs root, as the end-to-end tests do.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run, stderr};

/// A tmpfs mounted at a directory; unmounted when dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Creates `dir` if needed and mounts a tmpfs of `size` (`mount`'s syntax: `256k`, `4m`)
    /// over it.
    ///
    /// # Panics
    /// When the mount fails (the tests run as root).
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let m = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir));
        assert!(
            m.status.success(),
            "this test needs root to mount a tmpfs: {}",
            stderr(&m)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // A lazy unmount returns while the bastion may still hold files there; try again until
        // the directory is no mount point.
        for _ in 0..5 {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
            let still = Command::new("mountpoint").arg("-q").arg(&self.0).status();
            if !still.is_ok_and(|s| s.success()) {
                break;
            }
        }
    }
}
