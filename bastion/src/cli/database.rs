//! Opening the audit database for a command: an existing one for reading (a missing SQLite
//! file is refused, not created), or one made on first use for `ca sign` and `ca revoke`.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use bastion::audit::{sqlite_file, AuditError, AuditStore};

use super::failure::Failure;

/// The audit database at `url`, which must exist already (see `audit::open`): commands that write
/// to it (`ca sign`, `ca revoke`) must reach the bastion's database, not create another.
pub(super) async fn open_existing(url: &str) -> Result<AuditStore, Failure> {
    if let Some(file) = sqlite_file(url) {
        if !file.exists() {
            return Err(Failure::failed(anyhow!(
                "no audit database at {} (`bastion serve` or `bastion audit migrate` creates it)",
                file.display()
            )));
        }
    }
    connect(url).await
}

/// The audit database at `url`, created (schema and all) when it does not exist yet: what
/// `ca sign` and `ca revoke` write to, so that they work before the first `bastion serve`. A
/// SQLite file created by root in a directory someone else owns (the bastion's account) is
/// handed to that owner, so that the bastion can still write to its own database.
/// Call [`Created::settle`] once the writes are done.
pub(super) async fn open_or_create(url: &str) -> Result<(AuditStore, Created), Failure> {
    let new_file = sqlite_file(url).filter(|f| !f.exists());
    let store = connect(url).await?;
    if let Some(file) = &new_file {
        eprintln!("created the audit database {}", file.display());
    }
    Ok((store, Created(new_file)))
}

/// The SQLite file [`open_or_create`] created, if it did.
pub(super) struct Created(Option<PathBuf>);

impl Created {
    /// Hands the new files to their directory's owner (see [`open_or_create`]).
    pub(super) fn settle(self) {
        if let Some(file) = self.0 {
            give_to_directory_owner(&file);
        }
    }
}

/// Hands `file` (and SQLite's `-wal`/`-shm` files beside it) to its directory's owner when
/// root created it there; says so when that fails.
fn give_to_directory_owner(file: &Path) {
    use std::os::unix::fs::MetadataExt;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (Ok(dir_meta), Ok(file_meta)) = (std::fs::metadata(dir), std::fs::metadata(file)) else {
        return;
    };
    if file_meta.uid() != 0 || dir_meta.uid() == 0 {
        return;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if !path.exists() {
            continue;
        }
        if let Err(e) = std::os::unix::fs::chown(&path, Some(dir_meta.uid()), Some(dir_meta.gid()))
        {
            eprintln!(
                "warning: cannot give {} to the owner of {} (uid {}): {e}",
                path.display(),
                dir.display(),
                dir_meta.uid()
            );
        }
    }
}

pub(super) async fn connect(url: &str) -> Result<AuditStore, Failure> {
    AuditStore::connect(url).await.map_err(|e| match e {
        AuditError::UnsupportedUrl { .. } | AuditError::InvalidUrl { .. } => {
            Failure::usage(anyhow!("[audit] database: {e}"))
        }
        e => Failure::failed(e),
    })
}
